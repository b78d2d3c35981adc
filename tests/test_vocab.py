"""The typed vocabularies (vaelint/vocab.py): a misspelt word fails where it is
written; each word still prints and serialises as the string the reports use."""

from __future__ import annotations

import json

import pytest

from vaelint.rulebase import Rule
from vaelint.vocab import ConfirmNeed, ErrorKind, Need, Severity


def test_a_misspelt_need_fails_when_the_rule_is_defined():
    with pytest.raises(ValueError, match="reparm"):

        class Misspelt(Rule):
            code, name = "VAE990", "misspelt"
            needs = ("reparm",)


def test_a_misspelt_severity_fails_when_the_rule_is_defined():
    with pytest.raises(ValueError, match="fatal"):

        class Misspelt(Rule):
            code, name, severity = "VAE991", "misspelt", "fatal"


def test_rules_written_with_plain_words_get_the_typed_ones():
    class Plain(Rule):
        code, name, severity = "VAE992", "plain", "warning"
        needs = ("loss", "clean_run")

    assert Plain.severity is Severity.WARNING
    assert Plain.needs == (Need.LOSS, Need.CLEAN_RUN)
    assert all(isinstance(n, Need) for n in Plain.needs)


def test_every_need_has_its_reason_in_the_context():
    from vaelint.facts.context import _UNMET

    assert set(_UNMET) == set(Need)


@pytest.mark.parametrize("word", [*Severity, *Need, *ConfirmNeed, *ErrorKind])
def test_a_word_prints_and_serialises_as_its_value(word):
    assert str(word) == word.value
    assert f"{word}" == word.value
    assert f"{word:>12}" == f"{word.value:>12}"
    assert json.loads(json.dumps({"w": word})) == {"w": word.value}
    assert word == word.value  # configuration files and the JSON report keep their strings
