"""Details of rules that examples alone do not pin down (what fixes say: test_fix_texts.py; the engine
under the rules: test_engine_details.py)."""

import os
import textwrap

from conftest import FIXTURES
from helpers import check
from vaelint.rules.vae013_shape_error import is_shape_error

from vaelint.source.facts import call_argument, expr_text
from vaelint.source.frames import SourceLoc


def test_shape_errors_and_errors_that_only_mention_shapes():
    assert is_shape_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x1024 and 784x64)"))
    assert is_shape_error(RuntimeError("The size of tensor a (16) must match the size of tensor b (5) at non-singleton dimension 0"))
    assert is_shape_error(RuntimeError("shape '[8, 4, 4, 4]' is invalid for input of size 320"))
    assert not is_shape_error(RuntimeError("mat1 and mat2 must have the same dtype, but got Bool and Float"))
    assert not is_shape_error(ValueError("Expected value argument (Tensor of shape (6, 12)) to be within the support (Boolean())"))
    assert not is_shape_error(RuntimeError("Expected all tensors to be on the same device, but found at least two devices"))
    assert not is_shape_error(KeyError("shape"))


def test_the_size_origin_of_the_right_layer_when_two_are_built_on_one_line(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch.nn as nn\nenc, dec = nn.Linear(12, 8), nn.Linear(4, 12)\n")
    first = call_argument(SourceLoc(str(path), 2, 12), 0, "in_features")
    second = call_argument(SourceLoc(str(path), 2, 31), 0, "in_features")
    assert expr_text(SourceLoc(str(path), 2, 12), first) == "12"
    assert expr_text(SourceLoc(str(path), 2, 31), second) == "4"


def test_a_binary_likelihood_needs_binary_input(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent("""
        import torch, torch.nn as nn
        from torch.distributions import Bernoulli, Normal, kl_divergence

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(12, 8), nn.Linear(4, 12)

            def forward(self, x):
                mu, logvar = self.enc(x).chunk(2, -1)
                q = Normal(mu, torch.exp(0.5 * logvar))
                return Bernoulli(logits=self.dec(q.rsample())), q

            def loss(self, px, x, q):
                prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
                return -(px.log_prob(x).sum(-1) - kl_divergence(q, prior).sum(-1)).mean()
    """)
    )
    floats = check(str(path), "VAE", ["6x12"])
    # the support check fails on [0, 1) floats: retried with {0, 1} data, and said so
    assert floats.error is None, floats.error.message
    assert floats.findings == []
    assert any("drawn in {0, 1}" in n for n in floats.notes), floats.notes
    binary = check(str(path), "VAE", ["6x12:float32:2"])
    assert binary.error is None and binary.findings == []
    assert not any("drawn in {0, 1}" in n for n in binary.notes)


def test_token_ids_above_the_embedding_size_are_a_usage_error(fixtures_dir):
    path = f"{fixtures_dir}/clean/loss_reads_lengths.py"
    result = check(path, "SeqVAE", ["4x12:int64:5000", "4:int64:13"], loss=f"{path}:loss_fn")
    assert result.error is not None and result.error.kind == "input"
    assert "50 entries" in result.error.message and "--input 4x12:int64:50" in result.error.message
    assert result.findings == []


def test_only_selected_rules_may_explain_a_failed_run(fixtures_dir):
    result = check(f"{fixtures_dir}/buggy/linear_in_features.py", "VAE", ["8x1x32x32"], ignore=["VAE013"])
    assert result.error is not None and result.error.kind == "trace"
    assert result.findings == []


def test_a_deferred_case_is_reported_by_the_deferring_rule_when_the_other_is_ignored(fixtures_dir):
    # VAE013 defers a failing recon/input comparison to VAE003: one finding with both
    # selected, and VAE013 reports it (never "no findings" on a crash) when VAE003 is ignored
    path = f"{fixtures_dir}/buggy/recon_image_vs_flat.py"
    both = check(path, "ConvVAE", ["4x1x28x28"])
    assert [(f.code, f.loc.line) for f in both.findings] == [("VAE003", 34)]
    alone = check(path, "ConvVAE", ["4x1x28x28"], ignore=["VAE003"])
    assert alone.error is None
    assert [(f.code, f.loc.line) for f in alone.findings] == [("VAE013", 34)]
    assert "B x 1 x 28 x 28" in alone.findings[0].message and "B x 784" in alone.findings[0].message


def test_drop_deferred_keeps_findings_at_other_places():
    from vaelint.diagnostics import Finding
    from vaelint.rulebase import Reported, Rule, drop_deferred
    from vaelint.source.frames import SourceLoc as Location

    class Broad(Rule):
        code, defers_to = "VAE998", ("VAE999",)

    class Narrow(Rule):
        code = "VAE999"

    def at(code, line):
        return Reported(Finding(code, "n", "error", "m", Location("m.py", line, 1), "fix"))

    found = [(Broad, at("VAE998", 3)), (Broad, at("VAE998", 7)), (Narrow, at("VAE999", 3))]
    assert [(f.code, f.loc.line) for _r, f in drop_deferred(found)] == [("VAE998", 7), ("VAE999", 3)]


def test_the_kl_helpers_check_their_shapes():
    import pytest
    import torch

    from vaelint.facts.gaussian_kl import closed_form, ratio

    mu, log_var = torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64)
    assert float(closed_form(mu, log_var).abs().sum()) == 0.0
    ref = closed_form(mu + 1, log_var)
    assert ratio(2 * ref, ref, torch.zeros_like(ref)).value == pytest.approx(2.0)
    with pytest.raises(Exception):  # noqa: B017 - jaxtyping + beartype (their error classes vary by version): mu and log_var must share a shape
        closed_form(mu, torch.ones(4, 2, dtype=torch.float64))


def test_a_reduction_over_a_dim_of_a_0d_tensor_reduces_nothing():
    """FactorVAE's loss sums a 0-d tensor over dim=-1: no crash in the term walk."""
    import torch.fx as fx

    from vaelint.facts.reductions import TermWalker

    g = fx.Graph()
    x = g.placeholder("x")
    node = g.call_method("sum", (x, -1))
    assert TermWalker._reduced_positions(node, 0) == []
    assert TermWalker._reduced_positions(node, 2) == [1]


def test_a_cuda_call_in_the_loss_on_a_cpu_machine_is_kept_on_the_cpu_and_said(tmp_path):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("the call works where a GPU is present")
    path = tmp_path / "cuda_loss.py"
    path.write_text(
        textwrap.dedent("""
        import torch, torch.nn as nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(12, 4), nn.Linear(2, 12)

            def forward(self, x):
                mu, logvar = self.enc(x).chunk(2, 1)
                return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

        def loss_function(recon, x, mu, logvar):
            weights = torch.ones(12).cuda()
            return ((recon - x) ** 2 * weights).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    """)
    )
    result = check(str(path), "VAE", ["4x12"])
    # the loss written for a GPU is checked here: its move stays on the CPU, said with its line
    assert result.error is None and result.findings == []
    assert any(
        "the code's .cuda() at " in n and "cuda_loss.py:14 stayed on the CPU: this machine has no CUDA" in n for n in result.notes
    ), result.notes


def test_a_missing_loss_keyword_gets_the_option_to_pass_it(tmp_path):
    path = tmp_path / "kw.py"
    path.write_text(
        textwrap.dedent("""
        import torch, torch.nn as nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(12, 4), nn.Linear(2, 12)

            def forward(self, x):
                mu, logvar = self.enc(x).chunk(2, 1)
                return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

            def loss_function(self, *args, **kwargs):
                recon, mu, logvar = args
                x = recon.detach()
                weight = kwargs["kld_weight"]
                return ((recon - x) ** 2).sum() - weight * 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    """)
    )
    result = check(str(path), "VAE", ["4x12"], dynamic=False)
    assert result.error is not None and "--loss-kwarg kld_weight=VALUE" in result.error.message
    fixed = check(str(path), "VAE", ["4x12"], dynamic=False, loss_kwargs={"kld_weight": 1.0})
    assert fixed.error is None and fixed.findings == []


def test_typed_findings_word_their_own_message_and_confirm_reads_their_fields(fixtures_dir, monkeypatch):
    from fixture_cases import all_cases

    import vaelint.analyze as analyze
    from vaelint.rulebase import Observed

    run_rules, reported = analyze.run_rules, []

    def spy(rules, ctx, result):
        found = run_rules(rules, ctx, result)
        reported.extend(r for _rule, r in found)
        return found

    monkeypatch.setattr(analyze, "run_rules", spy)
    for path, target, inputs, code, field, value in [
        ("buggy/kl_sign_flipped.py", "VAE", ["8x30"], "VAE007", "kind", "wrong_sign"),
        ("buggy/unused_layer.py", "VAE", None, "VAE011", "in_graph", False),
        ("buggy/kl_sum_over_batch_only.py", "VAE", None, "VAE002", "formula", "B/Z"),
    ]:
        case = next(c for c in all_cases() if c.path.endswith(path))
        reported.clear()
        result = check(f"{fixtures_dir}/{path}", target, inputs or case.inputs)
        (r,) = [r for r in reported if r.code == code]
        (f,) = [f for f in result.findings if f.code == code]
        assert isinstance(r.observed, Observed) and r.finding is f
        assert f.message == r.observed.message() and f.fix == r.observed.fix()
        assert getattr(r.observed, field) == value and f.confirmed is True


def test_the_dependence_check_runs_small_and_holds_only_its_targets(fixtures_dir, monkeypatch):
    # VAE006's two evaluation-mode runs: on a clean model, at a batch of 3, holding only the mean, log-variance and reconstruction (a 256x256 conv VAE
    # once paid two full-batch runs with every activation held); where samples mix, again
    # at the user's batch with every value, to find the op
    from vaelint.facts import batchdeps

    calls = []
    two_runs = batchdeps._two_runs

    def spy(ctx, batch, keep):
        first, second = two_runs(ctx, batch, keep)
        calls.append((batch, keep is not None, len(first.tensors), len(ctx.view.graph.nodes)))
        return first, second

    monkeypatch.setattr(batchdeps, "_two_runs", spy)
    # a GRU: the graph's shapes cannot show it keeps samples apart (an MLP's can: no runs at all)
    clean = check(f"{fixtures_dir}/clean/gru_sequence_vae.py", "SequenceVAE", ["32x12x3"], select=["VAE006"])
    assert clean.findings == [] and [c[:2] for c in calls] == [(3, True)]
    assert calls[0][2] <= 4 < calls[0][3]  # the three targets and the noise, of many nodes
    calls.clear()
    assert check(f"{fixtures_dir}/clean/mlp_vae.py", "VAE", ["32x784"], select=["VAE006"]).findings == [] and calls == []
    mixed = check(f"{fixtures_dir}/buggy/bidirectional_hidden_view.py", "SentenceVAE", ["8x12:int64:50"], select=["VAE006"])
    assert [f.code for f in mixed.findings] == ["VAE006"]
    assert [c[:2] for c in calls] == [(3, True), (8, False)] and calls[1][2] > calls[0][2]


def test_the_kl_helpers_are_shape_checked_under_the_tests_only(monkeypatch):
    # a user's check does not import beartype for vaelint's own annotations (0.07 s)
    from vaelint.facts.gaussian_kl import _shape_checked

    def helper(x):
        return x

    assert _shape_checked(helper) is not helper  # VAELINT_CHECK_SHAPES=1 (tests/conftest.py)
    monkeypatch.delenv("VAELINT_CHECK_SHAPES")
    assert _shape_checked(helper) is helper


def test_a_model_built_for_cuda_by_default_is_checked_on_a_cpu_machine():
    """``device="cuda"`` as the constructor's default, ``self.to(device)``, ``device=self.device``
    in forward: without CUDA the moves stay on the CPU, each said with its line; before, building
    the model failed with "Torch not compiled with CUDA enabled". The near miss (noise drawn on
    the CPU) is still VAE012, from the simulated GPU."""
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a machine with CUDA moves the model for real")
    result = check(os.path.join(FIXTURES, "clean/cuda_by_default.py"), "VAE", ["8x784"])
    assert result.error is None and result.findings == []
    note = next(n for n in result.notes if "this machine has no CUDA" in n)
    assert (
        "VAE.to('cuda') at fixtures/clean/cuda_by_default.py:18" in note
        and "randn(device='cuda') at fixtures/clean/cuda_by_default.py:23" in note
    )
    buggy = check(os.path.join(FIXTURES, "buggy/cuda_by_default_cpu_noise.py"), "VAE", ["8x784"])
    assert [(f.code, f.loc.line, f.confirmed) for f in buggy.findings] == [("VAE012", 23, True)]


def test_functional_data_parallel_runs_on_the_one_device_while_checking_and_is_put_back():
    """``data_parallel(self.encoder, x)`` without CUDA: checked as the module applied to x (before:
    exit 2, "device type could not be determined"); the function is torch's own again after."""
    import importlib

    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a machine with CUDA runs data_parallel for real")
    result = check(os.path.join(FIXTURES, "clean/functional_data_parallel.py"), "VAE", ["4x3x16x16"])
    assert result.error is None and result.findings == [], result.error
    function = importlib.import_module("torch.nn.parallel.data_parallel").data_parallel
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        function(torch.nn.Linear(2, 2), torch.zeros(1, 2))


_WEIGHT_BESIDE_A_SIZE = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 8)
        self.dec = nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

    def weight(self):
        return 0.01

    def loss_function(self, recon, x, mu, logvar):
        rec = F.mse_loss(recon, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        w = self.weight()
        return (rec + w * kl) / x.size(0)
"""


def test_vae004_names_a_division_by_a_size_only_when_the_factor_is_that_division(tmp_path):
    """``(rec + w * kl) / x.size(0)`` with w = 0.01 and a batch of 8: the factor is w, not "the
    division by x.size(0) = 100" (which both terms share, and is 8). The division itself named is
    the golden messages' sequence_first_kl_by_length fixtures."""
    path = tmp_path / "m.py"
    path.write_text(_WEIGHT_BESIDE_A_SIZE)
    result = check(str(path), "VAE", ["8x20"], loss="loss_function")
    [finding] = [f for f in result.findings if f.code == "VAE004"]
    assert "(w, set at" in finding.message and "the division by" not in finding.message, finding.message


def test_a_step_that_drops_a_module_by_a_random_branch_leaves_vae011_unchecked_saying_why(monkeypatch):
    # modality dropout (if np.random.random() < p: drop one): the step checked left a modality out,
    # and VAE011 said its encoder and decoder never train, "[confirmed]" on that one step
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    from json_cli import check_json
    from training_cli import RUNNING

    r, result = check_json(os.path.join(RUNNING, "modality_dropout_step.py"))
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    (why,) = [s["reason"] for s in result["skipped"] if s["code"] == "VAE011"]
    assert why.startswith("the step takes a random branch (np.random.random() at "), why
    assert "modality_dropout_step.py:22" in why


def test_an_elbo_over_its_size_with_a_gaussian_variance_is_weighed_by_the_variance_alone(tmp_path):
    # the ELBO / K with a Gaussian likelihood of variance vy: the KL's 1/K undoes the reconstruction's
    # mean over K, so no VAE002; beta_eff is the likelihood's 2 * vy, which VAE004 says, and the beta
    # it offers is that one (it offered 5.2e-06, the weight without the reductions; helper-found:
    # ahmerb/GPPVAE)
    text = open(os.path.join(FIXTURES, "clean", "elbo_per_value_in_columns.py")).read()
    text = text.replace("        rec = ((xr - x) ** 2)", "        rec = 250.0 * ((xr - x) ** 2)")
    path = tmp_path / "gaussian.py"
    path.write_text(text)
    result = check(str(path), "VAE", ["16x3x16x16"])
    assert [f.code for f in result.findings] == ["VAE004"], result.findings
    (finding,) = result.findings
    assert "beta_eff = 0.00130208*D/250 = 0.004" in finding.message and "(VAE002)" not in finding.message, finding.message
    assert finding.fix.endswith("--beta 0.004"), finding.fix
