"""A report whose confirmation pass was skipped (a weight it could not swap, the device's memory) said
"not run (--no-dynamic)" in its header and "no confirmation pass (--no-dynamic)" on its findings, though
the user never passed --no-dynamic (helper-found, a VQGAN). Said now as skipped, the notes saying why;
--no-dynamic is said for a check run with it."""

from __future__ import annotations

from types import SimpleNamespace

from vaelint.report.text_report import confirmation_state


def _result(notes):
    return SimpleNamespace(confirmed_on=None, notes=notes)


def test_a_skipped_pass_is_said_as_skipped():
    r = _result(["confirmation pass skipped: Couldn't swap Embedding.weight"])
    said = confirmation_state(r, SimpleNamespace(confirmed=None))
    assert "skipped" in said and "--no-dynamic" not in said, said


def test_no_pass_without_such_a_note_is_no_dynamic():
    said = confirmation_state(_result([]), SimpleNamespace(confirmed=None))
    assert said == "unconfirmed: no confirmation pass (--no-dynamic)", said
