"""What a capture route is (README, "Development"): a :class:`Route` with ``try_capture(job,
refused) -> Capture | Refusal`` and the capabilities the rules and readings ask of a graph
(``literal_ints``) instead of testing which route made it; the :class:`CaptureJob` every route
is given and the :class:`Refusal` it answers with. The routes themselves and their order are in
vaelint/capture/routes.py, which imports them; a route imports only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import torch.fx as fx

from vaelint.capture.binding import Binder
from vaelint.capture.ops import flat_args
from vaelint.capture.result import Capture, input_names


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
        from vaelint.frontends.trainingsites import where_it_trains

        names = input_names(self.program, len(self.specs), self.keywords)
        binder = Binder(self.plan, names, *self.binding_facts)
        binder.trains_at = lambda: where_it_trains(self.program)  # its fit() computes what forward does not return
        return binder

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


# buffer elements whose values are kept before tracing (a VQ-VAE's EMA codebook, BatchNorm's running
# statistics): far above a model's usual buffers; a model holding more keeps its buffers' references only
_BUFFER_VALUES = 1 << 26


def saved_attributes(model) -> list:
    """Each module's plain attributes and buffers, as they are before tracing, and the buffers'
    values: a forward that updates a buffer in place (``self.count.mul_(decay).add_(...)``, an EMA
    codebook) changes the tensor every run shares, so each run starts from these values again."""
    import torch

    modules = list(model.modules())
    from torch.nn.parameter import UninitializedTensorMixin

    total = sum(
        b.numel()
        for m in modules
        for b in m._buffers.values()
        if isinstance(b, torch.Tensor) and not isinstance(b, UninitializedTensorMixin)
    )
    keep = total <= _BUFFER_VALUES
    return [(m, dict(m.__dict__), dict(m._buffers), _values(m) if keep else {}) for m in modules]


def _values(module) -> dict:
    import torch
    from torch.nn.parameter import UninitializedTensorMixin

    # a lazy module's buffer before its first forward holds no values to keep
    return {
        k: b.detach().clone()
        for k, b in module._buffers.items()
        if isinstance(b, torch.Tensor) and not isinstance(b, (torch.fx.Proxy, UninitializedTensorMixin))
    }


def restore_attributes(saved: list) -> None:
    for module, attributes, buffers, _values_kept in saved:
        for key in [k for k in module.__dict__ if k not in attributes]:
            del module.__dict__[key]
        module.__dict__.update(attributes)
        module._buffers.clear()
        module._buffers.update(buffers)


def restore_tensors(saved: list) -> None:
    """Put back only the modules' plain tensor attributes (a state a run kept: self.h = h.detach(),
    or one it cleared), nothing else: a run in eval mode stays in eval mode."""
    import torch

    for module, attributes, _buffers, values in saved:
        for key, value in values.items():  # a buffer a run updated in place: its values as they were
            now = module._buffers.get(key)
            if isinstance(now, torch.Tensor) and now.shape == value.shape and now.dtype == value.dtype:
                try:
                    with torch.no_grad():
                        now.copy_(value)
                except (RuntimeError, TypeError, NotImplementedError):
                    pass  # a tensor of the simulated GPU's or a meta one: it holds no values of its own
        state = module.__dict__
        for key in {k for k, v in state.items() if isinstance(v, torch.Tensor)} | {
            k for k, v in attributes.items() if isinstance(v, torch.Tensor)
        }:
            if key not in attributes:
                del state[key]
            elif state.get(key) is not attributes[key]:
                state[key] = attributes[key]
