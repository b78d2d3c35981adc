"""Shapes with the batch as a symbol.

The captured computation is run at the user's batch size B0 and at one more
batch size chosen to collide with no size the model uses. Each dim of each
node is then solved as ``a*B + c``: a dim that does not move is a constant, one
that moves with the batch is ``B`` (or ``4*B`` when a reshape folded other
dims into the batch). Two points fit any line, so a third batch size is run
whenever the two say anything else (a dim like ``B+1`` or ``37*B-160``, which
is how ``B*B`` looks through 32 and 5, a run that failed, a node one run did
not reach): the third point then confirms the line or leaves the dim unsolved.
A plain ``c`` or ``k*B`` through two batch sizes is taken as it is, which saves
a forward on every clean model (0.1 s of a 3 s check on a conv VAE at 256x256).
This costs two or three small forward passes instead of the ~1.7 s warm-up of
torch's own symbolic machinery (FakeTensor + ShapeEnv), and it sees exactly
what eager PyTorch does. Facts go on ``node.meta["shape"]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import torch

from vaelint.capture.result import Capture, Failure, RunResult
from vaelint.inputs import InputSpec

_CANDIDATE_BATCHES = (5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43)


@dataclass(frozen=True)
class Dim:
    """``coef * B + const``; coef 0 is a plain size. The coef is a ``Fraction`` for a part of
    the batch (``x.chunk(2)``'s halves: ``B/2``), an int otherwise."""

    coef: int | Fraction
    const: int

    @property
    def batch_dependent(self) -> bool:
        return self.coef != 0

    def text(self, names: dict[int, str] | None = None) -> str:
        if self.coef == 0:
            return (names or {}).get(self.const, str(self.const))
        head = batch_text(self.coef)
        if self.const > 0:
            return f"{head}+{self.const}"
        if self.const < 0:
            return f"{head}-{-self.const}"
        return head


def batch_text(coef) -> str:
    """``B``, ``4*B``, ``B/2``, ``3*B/4``."""
    if coef == 1:
        return "B"
    if isinstance(coef, Fraction) and coef.denominator != 1:
        return f"B/{coef.denominator}" if coef.numerator == 1 else f"{coef.numerator}*B/{coef.denominator}"
    return f"{int(coef)}*B"


@dataclass
class ShapeFact:
    sizes: tuple[int, ...] | None  # at the user's batch
    dims: tuple[Dim, ...] | None  # solved, when every run agreed on the rank
    by_batch: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def text(self, names: dict[int, str] | None = None) -> str:
        if self.dims is not None:
            return " x ".join(d.text(names) for d in self.dims) if self.dims else "scalar"
        if self.sizes is not None:
            return " x ".join(str(s) for s in self.sizes) if self.sizes else "scalar"
        return "?"

    def sizes_text(self) -> str:
        if self.sizes is None:
            return "?"
        return " x ".join(str(s) for s in self.sizes) if self.sizes else "scalar"

    def one_at(self, position: int) -> bool:
        """Is the dim a 1 at every batch size (a kept or broadcast dim)? At a batch of one
        sample the batch's own dim is a 1 too, and is no such dim."""
        return self.sizes is not None and self.sizes[position] == 1 and not (self.dims is not None and self.dims[position].batch_dependent)

    def scalar_like(self) -> bool:
        """One value at every batch size (a 0-d tensor, or one of sizes 1 x 1)."""
        return self.sizes is not None and all(self.one_at(p) for p in range(len(self.sizes)))

    def symbols(self, names: dict[int, str] | None = None) -> list[str]:
        if self.dims is not None:
            return [d.text(names) for d in self.dims]
        return [str(s) for s in (self.sizes or ())]


@dataclass
class ShapeRuns:
    """What the batch-size runs saw."""

    batch: int  # B0
    extra: tuple[int, ...]
    runs: dict[int, RunResult]
    parts: int = 0  # k where nodes hold a k-th of the batch (batch_parts): every run at a size k divides

    @property
    def failure(self) -> Failure | None:
        return self.runs[self.batch].failure

    def failure_at(self, batch: int) -> Failure | None:
        return self.runs[batch].failure if batch in self.runs else None


def make_inputs(specs: list[InputSpec], batch: int, seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return tuple(spec.make(batch, generator=g) for spec in specs)


def pick_extra_batches(seen_sizes: set[int], batch: int, count: int = 2) -> tuple[int, ...]:
    picked = [b for b in _CANDIDATE_BATCHES if b not in seen_sizes and b != batch]
    return tuple(picked[:count])


def run_batches(capture: Capture, specs: list[InputSpec], seed: int = 0, keep_graph: bool = False) -> ShapeRuns:
    """Run at B0, then at a batch size no model dim uses, and at a second one when the
    two runs do not settle every dim (``settled``); write facts on nodes.

    ``keep_graph``: run B0 with autograd, so that the confirmation pass on the
    same device takes this run's forward instead of repeating it (one forward
    and one set of activations less on a large model)."""
    b0 = specs[0].batch
    started = time.perf_counter()
    runs = {b0: _run(capture, specs, b0, seed, keep_graph)}
    seconds = max(time.perf_counter() - started, getattr(capture, "first_seconds", 0.0))
    seen = {s for shape in runs[b0].shapes.values() for s in shape}
    seen |= {s for spec in specs for s in spec.sample_shape}
    candidates = pick_extra_batches(seen, b0)
    extra: tuple[int, ...] = ()
    for b in candidates:
        if extra and settled(runs):
            break
        # only the shapes and sizes of the extra batches are read: their tensors are
        # never held (a large model's activations)
        runs[b] = _extra_run(capture, specs, b, seed, seconds, runs[b0])
        extra += (b,)
    parts = 0 if settled(runs) else batch_parts(runs, b0)
    if parts:
        # the halves of an odd batch differ by one: two batch sizes that split evenly
        # the odd ones are dropped: through them no line fits a part, and no reading may use them
        extra = tuple(b for b in extra if b % parts == 0)
        runs = {b: r for b, r in runs.items() if b % parts == 0}
        for b in [parts * p for p in pick_extra_batches(seen, b0, 4) if parts * p not in seen][:2]:
            runs[b] = _extra_run(capture, specs, b, seed, seconds, runs[b0])
            extra += (b,)
    result = ShapeRuns(b0, extra, runs, parts)
    annotate(capture, result)
    _input_dtypes(capture, specs)
    return result


def _extra_run(capture: Capture, specs, batch: int, seed: int, seconds: float, first: RunResult) -> RunResult:
    """A run at another batch size, on fake tensors where a real one would cost much."""
    b0 = specs[0].batch
    costly = seconds * batch / max(b0, 1) > _FAKE_ABOVE or tensor_bytes(first) * batch / max(b0, 1) > _FAKE_ABOVE_BYTES
    return (costly and _fake_run(capture, specs, batch, seed)) or _run(capture, specs, batch, seed, hold=False)


def run_once(capture: Capture, specs, batch, hold=True) -> RunResult:
    """One more run at ``batch`` as the first was made (its inputs and seed), holding ``hold``
    (True: every value; a set of nodes: those only)."""
    return _run(capture, specs, batch, 0, hold=hold)


def _run(capture: Capture, specs, batch, seed, keep_graph: bool = False, hold=True) -> RunResult:
    with torch.random.fork_rng(devices=[]):
        capture.reseed(seed)
        with torch.enable_grad() if keep_graph else torch.no_grad():
            return capture.run(make_inputs(specs, batch, seed), batch, keep_autograd=keep_graph, hold=hold)


# seconds a real run of an extra batch would take above which it runs on fake tensors instead:
# FakeTensorMode's first use costs about 1-1.5 s here; an SD-VAE's batch of 5 at 128x128 took
# 4.9 s for real and 0.2 s fake (benchmarks/bench_sdvae.py)
_FAKE_ABOVE = 2.0


# bytes the tensors of a real run of an extra batch would hold together above which it runs on fake
# tensors instead: on a GPU the real run is quick, so time alone sent a video VAE's batch of 7 to
# the device for real (ten times the activations of its step); 1 GiB is far above a small model's
_FAKE_ABOVE_BYTES = 1 << 30


def tensor_bytes(run: RunResult) -> int:
    """What the tensors a run computed hold together, at 4 bytes an element (float32): with the
    batch they grow with, how much memory a run at another batch size asks for at most."""
    total = 0
    for shape in run.shapes.values():
        n = 1
        for size in shape if isinstance(shape, tuple) else ():
            n *= size if isinstance(size, int) else 1
        total += n
    return 4 * total


def _fake_run(capture: Capture, specs, batch, seed) -> RunResult | None:
    """An extra batch's shapes and sizes from a run on fake tensors (no compute, no memory);
    None where the model cannot run so (it reads a value: ``.item()``, a data-dependent branch)
    or fails there: the real run then says what it says."""
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        with torch.random.fork_rng(devices=[]):
            capture.reseed(seed)
            with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True) as mode:
                inputs = tuple(mode.from_tensor(t) if isinstance(t, torch.Tensor) else t for t in make_inputs(specs, batch, seed))
                result = capture.run(inputs, batch, hold=False)
    except Exception:  # noqa: BLE001 - any failure of the fake run: the real run decides
        return None
    if result.failure is not None:
        return None
    result.output = None  # fake tensors: nothing to read
    return result


def settled(runs: dict[int, RunResult]) -> bool:
    """Whether the runs so far leave no doubt about any dim: every run finished, every
    node ran in each, and each dim is a constant or an exact ``k*B``."""
    if any(r.failure is not None for r in runs.values()):
        return False
    nodes = [set(r.shapes) for r in runs.values()]
    if any(n != nodes[0] for n in nodes):
        return False
    sized = [{b: r.shapes[node] for b, r in runs.items()} for node in nodes[0]]
    # the sizes the model read (``x.size(0)``, ``h.shape``) scale losses: the same test
    for node in set().union(*(r.values for r in runs.values())):
        seen = {b: r.values.get(node) for b, r in runs.items()}
        seen = {b: (v,) if isinstance(v, int) else v for b, v in seen.items()}
        if all(isinstance(v, tuple) and all(isinstance(i, int) for i in v) for v in seen.values()):
            sized.append(seen)
    for by_batch in sized:
        dims = solve(by_batch)
        if dims is None or any(d.coef != 0 and d.const != 0 for d in dims):
            return False
    return True


def solve(by_batch: dict[int, tuple[int, ...]], parts: bool = False) -> tuple[Dim, ...] | None:
    """Each dim as coef*B + const from its sizes at several batch sizes; with ``parts``, a
    coef may be a fraction (a part of the batch, solved from batch sizes it divides)."""
    if len(by_batch) < 2:
        return None
    ranks = {len(s) for s in by_batch.values()}
    if len(ranks) != 1:
        return None
    batches = sorted(by_batch)
    dims = []
    for k in range(ranks.pop()):
        points = [(b, by_batch[b][k]) for b in batches]
        (b1, v1), (b2, v2) = points[0], points[-1]
        if (v2 - v1) % (b2 - b1) == 0:
            coef: int | Fraction = (v2 - v1) // (b2 - b1)
        elif parts:
            coef = Fraction(v2 - v1, b2 - b1)
        else:
            return None
        const = v1 - coef * b1
        if const != int(const) or any(coef * b + const != v for b, v in points):
            return None  # not linear in B (an outer product of batches, say)
        dims.append(Dim(coef, int(const)))
    return tuple(dims)


def batch_parts(runs: dict[int, RunResult], b0: int) -> int:
    """k where some node holds a k-th part of the batch (``x.chunk(2)``, ``x[: B // 2]``: a
    FactorVAE's halves): a dim that is ``b0 // k`` at the user's batch and ``b // k`` rounded
    either way at each other (odd) batch size, which no line through them fits. 0 for none."""
    others = [b for b in runs if b != b0 and runs[b].failure is None]
    if not others or runs[b0].failure is not None:
        return 0
    for k in (2, 3, 4):
        if b0 % k or all(b % k == 0 for b in others):
            continue
        for node, shape in runs[b0].shapes.items():
            if not isinstance(shape, tuple):
                continue
            for axis, size in enumerate(shape):
                if size != b0 // k or size in (0, 1):
                    continue
                if all(_part_at(runs[b].shapes.get(node), axis, b, k) for b in others):
                    return k
    return 0


def _part_at(shape, axis: int, batch: int, k: int) -> bool:
    return isinstance(shape, tuple) and len(shape) > axis and shape[axis] in (batch // k, -(-batch // k))


def annotate(capture: Capture, runs: ShapeRuns) -> None:
    for node in capture.graph.nodes:
        by_batch = {b: r.shapes[node] for b, r in runs.runs.items() if node in r.shapes}
        if not by_batch:
            node.meta.pop("shape", None)
            continue
        node.meta["shape"] = ShapeFact(by_batch.get(runs.batch), solve(by_batch, parts=runs.parts > 0), by_batch)
    _carry_dims(capture.graph)


def _input_dtypes(capture: Capture, specs) -> None:
    """Each input's dtype as its spec gives it, on its placeholder (``meta["dtype"]``: "int64" for a
    batch's class labels), where the placeholders are the specs one for one."""
    places = [n for n in capture.graph.nodes if n.op == "placeholder"]
    if len(places) == len(specs):
        for node, spec in zip(places, specs):
            node.meta["dtype"] = spec.dtype


def _carry_dims(graph) -> None:
    """Dims for nodes only the user's batch reached (the runs at other batch sizes failed
    before them: a decoder fed buffers built for one batch size), from an input of the same
    sizes whose dims are known (``1 + logvar - mu.pow(2) - logvar.exp()``: the heads' B x Z):
    an elementwise op keeps its input's dims. Without them a KL after the failure reads as
    'scalar' and no rule could weigh it."""
    for node in graph.nodes:
        fact = node.meta.get("shape")
        if fact is None or fact.dims is not None or fact.sizes is None or len(fact.by_batch) != 1:
            continue
        if not fact.sizes or node.op == "get_attr":
            fact.dims = tuple(Dim(0, s) for s in fact.sizes)  # a 0-d tensor, a parameter: so at every batch
            continue
        for arg in node.all_input_nodes:
            other = arg.meta.get("shape")
            if other is not None and other.dims is not None and other.sizes == fact.sizes and fact.sizes:
                fact.dims = other.dims
                break
