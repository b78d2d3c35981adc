"""Capture forward plus loss as one torch.fx graph.

Two routes, one result:

* **torch.fx** (``symbolic_trace`` with a tracer of our own). Plain
  ``symbolic_trace`` evaluates ``torch.randn(self.latent_dim)`` at trace time
  and stores a constant, hiding the commonest VAE bug; our tracer turns every
  tensor-creating call that has no traced argument into a graph node instead.
* **recording** a concrete run, for models fx cannot trace (data-dependent
  ``if``, ``int(x.size(1))``, ``Variable(...)``, distributions): a
  ``TorchFunctionMode`` writes one node per torch call it sees.

Both routes leave the user's innermost source line on ``node.meta["loc"]``,
mark the forward's outputs (``node.meta["forward_output"]``), and can re-run
the captured computation at another batch size (:meth:`Capture.run`), which
is how the shapes stage learns what depends on the batch.
"""

from __future__ import annotations

import operator
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from vaelint.errors import VaelintError
from vaelint.frames import SourceLoc, boundary, user_frame_of_traceback, user_stack
from vaelint.ops import CREATION_OPS, function_name
from vaelint.outputs import flatten_outputs

# --------------------------------------------------------------------------- outputs


class Analysed(nn.Module):
    """forward(*inputs) = loss(bind(model(*inputs))), with hooks for the capture route."""

    def __init__(self, model: nn.Module, loss: Callable | None, binder):
        super().__init__()
        self.model = model
        if isinstance(loss, nn.Module) and not _is_bound_to(loss, model):
            self.loss_module = loss
        self._loss = loss
        self._binder = binder  # (out, inputs, leaf_nodes) -> (args, kwargs)
        self._on_output = None  # route hook: out -> {path: node}
        self.keywords: tuple[str, ...] = ()
        self.progress = None  # stage listener: "forward", "loss" (the worker reports where user code was)

    def _stage(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name)

    @boundary
    def run(self, inputs: tuple):
        self._stage("forward")
        # the last len(self.keywords) inputs go to forward by keyword (--input NAME=SPEC)
        n = len(inputs) - len(self.keywords)
        kwargs: dict = {}
        for name, value in zip(self.keywords, inputs[n:]):
            if "." in name:  # NAME.KEY: a dict input
                outer, key = name.split(".")
                kwargs.setdefault(outer, {})[key] = value
            else:
                kwargs[name] = value
        out = self.model(*inputs[:n], **kwargs)
        leaf_nodes = self._on_output(out) if self._on_output else {}
        if self._loss is None or self._binder is None:
            return out
        args, kwargs = self._binder(out, inputs, leaf_nodes)
        self._stage("loss")
        return self._loss(*args, **kwargs)


def _is_bound_to(loss, model) -> bool:
    return getattr(loss, "__self__", None) is model


def input_names(model: nn.Module, n: int, keywords: tuple[str, ...] = ()) -> list[str]:
    """Placeholder names: the forward's own parameter names where they are usable,
    then the keyword inputs' names."""
    if keywords:
        return input_names(model, n - len(keywords)) + [k.replace(".", "_") for k in keywords]
    names = []
    try:
        params = list(inspect.signature(model.forward).parameters.values())
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


@dataclass
class RunResult:
    batch: int
    shapes: dict  # node -> tuple of ints, for tensor-valued nodes
    values: dict  # node -> python int/tuple, for size queries (fx route)
    failure: Failure | None = None
    output: Any = None
    tensors: dict = field(default_factory=dict)  # node -> the tensor it computed (detached)
    args: dict = field(default_factory=dict)  # node -> the args it ran with (recording route)


@dataclass
class Capture:
    method: str  # "torch.fx" or "recording"
    graph: fx.Graph
    modules: dict  # qualified name -> module (names as in call_module targets)
    wrapper: Analysed
    input_names: list[str]
    fallback_reason: str | None = None
    runner: Callable[..., RunResult] | None = None

    def run(self, inputs: tuple, batch: int, keep_autograd: bool = False) -> RunResult:
        """Run the captured computation at ``batch``; ``keep_autograd`` keeps each
        node's tensor attached to the autograd graph (the confirmation pass asks
        for gradients between nodes)."""
        return self.runner(inputs, batch, keep_autograd)


# --------------------------------------------------------------------------- route 1: torch.fx


class _KeepCreationOps(TorchFunctionMode):
    """During symbolic tracing, make tensor-creating calls with no traced
    argument graph nodes instead of constants folded at trace time."""

    def __init__(self, tracer: fx.Tracer):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if function_name(func) in CREATION_OPS:
            if not any(isinstance(a, fx.Proxy) for a in tree_leaves((args, kwargs))):
                return self.tracer.create_proxy("call_function", func, args, kwargs)
        return func(*args, **kwargs)


class _Tracer(fx.Tracer):
    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        stack = user_stack()
        node.meta["loc"] = stack[0] if stack else None
        node.meta["stack"] = stack
        return node

    def trace(self, root, concrete_args=None):
        with _KeepCreationOps(self):
            return super().trace(root, concrete_args)


class _ShapeInterpreter(fx.Interpreter):
    def __init__(self, gm, result: RunResult, keep_autograd: bool):
        super().__init__(gm)
        self.result, self.keep_autograd = result, keep_autograd

    def run_node(self, n):
        try:
            value = super().run_node(n)
        except Exception as e:  # noqa: BLE001 - the user's op raised: that is a fact
            self.result.failure = Failure(n, e, n.meta.get("loc"), self.result.batch)
            raise _Stop() from e
        _note_value(self.result, n, value, self.keep_autograd)
        return value


class _Stop(Exception):
    pass


def _note_value(result: RunResult, node: fx.Node, value: Any, keep_autograd: bool) -> None:
    if isinstance(value, torch.Tensor):
        result.shapes[node] = tuple(value.shape)
        result.tensors[node] = value if keep_autograd else value.detach()
    elif isinstance(value, torch.Size):
        result.values[node] = tuple(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        result.values[node] = value


def capture_fx(model: nn.Module, loss, binder, n_inputs: int, keywords: tuple[str, ...] = (), progress=None) -> Capture:
    names = input_names(model, n_inputs, keywords)
    wrapper = _wrapper_class(names)(model, loss, binder)
    wrapper.keywords = tuple(keywords)
    wrapper.progress = progress
    tracer = _Tracer()  # records the user's frames itself (node.meta["stack"])

    def on_output(out):
        leaves = {}
        for path, value in flatten_outputs(out):
            if isinstance(value, fx.Proxy):
                value.node.meta.setdefault("forward_output", path)
                leaves[path] = value.node
        return leaves

    wrapper._on_output = on_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = tracer.trace(wrapper)
    gm = fx.GraphModule(wrapper, graph)
    modules = dict(wrapper.named_modules())

    def runner(inputs, batch, keep_autograd=False):
        result = RunResult(batch, {}, {})
        interp = _ShapeInterpreter(gm, result, keep_autograd)
        try:
            result.output = interp.run(*inputs)
        except _Stop:
            pass
        return result

    return Capture("torch.fx", graph, modules, wrapper, names, runner=runner)


# --------------------------------------------------------------------------- route 2: recording


class _Recorder(TorchFunctionMode):
    """Writes one fx node per torch call of a concrete run."""

    def __init__(self, graph: fx.Graph, param_names: dict, batch: int, keep_autograd: bool = False):
        super().__init__()
        self.keep_autograd = keep_autograd
        self.graph = graph
        self.param_names = param_names  # id(tensor) -> qualified name
        self.tensors: dict[int, tuple[torch.Tensor, fx.Node]] = {}
        self.calls: list[tuple[str, fx.Node]] = []
        self.result = RunResult(batch, {}, {})
        self._consts = 0

    # tensors -> nodes
    def node_for(self, t: torch.Tensor) -> fx.Node:
        hit = self.tensors.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]
        name = self.param_names.get(id(t))
        if name is None:
            alias = self._alias_of(t)
            if alias is not None:
                self.bind(t, alias)
                return alias
            self._consts += 1
            name = f"_constant_{self._consts}"
        node = self.graph.create_node("get_attr", name)
        node.meta["loc"] = None
        self.bind(t, node)
        return node

    def _alias_of(self, t: torch.Tensor) -> fx.Node | None:
        """A tensor made outside torch's API (``Variable(eps)``) that views a
        recorded tensor's memory exactly is that tensor."""
        try:
            key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())
        except (RuntimeError, NotImplementedError):
            return None
        for other, node in reversed(list(self.tensors.values())):
            try:
                if (other.untyped_storage().data_ptr(), other.storage_offset(), tuple(other.shape), other.stride()) == key:
                    return node
            except (RuntimeError, NotImplementedError):
                continue
        return None

    def bind(self, t: torch.Tensor, node: fx.Node) -> None:
        self.tensors[id(t)] = (t, node)
        self.result.shapes[node] = tuple(t.shape)
        if self.keep_autograd:
            self.result.tensors[node] = t
        else:  # in-place ops change t later: keep the value as it was here
            self.result.tensors[node] = t.detach().clone() if t.numel() <= 1 << 20 else t.detach()

    def _arg(self, a):
        if isinstance(a, torch.Tensor):
            return self.node_for(a)
        if isinstance(a, torch.Size):
            return tuple(a)
        if isinstance(a, (list, tuple)):
            return type(a)(self._arg(x) for x in a) if not hasattr(a, "_fields") else tuple(self._arg(x) for x in a)
        if isinstance(a, dict):
            return {k: self._arg(v) for k, v in a.items()}
        if a is None or isinstance(a, (int, float, bool, str, slice, torch.dtype, torch.device)):
            return a
        if a is Ellipsis:
            return a
        return repr(a)  # an object fx nodes cannot hold (a Generator, a distribution)

    def _make_node(self, func, args, kwargs) -> fx.Node:
        node = self.graph.create_node("call_function", func, self._arg(tuple(args)), self._arg(dict(kwargs)))
        stack = user_stack()
        node.meta["loc"] = stack[0] if stack else None
        node.meta["stack"] = stack
        self.calls.append((function_name(func), node))
        return node

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            out = func(*args, **kwargs)
        except Exception as e:
            if self.result.failure is None:
                node = self._make_node(func, args, kwargs)
                self.result.failure = Failure(node, e, node.meta["loc"], self.result.batch)
            raise
        if isinstance(out, torch.Tensor):
            node = self._make_node(func, args, kwargs)
            self.bind(out, node)
        elif isinstance(out, (tuple, list)) and any(isinstance(o, torch.Tensor) for o in out):
            node = self._make_node(func, args, kwargs)
            for i, o in enumerate(out):
                if isinstance(o, torch.Tensor):
                    item = self.graph.create_node("call_function", operator.getitem, (node, i))
                    item.meta["loc"] = node.meta["loc"]
                    self.bind(o, item)
        return out


def capture_recording(
    model: nn.Module, loss, binder, inputs: tuple, reason: str | None, keywords: tuple[str, ...] = (), progress=None
) -> Capture:
    names = input_names(model, len(inputs), keywords)
    wrapper = _wrapper_class(names)(model, loss, binder)
    wrapper.keywords = tuple(keywords)
    wrapper.progress = progress
    param_names = {}
    for qual, p in wrapper.named_parameters():
        param_names[id(p)] = qual
    for qual, b in wrapper.named_buffers():
        param_names[id(b)] = qual

    def record(run_inputs: tuple, batch: int, keep_autograd: bool = False):
        graph = fx.Graph()
        rec = _Recorder(graph, param_names, batch, keep_autograd)
        for name, x in zip(names, run_inputs):
            ph = graph.placeholder(name)
            ph.meta["loc"] = None
            rec.bind(x, ph)

        def on_output(out):
            leaves = {}
            for path, value in flatten_outputs(out):
                if isinstance(value, torch.Tensor):
                    node = rec.node_for(value)
                    node.meta.setdefault("forward_output", path)
                    leaves[path] = node
            return leaves

        wrapper._on_output = on_output
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with rec:
                    out = wrapper.run(run_inputs)
                rec.result.output = out
                graph.output(rec._arg(out) if not isinstance(out, torch.Tensor) else rec.node_for(out))
            except VaelintError:
                raise
            except Exception as e:  # noqa: BLE001
                if rec.result.failure is None:
                    rec.result.failure = Failure(None, e, None, batch)
                    rec.result.failure.loc = user_frame_of_traceback(e.__traceback__)
        return graph, rec

    graph, first = record(inputs, inputs[0].shape[0] if inputs else 0)
    for node in graph.nodes:
        first.result.args[node] = node.args
    cap = Capture("recording", graph, dict(wrapper.named_modules()), wrapper, names, fallback_reason=reason)
    pending = [first.result]  # the capture run itself serves the first run at its batch

    def runner(run_inputs, batch, keep_autograd=False):
        if pending and batch == pending[0].batch and not keep_autograd:
            return pending.pop()
        pending.clear()
        other_graph, rec = record(run_inputs, batch, keep_autograd)
        by_node = _align(graph, first.calls, other_graph, rec.calls)
        mapped = RunResult(batch, {}, {}, output=rec.result.output)
        for nb, na in by_node.items():
            if nb in rec.result.shapes:
                mapped.shapes[na] = rec.result.shapes[nb]
            if nb in rec.result.tensors:
                mapped.tensors[na] = rec.result.tensors[nb]
            mapped.args[na] = nb.args
        if rec.result.failure is not None:
            f = rec.result.failure
            mapped.failure = Failure(by_node.get(f.node), f.error, f.loc, batch)
        return mapped

    cap.runner = runner
    return cap


def _align(graph: fx.Graph, calls: list, other_graph: fx.Graph, other_calls: list) -> dict:
    """Nodes of another recorded run -> the captured graph's nodes.

    Calls pair up in order while they are the same op (a data-dependent branch
    taken differently ends the pairing); inputs pair by position, parameters by
    name, and a tuple's items follow their call.
    """
    by_node = {}
    for (name_a, node_a), (name_b, node_b) in zip(calls, other_calls):
        if name_a != name_b:
            break
        by_node[node_b] = node_a
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    by_node.update(zip([n for n in other_graph.nodes if n.op == "placeholder"], placeholders))
    attrs = {n.target: n for n in graph.nodes if n.op == "get_attr"}
    for nb in other_graph.nodes:
        if nb.op == "get_attr" and nb.target in attrs:
            by_node[nb] = attrs[nb.target]
        elif nb.op == "call_function" and nb.target is operator.getitem and nb.args[0] in by_node:
            for na in by_node[nb.args[0]].users:
                if na.target is operator.getitem and na.args[1] == nb.args[1]:
                    by_node[nb] = na
    return by_node
