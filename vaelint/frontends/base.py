"""The front-end interface: how a target is turned into a :class:`Program`.

A front end knows one way users write VAE code (a model class plus a loss
function, a training script, a notebook, a LightningModule, a Keras model).
It detects its targets, loads the user's code without running what a check
does not need, builds the model, and hands the pipeline a :class:`Program`:
the model, and either a loss with its parameters to bind or a training *step*
compiled from the user's own lines. Everything after that (capture, shapes,
roles, rules, confirmation, reports) reads the Program and never asks which
front end made it.

The hooks a front end may need later in the pipeline (reseeding its own random
generators, building lazily created weights, the device policy, mapping
locations back to the user's file) are methods of :class:`Frontend`, with
do-nothing defaults in :class:`FrontendBase`.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:  # the hand-off types only; no import cost at run time
    import torch.nn as nn

    from vaelint.frontends.lossfind import LossPlan
    from vaelint.source.frames import SourceLoc


@dataclass(frozen=True)
class TargetRef:
    """A target as the user wrote it: ``train.py``, ``model.py:VAE``,
    ``solver.py:Solver.train``, ``nb.ipynb:loss_fn``."""

    spec: str
    path: str  # the file, as written
    name: str | None  # the dotted name inside it; None for the whole file

    @property
    def parts(self) -> list[str]:
        return self.name.split(".") if self.name else []


def parse_ref(spec: str) -> TargetRef:
    """``path.py:Name`` -> (path, "Name"); ``path.py`` -> (path, None). A
    Windows drive letter (``C:\\...``) has no ``.py`` before its colon."""
    if ":" in spec:
        path, _, name = spec.rpartition(":")
        if path.endswith((".py", ".ipynb")):
            return TargetRef(spec, path, name or None)
    return TargetRef(spec, spec, None)


@dataclass
class LoadRequest:
    """What the user asked for, as a front end reads it."""

    init: dict = field(default_factory=dict)
    loss: str | None = None  # --loss REF
    loss_kwargs: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)  # InputSpec, as given (empty: a front end may infer them)
    script_args: list[str] = field(default_factory=list)  # --script-args, split
    progress: Callable[[str], None] = lambda stage: None


@dataclass
class Step:
    """One training step, from the batch to the value it backpropagates, made of
    the user's own statements (their lines kept).

    ``fn(*inputs)`` runs it once on a batch and returns that value (a tensor,
    or what a Lightning step returns: a dict with ``loss``). The pipeline marks
    the outputs of the model calls the step makes (:mod:`vaelint.capture.modelcalls`)
    as the forward's outputs, and reads the returned value as the loss.
    """

    fn: Callable[..., Any]
    names: list[str]  # one placeholder name per input: the step's batch variables
    description: str  # how the report names it: "train.py:train, lines 95-101"
    batch_text: str = ""  # how the batch reaches the step: "for batch_idx, (data, _) in enumerate(train_loader)"
    keywords: tuple[str, ...] = ()  # inputs given by name (--input NAME=SPEC), after the positional ones
    loc: SourceLoc | None = None  # where the batch comes in (the loop over the loader)
    lines: tuple[int, int] | None = None  # the step's own lines in loc's file (first, last)
    loss_method: bool = False  # a loss method of the model that runs its forward (no training code's step)
    # the code chose a device, yet no module of the model was moved anywhere (no model.to(device),
    # no .cuda(), no parameter made with device=): where the step moves its batch to the GPU, the
    # model's weights stay on the CPU there (VAE012's simulated GPU keeps them so)
    model_left_on_cpu: bool = False
    # the step's moves to CUDA by name ((what, path, line): ``eps.cuda()`` in forward) where the code
    # placed the model on the device it chose, the CPU in this run: there the step fails (VAE012)
    cuda_by_name: tuple = ()


@dataclass
class Schedule:
    """A weight the step computes from a step counter (an annealed KL weight):
    its value at the step the check runs, and later on."""

    name: str  # the variable: "kl_weight"
    expr: str  # how the code computes it: "min(1, step / warmup)"
    loc: SourceLoc  # the assignment
    counter: str  # what it reads: "step", "epoch", "self.global_step"
    now: float  # its value at the step run
    values: list  # (counter value, weight), the step run's first
    # computed before the step, in a loop around it (beta = min(1, epoch / 200) in the epoch
    # loop): the step reads the variable itself, so a later step is the variable set, not the counter
    held: bool = False
    # a weight each step moves from its own last value (``beta = min(1, beta + 1 / n)``), not from
    # a counter: the values from a given start, for the factor the step run saw (:meth:`from_value`)
    values_from: Callable[[float], list] | None = None
    # the counter's last value, where its loop ends (``range(1, args.epochs + 1)``) and the
    # values were read up to it: the weight training ends with is the last one read
    last: int | None = None

    def from_value(self, now: float) -> Schedule:
        """This schedule as it goes on from ``now`` (an accumulating weight: the value the run's
        KL factor had; the step's runs each moved it once)."""
        if self.values_from is None:
            return self
        from dataclasses import replace

        values = self.values_from(now)
        return replace(self, now=now, values=values) if len(values) >= 2 else self

    @property
    def limit(self) -> float | None:
        """The value it settles on (the last one, where its loop ends), or None (cyclical, or
        still moving at 1e8 steps)."""
        if self.last is not None:
            return self.values[-1][1]
        # the last readings, 1e8 steps on and two off the round numbers there (a cyclical schedule
        # is at the same point of its cycle at every round number: it is no settled value)
        tail = [v for c, v in self.values if c >= 100_000_000]
        tail = tail if len(tail) >= 2 else [v for _c, v in self.values[-2:]]
        return tail[-1] if all(math.isclose(v, tail[-1], rel_tol=1e-6, abs_tol=1e-9) for v in tail) else None

    @property
    def cycling(self) -> bool:
        """Does it go down again after going up (a cyclical KL anneal: 0 to its top, each cycle)?"""
        if self.limit is not None:
            return False
        values = [v for _c, v in self.values]
        rises = any(b > a + 1e-9 for a, b in zip(values, values[1:]))
        falls = any(b < a - 1e-9 for a, b in zip(values, values[1:]))
        return rises and falls

    @property
    def peak(self) -> float:
        """The highest value read (a cyclical schedule's top)."""
        return max(v for _c, v in self.values)

    def reached_at(self) -> int | None:
        """The first counter value read at which the weight is within 1% of its limit."""
        limit = self.limit
        if limit is None:
            return None
        return next((c for c, v in self.values if math.isclose(v, limit, rel_tol=1e-2, abs_tol=1e-6)), None)

    def text(self) -> str:
        """``kl_weight = kl_anneal(step, ...) (line 51): 0.00193 at step 0, 1 from step 5000``"""
        head = f"{self.name} = {self.expr} ({self.loc.where()})" if self.name != self.expr else f"{self.expr} ({self.loc.where()})"
        start = f"{self.now:.3g} at {self.counter} = {self.values[0][0]}"
        limit, at = self.limit, self.reached_at()
        if limit is None and self.cycling:
            low = min(v for _c, v in self.values)
            return f"{head}: {start}, cycling between {low:.3g} and {self.peak:.3g} (read up to {self.counter} = {self.values[-1][0]:.3g})"
        if limit is None:
            return f"{head}: {start}, never settling (read up to {self.counter} = {self.values[-1][0]:.3g})"
        if self.last is not None and self.values[0][0] == self.last:
            return f"{head}: {start}, the loop's last"
        if self.last is not None and at == self.last:
            return f"{head}: {start}, {limit:.3g} at {self.counter} = {at}, the loop's last"
        return f"{head}: {start}, {limit:.3g} from {self.counter} = {at}"


@dataclass
class Program:
    """The typed hand-off from loading to capture: the model, and how its loss
    is computed (a loss plan to bind, or a step to run), with what the front
    end learned while loading."""

    frontend: Frontend
    target: TargetRef
    path: str  # absolute path of the file the target names
    module: types.ModuleType  # the namespace the user's code was loaded in
    model: nn.Module  # the VAE (for a step: the modules it calls, in one container when several)
    name: str = ""  # the model's name in reports
    init: dict = field(default_factory=dict)
    module_sites: dict = field(default_factory=dict)  # id(submodule) -> the user's line that built it
    loss: LossPlan | None = None
    step: Step | None = None
    # inputs the front end inferred (a data set the code builds), with where from
    inputs: list = field(default_factory=list)
    inputs_origin: str = ""
    # those inputs stand in place of --input's: the loader's rows are the code's own tensors, made
    # from a data file that stood in as rows of --input and changed by the code (X[:, ::10])
    inputs_over_given: bool = False
    notes: list[str] = field(default_factory=list)
    # running the code as written, its step called the model with the loader's batch whole (a
    # TensorDataset's [x]) and raised (frontends/training/livehints.batch_given_whole): VAE013's
    batch_whole: tuple | None = None
    # and where its step's own code raised a shape error after the model ran, a line the step read
    # from the code left out (livehints.step_raised_a_shape_error): (where, the error)
    shape_stop: tuple | None = None
    # lines of a script's setup that failed on the way to its step ("train.py:208: ValueError: ...")
    setup_failures: list[str] = field(default_factory=list)
    # the loss was looked for and not found, so the loss rules will not run (the summary says so)
    loss_missing_reason: str = ""
    # a training step's configured batch size (its DataLoader's batch_size), and where it is set
    configured_batch: int | None = None
    configured_batch_text: str = ""
    # why every batch has that size ("" where one may not): its DataLoader drops the last
    # incomplete batch (drop_last=True), or its data set's length is a multiple of it
    full_batches: str = ""
    # the inputs' batch dims are the dims their loader's batch size sets: nothing to find out
    batch_dim_known: bool = False
    # id()s of the parameters another backward of the step trains (a GAN's discriminator, whose
    # own loss steps first): not the VAE loss's to reach (VAE011)
    trained_elsewhere: set = field(default_factory=set)
    # where the step backpropagates part of its loss by a backward of its own before the VAE's
    # (the same parameters, one optimiser step): the loss read is not the whole loss
    split_backward: list = field(default_factory=list)
    # the optimisers the step can reach, and whether it backpropagates again after the VAE's
    # backward (read from the code): with the VAE loss's parameters, what other optimisers train
    optimisers: list = field(default_factory=list)
    backward_after: bool = False
    # weights the step computes from its counters (vaelint/frontends/training/schedules.py)
    schedules: list = field(default_factory=list)
    # where the run saw the step's loss reach a random sample the code drew ("train.py:38", its
    # backward): a graph of that step without a reparameterisation is vaelint's misreading
    sampled_at: str = ""

    def trained_by_others(self, reached: set) -> set:
        """id()s of the parameters another backward or another optimiser of the step trains,
        given the id()s of those the VAE loss reaches (a VAE-GAN's discriminator head)."""
        if not self.optimisers:
            return self.trained_elsewhere
        from vaelint.frontends.training.liveoptim import trained_by_other_optimisers

        return self.trained_elsewhere | trained_by_other_optimisers(self.optimisers, reached, self.backward_after)

    def held_by_optimisers(self) -> set | None:
        """id()s of the parameters the step's optimisers hold (None: none known). One no optimiser
        holds is not trained by the step (a frozen, pretrained first stage under a prior trained
        on its codes): no gradient is what it should get."""
        if not self.optimisers:
            return None
        return {id(p) for opt in self.optimisers for group in getattr(opt, "param_groups", ()) for p in group.get("params", ())}

    # ---- the front end's hooks, read by the pipeline
    def reseed(self, seed: int) -> None:
        self.frontend.reseed(self, seed)

    def before_capture(self, inputs: tuple) -> None:
        self.frontend.before_capture(self, inputs)

    def device_policy(self) -> str | None:
        return self.frontend.device_policy(self)

    def replayers(self) -> tuple:
        return self.frontend.replayers(self)

    def forward_fn(self):
        return self.frontend.forward_fn(self)

    def raise_deferred_error(self) -> None:
        self.frontend.raise_deferred_error(self)

    @property
    def framework(self) -> str:
        """ "keras" for a Keras 3 model (run on the torch backend), else "torch"."""
        return self.frontend.framework_of(self)

    def captures_symbolically(self) -> bool:
        return self.frontend.captures_symbolically(self)


class Frontend(Protocol):
    """One way of writing VAE code, turned into a :class:`Program`."""

    name: str  # "plain", "training", "notebook", "lightning", "keras"
    framework: str  # "torch" or "keras": whose ops the model's code calls
    infers_inputs: bool  # may find the inputs itself (a data set the code builds): --input is checked after loading

    def detect(self, ref: TargetRef) -> bool:
        """Is this target written this front end's way? (Reads files; runs nothing.)"""

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        """Load the user's code, build the model, find the loss or the step."""

    def reseed(self, program: Program, seed: int) -> None:
        """Restart the front end's own random generators (torch's is restarted by the caller)."""

    def before_capture(self, program: Program, inputs: tuple) -> None:
        """Ready the model for capture (create lazily built weights)."""

    def device_policy(self, program: Program) -> str | None:
        """Why device placement is not the model code's own business (VAE012 then does not
        apply), or None."""

    def replayers(self, program: Program) -> tuple:
        """Module classes that run their layers themselves (calls inside them are placed at
        the line that built the layer)."""

    def forward_fn(self, program: Program):
        """The function whose parameters name the forward's inputs."""

    def raise_deferred_error(self, program: Program) -> None:
        """Raise an error the user's code met that a library re-worded (called where a
        failed run is turned into a report)."""

    def map_location(self, loc: SourceLoc) -> SourceLoc:
        """A location in the code as run -> where the user sees it (a notebook's cell)."""

    def framework_of(self, program: Program) -> str:
        """Whose ops the model's code calls: "torch" or "keras"."""

    def captures_symbolically(self, program: Program) -> bool:
        """May torch.fx try to trace it (else the run is recorded at once)?"""


class FrontendBase:
    """Do-nothing hooks, for front ends that need none of them."""

    name = "base"
    framework = "torch"
    infers_inputs = False

    def detect(self, ref: TargetRef) -> bool:  # pragma: no cover - every front end overrides it
        return False

    def reseed(self, program: Program, seed: int) -> None:
        return None

    def before_capture(self, program: Program, inputs: tuple) -> None:
        return None

    def device_policy(self, program: Program) -> str | None:
        return None

    def replayers(self, program: Program) -> tuple:
        return ()

    def forward_fn(self, program: Program):
        return program.model.forward

    def raise_deferred_error(self, program: Program) -> None:
        return None

    def map_location(self, loc: SourceLoc) -> SourceLoc:
        return loc

    def framework_of(self, program: Program) -> str:
        return self.framework

    def captures_symbolically(self, program: Program) -> bool:
        return True
