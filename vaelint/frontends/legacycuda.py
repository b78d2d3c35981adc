"""The legacy CUDA tensor types (``torch.cuda.FloatTensor``) where no GPU is: on the simulated GPU
(:mod:`vaelint.confirm.simdevice`), and on the CPU a check runs on (:mod:`.training.livecuda`).

Older VAE code draws its noise with ``torch.cuda.FloatTensor(std.size()).normal_()`` (or keeps
``self.FloatTensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor``). On a machine
without a GPU that constructor raises ("type torch.cuda.FloatTensor not available", "Found no
NVIDIA driver" with a CUDA build of torch), so the simulated run could not finish and VAE012
went unchecked. While the simulated GPU runs, ``torch.cuda.FloatTensor`` and its siblings make
simulated GPU tensors as on a GPU: a size (``x.size()``, ints) gives a tensor of that shape, data
(a list, an array, a tensor) a tensor of it; ``isinstance(t, torch.cuda.FloatTensor)`` holds for
a simulated float32 tensor.

Where the code runs on this machine's CPU with CUDA kept away (training code, a model's own
forward: :mod:`vaelint.frontends.training.livecuda`), the same types make CPU tensors marked as
placed on the GPU, ``said`` naming each move for the report."""

from __future__ import annotations

import contextlib

import torch

_TYPES = {
    "FloatTensor": torch.float32,
    "DoubleTensor": torch.float64,
    "HalfTensor": torch.float16,
    "BFloat16Tensor": torch.bfloat16,
    "LongTensor": torch.int64,
    "IntTensor": torch.int32,
    "ShortTensor": torch.int16,
    "CharTensor": torch.int8,
    "ByteTensor": torch.uint8,
    "BoolTensor": torch.bool,
}


def _is_size(args) -> bool:
    if len(args) == 1 and isinstance(args[0], torch.Size):
        return True
    return all(isinstance(a, int) and not isinstance(a, bool) for a in args)


def _legacy_type(name: str, dtype: torch.dtype, simulated, on_gpu, said) -> type:
    class _Meta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, torch.Tensor) and obj.dtype == dtype and on_gpu(obj)

    def __new__(cls, *args, **kwargs):
        if _is_size(args):
            made = torch.empty(*args, dtype=dtype)
        else:
            made = torch.as_tensor(args[0], dtype=dtype).clone()
        if said is not None:
            said(f"torch.cuda.{name}(...)")
        return simulated(made)

    return _Meta(name, (), {"__new__": __new__, "__module__": "torch.cuda", "dtype": dtype, "is_cuda": True})


# the legacy CUDA type the code made torch's default (torch.set_default_tensor_type("torch.cuda.FloatTensor")),
# GPU-only code's idiom: a factory call given no device makes a tensor on the GPU, as it does there
CUDA_DEFAULT: list = []
_FACTORIES = frozenset("randn rand randint randperm zeros ones empty full tensor arange linspace eye normal".split())


def made_on_gpu_by_default(func, args, kwargs) -> bool:
    """Does this op make a tensor on the GPU the code made the default (a factory given no device nor tensor)?"""
    if not CUDA_DEFAULT or getattr(func, "__name__", "") not in _FACTORIES or kwargs.get("device") is not None:
        return False
    return not any(isinstance(a, torch.Tensor) for a in args)


# inside: the simulated GPU runs; its last entry, refuse(constructor, tensors), raises as a GPU does
# when a CPU type is given tensors on the (simulated) GPU, and returns when none is
_AS_ON_A_GPU: list = []


@contextlib.contextmanager
def legacy_types(simulated, on_gpu=lambda t: t.is_cuda, said=None, gpu=None):
    """While inside, ``torch.cuda.<Type>Tensor(...)`` makes ``simulated(tensor)`` (after
    ``said(what)``, ``what`` the constructor as the code wrote it), and ``isinstance(t,
    torch.cuda.FloatTensor)`` holds for a tensor of its dtype that ``on_gpu``. ``gpu``: the
    simulated GPU runs; ``gpu(constructor, tensors)`` raises where a CPU type such as
    ``torch.LongTensor(t)`` is given tensors on the GPU (a GPU refuses them), else returns."""
    saved = {name: getattr(torch.cuda, name, None) for name in _TYPES}
    made = {name: _legacy_type(name, dtype, simulated, on_gpu, said) for name, dtype in _TYPES.items()}
    to_type = torch.Tensor.type

    def type_(self, dtype=None, *args, **kwargs):
        # x.type(torch.cuda.FloatTensor), x.type("torch.cuda.FloatTensor"): to that dtype, on the GPU
        name = dtype.rpartition("torch.cuda.")[2] if isinstance(dtype, str) and dtype.startswith("torch.cuda.") else None
        legacy = made.get(name) if name else next((t for t in made.values() if dtype is t), None)
        if legacy is None:
            return to_type(self, dtype, *args, **kwargs)
        if said is not None:
            said(f"x.type(torch.cuda.{legacy.__name__})")
        return simulated(self.to(legacy.dtype))

    set_type = torch.set_default_tensor_type

    def set_default_tensor_type(t):
        name = t.rpartition("torch.cuda.")[2] if isinstance(t, str) and t.startswith("torch.cuda.") else None
        legacy = made.get(name) if name else next((m for m in made.values() if t is m), None)
        if legacy is None:
            CUDA_DEFAULT.clear()
            return set_type(t)
        if said is not None:
            said(f"torch.set_default_tensor_type(torch.cuda.{legacy.__name__})")
        CUDA_DEFAULT[:] = [legacy.dtype]
        if legacy.dtype.is_floating_point:
            torch.set_default_dtype(legacy.dtype)
        return None

    try:
        for name, value in made.items():
            setattr(torch.cuda, name, value)
        torch.Tensor.type = type_
        torch.set_default_tensor_type = set_default_tensor_type
        _AS_ON_A_GPU.extend([gpu] if gpu is not None else [])
        yield
    finally:
        del _AS_ON_A_GPU[len(_AS_ON_A_GPU) - (1 if gpu is not None else 0) :]
        torch.Tensor.type = to_type
        torch.set_default_tensor_type = set_type
        for name, value in saved.items():
            if value is None:
                delattr(torch.cuda, name)
            else:
                setattr(torch.cuda, name, value)


def _seen_through(name: str, dtype: torch.dtype, sparse: bool, original: type, used: list) -> type:
    class _Meta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, original)

    def __new__(cls, *args, **kwargs):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if _AS_ON_A_GPU:
            _AS_ON_A_GPU[-1](f"torch.{'sparse.' if sparse else ''}{name}", tensors)  # refuses the GPU's tensors
            return original(*args, **kwargs)
        if any(t.is_cuda for t in tensors):
            return original(*args, **kwargs)  # a CPU type given GPU tensors: as it does on a GPU (it refuses)
        if tensors:
            used.append(f"torch.{'sparse.' if sparse else ''}{name}(...)")
        # of another dtype the constructor refuses (TypeError "expected TensorOptions(dtype=double"): as written
        if sparse and len(args) >= 2 and len(tensors) >= 2 and tensors[1].dtype == dtype:
            # torch.sparse.FloatTensor(indices, values, size): a sparse tensor of those
            return torch.sparse_coo_tensor(*args, dtype=dtype, **kwargs)
        if not sparse and len(args) == 1 and tensors and tensors[0].dtype == dtype:
            return tensors[0].to(dtype)  # torch.LongTensor(t): t itself
        return original(*args, **kwargs)  # a size, a list: made here, as before

    return _Meta(name, (), {"__new__": __new__, "__module__": original.__module__, "dtype": dtype, "is_sparse": sparse})


@contextlib.contextmanager
def legacy_types_seen_through():
    """While inside, the CPU legacy constructors given tensors (``torch.LongTensor(i)``,
    ``torch.sparse.FloatTensor(i, v, size)``: a hand-written sparse dropout) make their tensor
    by torch calls a recording sees (``i.to(torch.int64)``, ``torch.sparse_coo_tensor``), not
    by a constructor no ``TorchFunctionMode`` is told of: what follows stays tied to the input.
    ``isinstance`` and ``x.type(torch.FloatTensor)`` answer as before. Yields the list of the
    constructors so used (on a GPU they refuse GPU tensors: VAE012 runs the simulated GPU)."""
    places, used = [(torch, False), (torch.sparse, True)], []
    saved = [(mod, name, getattr(mod, name)) for mod, _sparse in places for name in _TYPES if hasattr(mod, name)]
    made = {
        (mod, name): _seen_through(name, _TYPES[name], sparse, getattr(mod, name), used)
        for mod, sparse in places
        for name in _TYPES
        if hasattr(mod, name)
    }
    originals = {id(made[key]): getattr(*key) for key in made}
    to_type = torch.Tensor.type

    def type_(self, dtype=None, *args, **kwargs):
        return to_type(self, originals.get(id(dtype), dtype), *args, **kwargs)

    try:
        for (mod, name), value in made.items():
            setattr(mod, name, value)
        torch.Tensor.type = type_
        yield used
    finally:
        torch.Tensor.type = to_type
        for mod, name, value in saved:
            setattr(mod, name, value)
