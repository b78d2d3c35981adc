"""Route 1: ``symbolic_trace`` with a tracer of our own.

Plain ``symbolic_trace`` evaluates ``torch.randn(self.latent_dim)`` at trace
time and stores a constant, hiding the commonest VAE bug; this tracer turns
every tensor-creating call that has no traced argument into a graph node, and
writes the user's innermost frame on each node (``node.meta["loc"]``).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.fx as fx
from torch.fx.proxy import TraceError
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from vaelint.capture.deadends import dead_ends
from vaelint.capture.numpydraws import FROM_ARRAY, NumpyDraws, numpy_draws_seen, standard_normal
from vaelint.capture.ops import CREATION_OPS, RANDOM_OPS, function_name, op_name
from vaelint.capture.outputs import flatten_outputs
from vaelint.capture.result import Capture, Failure, RunResult, make_wrapper, take_replay
from vaelint.capture.route import CaptureJob, Refusal, Route
from vaelint.capture.writtenreads import reads_after_in_place, reads_through_stores
from vaelint.contracts.calls import watch_into
from vaelint.errors import VaelintError
from vaelint.source.frames import user_stack


class _KeepCreationOps(TorchFunctionMode):
    """During symbolic tracing, make tensor-creating calls with no traced
    argument graph nodes instead of constants folded at trace time."""

    def __init__(self, tracer: fx.Tracer):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # torch.cat(batch) of a list subclass (the check's own batch list): fx looks for its Proxies
        # in plain lists and tuples only, and finds none in a subclass
        args = tuple(list(a) if isinstance(a, list) and type(a) is not list else a for a in args)
        kwargs = {k: list(v) if isinstance(v, list) and type(v) is not list else v for k, v in kwargs.items()}
        if function_name(func) in FROM_ARRAY and args and self.tracer.numpy_draws.is_draw(args[0]):
            out = func(*args, **kwargs)  # torch.from_numpy(np.random.randn(B, Z)): the noise it is
            return self.tracer.create_proxy("call_function", standard_normal, tuple(out.shape), {"dtype": out.dtype})
        leaves = tree_leaves((args, kwargs))
        if function_name(func) in CREATION_OPS:
            if not any(isinstance(a, fx.Proxy) for a in leaves):
                return self.tracer.create_proxy("call_function", func, args, kwargs)
        if (
            not any(isinstance(a, fx.Proxy) for a in leaves)
            and any(id(a) in self.tracer.held for a in leaves)
            and _values_op(func)
            and _asked_by_the_user()
        ):
            # ``x @ w.T`` with ``w`` a registered parameter the code keeps in a Python list too: fx
            # meets the real tensor (no module attribute was read), so the op ran at trace time and
            # its result was a constant; it is the parameter's node instead
            from torch.utils._pytree import tree_map

            held = self.tracer.held
            args, kwargs = tree_map(
                lambda a: self.tracer.create_proxy("get_attr", held[id(a)], (), {}) if id(a) in held else a, (args, kwargs)
            )
        return func(*args, **kwargs)


def _asked_by_the_user() -> bool:
    """Is the innermost frame outside torch and this module the user's own code (not a library's:
    Lightning's optimisers, its logging)?"""
    import sys

    from vaelint.source.frames import is_user_file

    f = sys._getframe(1)
    while f is not None and ("/torch/" in f.f_code.co_filename or f.f_code.co_filename == __file__):
        f = f.f_back  # torch's dispatch, fx's Proxy.__bool__ and our own frames
    return f is not None and is_user_file(f.f_code.co_filename)


def _values_op(func) -> bool:
    """An op on a tensor's values, not a query of its metadata: a property read is one only for the
    transposes (``w.T``); ``w.device``, ``w.shape``, ``w.dtype`` stay the real answers."""
    if getattr(func, "__name__", "") != "__get__":
        return True
    return getattr(getattr(func, "__self__", None), "__name__", "") in ("T", "mT", "H", "mH")


# torch's factories that take sizes: called with sizes read from traced tensors
# (torch.randn(mu.size(0), mu.size(1))), torch's argument parser refuses the Proxies
# before any mode sees the call, so these are wrapped while tracing
_SIZED_FACTORIES = ("randn", "rand", "randint", "zeros", "ones", "empty", "full", "arange", "linspace", "eye", "normal")


def _sized_factory(tracer: fx.Tracer, original):
    def factory(*args, **kwargs):
        proxies = [a for a in tree_leaves((args, kwargs)) if isinstance(a, fx.Proxy)]
        if proxies and not any(_may_be_tensor(p) for p in proxies):
            return tracer.create_proxy("call_function", original, args, kwargs)
        return original(*args, **kwargs)

    return factory


def _may_be_tensor(proxy: fx.Proxy) -> bool:
    """A Proxy that may stand for a tensor (torch.randn_like(proxy) dispatches on it);
    one made by a size query (``x.size(0)``, ``x.shape[1]``) stands for an int."""
    node = proxy.node
    if node.op == "call_method" and node.target in ("size", "dim", "numel"):
        return False
    if node.op == "call_function" and getattr(node.target, "__name__", "") == "getitem":
        source = node.args[0] if node.args else None
        if isinstance(source, fx.Node) and (
            (source.op == "call_method" and source.target == "size")
            or (source.op == "call_function" and getattr(source.target, "__name__", "") == "getattr" and source.args[1:] == ("shape",))
        ):
            return False
    return True


def _setitem(proxy, key, value):
    """``buffer[i] = value`` on a traced tensor: an ``operator.setitem`` node (fx's Proxy has no
    item assignment, and the trace fell back to recording a concrete run)."""
    import operator

    proxy.tracer.create_proxy("call_function", operator.setitem, (proxy, key, value), {})


_TENSOR_TYPE = type(torch.FloatTensor)  # torch.tensortype, not an attribute of torch


class _Tracer(fx.Tracer):
    numpy_draws = NumpyDraws()  # the Gaussian noise drawn with NumPy while tracing (numpydraws.py)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        stack = user_stack()
        node.meta["loc"] = stack[0] if stack else None
        node.meta["stack"] = stack
        return node

    def create_arg(self, a):
        """A NumPy scalar handed to a traced op (``x.view(-1, np.prod(shape))``, a size computed with
        NumPy in the setup) as the Python number it stands for: fx refused it ("argument of type
        numpy.int64") and the trace fell back to recording. A legacy tensor type (``x.type(torch.FloatTensor)``,
        ``.type(self.dtype)`` with ``dtype = torch.cuda.FloatTensor``) as its name, which ``.type`` takes alike."""
        if type(a) is _TENSOR_TYPE:  # fx refused it: "argument of type: <class 'torch.tensortype'>"
            return f"{a.__module__}.{a.__name__}"
        item = getattr(a, "item", None)
        if item is not None and type(a).__module__ == "numpy" and getattr(a, "shape", None) == ():
            a = item()
        if isinstance(a, torch.Tensor) and self.numpy_draws.made_of_draw(a):  # torch.FloatTensor(np.random.normal(...))
            return self.create_node("call_function", standard_normal, tuple(a.shape), {"dtype": a.dtype})
        return super().create_arg(a)

    def to_bool(self, obj):
        self._refused()  # the code's own except may catch it
        return super().to_bool(obj)

    def iter(self, obj):
        self._refused()
        return super().iter(obj)

    def _refused(self) -> None:
        """Note a refusal asked for by the user's own line (``if torch.isnan(loss)`` in their
        helper); one a library's code asks for (Lightning's logging) is the library's to catch."""
        if _asked_by_the_user() and not self.refused_at:
            self.refused_at = list(user_stack()[:1]) or ["?"]

    def call_module(self, m, forward, args, kwargs):
        """A module that is not the model's (``nn.BCELoss(reduction="sum", weight=w)`` made in the
        loss function, a helper module built in forward) has no path in the graph: fx stopped
        with "module is not installed as a submodule". Its own operations are traced instead,
        as the loss's: the reductions and terms are read as if written with torch.nn.functional."""
        try:
            self.path_of_module(m)
        except NameError:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def trace(self, root, concrete_args=None):
        originals = {name: getattr(torch, name) for name in _SIZED_FACTORIES}
        for name, original in originals.items():
            setattr(torch, name, _sized_factory(self, original))
        had = fx.Proxy.__dict__.get("__setitem__")
        fx.Proxy.__setitem__ = _setitem  # losses[1] += kl: a node, as the item read is
        self.refused_at: list = []
        # the model's parameters and buffers by identity (a Python list of them reads no attribute)
        self.held = {id(t): n for n, t in (*root.named_parameters(), *root.named_buffers())} if isinstance(root, torch.nn.Module) else {}
        try:
            with _KeepCreationOps(self), numpy_draws_seen() as self.numpy_draws:
                graph = super().trace(root, concrete_args)
            if self.refused_at:
                # `if not torch.isnan(loss)` inside the code's own try/except: fx's refusal was caught
                # and the code went its other way (a constant loss), which is no trace of what it runs
                where = self.refused_at[0]
                at = getattr(where, "where", lambda: where)()
                raise TraceError(f"an except of the code's caught fx's refusal of a branch at {at}; the trace took its fallback")
            return graph
        finally:
            for name, original in originals.items():
                setattr(torch, name, original)
            if had is None:
                del fx.Proxy.__setitem__
            else:
                fx.Proxy.__setitem__ = had


class _ShapeInterpreter(fx.Interpreter):
    def __init__(self, gm, result: RunResult, keep_autograd: bool, replay: dict | None = None, hold: bool = True):
        super().__init__(gm)
        self.result, self.keep_autograd, self.replay, self.hold = result, keep_autograd, replay or {}, hold
        self.passed_over: frozenset = frozenset()  # set by the runner for a training step's other batches

    def run_node(self, n):
        try:
            value = super().run_node(n)
        except Exception as e:  # noqa: BLE001 - the user's op raised: that is a fact
            if n in self.passed_over:
                return None  # another network's step (a discriminator's batch-sized targets): not the VAE's
            self.result.failure = Failure(n, e, n.meta.get("loc"), self.result.batch)
            raise _Stop() from e
        if n in self.replay:
            name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", "")
            value = take_replay(name, value, self.replay[n])  # the raw name: a trailing _ means in place
        _note_value(self.result, n, value, self.keep_autograd, self.hold)
        return value


class _Stop(Exception):
    pass


def _note_value(result: RunResult, node: fx.Node, value: Any, keep_autograd: bool, hold) -> None:
    """``hold``: True (every tensor), False (shapes only), or the nodes whose tensors a rule reads
    (the random draws are held too: a replay takes them)."""
    if isinstance(value, torch.Tensor):
        result.shapes[node] = tuple(value.shape)
        drawn = op_name(node) in RANDOM_OPS
        if hold is True or (hold is not False and (node in hold or drawn)):
            if drawn:  # the draw as drawn: an in-place op after it (randn_like(std).mul_(std), MONAI's) changes it
                result.tensors[node] = value.detach().clone()
            else:
                result.tensors[node] = value if keep_autograd else value.detach()
    elif isinstance(value, torch.Size):
        result.values[node] = tuple(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result.values[node] = value  # a size, or a number made of one (x.size(0) * sigma ** 2)


def capture_fx(
    program, loss, binder, n_inputs: int, keywords: tuple[str, ...] = (), progress=None, contracts=None, restore=None
) -> Capture:
    """``restore``: puts back the model's attributes as they were before the trace. It runs before
    the GraphModule copies the attributes its graph reads: a tensor attribute the loss assigns
    (``self.C_max = self.C_max.to(x.device)``) holds a Proxy after the trace, and a graph that read
    it would hand the Proxy back as the loss."""
    wrapper, names = make_wrapper(program, loss, binder, n_inputs, keywords, progress)
    calls: list = []
    if contracts:  # the annotated functions' calls, their values as the Proxies' nodes
        wrapper._watch = watch_into(contracts, lambda v: v.node if isinstance(v, fx.Proxy) else None, calls)
    tracer = _Tracer()  # records the user's frames itself (node.meta["stack"])

    def on_output(out, prefix: tuple = ()):
        leaves = {}
        for path, value in flatten_outputs(out, prefix, distributions=True):
            if isinstance(value, fx.Proxy):
                value.node.meta.setdefault("forward_output", path)
                leaves[path] = value.node
        return leaves

    wrapper._on_output = on_output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            graph = tracer.trace(wrapper)
        finally:
            wrapper._watch = None
            if restore is not None:
                restore()
    reads_through_stores(graph)
    reads_after_in_place(graph)
    gm = fx.GraphModule(wrapper, graph)
    modules = dict(wrapper.named_modules())

    first: list = []  # the capture's own batch, the user's: what fails there is the code's own failure
    stepping = getattr(program, "step", None) is not None

    def runner(inputs, batch, keep_autograd=False, replay=None, hold=True):
        result = RunResult(batch, {}, {})
        interp = _ShapeInterpreter(gm, result, keep_autograd, replay, hold)
        first[:] = first or [batch]
        if stepping and batch != first[0]:
            # another network's step whose batch-sized targets raise at other batch sizes: passed over
            interp.passed_over = dead_ends(graph)
        try:
            result.output = interp.run(*inputs)
        except _Stop:
            pass
        return result

    cap = Capture("torch.fx", graph, modules, wrapper, names, runner=runner, program=program)
    cap.contract_calls = calls
    return cap


class SymbolicRoute(Route):
    """torch.fx first: its graph keeps computed sizes as nodes, so the rules can tell
    a literal from ``x.size(0)`` on one run. A program that says fx cannot trace it
    (a Keras model: its layers run Python fx cannot follow) is recorded at once."""

    name = "torch.fx"
    ints_are_literals = True

    def applies(self, program) -> bool:
        return program.captures_symbolically()

    def try_capture(self, job: CaptureJob, refused: list[Refusal]) -> Capture | Refusal:
        try:
            try:
                cap = capture_fx(
                    job.program,
                    job.loss_fn,
                    job.binder(),
                    len(job.specs),
                    job.keywords,
                    job.progress,
                    job.contracts,
                    job.restore_attributes,
                )
            finally:
                # what the trace stored on the model (self.x = x.cuda(...) in the loss stores
                # a Proxy) must not meet a real run: it would fail on the Proxy, not on its own error
                job.restore_attributes()
        except VaelintError:
            raise
        except Exception as e:  # noqa: BLE001 - anything fx cannot trace
            return Refusal(self, _trace_reason(e))
        if _layers_read_no_input(cap.graph):
            return Refusal(self, LAYERS_FED_CONSTANTS)
        job.stage("forward")  # the shape runs execute the captured forward and loss
        return cap

    def own_error(self, error: BaseException) -> bool:
        return isinstance(error, TraceError)  # fx's, where the concrete run's error is the real one

    def graph_raised(self, batch: int) -> str:
        return f"the fx graph raised at batch {batch}"

    def could_not_run(self, error: Exception) -> str:
        return _trace_reason(error)


LAYERS_FED_CONSTANTS = (
    "torch.fx traced no layer reading the input: the data reaches the model through a tensor the code "
    "refills in place (input.resize_as_(batch).copy_(batch)), which a symbolic trace does not follow"
)


def _layers_read_no_input(graph: fx.Graph) -> bool:
    """Does the traced graph have inputs and layers, none of the layers reading an input? The batch
    was copied into a buffer of the code's (``input.copy_(batch); x = Variable(input)``): the trace
    recorded the copy on a Proxy, the model ran on the real buffer, and its layers became constants."""
    inputs = {n for n in graph.nodes if n.op == "placeholder"}
    layers = [
        n for n in graph.nodes if n.op == "call_module" or (n.op == "call_function" and any(a.op == "get_attr" for a in n.all_input_nodes))
    ]
    if not inputs or not layers:
        return False
    reached: set = set()
    for n in graph.nodes:  # in order: a node reads an input when one of its arguments does
        if n in inputs or any(a in reached for a in n.all_input_nodes):
            reached.add(n)
    return not any(n in reached for n in layers)


def _trace_reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"torch.fx could not trace it symbolically ({type(e).__name__}: {text[:160]})"
