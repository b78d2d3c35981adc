"""Capture forward plus loss as one torch.fx graph: what both routes share.

Two routes, one result (:class:`Capture`):

* **torch.fx** (``symbolic_trace`` with a tracer of our own). Plain
  ``symbolic_trace`` evaluates ``torch.randn(self.latent_dim)`` at trace time
  and stores a constant, hiding the commonest VAE bug; our tracer turns every
  tensor-creating call that has no traced argument into a graph node instead.
* **recording** a concrete run, for models fx cannot trace (data-dependent
  ``if``, ``int(x.size(1))``, ``Variable(...)``, distributions): a
  ``TorchFunctionMode`` writes one node per torch call it sees.

The routes live in :mod:`vaelint.capture.symbolic` and :mod:`vaelint.capture.recording`;
this module holds what they share: the wrapper that runs forward then loss,
the placeholder names, and the result types.

Both routes leave the user's innermost source line on ``node.meta["loc"]``,
mark the forward's outputs (``node.meta["forward_output"]``), and can re-run
the captured computation at another batch size (:meth:`Capture.run`), which
is how the shapes stage learns what depends on the batch.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn as nn

from vaelint.source.frames import SourceLoc, boundary

# --------------------------------------------------------------------------- outputs


class Record(dict):
    """A batch given by keys (``--input batch.sentence=SPEC``): a dict that also answers its keys
    as attributes, as a torchtext or PyG batch does (``batch.sentence``, ``data.x``)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Analysed(nn.Module):
    """forward(*inputs) = loss(bind(model(*inputs))), or a training step's
    step(*inputs), with hooks for the capture route."""

    def __init__(self, model: nn.Module, loss: Callable | None, binder, step: Callable | None = None):
        super().__init__()
        self.model = model
        self._step = step  # a training step (vaelint/frontends/base.py, Step): the loss it returns
        if isinstance(loss, nn.Module) and not _is_bound_to(loss, model):
            self.loss_module = loss
        self._loss = loss
        self._binder = binder  # (out, inputs, leaf_nodes) -> (args, kwargs)
        self._on_output = None  # route hook: out -> {path: node}
        # route hook: a context manager that notes the calls of the user's annotated
        # functions (vaelint/contracts/calls.py), set for the capture run only
        self._watch = None
        self.keywords: tuple[str, ...] = ()
        self.progress = None  # stage listener: "forward", "loss" (the worker reports where user code was)

    def _stage(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name)

    @boundary
    def run(self, inputs: tuple):
        if self._watch is not None:
            with self._watch():
                return self._run(inputs)
        return self._run(inputs)

    def _run(self, inputs: tuple):
        self._stage("forward")
        # the last len(self.keywords) inputs go to forward by keyword (--input NAME=SPEC)
        n = len(inputs) - len(self.keywords)
        kwargs: dict = {}
        for name, value in zip(self.keywords, inputs[n:]):
            if "." in name:  # NAME.KEY: a dict input, read as batch["KEY"] or batch.KEY (torchtext, PyG)
                outer, key = name.split(".")
                kwargs.setdefault(outer, Record())[key] = value
            else:
                kwargs[name] = value
        if self._step is not None:
            return self._run_step(inputs[:n], kwargs)
        out = self.model(*inputs[:n], **kwargs)
        leaf_nodes = self._on_output(out) if self._on_output else {}
        if self._loss is None or self._binder is None:
            return out
        args, kwargs = self._binder(out, inputs, leaf_nodes)
        self._stage("loss")
        return _fields_of(self._loss(*args, **kwargs))

    def _run_step(self, positional: tuple, kwargs: dict):
        """A training step: the model calls it makes mark the forward's outputs
        (vaelint/capture/modelcalls.py); what it returns is the loss."""
        if self._on_output is None or not getattr(self, "_mark_model_calls", True):
            return self._step(*positional, **kwargs)
        from vaelint.capture.modelcalls import marking_model_calls

        with marking_model_calls(self._on_output):
            return self._step(*positional, **kwargs)


def _fields_of(value):
    """A loss's dataclass record (``LossOutput(total_loss=..., recon=..., kl=...)``) as the dict of
    its fields, read as a dict is (its total by the key that names it, else its terms summed)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return value


def _is_bound_to(loss, model) -> bool:
    return getattr(loss, "__self__", None) is model


def input_names(program, n: int, keywords: tuple[str, ...] = ()) -> list[str]:
    """Placeholder names: the forward's own parameter names where they are usable,
    then the keyword inputs' names."""
    if keywords:
        return input_names(program, n - len(keywords)) + [k.replace(".", "_") for k in keywords]
    names = []
    if program.step is not None:
        names = list(program.step.names)  # the step's batch variables
    else:
        forward = program.forward_fn()
        try:
            params = list(inspect.signature(forward).parameters.values())
            names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            pass
    out = []
    for i in range(n):
        name = names[i] if i < len(names) and names[i].isidentifier() else f"input_{i}"
        if name in out or name in {"self", "model"}:
            name = f"input_{i}"
        out.append(name)
    return out


def make_wrapper(program, loss, binder, n_inputs: int, keywords: tuple[str, ...], progress) -> tuple[Analysed, list[str]]:
    """The module both routes capture, and its placeholder names."""
    names = input_names(program, n_inputs, keywords)
    step = program.step.fn if program.step is not None else None
    wrapper = _wrapper_class(names)(program.model, loss, binder, step)
    wrapper.keywords = tuple(keywords)
    wrapper.progress = progress
    return wrapper, names


def _wrapper_class(names: list[str]) -> type:
    """A subclass whose forward has one named parameter per input (fx names placeholders so)."""
    src = f"def forward(self, {', '.join(names)}):\n    return self.run(({', '.join(names)},))\n"
    ns: dict = {}
    exec(src, ns)  # noqa: S102 - the names are identifiers checked above
    return type("VaelintAnalysed", (Analysed,), {"forward": ns["forward"]})


# --------------------------------------------------------------------------- results


@dataclass
class Failure:
    """An op that raised while the captured computation ran."""

    node: fx.Node | None
    error: BaseException
    loc: SourceLoc | None
    batch: int


_NONE = object()


class NodeValues(dict):
    """node -> the tensor it computed on a run. A node vaelint added to the graph after the run
    (``meta["vaelint_derived"]``: a loss's ``log q(z)`` and ``log p(z)`` terms written apart, joined
    into one KL term by :mod:`vaelint.facts.densitypairs`) is computed from its operands when asked."""

    def _derived(self, node):
        if not (isinstance(node, fx.Node) and node.meta.get("vaelint_derived")):
            return _NONE
        args = [self.get(a) if isinstance(a, fx.Node) else a for a in node.args]
        if any(a is None for a in args):
            return _NONE
        try:
            return node.target(*args, **node.kwargs)
        except Exception:  # noqa: BLE001 - operands of shapes that do not meet: not computed
            return _NONE

    def __contains__(self, node) -> bool:
        return dict.__contains__(self, node) or self._derived(node) is not _NONE

    def __getitem__(self, node):
        if dict.__contains__(self, node):
            return dict.__getitem__(self, node)
        value = self._derived(node)
        if value is _NONE:
            raise KeyError(node)
        return value

    def get(self, node, default=None):
        if dict.__contains__(self, node):
            return dict.__getitem__(self, node)
        value = self._derived(node)
        return default if value is _NONE else value


@dataclass
class RunResult:
    batch: int
    shapes: dict  # node -> tuple of ints, for tensor-valued nodes
    values: dict  # node -> python int/tuple, for size queries (fx route)
    failure: Failure | None = None
    output: Any = None
    tensors: dict = field(default_factory=NodeValues)  # node -> the tensor it computed (detached); empty: not held
    args: dict = field(default_factory=dict)  # node -> the args it ran with (recording route)


@dataclass
class Capture:
    method: str  # the route's name, as the report says it: "torch.fx" or "recording"
    graph: fx.Graph
    modules: dict  # qualified name -> module (names as in call_module targets)
    wrapper: Analysed
    input_names: list[str]
    fallback_reason: str | None = None
    runner: Callable[..., RunResult] | None = None
    program: Any = None  # the front end's Program (vaelint/frontends/base.py)
    # the calls of the user's annotated functions the capture met, their values as
    # graph nodes (vaelint/contracts/calls.py)
    contract_calls: list = field(default_factory=list)
    # the route that made it (vaelint/capture/routes.py): what its graph can say
    route: Any = None
    # puts back the modules' plain tensor attributes as they were before any route ran (a
    # recurrent state a run kept on the module, self.h = h.detach(), is not the next run's)
    restore_tensors: Callable[[], None] = lambda: None

    @property
    def ints_are_literals(self) -> bool:
        """A plain int in this graph was written in the code (never computed from a tensor)."""
        return bool(self.route is not None and self.route.ints_are_literals)

    def literal_ints(self, node: fx.Node, runs) -> list[int]:
        """Integer arguments written into the code for ``node``'s op, as its route can tell."""
        return self.route.literal_ints(node, runs) if self.route is not None else []

    def reseed(self, seed: int) -> None:
        """Restart every random generator a run of the program draws from: torch's, Python's and
        numpy's global ones (a step that picks a random time step with np.random.choice: two runs
        compared must pick the same), and the front end's own (Keras's seed generators)."""
        import random
        import sys

        torch.manual_seed(seed)
        random.seed(seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(seed)
        if self.program is not None:
            self.program.reseed(seed)

    @property
    def binder(self):
        """How the loss's arguments were bound to the forward's outputs (None: no loss)."""
        return self.wrapper._binder

    def run(self, inputs: tuple, batch: int, keep_autograd: bool = False, replay: dict | None = None, hold: bool = True) -> RunResult:
        """Run the captured computation at ``batch``; ``keep_autograd`` keeps each
        node's tensor attached to the autograd graph (the confirmation pass asks
        for gradients between nodes). ``replay`` (random node -> tensor): where
        such a node draws a tensor of exactly that shape, it takes that value
        instead (the confirmation's doubled batch draws the same noise twice).
        ``hold=False``: the run records shapes and sizes only, and each tensor is
        freed once the computation is done with it, as in a plain forward (the
        shapes stage's extra batches: holding every activation made a 256x256
        conv VAE's batch of 7 take up to 3x a plain forward, in fresh memory). Each run starts
        from the modules' tensor attributes as they were before any route ran: a state the last run
        kept on the model (an LSTM's h, c, at another batch size) is not this run's."""
        self.restore_tensors()
        return self.runner(inputs, batch, keep_autograd, replay, hold)


def take_replay(op_name: str, value: torch.Tensor, replay_value: torch.Tensor | None) -> torch.Tensor:
    """``value`` as drawn, or the replayed draw when it has the very same shape
    (an in-place draw, ``eps.normal_()``, gets the replayed values in place)."""
    if replay_value is None or not isinstance(value, torch.Tensor) or value.shape != replay_value.shape:
        return value
    if op_name.endswith("_"):
        with torch.no_grad():
            value.copy_(replay_value)
        return value
    return replay_value.to(value.dtype)
