"""CUDA on a machine without it, while training code runs (:mod:`.live`, :mod:`.liverun`): ``x.cuda()``,
``x.to("cuda")``, ``model.cuda()`` keep the object on the CPU, each move remembered with its line and its part."""

from __future__ import annotations

import contextlib
import os
import sys

from torch.overrides import TorchFunctionMode

from vaelint.frontends.legacycuda import made_on_gpu_by_default
from vaelint.frontends.training.livecudaguard import GUARDS_PASSED, a_guard_asks, advises_only, names_a_device, to_a_chosen_device
from vaelint.frontends.training.livemodelmoves import GPU_MARK, gives_a_device, model_moved, other_moves_of_a_model, tensor_moved
from vaelint.frontends.training.livepatch import Patches
from vaelint.source.frames import is_user_file

_RECORDS: list = []  # the records of the cuda_kept_on_cpu blocks open now, innermost last


@contextlib.contextmanager
def cuda_kept_on_cpu(record):
    """``x.cuda()``, ``x.to('cuda')``, ``model.cuda()`` and ``torch.randn(..., device="cuda")``
    in the code (its model's forward too) keep the object on the CPU where this machine has no
    CUDA (VAE012's simulated GPU, which reports CUDA as available, still sees the moves);
    ``record.moves`` lists them. A block inside another records into its own record only."""
    if getattr(record, "moves", None) is None:
        record.moves = []
    _RECORDS.append(record)
    try:
        if len(_RECORDS) > 1:
            yield
            return
        with _patched():
            yield
    finally:
        _RECORDS.remove(record)


def _asks() -> None:
    """A device named by the code itself (not a library's): the code places its tensors. Not an
    ``if`` that only advises (``if not args.cuda and torch.cuda.is_available(): print("run with
    --cuda")``, DCGAN's trainers): its device comes from a switch, and with the switch off a GPU
    machine runs it on the CPU too (a false VAE012 'never moved' before, helper V)."""
    frame = sys._getframe(2)
    if _RECORDS and is_user_file(frame.f_code.co_filename) and not advises_only(frame):
        _RECORDS[-1].device_aware = True


def _remember(what: str, own: object = None) -> None:
    import torch

    from vaelint.source.frames import user_frame

    if not _RECORDS:
        return
    record = _RECORDS[-1]
    loc = user_frame() or _graph_line()
    # before the batch is taken it is the setup's move (the model's), after it the step's
    phase = "step" if getattr(record, "taken", None) is not None else "setup"
    named = phase == "setup" and isinstance(own, torch.nn.Module)  # model.cuda(): the model names what moved
    entry = (phase, f"{type(own).__name__}{what}" if named else what, loc.path if loc else "", loc.line if loc else 0)
    if entry not in record.moves:
        record.moves.append(entry)


def _graph_line():
    """The user's line of the graph node running now: a captured graph's run (torch.fx's
    Interpreter) has no user frame on the stack, but its node remembers the line."""
    frame = sys._getframe(2)
    while frame is not None:
        node = frame.f_locals.get("n") if frame.f_code.co_name == "run_node" else None
        loc = getattr(node, "meta", {}).get("loc") if node is not None else None
        if loc is not None:
            return loc
        frame = frame.f_back
    return None


@contextlib.contextmanager
def _patched():
    import torch

    from vaelint.frontends.training.runtime import _without_cuda

    patches = Patches()
    GUARDS_PASSED.clear()

    def is_available(real=torch.cuda.is_available):
        _asks()
        return real() or (bool(_RECORDS) and a_guard_asks(sys._getframe(1)))

    def wrap(owner, name):
        real = getattr(owner, name)

        def fn(self, *a, **k):
            if name == "cuda" or names_a_device(a, k):
                _asks()
            if isinstance(self, torch.nn.Module) and (name == "cuda" or gives_a_device(a, k)):
                model_moved(_RECORDS, self)
            elif name == "cuda" or to_a_chosen_device(a, k, _device_aware()) or names_a_device(a, k):
                tensor_moved(_RECORDS)
            kept = _without_cuda(self, lambda *x, **y: real(self, *x, **y), name, a, k)
            if kept is None:
                out = real(self, *a, **k)
                # .to(device) with the device the code chose from torch.cuda.is_available() (the CPU
                # here): on a GPU machine it is the GPU, so the tensor is marked as placed there
                return placed_on_gpu(out, self) if name == "to" and to_a_chosen_device(a, k, _device_aware()) else out
            _remember(kept[1], self)
            return placed_on_gpu(kept[0], self)

        fn.__name__ = fn.__qualname__ = name  # torch function modes (the simulated GPU) dispatch on it
        patches.set(owner, name, fn)
        if owner is torch.Tensor:
            # a lazy module's uninitialised parameters allow .to/.cuda by the method itself: the patched
            # one is that method now (model = Model().to(device) before the first forward)
            from torch.nn.parameter import UninitializedTensorMixin

            patches.set(UninitializedTensorMixin, "_allowed_methods", [*UninitializedTensorMixin._allowed_methods, fn])

    for owner in (torch.Tensor, torch.nn.Module):
        for name in ("cuda", "to"):
            wrap(owner, name)
    other_moves_of_a_model(patches, _RECORDS)
    patches.set(torch.Tensor, "type", _cpu_type(torch.Tensor.type, _asks))
    patches.set(torch, "load", _load_on_cpu(torch.load))
    # torch.nn.parallel.data_parallel(module, x), imported by name into the code before this ran:
    # the function itself runs the module on the one device there is (it raises without CUDA)
    import importlib

    parallel_module = importlib.import_module("torch.nn.parallel.data_parallel")  # the module, not the function
    patches.set(parallel_module.data_parallel, "__code__", _one_device.__code__)
    patches.set(torch.cuda, "is_available", is_available)
    if hasattr(torch, "accelerator"):  # torch.accelerator.current_accelerator() if ...is_available() (pytorch/examples)
        patches.set(torch.accelerator, "is_available", lambda real=torch.accelerator.is_available: _asks() or real())
    _wrappers_keep_the_mark(patches)
    try:
        with _MadeOnCpu(), _legacy_types_on_cpu():
            yield
    finally:
        patches.restore()


def _wrappers_keep_the_mark(patches) -> None:
    """``nn.Parameter(t)`` and ``Variable(t)`` of a tensor the code placed on the GPU are on the GPU
    too: each is a new tensor over the same memory, which a real GPU would hold (a learned prior's
    ``nn.Parameter(torch.randn(K, Z, device=DEVICE))``; ``Variable(label)`` after ``label.cuda()``
    in a legacy setup). Without this their mark was lost and VAE012 said they stayed on the CPU."""
    import torch
    from torch.autograd import Variable

    def marked(new):
        def fn(cls, data=None, *a, **k):
            out = new(cls, data, *a, **k) if data is not None else new(cls, *a, **k)
            if isinstance(data, torch.Tensor) and getattr(data, GPU_MARK, False):
                placed_on_gpu(out)
            return out

        return staticmethod(fn)

    patches.set(torch.nn.Parameter, "__new__", marked(torch.nn.Parameter.__new__))
    patches.set(Variable, "__new__", marked(torch._C._LegacyVariableBase.__new__))


def _legacy_types_on_cpu():
    """``torch.cuda.FloatTensor(std.size()).normal_()`` (older code's noise) without CUDA: the
    CPU tensor it would hold, marked as placed on the GPU and remembered as a move."""
    import torch

    from vaelint.frontends.legacycuda import legacy_types

    if torch.cuda.is_available():
        return contextlib.nullcontext()

    def said(what):
        if _RECORDS and is_user_file(sys._getframe(2).f_code.co_filename):  # the type's __new__, then its caller
            _RECORDS[-1].device_aware = True  # the code named a device (as _asks)
        _remember(what)

    return legacy_types(placed_on_gpu, on_gpu=lambda t: t.is_cuda or getattr(t, GPU_MARK, False), said=said)


def _device_aware() -> bool:
    return bool(_RECORDS) and getattr(_RECORDS[-1], "device_aware", False)


def placed_on_gpu(value, owner=None):
    """``value``, a tensor the code placed on CUDA, marked so (VAE012's simulated GPU counts it
    as a GPU tensor: the prior's ``loc.cuda()`` made at build time is no CPU tensor there). A
    tensor handed back as itself (``t.cuda()`` with no CUDA) is marked as a new view, as a real
    move makes a new tensor: ``t`` itself stays a CPU tensor."""
    import torch

    if not isinstance(value, torch.Tensor) or isinstance(owner, torch.nn.Module):
        return value
    if value is owner and value.layout == torch.strided:  # a sparse tensor has no views: marked itself
        value = value.view_as(value)
    try:
        setattr(value, GPU_MARK, True)
    except (AttributeError, RuntimeError):
        pass
    return value


def _names_cuda(device) -> bool:
    import torch

    if isinstance(device, bool):
        return False
    if isinstance(device, int):  # device=0: the first GPU
        return True
    if isinstance(device, str):
        return device.split(":")[0] in _ACCELERATORS
    return isinstance(device, torch.device) and device.type in _ACCELERATORS


# devices a model is trained on that this machine may not have: CUDA's, Apple silicon's (mps), Intel's
# (xpu); each is kept on the CPU as CUDA's is, its moves marked for VAE012
_ACCELERATORS = ("cuda", "mps", "xpu")


class _MadeOnCpu(TorchFunctionMode):
    """``torch.randn(shape, device="cuda")``, ``x.new_zeros(n, device=DEVICE)`` and every other
    op given a CUDA device: made on the CPU while this machine has no CUDA (under the simulated
    GPU, which answers that it has, its own mode turns them into simulated GPU tensors first)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if device is not None and _names_cuda(device):
            from vaelint.frontends.training.runtime import accelerator_missing

            if accelerator_missing(str(device).split(":")[0] if not isinstance(device, int) else "cuda"):
                kwargs = {**kwargs, "device": "cpu"}
                _remember(f"{getattr(func, '__name__', 'a tensor')}(device={str(device)!r})")
                return placed_on_gpu(func(*args, **kwargs))
        if device is not None and to_a_chosen_device((), {"device": device}, _device_aware()):
            # torch.zeros(1, Z, device=device), the device the code chose from is_available(): the
            # CPU here, the GPU where there is one, as .to(device) is marked
            return placed_on_gpu(func(*args, **kwargs))
        out = func(*args, **kwargs)
        if _any_on_gpu(args) or made_on_gpu_by_default(func, args, kwargs):
            # what is computed from tensors placed on the GPU is there too (Normal(loc, scale)
            # broadcasts its loc into a new tensor)
            for t in out if isinstance(out, (tuple, list)) else (out,):
                placed_on_gpu(t)
        return out


def _any_on_gpu(args) -> bool:
    """Is a tensor among the arguments (or in a list of them) one the code placed on the GPU? Real
    tensors only: an attribute asked of an fx Proxy would be traced into the graph."""
    import torch

    for a in args:
        for t in a if isinstance(a, (tuple, list)) else (a,):
            if isinstance(t, torch.Tensor) and getattr(t, GPU_MARK, False):
                return True
    return False


def _one_device(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """torch.nn.parallel.data_parallel on one device: the module applied to the inputs."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))


def _load_on_cpu(real_load):
    """``torch.load(ckpt)`` of a checkpoint saved on a GPU, with no ``map_location``: its tensors
    come to this machine's CPU (without CUDA, torch refuses to deserialize them), said as a move."""
    import functools

    import torch

    @functools.wraps(real_load)
    def load(f, *args, **kwargs):
        if torch.cuda.is_available() or "map_location" in kwargs or args:
            return real_load(f, *args, **kwargs)
        try:
            return real_load(f, **kwargs)
        except RuntimeError as e:
            if "CUDA device" not in str(e):
                raise
        _remember(f"torch.load({str(f)!r}) of a checkpoint saved on a GPU")
        return real_load(f, map_location="cpu", **kwargs)

    return load


def _cpu_type(real_type, asks):
    """``x.type(torch.cuda.FloatTensor)``: the CPU's FloatTensor where there is no CUDA."""
    import torch

    def type_(self, dtype=None, non_blocking=False, **kwargs):
        text = dtype if isinstance(dtype, str) else f"{getattr(dtype, '__module__', '')}.{getattr(dtype, '__name__', '')}"
        if dtype is not None and text.startswith("torch.cuda.") and not torch.cuda.is_available():
            asks()
            return real_type(self, "torch." + text[len("torch.cuda.") :], non_blocking, **kwargs)
        return real_type(self) if dtype is None else real_type(self, dtype, non_blocking, **kwargs)

    type_.__name__ = type_.__qualname__ = "type"  # torch function modes (the simulated GPU) dispatch on it
    return type_


def _start_here(process):
    """The code's own process (its training function) runs here; a library's (a Pool's workers)
    is not started: vaelint starts no process."""
    target = getattr(process, "_target", None)
    code = getattr(target, "__code__", None)
    if code is None or not is_user_file(code.co_filename):
        from vaelint.errors import VaelintError

        raise VaelintError(
            "load", "the code starts a process of a library (a Pool, an executor); vaelint starts no process while it checks"
        )
    process.run()


@contextlib.contextmanager
def one_process():
    """Distributed training run as one process on this machine, as its rank 0: ``mp.spawn(fn,
    args)`` and ``Process(target=fn).start()`` call ``fn`` here (vaelint starts no process),
    ``torch.cuda.set_device`` without CUDA does nothing (GPU queries answer for device 0),
    ``init_process_group`` makes a group of one (gloo, in memory), whatever backend and address the code names (it stays for the step's
    runs: ``dist.get_world_size()`` in the step), and a model wrapped in DistributedDataParallel
    or DataParallel is the model itself, its BatchNorms not converted to SyncBatchNorm without CUDA."""
    import multiprocessing
    import multiprocessing.process as mp_process

    import torch
    import torch.distributed as dist
    import torch.multiprocessing as tmp

    from vaelint.frontends.training.livecudaguard import answer_gpu_queries
    from vaelint.frontends.training.livewrappers import unwrapped

    patches = Patches()
    patch = patches.set

    def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
        fn(0, *args)

    def init_process_group(*args, **kwargs):
        if not dist.is_initialized():
            dist.init_process_group.__wrapped__(backend="gloo", store=dist.HashStore(), rank=0, world_size=1)

    def set_device(device):
        if not torch.cuda.is_available():
            return None
        return real_set_device(device)

    def convert_sync_batchnorm(module, process_group=None):
        # a group of one on the CPU: a SyncBatchNorm needs a GPU, a BatchNorm computes the same
        return module if not torch.cuda.is_available() else real_convert(module, process_group)

    real_convert = torch.nn.SyncBatchNorm.convert_sync_batchnorm
    patch(torch.nn.SyncBatchNorm, "convert_sync_batchnorm", staticmethod(convert_sync_batchnorm))
    unwrapped(patch)
    real_set_device = torch.cuda.set_device
    patch(tmp, "spawn", spawn)
    patch(tmp, "start_processes", spawn)
    for cls in (mp_process.BaseProcess, multiprocessing.Process):
        patch(cls, "start", _start_here)
        patch(cls, "join", lambda self, timeout=None: None)
    if dist.is_available():
        init_process_group.__wrapped__ = dist.init_process_group
        patch(dist, "init_process_group", init_process_group)
    patch(torch.cuda, "set_device", set_device)
    answer_gpu_queries(patch)
    launched = _as_torchrun_launches()
    try:
        yield
    finally:
        patches.restore()
        for name in launched:
            os.environ.pop(name, None)


# what `torchrun --nproc_per_node=1` sets for its one process (the address is never dialled:
# the process group is made in memory)
_TORCHRUN = {
    "LOCAL_RANK": "0",
    "RANK": "0",
    "GROUP_RANK": "0",
    "WORLD_SIZE": "1",
    "LOCAL_WORLD_SIZE": "1",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29500",
}


def _as_torchrun_launches() -> list[str]:
    """A script written for torchrun reads its launcher's variables (``int(os.environ["LOCAL_RANK"])``):
    those that are not set are set as torchrun sets them for one process, and removed after.
    Each is read first, so the result cache records it as unset, as it is for the user."""
    launched = [name for name in _TORCHRUN if os.environ.get(name) is None]
    for name in launched:
        os.environ[name] = _TORCHRUN[name]
    return launched
