"""VAE006's two runs are spared where the graph's shapes show that no op can mix samples
(vaelint/facts/rowsafe.py): convolutions, per-sample norms, attention over each sample's tokens,
reshapes and slices that keep the batch in front. Wherever the shapes cannot rule mixing out, the
runs decide as before: every VAE006 fixture is still found by them."""

import pytest
from fixture_cases import all_cases, run_case

import vaelint.facts.batchdeps as batchdeps

CLEAN = ["clean/attention_conv_vae.py", "clean/conv_vae.py", "clean/mlp_vae.py"]
MIXING = sorted(c.path.split("fixtures/")[1] for c in all_cases("buggy") if any(code == "VAE006" for code, _line in c.expect))


def _case(rel):
    return next(c for c in all_cases() if c.path.endswith(rel))


@pytest.mark.parametrize("rel", CLEAN)
def test_a_model_whose_ops_keep_rows_is_read_without_the_runs(rel, monkeypatch):
    def no_runs(*_a, **_k):
        raise AssertionError("VAE006 ran the model")

    monkeypatch.setattr(batchdeps, "_two_runs", no_runs)
    result = run_case(_case(rel))
    assert result.error is None, result.error.message
    assert "VAE006" not in {f.code for f in result.findings} | {code for code, _why in result.skipped}


@pytest.mark.parametrize("rel", MIXING)
def test_every_mixing_fixture_is_still_found(rel):
    result = run_case(_case(rel))
    assert "VAE006" in {f.code for f in result.findings}, [f.message for f in result.findings]


@pytest.mark.parametrize("rel", ["buggy/attention_tokens_mixed.py", "buggy/bidirectional_hidden_view.py"])
def test_a_reshape_the_shapes_cannot_clear_is_left_to_the_runs(rel, monkeypatch):
    # a reshape of a tensor whose batch is not its first dim (tokens made channels-first; a
    # bidirectional GRU's 2 x B x H state viewed as B x 2H): only a run can tell
    ran = []
    real = batchdeps._two_runs
    monkeypatch.setattr(batchdeps, "_two_runs", lambda *a, **k: ran.append(1) or real(*a, **k))
    result = run_case(_case(rel))
    assert ran and "VAE006" in {f.code for f in result.findings}, [f.message for f in result.findings]


def test_there_are_mixing_fixtures_of_several_kinds():
    assert len(MIXING) >= 8 and "buggy/attention_tokens_mixed.py" in MIXING
