"""What surrounds the simulated GPU's run (:mod:`vaelint.confirm.simdevice`): ``torch.cuda``
answering as a one-GPU machine's, the tensors a model holds outside its parameters and buffers
(which ``model.to(device)`` does not move), and this machine's real GPU where it has one."""

from __future__ import annotations

import contextlib
import re

import torch
import torch.nn as nn

from vaelint.frontends.training.runtime import accelerator_missing


@contextlib.contextmanager
def cuda_answers_yes():
    """``torch.cuda.is_available()`` and friends as on a one-GPU machine."""
    patches = {
        "is_available": lambda: True,
        "device_count": lambda: 1,
        "current_device": lambda: 0,
        "manual_seed": lambda *a, **k: None,
        "manual_seed_all": lambda *a, **k: None,
        "synchronize": lambda *a, **k: None,
        "empty_cache": lambda: None,
    }
    saved = {k: getattr(torch.cuda, k) for k in patches}
    try:
        for k, v in patches.items():
            setattr(torch.cuda, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(torch.cuda, k, v)


def names_a_real_gpu(error: str) -> bool:
    """Does a simulated run's error name a tensor on a real GPU (``cuda:0``)? The simulated GPU's
    tensors say cuda:0 only to the code; torch's own device checks see their CPU memory, so such an
    error is a tensor the code put on this machine's GPU (a plain attribute, a global moved in the
    setup) meeting the simulation: no mismatch of the code's."""
    return bool(re.search(r"\bcuda:\d", error)) and torch.cuda.is_available()


def held_tensors(module: nn.Module) -> dict:
    """id -> (name, held by a module itself) of the tensors the model holds as plain attributes,
    neither parameters nor buffers (``self.mask = torch.ones(z)``: ``mask``, True; ``self.prior =
    Normal(torch.zeros(z), ...)``: ``prior.loc``, False), which ``model.to(device)`` does not move."""
    out: dict = {}
    wrapped = "model." if type(module).__module__.startswith("vaelint.") else ""  # the capture's wrapper
    for prefix, sub in module.named_modules():
        prefix = prefix[len(wrapped) :] if wrapped and prefix.startswith(wrapped) else "" if f"{prefix}." == wrapped else prefix
        for key, value in vars(sub).items():
            if key.startswith("_") or isinstance(value, nn.Module):
                continue
            name = f"{prefix}.{key}" if prefix else key
            inner = vars(value).items() if hasattr(value, "__dict__") and not isinstance(value, torch.Tensor) else ()
            for label, t in [(name, value), *((f"{name}.{k}", v) for k, v in inner if not k.startswith("_"))]:
                if isinstance(t, torch.Tensor) and not isinstance(t, nn.Parameter):
                    out.setdefault(id(t), (label, label == name))
    return out


def is_cuda_device(value) -> bool:
    """CUDA's, or another accelerator this machine lacks (Apple silicon's mps, Intel's xpu): the
    simulated GPU stands for the device the code trains on."""
    if isinstance(value, torch.device):
        return value.type == "cuda" or value.type in _OTHER_ACCELERATORS and accelerator_missing(value.type)
    if not isinstance(value, str):
        return False
    kind = value.split(":")[0]
    return kind == "cuda" or kind in _OTHER_ACCELERATORS and accelerator_missing(kind)


_OTHER_ACCELERATORS = ("mps", "xpu")
