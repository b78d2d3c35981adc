"""The weights and normalisers a training step puts on its loss terms, read as the run has them
(vaelint/frontends/training/schedules.py, accumulating.py; VAE005): KL warm-ups however they are
written, judged where they settle, and a division by the written batch size that every batch meets."""

import os

from conftest import FIXTURES
from json_cli import check_json as _json
from training_cli import RUNNING


def test_a_warmup_that_moves_from_its_own_last_value_is_read_as_a_schedule(monkeypatch):
    # args.beta = min(1, args.beta + 1 / n) in the step: no counter is read; before, the KL weight
    # was taken as the constant the step run saw (a false VAE004, "multiplied by 0.125")
    monkeypatch.chdir(RUNNING)
    r, result = _json("warmup_accumulating.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: args.beta = min(1, args.beta" in n)
    assert "it reaches beta = 1" in note, note
    r, result = _json("warmup_accumulating_to_half.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 34)], r.output
    assert "settles at 0.5" in result["findings"][0]["message"]


def test_a_loss_over_the_written_batch_size_is_right_when_the_loader_drops_the_last_batch(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = _json("loss_over_batch_drop_last.py")
    assert result["error"] is None and not result["findings"], r.output
    assert any("right for every batch, as its DataLoader drops the last incomplete one (drop_last=True)" in n for n in result["notes"]), (
        result["notes"]
    )


def test_a_warmup_set_in_an_if_branch_of_the_epoch_loop_is_a_schedule(monkeypatch):
    # beta = 0 at epoch 0 took the KL out of the loss: the KL rules were "not checked", exit 0
    monkeypatch.chdir(RUNNING)
    r, result = _json("warmup_in_an_if_branch.py")
    assert result["error"] is None and not result["findings"], r.output
    assert [s["code"] for s in result["skipped"]] == ["VAE012"], result["skipped"]
    assert any("beta is 0 at epoch = 0, so the step is checked at epoch = 10" in n for n in result["notes"]), result["notes"]


def test_a_weight_kept_in_an_object_the_loop_advances_is_read_on_an_advanced_copy(monkeypatch):
    # beta = annealer() ... annealer.step(): before, a false VAE004 "multiplied by 0.00193"
    monkeypatch.chdir(RUNNING)
    r, result = _json("anneal_object_stepped.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: beta = annealer()" in n)
    assert "0.00193 at step = 0" in note and "it reaches beta = 1" in note, note
    r, result = _json("anneal_object_stepped_constant.py")  # advancing it changes nothing: 0.5 throughout
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 37)], r.output


def test_the_users_object_is_never_advanced_and_an_object_holding_torch_state_is_not_copied():
    import ast

    import torch

    from vaelint.frontends.training.sandbox import Sandbox
    from vaelint.frontends.training.steppedobjects import stepped_object_schedules

    class Annealer:
        def __init__(self):
            self.n = 0

        def __call__(self):
            return min(1.0, self.n / 100)

        def step(self):
            self.n += 1

    class Holder(Annealer):
        def __init__(self):
            super().__init__()
            self.opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)

    region = ast.parse("beta = annealer()").body
    loop = ast.parse("beta = annealer()\nannealer.step()").body
    for kind, moves in ((Annealer, True), (Holder, False)):
        annealer = kind()

        def fn(annealer=annealer):
            return annealer

        fn.__globals__["annealer"] = annealer
        try:
            found = stepped_object_schedules(fn, region, loop, __file__, "beta = annealer()", Sandbox(__file__))
        finally:
            del fn.__globals__["annealer"]
        assert annealer.n == 0  # the copy was advanced, not the user's object
        assert bool(found) is moves
        if moves:
            assert found[0].values[0] == (0, 0.0) and found[0].values[-1][1] == 1.0


def test_a_weight_a_helper_hands_back_in_a_pair_is_read_at_later_steps(monkeypatch):
    # kl_weight, beta = self.kl_weight_at(step): before, a false VAE004 "multiplied by 0.000968"
    monkeypatch.chdir(RUNNING)
    r, result = _json("anneal_helper_returns_pair.py")
    assert result["error"] is None and not result["findings"], r.output
    assert any("the KL weight is annealed: kl_weight = self.kl_weight_at(step)" in n for n in result["notes"]), result["notes"]
    r, result = _json("anneal_helper_returns_pair_fixed.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 28)], r.output


def test_a_count_kept_for_after_the_backward_is_no_weight_of_the_loss(tmp_path, monkeypatch):
    """current_iter = i + epoch * len(loader), read only after the backward (to save a checkpoint
    every N steps; LukeDitria/CNN-VAE): it is 0 at the first step, yet weighs no term, so the step
    is not moved to a later epoch for it; a warm-up the loss reads still is."""
    from training_cli import write_script

    lines = [
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "loader = DataLoader(TensorDataset(torch.rand(256, 784)), batch_size=64)",
        "for epoch in range(50):",
        "    for i, (x,) in enumerate(loader):",
        "        current_iter = i + epoch * len(loader)",
        "        beta = min(1.0, epoch / 10)",
        "        recon, mu, logvar = model(x)",
        "        loss = elbo(recon, x, mu, logvar) WEIGHT",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
        "        if (current_iter + 1) % 100 == 0:",
        "            torch.save(model.state_dict(), 'vae.pt')",
    ]
    write_script(tmp_path, *[line.replace(" WEIGHT", "") for line in lines])
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and not result["findings"], r.output
    assert not any("current_iter is 0" in n or "beta is 0" in n for n in result["notes"]), result["notes"]
    write_script(tmp_path, *[line.replace("elbo(recon, x, mu, logvar) WEIGHT", "elbo(recon, x, mu, logvar) * beta") for line in lines])
    r, result = _json("train.py")
    assert any("beta is 0 at epoch = 0, so the step is checked at epoch = " in n for n in result["notes"]), result["notes"]
    assert not any("current_iter is 0" in n for n in result["notes"]), result["notes"]


def test_a_kl_weighted_0_at_the_step_checked_is_said_as_such(tmp_path, monkeypatch):
    """`loss_fn.beta = target * (epoch - 1) / warmup` set in the epoch loop of the function that
    calls the data loop's (GMPilankar/Beta-VAE-from-scratch-): the KL is weighted 0 at the step
    checked, so its rules cannot read it. They said 'no term reads as the Gaussian KL' and 'do not
    share a shape'; they now say the weight is 0 there, and where."""
    from training_cli import write_script

    write_script(
        tmp_path,
        "import torch",
        "import torch.nn as nn",
        "import torch.nn.functional as F",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE",
        "class ElboLoss(nn.Module):",
        "    def __init__(self, beta=4.0):",
        "        super().__init__()",
        "        self.beta = beta",
        "    def forward(self, recon, x, mu, logvar):",
        "        rec = F.binary_cross_entropy(recon, x, reduction='sum') / x.size(0)",
        "        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)",
        "        return rec + self.beta * kl",
        "def train_one_epoch(model, loader, loss_fn, opt):",
        "    for (x,) in loader:",
        "        recon, mu, logvar = model(x)",
        "        loss = loss_fn(recon, x, mu, logvar)",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
        "def train(model, loader, loss_fn, opt, epochs=50, warmup=10):",
        "    target_beta = loss_fn.beta",
        "    for epoch in range(1, epochs + 1):",
        "        if epoch <= warmup:",
        "            loss_fn.beta = target_beta * ((epoch - 1) / warmup)",
        "        train_one_epoch(model, loader, loss_fn, opt)",
        "if __name__ == '__main__':",
        "    model = VAE()",
        "    data = DataLoader(TensorDataset(torch.rand(256, 784)), batch_size=64)",
        "    train(model, data, ElboLoss(), torch.optim.Adam(model.parameters()))",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    skipped = {s["code"]: s["reason"] for s in result["skipped"]} if isinstance(result["skipped"], list) else result["skipped"]
    for code in ("VAE002", "VAE004"):
        assert "is multiplied by 0 at the step checked" in str(skipped[code]), skipped
    # the KL's form does not hang on its weight: VAE007 and VAE008 read it (a Gaussian KL: clean)
    assert "VAE007" not in skipped and "VAE008" not in skipped, skipped
    assert r.exit_code == 0 and result["findings"] == [], result["findings"]
    assert "train.py:13" in str(skipped["VAE002"])


def test_a_gan_term_under_an_adaptive_weight_is_not_a_second_likelihood(monkeypatch):
    # latent diffusion's autoencoder loss (CompVis, swookey-thinky/xdiffusion): the generator term
    # is weighed by a detached ratio of gradient norms computed from the likelihood; through that
    # weight it "read" the comparison, so the loss had 2 reconstruction terms and VAE002/VAE004
    # were skipped. Read now: beta_eff 1e-6, right with --beta 1e-6 and VAE004 without it
    monkeypatch.chdir(RUNNING)
    r, result = _json("ldm_adaptive_weight.py", "--beta", "1e-6")
    assert result["error"] is None and not result["findings"], r.output
    assert result["beta_effective"] == "1e-06", r.output
    assert not any(s["code"] in ("VAE002", "VAE004") for s in result["skipped"]), result["skipped"]
    r, result = _json("ldm_adaptive_weight.py")
    assert [f["code"] for f in result["findings"]] == ["VAE004"], r.output


def test_a_kl_weight_a_config_gives_the_loss_is_said_where_the_step_gives_it(monkeypatch):
    # vae_loss(..., beta=cfg["train"]["beta"]) (sudsho/vae-mnist-fashion): the message said "a factor
    # of 4 at loss.py:12", the line that multiplies, not where the 4 comes from
    monkeypatch.chdir(RUNNING)
    r, result = _json("kl_weight_from_config.py")
    (finding,) = result["findings"]
    assert finding["code"] == "VAE004", r.output
    assert 'beta, given as beta=cfg["train"]["beta"] at kl_weight_from_config.py:24' in finding["message"], finding["message"]


def test_a_cyclical_anneal_of_a_global_iteration_is_read_along_the_counter_that_moves_it(monkeypatch):
    # beta = cyclical(n * epoch + i, n): along the epoch alone the weight is at a cycle's start at
    # every round epoch (0 throughout: no schedule, the KL rules unchecked at weight 0, exit 0 on a
    # real VAE002); along the batch index it cycles, and each cycle reaching beta is no VAE004
    monkeypatch.chdir(RUNNING)
    r, result = _json("anneal_cyclical_from_the_callers_epoch.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 40)], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: beta = cyclical(n * epoch + i, n)" in n)
    assert "at i = 10, cycling between 0 and 1" in note and "each cycle reaches beta = 1" in note, note
    # one that tops out at half the KL's weight: said as a cycle, not a value it "settles" at
    r, result = _json("anneal_cyclical_peaks_below_beta.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 38)], r.output
    message = result["findings"][0]["message"]
    assert "cycles up to 0.5" in message and "settles" not in message, message


def test_a_schedule_that_settles_and_one_that_cycles_are_told_apart():
    from vaelint.frontends.base import Schedule
    from vaelint.frontends.training.schedules import LATER
    from vaelint.source.frames import SourceLoc

    def schedule(weight):
        values = [(c, weight(c)) for c in (0, *LATER)]
        return Schedule("beta", "", SourceLoc("t.py", 1, 1), "step", values[0][1], values)

    warmup = schedule(lambda step: min(1.0, step / 5000))
    assert warmup.limit == 1.0 and not warmup.cycling and "1 from step = 5000" in warmup.text()
    # period 2500: at 2500, 5000, ... 1e8 it is 0 again; off the round numbers it is not
    cyclic = schedule(lambda step: min((step % 2500) / 1875, 1.0))
    assert cyclic.limit is None and cyclic.cycling and cyclic.peak == 1.0 and "cycling between 0 and 1" in cyclic.text()
    rising = schedule(lambda step: step / 1e9)  # still moving at 1e8 steps: no cycle, no limit
    assert rising.limit is None and not rising.cycling and "never settling" in rising.text()


def test_a_warmup_is_said_to_settle_where_it_does_not_at_the_next_round_reading():
    # min(1, epoch / 50) read at epochs 0, 10, 100, ...: it was said "1 from epoch = 100" (helper Y)
    from vaelint.frontends.training.settling import settled_at

    def warmup(e):
        return min(1.0, e / 50)

    readings = [(c, warmup(c)) for c in (0, 10, 100, 1000)]
    assert settled_at(readings, warmup) == [(0, 0.0), (10, 0.2), (50, 1.0), (100, 1.0), (1000, 1.0)]
    # settled exactly at a reading, or never settled: the readings as they are
    exact = [(c, min(1.0, c / 100)) for c in (0, 10, 100, 1000)]
    assert settled_at(exact, lambda e: min(1.0, e / 100)) == exact
    cyclic = [(0, 0.0), (10, 1.0), (100, 0.0)]
    assert settled_at(cyclic, lambda e: float(e % 20 < 10)) == cyclic


def test_a_weight_given_to_the_loss_is_named_not_the_kl_it_weighs(monkeypatch):
    # `return rec + float(beta) * kl`, beta given by the caller: the factor is beta, given as
    # beta=args.beta; before, VAE004 named `kl` and sent the reader to the line computing the KL (helper D)
    monkeypatch.chdir(os.path.join(FIXTURES, "training"))
    r, result = _json("kl_weight_a_parameter_of_the_loss.py")
    message = next(f["message"] for f in result["findings"] if f["code"] == "VAE004")
    assert "(beta, given as beta=args.beta at kl_weight_a_parameter_of_the_loss.py:35" in message, message
    assert "(kl, set at" not in message, message


def test_a_warmup_written_after_the_backward_is_read_where_it_settles(monkeypatch):
    # the check stops at the backward, so an update below opt.step() never runs there: before, the
    # guarded increment (if beta < 1: beta += 0.001) made beta a step counter, "never settling" (a
    # false VAE004), and the min(1, beta + 0.001) update left the KL weighed 0: "not checked", exit 0
    monkeypatch.chdir(RUNNING)
    r, result = _json("warmup_guarded_increment_after_step.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: beta = beta + 0.001 while beta < 1" in n)
    assert "0 at step = 0, 1 from step = 1000; it reaches beta = 1" in note, note
    r, result = _json("warmup_min_update_after_step.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 31)], r.output
    assert "beta_eff = D = 784" in result["findings"][0]["message"]
    # grown once an epoch, in two statements after the data loop: one update, counted in epochs
    r, result = _json("warmup_per_epoch_after_the_data_loop.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "kl_weight = kl_weight * 1.5, then min(kl_weight, 1.0)" in n)
    assert "0.01 at epoch = 0, 1 from epoch = 12" in note, note


def test_an_anneal_helper_handed_its_settings_beside_the_counter_is_read(monkeypatch):
    # loss_fn(recon, x, mu, lv, "logistic", step, 0.0025, 2500) returns anneal(kind, step, k, x0):
    # before, only step was bound, the helper could not be read, and its value at step 0 was taken
    # for a constant beta (a false VAE004 "multiplied by 0.00193")
    monkeypatch.chdir(RUNNING)
    r, result = _json("anneal_helper_with_its_settings.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: w = anneal(kind, step, k, x0)" in n)
    assert "0.00193 at step = 0, 1 from step = 5000; it reaches beta = 1" in note, note
    r, result = _json("anneal_helper_with_its_settings_rec_mean.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 32)], r.output


def test_a_loss_object_told_the_counters_is_read_as_a_schedule(monkeypatch):
    # loss_fn.update(step, epoch) sets self.step, self.epoch; its __call__ reads a cyclical weight from
    # them (a scheduler object): before, its first value, 0, took the KL out ("not checked", exit 0)
    monkeypatch.chdir(RUNNING)
    r, result = _json("scheduler_object_told_the_counters.py")
    assert result["error"] is None and not result["findings"], r.output
    note = next(n for n in result["notes"] if "the KL weight is annealed: beta = self.schedule.weight(self.step, self.epoch)" in n)
    assert "0 at epoch = 0, 0.994 at epoch = 39, the loop's last; it reaches beta = 1" in note, note
    # a loss module told its epoch above the data loop (criterion.set_epoch(epoch)), read by its forward
    r, result = _json("criterion_told_the_epoch.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 25)], r.output
    assert any("w = min(1.0, self.epoch / self.warmup)" in n and "1 from epoch = 10" in n for n in result["notes"]), result["notes"]


def test_full_batch_training_weighs_the_kl_by_its_constant_node_count_as_the_elbo_does():
    # a graph VAE trained on the whole graph every epoch, its KL times 1 / N_NODES (a module
    # constant): every step's batch is those N nodes, so beta_eff = B / N_NODES is 1 at each
    # (was VAE004 + VAE002 "beta_eff = 0.0333*B = 1 while the declared beta is 1"); the graph held
    # in globals read by train() gives train's own loop as the step (was "the step uses 'self'")
    path = os.path.join(FIXTURES, "training", "graph_vae_full_batch_norm_constant.py")
    r, result = _json(path)
    assert result["error"] is None and not result["findings"], r.output
    assert result["loss"].endswith("graph_vae_full_batch_norm_constant.py:train (lines 46-53, backward at line 53)"), result["loss"]
    note = next(n for n in result["notes"] if n.startswith("beta_eff goes with the batch size, and is right at every step"))
    assert "the same 30 rows every pass of its loop (line 46; full-batch training)" in note, note
    # summed over the N x N entries, the KL weighs 1/900 at this graph: still VAE002
    r, result = _json(path, "--script-args=--summed")
    assert ("VAE002", 51) in [(f["code"], f["line"]) for f in result["findings"]], r.output
