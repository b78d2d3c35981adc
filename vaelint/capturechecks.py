"""What the first capture shows that the capture cannot serve as it was, each asked once, in
order (vaelint/analyze.py ``_capture_stage``): the forward returns or calls its own loss, a
loss bound by a guess raised, a distribution wants binary data, the batch is dim 1 of a
sequence-first input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaelint.capture.batchdim import SequenceFirstData, sequence_first
from vaelint.capture.inputcheck import binary_retry
from vaelint.errors import VaelintError
from vaelint.facts.graphview import GraphView

if TYPE_CHECKING:
    from vaelint.analyze import Loaded, Shaped
    from vaelint.capture.route import Captured
    from vaelint.diagnostics import TargetResult


def forward_has_loss(shaped: Shaped, result: TargetResult) -> None:
    plan = shaped.plan
    how = f"calls its own loss ({plan.name}(...))" if plan.in_forward else "returns its own loss (out['loss'])"
    result.notes.append(f"the forward {how}, so the {plan.name} found by name was not called again; give --loss to analyse another")
    shaped.plan = None
    result.loss_name = None


def guessed_loss_raised(shaped: Shaped, loaded: Loaded, result: TargetResult) -> bool:
    """The loss was called with parameters bound by position alone, and that call
    raised: a guess, not the user's call, so no finding comes of it; the model is
    checked without that loss, and the report says why."""
    binder, runs = shaped.captured.binder, shaped.captured.runs
    if not _guess_raised(shaped.captured):
        return False
    why = (
        f"the loss {shaped.plan.name} could not be bound from the code alone ({binder.binding.guess_text()}: "
        f"by position) and that call raised ({_first_line(runs.failure.error)}): name its parameters "
        "as forward returns them (return recon, mu, logvar -> def loss(recon, x, mu, logvar)), or call it "
        "in the training code, and vaelint binds them as written"
    )
    if shaped.plan.explicit:
        # the loss the user named with --loss: no check of the model without it passes for one of it
        tried = ", ".join(f"{p} <- {s}" for p, s in binder.binding.descriptions)
        raise VaelintError("loss", f"{why[0].upper()}{why[1:]}. Binding tried: {tried}.")
    loaded.program.loss_missing_reason = why
    result.binding = binder.binding.descriptions
    shaped.plan, shaped.guessed = None, True
    result.loss_name = None
    return True


def binary_data(shaped: Shaped, loaded: Loaded, result: TargetResult) -> bool:
    """A distribution that validates its support: the data is binary, so draw it
    that way rather than stop."""
    binary = binary_retry(shaped.captured.runs.failure, shaped.specs)
    if binary is None:
        return False
    shaped.specs = binary
    result.notes.append(
        "a distribution in the model checks that its data lies in its support, so the float "
        "inputs were drawn in {0, 1} (as --input SHAPE:float32:2 would)"
    )
    return True


def sequence_first_batch(shaped: Shaped, loaded: Loaded, result: TargetResult) -> bool:
    """The batch at dim 1 of inputs a sequence-first layer reads (vaelint/capture/batchdim.py)."""
    found = None if loaded.batch_dim_given else sequence_first(shaped.specs, shaped.captured.capture)
    if found is not None and any("rows of --input" in n for n in result.notes):
        raise SequenceFirstData(found[1], found[0])  # the data files' stand-ins hold samples cut at dim 0: load again
    if found is not None:
        shaped.specs, note = found
        result.notes.append(note)
    return found is not None


def _guess_raised(captured: Captured) -> bool:
    """Did the loss, called with a guessed binding, raise (after the forward ran)?"""
    cap, runs, binder = captured.capture, captured.runs, captured.binder
    if binder is None or binder.binding is None or not binder.binding.guessed or runs.failure is None:
        return False
    node = runs.failure.node
    if node is None:
        return True  # the forward returned (the binding was decided): the loss raised
    forward = [n for n in cap.graph.nodes if "forward_output" in n.meta]
    view = GraphView(cap.graph, cap.modules)
    return not any(view.depends_on(f, node) or f is node for f in forward)


def _first_line(error) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{type(error).__name__}: {text[:160]}"
