"""The capture routes, as an ordered list: each is asked in turn, and the first
whose graph runs at every batch size the shapes stage asks for is kept.

A route is a :class:`Route` with ``try_capture(job, refused) -> Capture | Refusal``
and the capabilities the rules and readings ask of a graph (``literal_ints``)
instead of testing which route made it. Adding a route is one module with a
``Route`` subclass and one entry in :func:`routes` (README, "Development").
"""

from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import torch.fx as fx

from vaelint.capture.binding import Binder
from vaelint.capture.ops import flat_args
from vaelint.capture.result import Capture, input_names
from vaelint.capture.samereads import merge_same_reads
from vaelint.errors import VaelintError


@dataclass
class CaptureJob:
    """What every route captures: the program with its loss (or step), at the inputs
    of the user's batch; and how the shapes stage runs a capture it made."""

    program: object  # vaelint/frontends/base.py, Program
    plan: object  # vaelint/frontends/lossfind.py, LossPlan; None: no loss to bind
    specs: list  # vaelint/inputs.py, InputSpec: positional first, keyword (NAME=SPEC) after
    inputs: tuple  # the inputs at the user's batch
    progress: Callable[[str], None] | None = None
    keep_graph: bool = False  # the run at the user's batch keeps its autograd graph (confirm reuses it)
    contracts: object = None  # vaelint/contracts/annotations.py; None: nothing watched
    binding_facts: tuple = ({}, None)  # what the user's code says about binding (vaelint/capture/bindnames.py)
    saved: list = field(default_factory=list)  # the modules' attributes before any route ran

    def restore_attributes(self) -> None:
        restore_attributes(self.saved)

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs if s.name)

    @property
    def loss_fn(self):
        return self.plan.fn if self.plan is not None else None

    def binder(self) -> Binder | None:
        """A fresh binder for one route's capture (each decides the binding on its own graph)."""
        if self.plan is None:
            return None
        names = input_names(self.program, len(self.specs), self.keywords)
        return Binder(self.plan, names, *self.binding_facts)

    def stage(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name)


@dataclass
class Refusal:
    """A route that did not give the graph: why, in words for the report; and when it
    captured a graph that then raised, that attempt (kept in case every route fails)."""

    route: Route
    reason: str
    attempt: Captured | None = None


@dataclass
class Captured:
    """A capture and what its runs at the shapes stage's batch sizes saw."""

    capture: Capture
    runs: object  # vaelint/facts/shapes.py, ShapeRuns
    binder: Binder | None = field(default=None)


class Route:
    """One way of turning the program into an fx graph."""

    name: ClassVar[str]  # as the report says it: "torch.fx", "recording"
    # a plain int in this route's graph was written in the code, never computed from
    # a tensor (fx keeps computed sizes as nodes; a recording sees only numbers)
    ints_are_literals: ClassVar[bool] = False

    def applies(self, program) -> bool:
        """Is this route worth trying on this program at all?"""
        return True

    def try_capture(self, job: CaptureJob, refused: list[Refusal]) -> Capture | Refusal:
        """The graph, or why not; ``refused``: what the routes before it said."""
        raise NotImplementedError

    def own_error(self, error: BaseException) -> bool:
        """Is a run's error one of this route's own making, not the model's?"""
        return False

    def graph_raised(self, batch: int) -> str:
        """Why the next route is tried when this route's graph raised where it ran."""
        return f"the {self.name} graph raised at batch {batch}"

    def could_not_run(self, error: Exception) -> str:
        """Why the next route is tried when running this route's graph failed in vaelint."""
        return f"the {self.name} graph could not run ({type(error).__name__}: {str(error)[:160]})"

    def literal_ints(self, node: fx.Node, runs) -> list[int]:
        """Integer arguments written into the code for this op (``randn(64, Z)``,
        ``view(-1, 1024)``), not computed from a tensor (``x.size(0)``)."""
        if self.ints_are_literals:
            return [a for a in _ints(node.args) if a is not None]
        # an int is a literal when it was the same at every batch size the op ran at
        seen = [_ints(r.args[node]) for r in runs.runs.values() if node in r.args]
        if len(seen) < 2:
            return []  # ran at one batch size only: cannot tell a literal from x.size(0)
        first = seen[0]
        if any(len(s) != len(first) for s in seen):
            return []
        return [a for i, a in enumerate(first) if a is not None and all(s[i] == a for s in seen)]


def _ints(args) -> list:
    out = []
    for a in flat_args(args):
        if isinstance(a, int) and not isinstance(a, bool):
            out.append(a)
        elif isinstance(a, fx.Node) or a is None:
            out.append(None)
    return out


def routes() -> list[Route]:
    """The routes in the order they are tried."""
    from vaelint.capture.recording import RecordingRoute
    from vaelint.capture.symbolic import SymbolicRoute

    return [SymbolicRoute(), RecordingRoute()]


def capture_and_run(job: CaptureJob, run: Callable) -> Captured:
    """The first route whose capture runs at every batch (``run(capture, specs,
    keep_graph=...)``, the shapes stage); when every route's graph raises, the
    first attempt whose error is the model's own (never one a route made)."""
    job.program.before_capture(job.inputs)
    job.binding_facts = binding_facts(job.program, job.plan)
    job.saved = saved_attributes(job.program.model)
    candidates = [r for r in routes() if r.applies(job.program)]
    refused: list[Refusal] = []
    for route in candidates:
        # what an earlier route's trace or runs stored on the model (self.x = x.cuda()
        # in the loss stores a Proxy) must not meet this route's run
        job.restore_attributes()
        got = route.try_capture(job, refused)
        if isinstance(got, Refusal):
            refused.append(got)
            continue
        # the report names the route that gave the graph, and why the ones before it did not
        got.route, got.method, got.fallback_reason = route, route.name, fallback_reason(refused)
        got.restore_tensors = functools.partial(restore_tensors, job.saved)
        merge_same_reads(got.graph)  # logvar[:, :k] read twice is one value for every rule
        try:
            attempt = Captured(got, run(got, job.specs, keep_graph=job.keep_graph), got.binder)
        except VaelintError:
            raise
        except Exception as e:  # noqa: BLE001 - a graph vaelint cannot run: the next route
            if route is candidates[-1]:
                raise
            refused.append(Refusal(route, route.could_not_run(e)))
            continue
        if attempt.runs.failure is None:
            return attempt
        refused.append(Refusal(route, route.graph_raised(job.specs[0].batch), attempt))
    attempts = [r for r in refused if r.attempt is not None]
    if not attempts:
        raise RuntimeError(f"no capture route gave a graph: {'; '.join(r.reason for r in refused)}")
    own = [r for r in attempts if not r.route.own_error(r.attempt.runs.failure.error)]
    return (own[0] if own else attempts[-1]).attempt


def saved_attributes(model) -> list:
    """Each module's plain attributes and buffers, as they are before tracing."""
    return [(m, dict(m.__dict__), dict(m._buffers)) for m in model.modules()]


def restore_attributes(saved: list) -> None:
    for module, attributes, buffers in saved:
        for key in [k for k in module.__dict__ if k not in attributes]:
            del module.__dict__[key]
        module.__dict__.update(attributes)
        module._buffers.clear()
        module._buffers.update(buffers)


def restore_tensors(saved: list) -> None:
    """Put back only the modules' plain tensor attributes (a state a run kept: self.h = h.detach(),
    or one it cleared), nothing else: a run in eval mode stays in eval mode."""
    import torch

    for module, attributes, _buffers in saved:
        state = module.__dict__
        for key in {k for k, v in state.items() if isinstance(v, torch.Tensor)} | {
            k for k, v in attributes.items() if isinstance(v, torch.Tensor)
        }:
            if key not in attributes:
                del state[key]
            elif state.get(key) is not attributes[key]:
                state[key] = attributes[key]


def fallback_reason(refused: list[Refusal]) -> str | None:
    """Why the routes before this one gave no graph (the report's fallback reason)."""
    return refused[-1].reason if refused else None


def binding_facts(program, plan) -> tuple:
    """(the forward's returned names, where the code calls the loss): what the
    user's code says about binding the loss (vaelint/capture/bindnames.py)."""
    from vaelint.capture.bindnames import call_site_sources, return_names

    if plan is None or program.step is not None:
        return {}, None
    names = return_names(program.forward_fn())
    paths = [program.path]
    try:
        loss_file = inspect.getsourcefile(getattr(plan.fn, "__func__", plan.fn))
    except TypeError:
        loss_file = None
    if loss_file:
        paths.append(os.path.realpath(loss_file))
    folder = os.path.dirname(program.path)
    try:
        paths += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py"))[:30]
    except OSError:
        pass
    return names, call_site_sources(plan.fn, program.model, list(dict.fromkeys(paths)))
