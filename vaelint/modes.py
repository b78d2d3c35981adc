"""Training and evaluation mode of the user's modules, set without running what a module's own
``train`` does when that is no mode switch: an adversarial autoencoder's ``def train(self, x)``
is its training step (CUN-bjy/pytorch-adversarial-autoencoder), and ``nn.Module.train(mode)``
calls it on every child with ``mode`` for ``x``. An override that takes a mode (``def
train(self, mode=True): super().train(mode); self.backbone.eval()``, a frozen part) is kept."""

from __future__ import annotations

import inspect
from contextlib import contextmanager

import torch


def set_training(root: torch.nn.Module, mode: bool = True) -> None:
    """``root.train(mode)``, as nn.Module sets it, where no module of it has a ``train`` that is
    no mode switch; else each module's flag set directly (their own ``train`` not run)."""
    modules = list(root.modules())
    if any(not _a_mode_switch(m) for m in modules):
        for m in modules:
            m.training = mode
        return
    root.train(mode)


def _a_mode_switch(module: torch.nn.Module) -> bool:
    """Is the module's ``train`` nn.Module's, or an override that takes one mode argument?"""
    train = getattr(type(module), "train", None)
    if train is torch.nn.Module.train:
        return True
    try:
        params = list(inspect.signature(train).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    first, rest = params[0], params[1:]
    takes_mode = first.default is not inspect.Parameter.empty or first.name == "mode"
    return takes_mode and all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in rest)


@contextmanager
def mode_held(root: torch.nn.Module, mode: bool):
    """``root`` and its modules in ``mode`` while the block runs, whatever the code run in it asks:
    a training step that calls ``self.net.train()`` itself would put the batch-mixing runs' BatchNorm
    back on batch statistics (a false VAE006); its ``train()``/``eval()`` on these modules do nothing."""
    ours = {id(m) for m in root.modules()}
    real_train = torch.nn.Module.train

    def train(self, mode_asked=True):
        return self if id(self) in ours else real_train(self, mode_asked)

    set_training(root, mode)
    torch.nn.Module.train = train
    try:
        yield
    finally:
        torch.nn.Module.train = real_train
