"""Details of the engine the rules stand on, that no rule's examples pin down: errors sorted into
kinds in one place, rules reading the graph only through the context, what the fx trace stored
on a model never reaching a real run, and loading evicting only rewritten files' modules."""

import textwrap

from helpers import check


def test_errors_are_sorted_into_kinds_in_one_place():
    from vaelint.errorkinds import kind_of
    from vaelint.vocab import ErrorKind

    assert kind_of(RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x784 and 30x12)")) is ErrorKind.SHAPE
    assert kind_of(RuntimeError("all elements of input should be between 0 and 1")) is ErrorKind.RANGE
    assert kind_of(ValueError("Expected value argument to be within the support (Boolean())")) is ErrorKind.SUPPORT
    assert kind_of(RuntimeError("Expected all tensors to be on the same device, but found cuda:0 and cpu!")) is ErrorKind.DEVICE
    assert kind_of(RuntimeError("Storage size calculation overflowed with sizes=[4611686018427387904]")) is ErrorKind.MEMORY
    assert kind_of(RuntimeError("expected scalar type Float but found Double")) is ErrorKind.DTYPE
    assert kind_of(KeyError("latent")) is ErrorKind.OTHER


def test_rules_read_the_graph_only_through_the_context():
    """Rules query vaelint/facts/context.py: never node.meta, how the graph was captured,
    or the runs' internals (a new rule needs to learn none of them)."""
    import glob
    import os
    import re

    rules_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules")
    forbidden = re.compile(r"\.meta\b|capture\.method|\.runs\.|ctx\.capture\.|graph\.nodes|in finding\.message")
    offenders = [
        f"{os.path.basename(path)}:{n}: {line.strip()}"
        for path in sorted(glob.glob(os.path.join(rules_dir, "vae*.py")))
        for n, line in enumerate(open(path), 1)
        if forbidden.search(line)
    ]
    assert offenders == []


def test_what_the_fx_trace_stored_on_the_model_never_reaches_a_real_run(tmp_path):
    """A forward that caches a tensor on itself (VampVAE's loss writes
    self.pseudo_input = ...): the fx trace leaves a Proxy there; the recording
    route that follows must run on the model as it was, not on that Proxy."""
    path = tmp_path / "caches.py"
    path.write_text(
        textwrap.dedent("""
        import torch, torch.nn as nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(12, 4), nn.Linear(2, 12)

            def forward(self, x):
                previous = self.__dict__.get("cache")
                h = self.enc(x)
                if previous is not None:
                    h = h + 0 * previous.mean()
                self.cache = h
                if h.sum() > -1e9:  # data-dependent: fx cannot trace it
                    mu, logvar = h.chunk(2, 1)
                return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar
    """)
    )
    result = check(str(path), "VAE", ["4x12"], dynamic=False)
    assert result.error is None, result.error.message
    assert result.capture_method == "recording"


def test_loading_evicts_only_the_modules_of_rewritten_files(tmp_path, monkeypatch):
    import sys
    import types

    from vaelint.frontends.load import _evict

    rewritten, other = tmp_path / "solver.py", tmp_path / "sub" / "solver.py"
    for name, path in (("solver_mod", rewritten), ("other_solver_mod", other)):
        module = types.ModuleType(name)
        module.__file__ = str(path)
        monkeypatch.setitem(sys.modules, name, module)
    assert _evict({}) == {}
    out = _evict({str(rewritten): []})
    assert list(out) == ["solver_mod"] and "solver_mod" not in sys.modules and "other_solver_mod" in sys.modules


def test_lazy_modules_whose_first_forward_needs_a_dict_batch_are_checked(tmp_path, fixtures_dir):
    """The dry forward that gives lazy modules their shapes fails where the model reads a dict
    batch (Generative-Data-Augmentation's ``self.encoder(x[0])``): their buffers were still
    uninitialised when the check copied them, 'a bug in vaelint'. Now the model's own input
    mistake is said, and with the batch's keys given it is checked."""
    from helpers import check

    text = open(f"{fixtures_dir}/clean/lazy_modules_vae.py").read()
    text = text.replace(
        "    def forward(self, x):\n        mu, logvar", '    def forward(self, batch):\n        x = batch["image"]\n        mu, logvar'
    )
    (tmp_path / "model.py").write_text(text)
    result = check(str(tmp_path / "model.py"), "LazyConvVAE", ["4x3x32x32"])
    assert result.error is not None and result.error.kind != "internal", result.error
    assert "batch.image=4x3x32x32" in result.error.message
    result = check(str(tmp_path / "model.py"), "LazyConvVAE", ["batch.image=4x3x32x32"])
    assert result.error is None and not result.findings, result.error
