"""A simulated CUDA device, so that VAE012 is decided on a machine without a GPU.

Model repositories run their CI on CPUs, where a tensor made on the CPU inside
forward meets CPU weights and nothing fails. Here the model's parameters,
buffers and inputs are :class:`SimulatedCuda` tensors: they compute on the CPU
with real values (so data-dependent code, ``.tolist()`` and packed sequences
run as they do for real), but report ``.device == cuda:0`` and ``.is_cuda``,
and ``torch.cuda.is_available()`` answers True. The user's own guards
(``if mu.is_cuda: eps = eps.cuda()``, ``device = "cuda" if ... else "cpu"``,
``.to(x.device)``, ``type_as``) therefore take their GPU branch, ``.cuda()``
and ``device="cuda"`` make simulated tensors, and every op where a plain CPU
tensor (more than a scalar) meets a simulated one is recorded with the user's
line: the places a real GPU run raises "Expected all tensors to be on the same
device". The run goes on past each meeting, so one run finds them all.

This was chosen over ``FakeTensorMode`` (a CUDA fake on a CPU-only torch),
whose first use costs about 1.7 s and which cannot run data-dependent code; a
tensor subclass costs one extra forward under ``no_grad``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves, tree_map

from vaelint.confirm.simcontext import cuda_answers_yes, held_tensors, is_cuda_device, names_a_real_gpu
from vaelint.confirm.simswitches import switches_on
from vaelint.frontends.legacycuda import legacy_types, legacy_types_seen_through, made_on_gpu_by_default
from vaelint.source.facts import line_text, names_the_cpu
from vaelint.source.frames import SourceLoc, user_stack

_CUDA = torch.device("cuda", 0)
_DEVICE_ATTR = torch._C.TensorBase.device
_IS_CUDA_ATTR = torch._C.TensorBase.is_cuda
# ops that take a CPU tensor beside a GPU one by design
_CPU_OUTPUTS = {"_pack_padded_sequence": {1}, "_pad_packed_sequence": {1}}
_ALLOWED = {
    "__getitem__",
    "__setitem__",
    "copy_",
    "to",
    "type_as",
    "new_tensor",
    "_pack_padded_sequence",
    "pack_padded_sequence",
    "_pad_packed_sequence",
    "pad_packed_sequence",
}
# recurrent ops over a packed sequence take its batch sizes (1-D int64) from the CPU
_RNN = {"gru", "lstm", "rnn_tanh", "rnn_relu"}


@dataclass(frozen=True)
class Meeting:
    """An op where a CPU tensor met a (simulated) GPU tensor."""

    op: str
    loc: SourceLoc | None  # the user's line of the op
    made: SourceLoc | None  # where the CPU tensor was created or moved to the CPU, when known
    made_by: str | None  # the op that made it ("randn", "cpu", ...)
    shape: tuple  # the CPU tensor's shape
    held: str | None = None  # the model's attribute that holds it ("prior.loc"), when one does
    held_directly: bool = False  # a module holds the tensor itself (self.mask), not an object it holds
    refused: bool = False  # a CPU tensor type (torch.LongTensor(t)) given a GPU tensor: it raises there
    batch: bool = False  # the training step's batch as its loader gives it, on the CPU, never moved
    parameter: str | None = None  # the model's parameter, left on the CPU by code that never moves the model


@dataclass
class Simulation:
    meetings: list[Meeting] = field(default_factory=list)
    error: str | None = None  # why the simulated run could not finish
    batch_moved: bool = False  # a training step's batch started on the CPU and the step moved it
    met_real_gpu: bool = False  # the run stopped at a tensor on this machine's real GPU: nothing of the code's


class SimulatedCuda(torch.Tensor):
    """A CPU tensor that says it lives on ``cuda:0``."""

    _meetings: list | None = None  # the running simulation's record
    # the memory of simulated tensors, by address: Variable(t) and other legacy wrappers hand
    # back a plain tensor over the same memory, which is on the GPU all the same. The storages
    # are held until the simulated run ends: memory a freed tensor gave back would be handed
    # out again, and a CPU tensor made there later is no GPU tensor
    _storages: dict = {}
    _held: dict = {}  # id -> (the model's attribute holding a tensor that is no parameter or buffer, held directly)
    _batch: dict = {}  # the memory of a training step's batch, on the CPU as its loader gives it; moved: True
    _params: dict = {}  # id -> name of the model's parameters and buffers, where the code never moved the model

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        owner = getattr(func, "__self__", None)
        if owner is _DEVICE_ATTR:
            return _CUDA
        if owner is _IS_CUDA_ATTR:
            return True
        name = getattr(func, "__name__", "")
        if name == "get_device":
            return 0
        leaves = tree_leaves((args, kwargs))
        plain = [
            t
            for t in leaves
            if isinstance(t, torch.Tensor)
            and not isinstance(t, SimulatedCuda)
            and t.dim() > 0
            and not (name in _RNN and t.dim() == 1 and t.dtype == torch.int64)
            # a tensor the user's code made on (or moved to) the CPU carries where; an unlabelled
            # one over a simulated tensor's memory (Variable(t)) is that tensor
            and (hasattr(t, "_vaelint_made") or not _on_simulated_memory(t))
            # placed on the GPU by the code where this machine has none (the setup's .cuda())
            and not hasattr(t, "_vaelint_on_gpu")
        ]
        if plain and name not in _ALLOWED and cls._meetings is not None:
            t = plain[0]
            made = getattr(t, "_vaelint_made", (None, None))
            stack = user_stack()
            held, directly = cls._held.get(id(t), (None, False))
            unmoved = _storage(t) in cls._batch and not hasattr(t, "_vaelint_made")
            where = stack[0] if stack else None
            param = cls._params.get(id(t))
            cls._meetings.append(Meeting(name, where, made[0], made[1], tuple(t.shape), held, directly, batch=unmoved, parameter=param))
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        if name == "cpu" or (name == "to" and _to_cpu(args, kwargs) and _cpu_written_here()):
            return _made_plain(out, name)
        if name in _CPU_OUTPUTS and isinstance(out, tuple):
            # packed sequences keep their batch sizes / lengths on the CPU on a real GPU too
            return tuple(o if i in _CPU_OUTPUTS[name] else _simulated(o) for i, o in enumerate(out))
        if isinstance(out, torch.Size):
            return out  # x.size() stays a size: torch.FloatTensor(x.size()) is a tensor of that shape
        return tree_map(_simulated, out)


def _simulated(t):
    if isinstance(t, torch.Tensor) and t.layout != torch.strided:
        # a sparse tensor (a graph's adjacency) cannot be a subclass: marked as on the GPU, and
        # what is computed from it alone is too (_over_simulated)
        try:
            t._vaelint_on_gpu = True
        except (AttributeError, RuntimeError):
            pass
        return t
    if isinstance(t, torch.Tensor) and not isinstance(t, SimulatedCuda) and not isinstance(t, nn.Parameter):
        t = t.as_subclass(SimulatedCuda)
    if isinstance(t, SimulatedCuda):
        _remember(t)
    return t


def _remember(t: torch.Tensor) -> None:
    """``t``'s memory is simulated GPU memory, kept (not reused) until the run ends."""
    try:
        storage = t.untyped_storage()
    except (RuntimeError, NotImplementedError):
        return
    SimulatedCuda._storages[storage.data_ptr()] = storage


def _on_simulated_memory(t: torch.Tensor) -> bool:
    """Is ``t`` over the memory of a simulated tensor?"""
    return _storage(t) in SimulatedCuda._storages


def _storage(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


def _made_plain(out, how: str):
    """A tensor moved to (or made on) the CPU, labelled with where."""
    stack = user_stack()

    def label(t):
        if isinstance(t, torch.Tensor):
            t = t.as_subclass(torch.Tensor)
            try:
                t._vaelint_made = (stack[0] if stack else None, how)
            except (AttributeError, RuntimeError):
                pass
        return t

    return tree_map(label, out)


def _cpu_written_here() -> bool:
    """Does the user's line name the CPU itself (``device="cpu"``, ``.to("cpu")``),
    rather than through a variable chosen when the file or model was loaded?"""
    stack = user_stack()
    if not stack:
        return True
    return names_the_cpu(line_text(stack[0].path, stack[0].line))


def _to_cpu(args, kwargs) -> bool:
    device = kwargs.get("device", next((a for a in args[1:] if isinstance(a, (torch.device, str))), None))
    return device is not None and not is_cuda_device(device) and str(device).startswith("cpu")


class _Moves(TorchFunctionMode):
    """Moves to CUDA and tensors created on CUDA become simulated; tensors created
    on the CPU remember the user's line that made them."""

    def __init__(self, real_gpu: bool = False):
        super().__init__()
        self.real_gpu = real_gpu  # this machine has a GPU, whose tensors the code may hold

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if self.real_gpu:
            args, kwargs = _off_the_real_gpu((args, kwargs))
        name = getattr(func, "__name__", "")
        to_cuda = False
        if name == "cuda":
            args, to_cuda = (args[0],), True
        elif name == "to" and (
            any(is_cuda_device(a) for a in args[1:])
            or is_cuda_device(kwargs.get("device"))
            or (_to_cpu(args, kwargs) and not _cpu_written_here())
        ):
            args = tuple("cpu" if is_cuda_device(a) else a for a in args)
            if is_cuda_device(kwargs.get("device")):
                kwargs["device"] = "cpu"
            to_cuda = True
        elif is_cuda_device(kwargs.get("device")):
            kwargs["device"] = "cpu"
            to_cuda = True
        elif made_on_gpu_by_default(func, args, kwargs):
            to_cuda = True  # torch.set_default_tensor_type("torch.cuda.FloatTensor") made the GPU the default
        elif kwargs.get("device") is not None and not _cpu_written_here():
            # device=self.device / DEVICE: a variable that names the GPU on a GPU machine
            # ("cuda" if torch.cuda.is_available() else "cpu", decided when the file loaded)
            to_cuda = True
        if to_cuda and name in ("to", "cuda") and isinstance(args[0], torch.Tensor) and _storage(args[0]) in SimulatedCuda._batch:
            SimulatedCuda._batch[_storage(args[0])] = True  # the step moves its batch itself
        if name == "cuda":
            out = args[0]
        else:
            out = func(*args, **kwargs)
        if to_cuda and name in ("to", "cuda") and isinstance(out, torch.Tensor) and isinstance(args[0], torch.Tensor):
            if _storage(out) == _storage(args[0]) and not isinstance(args[0], SimulatedCuda):
                # a real move makes a new tensor on the GPU, the one moved stays on the CPU: here the CPU
                # hands back the same memory, which would make the tensor moved count as the GPU's too
                # (x = imgs.to(device); model(imgs) met no GPU tensor)
                out = out.clone()
        if isinstance(out, torch.Size):
            return out  # a size stays a size (pytree would make it a tuple: FloatTensor(x.size()) of data)
        if to_cuda or any(getattr(a, "_vaelint_on_gpu", False) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)):
            # computed from a tensor the code placed on the GPU (``dist.loc = dist.loc.cuda()`` in its
            # __init__, kept on the CPU here): on the GPU too, as Normal(loc, scale).sample() is
            return tree_map(_simulated, out)
        if name in _CREATES and not any(isinstance(a, SimulatedCuda) for a in tree_leaves((args, kwargs))):
            return _made_plain(out, name)
        if not any(isinstance(a, SimulatedCuda) for a in tree_leaves((args, kwargs))):
            if any(_over_simulated(a) for a in tree_leaves((args, kwargs))):
                # ``1 - Variable(x)``: computed from a simulated tensor's memory, so on the GPU too
                return tree_map(_simulated, out)
            return _inherit_origin(out, args)
        return out


def _off_the_real_gpu(tree):
    """On a machine with a GPU, the tensors the code put on it (weights it moved, a legacy
    ``torch.cuda.FloatTensor(n)`` it kept as its type, a distribution's ``loc.cuda()`` from its
    ``__init__``) are GPU tensors to the simulation too: their values join its memory, the CPU, so
    they neither fail beside the simulated ones nor count as CPU tensors meeting them."""

    return tree_map(_joined, tree)


def _joined(t):
    """A tensor on this machine's real GPU as a simulated one (its values on the CPU); any other as it is."""
    if isinstance(t, torch.Tensor) and not isinstance(t, SimulatedCuda) and t.device.type == "cuda":
        return _simulated(t.detach().cpu())
    return t


def _over_simulated(t) -> bool:
    """A plain tensor over a simulated tensor's memory that the user's code did not
    make on, or move to, the CPU: what ``Variable(t)`` hands back for a GPU tensor."""
    if isinstance(t, torch.Tensor) and t.layout != torch.strided:
        return bool(getattr(t, "_vaelint_on_gpu", False))  # a sparse input of the simulated run
    if not (
        isinstance(t, torch.Tensor)
        and not isinstance(t, (SimulatedCuda, nn.Parameter))
        and not hasattr(t, "_vaelint_made")
        and _on_simulated_memory(t)
    ):
        return False
    return True


# the ops that make a tensor (on the CPU unless told a device)
_CREATES = frozenset(
    "randn rand randint randperm zeros ones empty full tensor as_tensor arange linspace eye normal from_numpy stack cat".split()
)


def _inherit_origin(out, args):
    """An op on CPU tensors only: its result comes from the same line as its input."""
    origin = next((a._vaelint_made for a in tree_leaves(args) if hasattr(a, "_vaelint_made")), None)
    if origin is None:
        return out

    def label(t):
        if isinstance(t, torch.Tensor) and not isinstance(t, SimulatedCuda) and not hasattr(t, "_vaelint_made"):
            try:
                t._vaelint_made = origin
            except (AttributeError, RuntimeError):
                pass
        return t

    return tree_map(label, out)


def simulate(
    module: nn.Module, inputs: tuple, reseed=torch.manual_seed, batch_on_cpu: bool = False, model_on_cpu: bool = False
) -> Simulation:
    """Run ``module`` (the analysed model with its loss) on the simulated device. ``batch_on_cpu``:
    the inputs are a training step's batch, on the CPU as a data loader gives it, for the step's
    own moves to place (a label it never moves stays on the CPU, as on a GPU machine);
    ``Simulation.batch_moved`` says whether the step moved any of it. ``model_on_cpu``: the code
    never moves the model, so its parameters and buffers stay on the CPU (each meeting names one)."""
    sim = Simulation()
    real_gpu = torch.cuda.is_available()  # asked before the simulated GPU answers yes
    # the simulated GPU keeps its memory on the CPU: a model the code moved to this machine's real
    # GPU runs from a CPU copy of its weights (once, not at each use: _off_the_real_gpu)
    placed = (lambda t: t) if model_on_cpu else _simulated
    state = {name: placed(_joined(t.detach())) for name, t in module.named_parameters()}
    state.update({name: placed(_joined(t.detach())) for name, t in module.named_buffers()})
    SimulatedCuda._params = {id(t): name.removeprefix("model.") for name, t in state.items()} if model_on_cpu else {}
    sim_inputs = tuple(
        (x.detach().clone() if isinstance(x, torch.Tensor) else x) if batch_on_cpu else _simulated(x.detach()) for x in inputs
    )
    SimulatedCuda._meetings = sim.meetings
    SimulatedCuda._storages = {}
    SimulatedCuda._held = held_tensors(module)
    SimulatedCuda._batch = {_storage(x): False for x in sim_inputs if batch_on_cpu and isinstance(x, torch.Tensor)}
    for t in (*(() if model_on_cpu else state.values()), *(() if batch_on_cpu else sim_inputs)):
        _remember(t)
    try:
        # cuDNN off: on a machine with a real GPU, an RNN whose input says is_cuda would
        # call cuDNN's kernels with the simulated tensors' CPU memory
        with (
            warnings.catch_warnings(),
            torch.no_grad(),
            torch.random.fork_rng(devices=[]),
            cuda_answers_yes(),
            legacy_types(_simulated, gpu=_refused_on_gpu),
            switches_on(module, _simulated),  # reads the CPU types as the code holds them: before they are replaced
            legacy_types_seen_through(),  # torch.LongTensor(t): refuses a GPU tensor, as on a GPU
            _Moves(real_gpu),
            torch.backends.cudnn.flags(enabled=False),
        ):
            warnings.simplefilter("ignore")  # "compiled without cuDNN": the simulated GPU has none
            reseed(0)
            torch.func.functional_call(module, state, sim_inputs, strict=False)
    except Exception as e:  # noqa: BLE001 - the simulated run failed: say so, decide nothing
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        sim.error = f"{type(e).__name__}: {text[:200]}"
        sim.met_real_gpu = names_a_real_gpu(text)
    finally:
        SimulatedCuda._meetings = None
        SimulatedCuda._storages = {}  # the run's memory, held so far, is given back
        SimulatedCuda._held, SimulatedCuda._params = {}, {}
        sim.batch_moved, SimulatedCuda._batch = any(SimulatedCuda._batch.values()), {}
    return sim


_LEGACY_REFUSES = "legacy constructor expects device type: cpu but device type: cuda was passed"  # torch's words


def _refused_on_gpu(constructor: str, tensors: list) -> None:
    """A CPU tensor type given tensors (``torch.LongTensor(i)``, ``torch.sparse.FloatTensor(i, v,
    size)``) raises on a GPU when one of them is there: the meeting is the constructor's line."""
    on_gpu = [
        t
        for t in tensors
        if isinstance(t, SimulatedCuda)
        or getattr(t, "_vaelint_on_gpu", False)
        or (not hasattr(t, "_vaelint_made") and _on_simulated_memory(t))
    ]
    if not on_gpu or SimulatedCuda._meetings is None:
        return
    stack = user_stack()
    loc = stack[0] if stack else None
    SimulatedCuda._meetings.append(Meeting(constructor, loc, loc, constructor, tuple(on_gpu[0].shape), refused=True))
    raise RuntimeError(_LEGACY_REFUSES)
