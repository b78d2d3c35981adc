import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The command line's result cache stays off in the tests (a test that runs a target
# twice means to run it twice); tests/test_cache.py turns it on where it is the subject.
os.environ["VAELINT_NO_CACHE"] = "1"
# vaelint's own jaxtyping-annotated helpers are checked with beartype under the tests
# (vaelint/facts/gaussian_kl.py); a user's check does not pay for it
os.environ["VAELINT_CHECK_SHAPES"] = "1"


@pytest.fixture
def fixtures_dir():
    return FIXTURES


# Property tests draw the same examples on every run in CI: a red build is reproducible.
from hypothesis import settings as _hypothesis_settings  # noqa: E402 - beside the profile it sets

_hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
