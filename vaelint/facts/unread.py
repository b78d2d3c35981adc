"""What the rules could not read, said where it is decided: a KL weighed 0 at the step checked
(the rules that read beta_eff say why they did not run), and a training step vaelint misread (its
graph reads none of the batch the run gave it): exit 2, never "no findings"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaelint.errors import VaelintError

if TYPE_CHECKING:
    from vaelint.diagnostics import TargetResult
    from vaelint.facts.context import Context
    from vaelint.frontends.base import Program

_READ_THE_KL = ("VAE002", "VAE004")


def no_sample_read(program: Program, ctx: Context, findings: list) -> None:
    """The run saw the step's loss reach a random sample the code drew, and the graph of the step
    reads none of its batch and has no reparameterisation: the step was misread (its batch bound
    where the check did not look, the model given a constant), and the rules that need the sample
    could not run. Never "no findings" there: exit 2, saying so. (A sample of another kind, a
    Laplace posterior's, is no misreading: its graph reads the batch.)"""
    if not program.sampled_at or ctx.roles.reparam is not None or ctx.failure is not None or findings:
        return
    if any(n.op == "placeholder" and n.users for n in ctx.view.graph.nodes):
        return
    step = program.step.description if program.step is not None else "the step"
    raise VaelintError(
        "trace",
        f"the loss backpropagated at {program.sampled_at} reaches a random sample when the code runs, but the graph "
        f"vaelint captured of {step} reads none of its batch and has no reparameterisation (mu + eps * std), so the "
        "rules that read the sample, its KL and its reconstruction could not run. Check the model with its loss "
        "instead (PATH.py:CLASS --loss FUNCTION --input SHAPE), and please report this training code: vaelint "
        "should read its step.",
    )


def read_step_is_no_vae(program: Program, ctx: Context, findings: list) -> None:
    """The step was found by reading the code (running it did not reach one: its data is not here)
    and its graph holds no VAE: no reparameterisation and no KL term (a plain baseline the
    file trains first, an LSTM forecaster before its LSTM-VAE), while the file backpropagates elsewhere
    too. Never "no findings" there: every rule that reads a VAE was skipped on a step that is likely
    not the VAE's. Exit 2, saying why."""
    ran = next((n for n in program.notes if n.startswith(_RAN) and n.endswith(_READ)), None)
    if ran is None or ctx.roles.reparam is not None or ctx.roles.kl_terms or ctx.failure is not None or findings:
        return
    if not _other_backwards(program):
        return  # the file's one step: a model that is no VAE (a forecaster) is checked as what it is
    step = program.step.description if program.step is not None else "the step"
    why = ran[len(_RAN) : -len(_READ)].rstrip(")")
    raise VaelintError(
        "loss",
        f"{step}, found by reading the code, holds no VAE: its loss reaches no reparameterised sample and no KL, "
        f"while the file backpropagates elsewhere too, so no rule could check it. Running the code as written did not reach a step ({why}): "
        "give what that run needs (the data, or --input for it; --script-args), or name the VAE's training "
        "function with PATH.py:FUNCTION, or check the model with its loss (PATH.py:CLASS --loss FUNCTION --input SHAPE).",
    )


def _other_backwards(program: Program) -> bool:
    """Does the step's file backpropagate somewhere outside the step's own lines?"""
    import re

    from vaelint.source.files import read_source

    step = program.step
    if step is None or step.loc is None or step.lines is None:
        return False
    try:
        lines = read_source(step.loc.path).splitlines()
    except (OSError, ValueError):
        return False
    first, last = step.lines
    return any(re.search(r"\.backward\(", text) for k, text in enumerate(lines, 1) if not first <= k <= last)


_RAN = "running the code as written did not reach its step ("
_READ = "): the step was found by reading the code"


def say_zero_weights(ctx: Context, result: TargetResult) -> None:
    """A loss term weighted 0 at the step checked: why the rules that read it did not run."""
    from vaelint.facts.lossroles import zero_weighted

    if not any(code in _READ_THE_KL for code, _said in result.skipped):
        return
    terms = zero_weighted(ctx.view, ctx.roles) if ctx.has_loss else []
    if not terms:
        return
    loc = terms[0].meta.get("loc")
    why = (
        f"the loss term at {loc.where() if loc else 'its line'} is multiplied by 0 at the step checked (a KL warm-up's first "
        "step, a weight the code sets where the check does not vary it): its beta_eff cannot be read there"
    )
    result.skipped = [(code, why if code in _READ_THE_KL else said) for code, said in result.skipped]
    result.notes.append(f"{why}; check a step where the weight is not 0 (--script-args), or the model with its loss (--loss)")
