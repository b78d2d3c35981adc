"""vaelint/source/defaultargs.py: was a parameter left at its default by the caller's call? Read from
the source of the running frame and its caller (a 'cpu' default and a 'cpu' the caller chose are the
same string). Each case runs real code from a file of its own and asks from inside the callee."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import pytest

_CODE = """
import sys

SEEN = []


def ask():
    frame = sys._getframe(1)
    SEEN.append((left_at_default(frame, "device"), given_as_a_default(frame, "device"), argument_name(frame, "device")))


class Held:
    def to(self, device):
        ask_in = sys._getframe(1)
        SEEN.append((left_at_default(ask_in, "device"), given_as_a_default(ask_in, "device"), argument_name(ask_in, "device")))
        return self


class Model:
    def __init__(self, d=20, device="cpu", *, flag=False):
        self.held = Held().to(device)


class Child(Model):
    def __init__(self, device="cpu"):
        super().__init__(device=device)


class ByAttribute:
    def __init__(self, device="cpu"):
        self.device = device
        self.held = Held().to(self.device)


class Explicit(Model):
    def __init__(self, device="cpu"):
        Model.__init__(self, 4, device)


def build(case):
    chosen = "cuda" if case == "never" else "cpu"
    kwargs = {"device": chosen}
    if case == "default":
        Model()
    elif case == "positional":
        Model(20, chosen)
    elif case == "keyword":
        Model(device=chosen)
    elif case == "other keyword":
        Model(flag=True)
    elif case == "double star":
        Model(**kwargs)
    elif case == "child default":
        Child()
    elif case == "explicit self":
        Explicit(device=chosen)
    elif case == "attribute":
        ByAttribute()
"""


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "defaults_user_code.py"
    path.write_text("from vaelint.source.defaultargs import argument_name, given_as_a_default, left_at_default\n" + textwrap.dedent(_CODE))
    spec = importlib.util.spec_from_file_location("defaults_user_code", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["defaults_user_code"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("defaults_user_code", None)


@pytest.mark.parametrize(
    "case, left",
    [
        ("default", True),  # Model(): device is its def's "cpu"
        ("positional", False),  # Model(20, chosen): passed by position (self bound by the call)
        ("keyword", False),
        ("other keyword", True),  # Model(flag=True): device still its default
        ("double star", False),  # Model(**kwargs): cannot be told, so taken as passed
        ("explicit self", False),  # Model.__init__(self, 4, device): the instance passed by hand
    ],
)
def test_a_parameter_is_left_at_its_default_only_where_the_call_passes_nothing_for_it(module, case, left):
    module.build(case)
    (seen,) = module.SEEN
    assert seen == (left, left, "device")


def test_a_default_handed_on_by_a_subclass_is_passed_to_the_base(module):
    # Child() leaves its own default, then passes it on by keyword: the base's device is passed
    module.build("child default")
    assert module.SEEN == [(False, False, "device")]


def test_an_attribute_at_the_call_names_no_parameter(module):
    # t.to(self.device): no name of the function's, so nothing is said to be a default (VAE012 keeps
    # taking such a CPU for the device the code chose)
    # (the parameter itself is still left at its default: ByAttribute())
    module.build("attribute")
    assert module.SEEN == [(True, False, None)]
