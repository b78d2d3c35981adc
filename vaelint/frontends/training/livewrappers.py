"""Wrappers training code puts around its model that change how it runs, not what it computes,
taken off while the code runs in the check (:func:`vaelint.frontends.training.livecuda.one_process`):
DistributedDataParallel / DataParallel of one process, and ``torch.compile``, whose compiled
module computes what the module does (the check reads that computation, op by op)."""

from __future__ import annotations


class _Unwrapped:
    """DistributedDataParallel / DataParallel of a module: the module itself (one process needs
    no wrapper; ``model.module`` still names it)."""

    def __new__(cls, module, *args, **kwargs):
        if not hasattr(module, "module"):
            object.__setattr__(module, "module", module)  # not registered as its own child
        return module

    @staticmethod
    def _get_active_ddp_module():
        return None  # asked by torch's compiler of the class it wraps modules with: none here


def _compile(model=None, **kwargs):
    """``torch.compile(model)`` (and ``@torch.compile(mode=...)``): the model as it is. Compiled,
    it runs through TorchDynamo, which the check's own recording of the ops would meet instead of
    the user's code (and the DDP stand-in above inside it): an internal error, not the model's."""
    if model is None:
        return lambda fn: fn
    return model


def unwrapped(patch) -> None:
    """Patch the wrappers away for the run (``patch(owner, name, value)``, put back after it)."""
    import torch
    import torch.nn.parallel as parallel

    for owner in (torch.nn, parallel, getattr(parallel, "distributed", None), getattr(parallel, "data_parallel", None)):
        for name in ("DistributedDataParallel", "DataParallel"):
            if owner is not None:
                patch(owner, name, _Unwrapped)
    patch(torch, "compile", _compile)
