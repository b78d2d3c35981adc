"""Where vaelint's runs at other batch sizes fail before the loss (a list of lengths made for the
configured batch size), a dim as large as the user's batch is read as the batch past the failure:
the cosine's mean over B x T and the squared error's over B x T x D are both batch means, as the
same code traced symbolically reads them. Before, the cosine's mean was read as over the constants
20 x 8, and VAE002 said the parts were 'reduced unlike each other over the batch' (an error)."""

from __future__ import annotations

import os

from conftest import FIXTURES
from json_cli import check_json

SCRIPT = os.path.join(FIXTURES, "training", "lengths_made_for_one_batch_size.py")


def test_a_dim_as_large_as_the_batch_is_the_batch_past_a_failed_run():
    r, result = check_json(SCRIPT)
    (vae002,) = [f for f in result["findings"] if f["code"] == "VAE002"]
    assert "over the batch" not in vae002["message"], vae002["message"]
    assert "weigh the data's values unlike each other" in vae002["message"], vae002["message"]
    assert vae002["severity"] == "warning", r.output
