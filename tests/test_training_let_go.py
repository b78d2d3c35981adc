"""A training run's forward is let go once its step is read: the loss, the frames' variables,
the stop's traceback and the step's first model call's output each held that forward's autograd
graph (every activation), which no later stage reads (an SD-VAE's check held them through the
capture and the confirmation)."""

from __future__ import annotations

import textwrap

from training_cli import write_script as _script


def test_the_runs_first_forward_is_let_go_once_its_step_is_read(tmp_path, monkeypatch):
    # the loss, the reconstruction and a posterior object the script's loop leaves in its module,
    # the frames' variables and the stop's traceback all held the first forward's graph: an
    # SD-VAE's check carried a whole extra set of activations through every later stage
    import sys

    _script(
        tmp_path,
        *textwrap.dedent("""
        import weakref
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        from vae_common import VAE, elbo

        made = []

        class Posterior:
            def __init__(self, mu, logvar):
                self.mu, self.logvar = mu, logvar

        model = VAE()
        for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):
            recon, mu, logvar = model(x)
            made.append(weakref.ref(recon))
            posterior = Posterior(mu, logvar)
            loss = elbo(recon, x, posterior.mu, posterior.logvar)
            loss.backward()
    """).splitlines(),
    )
    program = _loaded_with_made_let_go(tmp_path, monkeypatch)
    assert "loss" not in program.live_step.module_globals and "posterior" not in program.live_step.module_globals
    # the step still runs as written: it makes them again
    assert callable(program.live_step.module_globals["Posterior"])
    sys.modules.pop("vae_common", None)


def test_the_output_of_the_steps_first_model_call_is_let_go_too(tmp_path, monkeypatch):
    # a latent-diffusion script's first model call is its encoder (posterior = vae.encode(x)): the
    # run kept that call's output to tell a part trained before the VAE, and with it the encoder's
    # activations, for as long as the run's watch lived (a patched torch function the script
    # imported by name holds it): an SD-VAE's check held them through the capture and the
    # confirmation
    import sys

    _script(
        tmp_path,
        *textwrap.dedent("""
        import weakref
        import torch
        import torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset
        from torch import randn_like
        from vae_common import elbo

        made = []

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Linear(784, 32)

            def forward(self, x):
                h = self.net(x)
                made.append(weakref.ref(h))
                return h

        encoder, decoder = Encoder(), nn.Sequential(nn.Linear(16, 784), nn.Sigmoid())
        for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):
            mu, logvar = encoder(x).chunk(2, dim=1)
            z = mu + randn_like(mu) * torch.exp(0.5 * logvar)
            elbo(decoder(z), x, mu, logvar).backward()
    """).splitlines(),
    )
    _loaded_with_made_let_go(tmp_path, monkeypatch)
    sys.modules.pop("vae_common", None)


def _loaded_with_made_let_go(tmp_path, monkeypatch):
    """The script in tmp_path run to its step, whose weak references in ``made`` are all dead."""
    import gc

    from vaelint.frontends import LoadRequest, load_program

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    program = load_program(str(tmp_path / "train.py"), LoadRequest(init={}))
    gc.collect()
    made = program.live_step.module_globals["made"]
    assert made and all(ref() is None for ref in made)
    return program


def test_backwards_passed_over_in_earlier_steps_hold_no_activations(tmp_path, monkeypatch):
    # a VQ-VAE's steps (no sample: each backward passed over) from a generator looped for ever: each
    # passed-over step kept its loss's graph and its frames' variables, every step's activations,
    # until the run ran out of memory (22 GiB at 18 steps of VQ-VAE-2: unixpickle/vq-vae-2). Only
    # the first is kept whole (it is the step where no VAE's backward comes)
    import sys

    _script(
        tmp_path,
        *textwrap.dedent("""
        import gc
        import itertools
        import weakref
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader, TensorDataset

        made, alive = [], []

        def batches(loader):
            while True:
                for (x,) in loader:
                    yield x

        model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 784))
        opt = torch.optim.Adam(model.parameters())
        data = batches(DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16))
        for step in itertools.count():
            x = next(data)
            gc.collect()
            alive.append(sum(ref() is not None for ref in made[1:-1]))
            recon = model(x)
            made.append(weakref.ref(recon))
            loss = F.mse_loss(recon, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
    """).splitlines(),
    )
    from vaelint.frontends import LoadRequest, load_program

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    program = load_program(str(tmp_path / "train.py"), LoadRequest(init={}))
    alive = program.live_step.module_globals["alive"]
    assert len(alive) > 5 and not any(alive), alive
    sys.modules.pop("vae_common", None)
