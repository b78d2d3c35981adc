"""Loss shapes of real repositories (issue "Right on real VAEs", 2 and 4): terms
returned unsummed, regularisers beside the KL, Monte Carlo KLs, and rules that
could not run are named, never a silent clean pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import FIXTURES
from helpers import check


def _fixture(name):
    return os.path.join(FIXTURES, name)


def test_a_tuple_of_terms_is_read_as_their_sum_and_the_report_says_so():
    result = check(_fixture("clean/tuple_terms_loss.py"), "VAE", ["6x24"])
    assert result.error is None and result.findings == []
    assert result.beta_effective == "1"
    assert any("read as their sum" in n and "loss[0], loss[1]" in n for n in result.notes), result.notes
    assert result.checks and result.checks[0].name == "loss" and result.checks[0].ok


def test_the_element_computed_from_the_others_is_the_total_wherever_it_sits():
    result = check(_fixture("clean/tuple_total_and_parts.py"), "VAE", ["6x24"])
    assert result.error is None and result.findings == []
    assert any("loss[2] is computed from the others" in n for n in result.notes), result.notes


def test_a_regulariser_beside_the_kl_is_shown_and_does_not_silence_the_kl_rules():
    clean = check(_fixture("clean/mmd_beside_kl.py"), "VAE", ["8x20"], dynamic=False)
    assert clean.findings == [] and clean.beta_effective == "1" and clean.skipped == []
    assert [r.name for r in clean.flow if r.stage == "loss"] == ["rec", "kl", "reg", "loss"]
    buggy = check(_fixture("buggy/mmd_beside_kl_mean.py"), "VAE", ["8x20"], dynamic=False)
    assert [(f.code, f.loc.line) for f in buggy.findings] == [("VAE002", 33)]


def test_a_monte_carlo_kl_is_read_for_its_reductions():
    clean = check(_fixture("clean/mc_kl_per_sample.py"), "VAE", ["6x16"], dynamic=False)
    assert clean.findings == [] and clean.beta_effective == "1"
    skipped = dict(clean.skipped)
    assert "Monte Carlo" in skipped["VAE007"]  # no closed form to check: said, not silent
    assert "VAE002" not in skipped


def test_declared_beta_without_a_factor_in_the_code_blames_no_literal(fixtures_dir):
    result = check(f"{fixtures_dir}/clean/mlp_vae.py", "VAE", ["8x784"], beta=4.0, dynamic=False)
    hits = [f for f in result.findings if f.code == "VAE004"]
    assert len(hits) == 1
    assert "-0.5" not in hits[0].message and "--beta 4" in hits[0].message
    assert "beta" in hits[0].fix


def test_rules_that_cannot_run_are_listed_in_json_and_text(tmp_path):
    """A model whose sampler vaelint cannot read as mu + eps * std (torch.normal(mu, std)): the
    report lists every rule that did not run, with the reason."""
    path = tmp_path / "normal_sampler.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.enc = nn.Linear(10, 4)\n"
        "        self.dec = nn.Linear(2, 10)\n\n"
        "    def forward(self, x):\n"
        "        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = torch.normal(mu, torch.exp(0.5 * logvar))\n"
        "        return self.dec(z), mu, logvar\n\n\n"
        "def loss_function(recon, x, mu, logvar):\n"
        "    return F.mse_loss(recon, x) - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
    )
    cmd = [sys.executable, "-m", "vaelint", "check", f"{path}:VAE", "--input", "4x10", "--no-dynamic"]
    out = subprocess.run(cmd + ["--format", "json"], capture_output=True, text=True)
    report = json.loads(out.stdout)["results"][0]
    skipped = {s["code"]: s["reason"] for s in report["skipped"]}
    assert {"VAE001", "VAE002", "VAE004", "VAE007", "VAE008"} <= set(skipped)
    assert "reparameterisation" in skipped["VAE001"]
    # torch.normal(mu, std) passes mu and std no gradient: that sampler is VAE009's finding
    assert [f["code"] for f in report["findings"]] == ["VAE009"], report["findings"]
    text = subprocess.run(cmd + ["--color", "never"], capture_output=True, text=True).stdout
    assert "not checked: VAE001" in text and "reparameterisation" in text


def test_keyword_input_spec_is_parsed_and_shown():
    import pytest

    from vaelint.errors import VaelintError
    from vaelint.inputs import parse_input_spec

    spec = parse_input_spec("labels=16:int64:10")
    assert (spec.name, spec.shape, spec.dtype, spec.high) == ("labels", (16,), "int64", 10)
    assert spec.text() == "labels=16:int64:10"
    with pytest.raises(VaelintError, match="not a parameter name"):
        parse_input_spec("2x=16")


def test_a_loss_parameter_named_like_a_forward_input_gets_that_input():
    result = check(
        _fixture("clean/loss_reads_lengths.py"),
        "SeqVAE",
        ["4x12:int64:50", "4:int64:13"],
        loss=_fixture("clean/loss_reads_lengths.py") + ":loss_fn",
    )
    assert result.error is None, result.error.message
    assert ("length", "the forward's input length") in result.binding
    assert result.findings == [] and result.beta_effective == "1"


def test_a_mean_the_graph_cannot_place_is_bound_by_position_not_refused(tmp_path):
    """'the forward does not return mu' was said of a forward that returns it."""
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.enc = nn.Linear(10, 4)\n        self.dec = nn.Linear(2, 10)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        return self.dec(mu), mu, logvar\n\n\n"
        "def loss_function(recon, x, mu, logvar):\n"
        "    return ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
    )
    result = check(str(path), "VAE", ["4x10"], dynamic=False)
    assert result.error is None, result.error.message
    assert dict(result.binding)["mu"].startswith("out[1]")


def test_a_kl_against_a_learned_conditional_prior_is_read_per_term():
    clean = check(_fixture("clean/ladder_learned_prior.py"), "LadderVAE", ["6x24"], dynamic=False)
    assert clean.findings == [] and clean.skipped == []
    assert clean.beta_effective == "1"
    assert [r.name for r in clean.flow if r.stage == "loss"] == ["rec", "kl", "kl", "loss"]
    buggy = check(_fixture("buggy/ladder_learned_prior_mean.py"), "LadderVAE", ["6x24"], dynamic=False)
    assert buggy.beta_effective == "1 (KL at line 31), 1/Z (KL at line 32)"
    assert [(f.code, f.loc.line) for f in buggy.findings] == [("VAE002", 34)]


def test_penalties_on_the_heads_are_not_taken_for_a_kl():
    result = check(_fixture("clean/kl_beside_l2_penalty.py"), "VAE", ["8x20"], dynamic=False)
    assert result.findings == [] and result.beta_effective == "1"
    assert [r.name for r in result.flow if r.stage == "loss"] == ["rec", "kl", "reg", "reg", "loss"]


def test_a_forward_that_returns_its_own_loss_is_analysed_with_it():
    result = check(_fixture("clean/forward_returns_loss.py"), "VAE", ["inputs.data=6x20"])
    assert result.error is None, result.error.message
    assert result.loss_name == "the forward's own out['loss']"
    assert any("VAE.loss_function found by name was not called again" in n for n in result.notes), result.notes
    recon = next(r for r in result.flow if r.name == "recon")
    assert recon.loc.line == 29  # recon_x by its key, not recon_loss (the first key that reads z)
    assert result.beta_effective == "1" and result.findings == []
    assert result.checks and result.checks[0].name == "loss" and result.checks[0].ok
    buggy = check(_fixture("buggy/forward_loss_mean_vs_sum.py"), "VAE", ["inputs.data=6x20"], dynamic=False)
    assert [(f.code, f.loc.line) for f in buggy.findings] == [("VAE002", 29)]


def test_a_dict_input_spec():
    from vaelint.inputs import parse_input_spec

    spec = parse_input_spec("inputs.data=8x1x28x28")
    assert spec.name == "inputs.data" and spec.shape == (8, 1, 28, 28)


def test_user_text_is_printed_as_written_not_as_emoji(tmp_path):
    """A finding at line 100, column 27 reads 'file.py:100:27', never 'file.py💯27'."""
    lines = open(_fixture("buggy/kl_sign_flipped.py")).read().splitlines()  # VAE007 at line 27
    padded = "\n".join(lines[:1] + ["# padding"] * 73 + lines[1:]) + "\n"  # now at line 100
    path = tmp_path / "emoji_lines.py"
    path.write_text(padded)
    spec = lines[0].split("input=")[1].split()[0]
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", f"{path}:VAE", "--input", spec, "--no-dynamic", "--color", "never"],
        capture_output=True,
        text=True,
    )
    assert "\U0001f4af" not in out.stdout
    assert "emoji_lines.py:100:" in out.stdout, out.stdout


def test_an_init_dict_reads_as_an_argparse_namespace(tmp_path):
    path = tmp_path / "args_model.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass VAE(nn.Module):\n"
        "    def __init__(self, args=None):\n        super().__init__()\n"
        "        self.enc = nn.Linear(10, 2 * args.latent)\n        self.dec = nn.Linear(args['latent'], 10)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar\n"
    )
    result = check(str(path), "VAE", ["4x10"], init={"args": {"latent": 3}}, dynamic=False)
    assert result.error is not None  # check() passes a plain dict: the CLI parser makes the namespace
    from vaelint.source.literals import parse_init

    result = check(str(path), "VAE", ["4x10"], init=parse_init(["args={'latent': 3}"]), dynamic=False)
    assert result.error is None, result.error.message
    missing = check(str(path), "VAE", ["4x10"], init=parse_init(["args={'width': 3}"]), dynamic=False)
    assert missing.error is not None and "no key 'latent'" in missing.error.message


def test_an_explicit_loss_is_used_even_when_the_forward_returns_one():
    path = _fixture("clean/forward_returns_loss.py")
    result = check(path, "VAE", ["inputs.data=6x20"], loss="loss_function", dynamic=False)
    assert result.loss_name == "loss_function"
    assert not any("not called again" in n for n in result.notes)


def test_a_reconstruction_summed_column_by_column_is_read_when_its_parts_are_reduced_alike(tmp_path):
    """A tabular VAE's loss: one likelihood per column span, added up. Parts reduced alike read as
    one reconstruction (VAE002 runs and fires on the averaged KL); parts reduced differently over
    the batch (an MSE averaged over its column beside cross-entropies summed over the batch) have
    no one reduction, so no beta_eff: VAE002 names the parts and how each is reduced (the averaged
    one weighs 1/B of the others), and says nothing of the KL's reduction."""
    clean = check(_fixture("clean/tabular_columns_loss.py"), "VAE", ["16x9"], dynamic=False)
    assert clean.findings == [] and clean.beta_effective == "1" and "VAE002" not in dict(clean.skipped)
    assert next(r for r in clean.flow if r.name == "rec").note == "sum over each part's own dims (B, 1; B) in its 4 parts"
    buggy = check(_fixture("buggy/tabular_columns_loss_kl_mean.py"), "VAE", ["16x9"], dynamic=False)
    assert [(f.code, f.loc.line) for f in buggy.findings] == [("VAE002", 31)]
    mixed = tmp_path / "mixed_parts.py"
    source = open(_fixture("buggy/tabular_columns_loss_kl_mean.py")).read()
    mixed.write_text(
        source.replace('x[:, start:end], reduction="sum")\n        else', 'x[:, start:end], reduction="mean")\n        else', 1)
    )
    assert mixed.read_text() != source
    result = check(str(mixed), "VAE", ["16x9"], dynamic=False)
    parts = [f for f in result.findings if f.code == "VAE002"]
    assert len(parts) == 1 and "the reconstruction's parts are reduced unlike each other" in parts[0].message, parts
    assert "mse_loss" in parts[0].message and "beta_eff" not in parts[0].message, parts[0].message


def test_a_kl_stacked_over_time_steps_against_a_learned_prior_is_read_per_element():
    """A DKF's per-step KLs against its transition prior, stacked over T, each of one form and shape:
    VAE002 reads their reductions per element as written (clean here: summed per sequence, as the
    reconstruction), where it said "not checked" (before that: "too close to zero", which it is not);
    VAE007/VAE008 stay unread against a learned prior; a ladder's KLs against learned priors, one term
    per layer, are read too (the near miss). The hierarchical skip is kept where the layers' sizes
    differ (tests/test_learned_prior_reductions.py)."""
    result = check(_fixture("clean/time_loop_learned_prior.py"), "DKF", ["8x12x10"], dynamic=False)
    assert result.error is None and result.findings == []
    skipped = dict(result.skipped)
    assert "VAE002" not in skipped and "learned prior" in skipped["VAE007"], skipped
    near = check(_fixture("clean/ladder_learned_prior.py"), "LadderVAE", ["6x24"], dynamic=False)
    assert "VAE002" not in dict(near.skipped) and near.beta_effective == "1"


def test_a_weight_on_the_reconstruction_divides_beta_eff(tmp_path):
    """``mse_loss(recon, x) * alpha + kl`` (a mean over 784 pixels, alpha 1024): beta_eff is the
    reductions' D over alpha, in the header and in VAE002's message. The near miss: alpha equal to
    the pixel count undoes the mean, and the ELBO's weights hold (clean)."""
    buggy = check(_fixture("buggy/recon_weighted_mean.py"), "VAE", ["16x1x28x28"], dynamic=False)
    assert buggy.beta_effective == "D/1024"
    assert [(f.code, f.loc.line) for f in buggy.findings] == [("VAE002", 24)]
    assert "beta_eff = D/1024 = 0.765625" in buggy.findings[0].message
    undone = tmp_path / "undone.py"
    undone.write_text(open(_fixture("buggy/recon_weighted_mean.py")).read().replace("alpha=1024", "alpha=784"))
    clean = check(str(undone), "VAE", ["16x1x28x28"], dynamic=False)
    assert clean.findings == [] and clean.beta_effective == "1", (clean.beta_effective, clean.findings)


def test_a_weight_on_a_kl_missing_its_half_does_not_hide_the_missing_half(tmp_path):
    """``KL_WEIGHT * -torch.sum(1 + logvar - ...)`` with KL_WEIGHT = 0.7: VAE007 finds the missing
    1/2 with the weight taken out (beta_eff = 2 * 0.7), and VAE004 quotes the weight as written
    (0.7, not 1.4). The near miss: the same weight on a right KL is VAE004 alone."""
    buggy = check(_fixture("buggy/kl_weight_beside_missing_half.py"), "VAE", ["8x40"], dynamic=False)
    found = {f.code: f for f in buggy.findings}
    assert set(found) == {"VAE007", "VAE004"}
    assert "beta_eff = 2 * 0.7 = 1.4" in found["VAE007"].message
    assert "multiplied by 0.7 " in found["VAE004"].message
    right = tmp_path / "right.py"
    right.write_text(
        open(_fixture("buggy/kl_weight_beside_missing_half.py")).read().replace("kld = -torch.sum(", "kld = -0.5 * torch.sum(")
    )
    near = check(str(right), "VAE", ["8x40"], dynamic=False)
    assert [f.code for f in near.findings] == ["VAE004"] and "multiplied by 0.7 " in near.findings[0].message
    # a literal that may hold the formula's own 1/2 (0.5 * -0.5, folded into -0.25): the KL may be
    # right with a weight 0.5, so no missing 1/2 is claimed, and VAE004 says 0.5
    folded = tmp_path / "folded.py"
    folded.write_text(
        open(_fixture("buggy/kl_weight_beside_missing_half.py"))
        .read()
        .replace("kld = -torch.sum(", "kld = 0.5 * -0.5 * torch.sum(")
        .replace("KL_WEIGHT * kld", "kld")
    )
    ambiguous = check(str(folded), "VAE", ["8x40"], dynamic=False)
    assert [f.code for f in ambiguous.findings] == ["VAE004"] and "multiplied by 0.5 " in ambiguous.findings[0].message


def test_a_recurrent_vaes_nll_accumulated_over_time_steps_is_its_reconstruction():
    """Each time step's NLL (x[t] against dec(z_t, h)) added up in forward is one reconstruction
    of 10 parts, not regularisers of the sample; each step's KL is a KL, shown once with its
    count (was a row per time step, the NLLs labelled 'reg')."""
    from json_cli import check_json
    from training_cli import RUNNING

    r, result = check_json(os.path.join(RUNNING, "recurrent_terms_accumulated.py"))
    assert r.exit_code == 0, r.output
    rows = [row for row in result["flow"] if row["stage"] == "loss"]
    assert [row["name"] for row in rows] == ["rec", "kl", "loss"], rows
    assert rows[0]["reduction"] == "sum over B, 6 in each of its 10 parts"
    # the first step's KL too: kld = 0; kld += kl_t (0 + kl_0 was a row of its own)
    assert rows[1]["reduction"] == "sum over B, 4 (10 terms like this)"


def test_a_weight_made_on_the_kls_device_is_a_number_not_a_function_of_the_kl():
    """``torch.as_tensor(beta, device=kl.device)``: reading kl.device reads none of kl's values. The
    weight was taken for a function of the KL, the KL term went unread and four rules unchecked
    (exit 0 beside a real VAE002); the near miss is clean with every KL rule checked."""
    buggy = _fixture("buggy/kl_weight_made_on_the_kls_device.py")
    result = check(buggy, "VAE", ["16x784"], loss=f"{buggy}:objective", dynamic=False)
    assert [f.code for f in result.findings] == ["VAE002"] and result.beta_effective == "D"
    clean = _fixture("clean/kl_weight_made_on_the_kls_device.py")
    result = check(clean, "VAE", ["16x784"], loss=f"{clean}:objective", dynamic=False)
    assert result.findings == [] and not {"VAE002", "VAE004", "VAE007", "VAE008"} & set(dict(result.skipped)), result.skipped
