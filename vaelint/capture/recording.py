"""Route 2: recording a concrete run, for models fx cannot trace.

A data-dependent ``if``, ``int(x.size(1))``, ``Variable(...)`` or a
distribution stops ``symbolic_trace``; here a ``TorchFunctionMode`` writes one
fx node per torch call of a real run, and the runs at other batch sizes are
recorded again and aligned call by call with the first (:func:`_align`).
"""

from __future__ import annotations

import operator
import time
import warnings
import weakref

import torch
import torch.fx as fx
from torch.overrides import TorchFunctionMode

from vaelint.capture.madedata import MadeData
from vaelint.capture.madein import in_distributions
from vaelint.capture.numpydraws import FROM_ARRAY, NumpyDraws, numpy_draws_seen, replace_with_replay, standard_normal
from vaelint.capture.ops import RANDOM_OPS, changes_its_input, function_name, returns_its_input, text_of_arg
from vaelint.capture.outputs import flatten_outputs
from vaelint.capture.recordalign import align_runs, calls_held
from vaelint.capture.result import Capture, Failure, RunResult, make_wrapper, take_replay
from vaelint.capture.route import CaptureJob, Refusal, Route
from vaelint.contracts.calls import watch_into
from vaelint.errors import VaelintError
from vaelint.frontends.legacycuda import legacy_types_seen_through
from vaelint.inputs import same_kind
from vaelint.source.frames import running_module_site, user_frame_of_traceback, user_stack


class _Held:
    """A strong reference called as a weak one is: the recorded run that holds its tensors."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    def __call__(self):
        return self.tensor


# bytes a recorded run holds before it holds no tensor wider than its inputs: far above a small
# model's whole run; an SD-VAE's at 2x3x512x512 holds 24 GiB of activations, a Wan video VAE's at
# 1x3x17x256x256 75 GiB, twice its step's peak (measured on an H200)
HOLD_ALL_BYTES = 1 << 30


class _Recorder(TorchFunctionMode):
    """Writes one fx node per torch call of a concrete run."""

    def __init__(
        self,
        graph: fx.Graph,
        param_names: dict,
        batch: int,
        keep_autograd: bool = False,
        sites: dict | None = None,
        replay: list | None = None,
        replayers: tuple = (),
        hold: bool = True,
        made_data: bool = False,
    ):
        super().__init__()
        self.sites = sites or {}
        self.replayers = replayers  # module classes that run their layers themselves (Keras's Functional)
        self.replay = list(replay or [])  # the draws to replay, in the order the random calls come
        self.keep_autograd = keep_autograd
        self.hold = hold  # False: shapes only in the result (self.tensors still maps tensors to nodes)
        self.graph = graph
        self.param_names = param_names  # id(tensor) -> qualified name
        # id(tensor) -> (a reference that gives the tensor back, or None once it is gone; its node).
        # The runs that hold nothing (hold=False: the shapes stage's extra batches) keep weak
        # references, so each activation is freed when the model lets it go, as in a plain forward
        self.tensors: dict[int, tuple[object, fx.Node]] = {}
        self.calls: list[tuple[str, fx.Node]] = []
        self.result = RunResult(batch, {}, {})
        self._consts = 0
        self.held_bytes = 0  # what the run holds so far (held_all)
        self.widest_input = 0  # elements of its largest input
        # a step given a batch of strings: the tensor it makes of them is the run's data (madedata.py)
        self.made = MadeData(graph, batch) if made_data else None
        self.numpy_draws = NumpyDraws()  # the Gaussian noise the run draws with NumPy (numpydraws.py)

    # tensors -> nodes
    def node_for(self, t: torch.Tensor) -> fx.Node:
        hit = self.tensors.get(id(t))
        if hit is not None and hit[0]() is t:
            return hit[1]
        name = self.param_names.get(id(t))
        if name is None:
            alias = self._alias_of(t)
            if alias is not None:
                self.bind(t, alias)
                return alias
            if self.numpy_draws.made_of_draw(t):  # torch.FloatTensor(np.random.normal(size=...))
                return self._numpy_draw(t)
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
        for ref, node in reversed(list(self.tensors.values())):
            other = ref()
            if other is None:
                continue
            try:
                if (other.untyped_storage().data_ptr(), other.storage_offset(), tuple(other.shape), other.stride()) == key:
                    return node
            except (RuntimeError, NotImplementedError):
                continue
        return None

    def bind(self, t: torch.Tensor, node: fx.Node) -> None:
        hold = self.hold
        if isinstance(hold, frozenset):  # the calls whose values a rule reads (their places in the run)
            hold = node.op == "placeholder" or (node.op != "get_attr" and len(self.calls) - 1 in hold)  # inputs: small
        hold = hold and (isinstance(self.hold, frozenset) or self._holds(t, node))  # a rule's own list: all of it
        self.tensors[id(t)] = (_Held(t) if hold and self.hold is True else weakref.ref(t), node)
        self.result.shapes[node] = tuple(t.shape)
        if not hold:
            return
        if self.keep_autograd:
            self.result.tensors[node] = t
        else:  # in-place ops change t later: keep the value as it was here
            self.result.tensors[node] = t.detach().clone() if t.numel() <= 1 << 20 else t.detach()

    def _keep_before(self, t: torch.Tensor) -> None:
        """An in-place op is about to change ``t`` (``log_q -= log_det``): the node ``t`` was bound to
        keeps its value as it was (a clone, autograd's way through it kept), not the value the ops
        after it leave (a flow's log q(z0) read as log q(zK): its Monte Carlo KL was not read)."""
        entry = self.tensors.get(id(t))
        if entry is None or entry[0]() is not t:
            return
        node = entry[1]
        if self.result.tensors.get(node) is t and t.numel() <= 1 << 20:
            self.result.tensors[node] = t.clone()

    def _holds(self, t: torch.Tensor, node: fx.Node) -> bool:
        """Past HOLD_ALL_BYTES held (a latent-diffusion or video VAE's run), a tensor wider than
        the run's inputs (an activation of many channels, which autograd keeps where the
        backward needs it) is not held: its shape is recorded, its value freed as in a plain
        forward. Every tensor of a smaller run is held, and the inputs, heads, samples and
        reconstruction of any (none is wider than the data)."""
        if node.op == "placeholder":
            self.widest_input = max(self.widest_input, t.numel())
        elif self.held_bytes > HOLD_ALL_BYTES and t.numel() > self.widest_input:
            return False
        self.held_bytes += t.numel() * t.element_size()
        return True

    def _numpy_draw(self, t: torch.Tensor) -> fx.Node:
        """A tensor made of a NumPy draw, recorded as the draw it is (and replayed as one)."""
        if self.replay:
            replace_with_replay(t, self.replay.pop(0))
        node = self._make_node(standard_normal, tuple(t.shape), {})
        self.bind(t, node)
        return node

    def _arg(self, a):
        if isinstance(a, torch.Tensor):
            return self.node_for(a)
        if isinstance(a, torch.Size):
            return tuple(a)
        if isinstance(a, (list, tuple)):
            return tuple(self._arg(x) for x in a) if hasattr(a, "_fields") else same_kind(a, (self._arg(x) for x in a))
        if isinstance(a, dict):
            return {k: self._arg(v) for k, v in a.items()}
        if a is None or a is Ellipsis or isinstance(a, (int, float, bool, str, slice, torch.dtype, torch.device)):
            return a
        if type(a).__module__ == "numpy" and getattr(a, "ndim", None) == 0:
            return a.item()  # a NumPy number (a beta of np.arange(1, 20)): the number it is, not its repr
        return text_of_arg(a)  # an object fx nodes cannot hold (a Generator, a distribution)

    def _make_node(self, func, args, kwargs) -> fx.Node:
        node = self.graph.create_node("call_function", func, self._arg(tuple(args)), self._arg(dict(kwargs)))
        stack = user_stack()
        if self.sites:
            stack = running_module_site(self.sites, self.replayers) + stack
        node.meta["loc"] = stack[0] if stack else None
        node.meta["stack"] = stack
        made_in = in_distributions()
        if made_in:  # made by a distribution's own code (its log_prob, a KL's formula), not the user's
            node.meta["library"], node.meta["library_fn"] = "torch.distributions", made_in
        self.calls.append((function_name(func), node))
        if self.made is not None:
            self.made.note(func, node, node.all_input_nodes)
        return node

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.made is not None:
            self.made.at_call(self, args, kwargs)
        if self.keep_autograd and args and isinstance(args[0], torch.Tensor) and changes_its_input(func):
            self._keep_before(args[0])
        try:
            out = func(*args, **kwargs)
        except Exception as e:
            if self.result.failure is None:
                node = self._make_node(func, args, kwargs)
                self.result.failure = Failure(node, e, node.meta["loc"], self.result.batch)
            raise
        if self.replay and isinstance(out, torch.Tensor) and function_name(func) in RANDOM_OPS:
            out = take_replay(getattr(func, "__name__", ""), out, self.replay.pop(0))
        if isinstance(out, torch.Tensor):
            if returns_its_input(func, out, args) and id(out) in self.tensors and self.tensors[id(out)][0]() is out:
                return out  # a no-op cast (x.to("cpu") on a CPU tensor, as Keras's ops make): the same value
            if args and function_name(func) in FROM_ARRAY and self.numpy_draws.is_draw(args[0]):
                self._numpy_draw(out)  # torch.from_numpy(np.random.randn(B, Z))
                return out
            node = self._make_node(func, args, kwargs)
            self.bind(out, node)
        elif (
            out is None
            and len(args) > 2
            and isinstance(args[0], torch.Tensor)
            and isinstance(args[2], torch.Tensor)
            and function_name(func) == "setitem"
        ):
            # buf[t] = z_t: the buffer read after this holds z_t (a time loop filling T x B x Z)
            self.bind(args[0], self._make_node(func, args, kwargs))
        elif out is None and len(args) == 2 and getattr(func, "__self__", None) is torch.Tensor.data and torch.is_tensor(args[1]):
            self.bind(args[0], self.node_for(args[1]))  # x.data = x.data.long().view(-1): x is that value from here
        elif isinstance(out, (tuple, list)) and any(isinstance(o, torch.Tensor) for o in out):
            node = self._make_node(func, args, kwargs)
            for i, o in enumerate(out):
                if isinstance(o, torch.Tensor):
                    item = self.graph.create_node("call_function", operator.getitem, (node, i))
                    item.meta["loc"] = node.meta["loc"]
                    self.bind(o, item)
                    if self.made is not None and node in self.made.made:
                        self.made.made.add(item)
        return out


class RecordingRoute(Route):
    """Recording a concrete run: for what fx cannot trace, and for a graph fx traced
    that raised where the eager model does not."""

    name = "recording"

    def try_capture(self, job: CaptureJob, refused: list[Refusal]) -> Capture | Refusal:
        job.stage("forward")  # the capture run is the forward's first run
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            job.program.reseed(0)
            with torch.enable_grad() if job.keep_graph else torch.no_grad():
                return capture_recording(
                    job.program,
                    job.loss_fn,
                    job.binder(),
                    job.inputs,
                    job.keywords,
                    job.progress,
                    job.program.module_sites,
                    keep_autograd=job.keep_graph,
                    contracts=job.contracts,
                )


def capture_recording(
    program,
    loss,
    binder,
    inputs: tuple,
    keywords: tuple[str, ...] = (),
    progress=None,
    module_sites: dict | None = None,
    keep_autograd: bool = False,
    contracts=None,
) -> Capture:
    """``module_sites`` (id(module) -> the line that built it) places the calls
    made inside a library's modules, with no frame of the user's on the stack
    (a Keras functional model's layers), at the line that built the layer.
    ``keep_autograd``: the capture run (which serves as the first run at its
    batch) keeps its autograd graph, for a confirmation pass that reuses it."""
    wrapper, names = make_wrapper(program, loss, binder, len(inputs), keywords, progress)
    recording = _Recording(wrapper, names, program.replayers(), module_sites or {}, contracts)
    started = time.perf_counter()
    graph, first = recording.record(inputs, inputs[0].shape[0] if inputs else 0, keep_autograd)
    seconds = time.perf_counter() - started
    for node in graph.nodes:
        first.result.args[node] = node.args
    # the route loop names the route and why the ones before it gave no graph (vaelint/capture/routes.py)
    cap = Capture("recording", graph, dict(wrapper.named_modules()), wrapper, names, program=program)
    cap.contract_calls = recording.watched[0]
    cap.first_seconds = seconds  # what a run of the model costs (vaelint/facts/shapes.py)
    cap.legacy_constructors = recording.legacy_constructors  # VAE012 runs the simulated GPU for them
    recording.first, recording.first_graph = first, graph
    recording.pending = [first.result]  # the capture run itself serves the first run at its batch
    cap.runner = recording.run
    return cap


class _Recording:
    """The runs of one recorded capture: the first records the graph, each later one
    (another batch size) is recorded again and aligned call by call with the first."""

    def __init__(self, wrapper, names: list[str], replayers, module_sites: dict, contracts):
        self.wrapper, self.names, self.replayers = wrapper, names, replayers
        self.module_sites, self.contracts = module_sites, contracts
        self.param_names = {id(p): qual for qual, p in wrapper.named_parameters()}
        self.param_names.update({id(b): qual for qual, b in wrapper.named_buffers()})
        self.watched: list = []  # the capture run's calls (the other batches' runs are not watched)
        self.first = self.first_graph = None
        self.pending: list = []
        self.legacy_constructors: set = set()  # torch.LongTensor(t) and its kind, seen through
        # every run notes the tensors the step makes of its batch outside torch (a batch of strings, one
        # taken through NumPy): where the given batch goes unread, such a tensor is the data (madedata.py)
        self.made_data = True

    def record(self, run_inputs: tuple, batch: int, keep_autograd: bool = False, replay: list | None = None, hold: bool = True):
        graph = fx.Graph()
        rec = _Recorder(graph, self.param_names, batch, keep_autograd, self.module_sites, replay, self.replayers, hold, self.made_data)
        for name, x in zip(self.names, run_inputs):
            ph = graph.placeholder(name)
            ph.meta["loc"] = None
            rec.bind(x, ph)
        wrapper = self.wrapper
        wrapper._on_output = lambda out, prefix=(): _mark_outputs(rec, out, prefix)
        # a later run that records shapes only (another batch size's) leaves a step's model calls
        # unwatched: the watcher at each Python and C call made a video VAE's fake-tensor run 3x its cost
        wrapper._mark_model_calls = self.first is None or hold is not False
        calls: list = []
        wrapper._watch = watch_into(self.contracts, lambda v: _node_of(rec, v), calls) if self.contracts and not self.watched else None
        self.watched.append(calls)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with rec, legacy_types_seen_through() as legacy, numpy_draws_seen() as drawn:
                    rec.numpy_draws = drawn
                    out = wrapper.run(run_inputs)
                self.legacy_constructors |= set(legacy)
                # an op that raised inside and was caught by the code (numpy probing a tensor's
                # __index__ before __array__, the user's own try/except) is no failure of the run
                rec.result.failure = None
                rec.result.output = out
                graph.output(rec._arg(out) if not isinstance(out, torch.Tensor) else rec.node_for(out))
            except VaelintError:
                raise
            except Exception as e:  # noqa: BLE001
                if rec.result.failure is None:
                    rec.result.failure = Failure(None, e, None, batch)
                    rec.result.failure.loc = user_frame_of_traceback(e.__traceback__)
            finally:
                wrapper._watch = None
                wrapper._mark_model_calls = True
        return graph, rec

    def run(self, run_inputs, batch, keep_autograd=False, replay=None, hold=True) -> RunResult:
        first, pending = self.first, self.pending
        if pending and batch == pending[0].batch and keep_autograd == first.keep_autograd:
            return pending.pop()
        pending.clear()
        # the replayed draws, in the order the first run made its random calls
        draws = [replay.get(node) for name, node in first.calls if name in RANDOM_OPS] if replay else None
        if isinstance(hold, (set, frozenset)):
            hold = calls_held(first.calls, hold)
        other_graph, rec = self.record(run_inputs, batch, keep_autograd, draws, hold)
        by_node = align_runs(self.first_graph, first.calls, other_graph, rec.calls)
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


def _mark_outputs(rec: _Recorder, out, prefix: tuple = ()) -> dict:
    """The forward's outputs as the recorded nodes, each marked with its path."""
    leaves = {}
    for path, value in flatten_outputs(out, prefix, distributions=True):
        if isinstance(value, torch.Tensor):
            node = rec.node_for(value)
            node.meta.setdefault("forward_output", path)
            leaves[path] = node
    return leaves


def _node_of(rec: _Recorder, v):
    hit = rec.tensors.get(id(v)) if isinstance(v, torch.Tensor) else None
    return hit[1] if hit is not None and hit[0]() is v else None
