"""What the rules could not read, said where it is decided: a KL weighed 0 at the step checked
(the rules that read beta_eff say why they did not run), and a training step vaelint misread (its
graph reads none of the batch the run gave it): exit 2, never "no findings"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch.fx as fx

from vaelint.errors import VaelintError

if TYPE_CHECKING:
    from vaelint.diagnostics import TargetResult
    from vaelint.facts.context import Context
    from vaelint.frontends.base import Program

_READ_THE_KL = ("VAE002", "VAE004")
_PASSED = "it is checked as the model's training step"  # liveprogram's note on a step whose loss reaches no sample


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
    passed = next((n for n in program.notes if n.endswith(_PASSED)), None)  # run: no backward reached a sample
    if (ran is None and passed is None) or ctx.roles.reparam is not None or ctx.roles.kl_terms or ctx.failure is not None or findings:
        return
    if not _other_backwards(program):
        return  # the file's one step: a model that is no VAE (a forecaster) is checked as what it is
    if ran is None and not _against_made_labels(ctx):
        return  # a step with no sample the run checks as what it is (a graph autoencoder's), unless it is a GAN's critic
    if _reconstructs_its_input(ctx) or (ran is None and _compares_an_output_with_its_input(ctx)):
        return  # an autoencoder's step (a VQ-VAE's, a plain AE's): checked as what it is, data or no data
    step = program.step.description if program.step is not None else "the step"
    if ran is None:
        # the run reached backwards, none of whose losses reached a random sample: the one checked is a
        # GAN discriminator's, a classifier's (a file training a GAN beside a VAE's file)
        raise VaelintError(
            "loss",
            f"{step} holds no VAE or autoencoder: running the code, no backward's loss reached a random sample, and the "
            "one checked has no KL and compares no output of its model with the data it was given (a GAN "
            "discriminator's step, a classifier's), while the file backpropagates elsewhere too, so no rule could "
            "check it. Check the file that trains the VAE, or name its training function with PATH.py:FUNCTION.",
        )
    why = ran[len(_RAN) : -len(_READ)].rstrip(")")
    raise VaelintError(
        "loss",
        f"{step}, found by reading the code, holds no VAE: its loss reaches no reparameterised sample and no KL, "
        f"while the file backpropagates elsewhere too, so no rule could check it. Running the code as written did not reach a step ({why}): "
        "give what that run needs (the data, or --input for it; --script-args), or name the VAE's training "
        "function with PATH.py:FUNCTION, or check the model with its loss (PATH.py:CLASS --loss FUNCTION --input SHAPE).",
    )


def _other_backwards(program: Program) -> bool:
    """Does the step's file call ``.backward()`` somewhere outside the step's own lines (code, not a
    comment or a string)?"""
    import ast

    from vaelint.source.files import read_source

    step = program.step
    if step is None or step.loc is None or step.lines is None:
        return False
    try:
        tree = ast.parse(read_source(step.loc.path))
    except (OSError, ValueError, SyntaxError):
        return False
    first, last = step.lines
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "backward"]
    return any(not first <= n.lineno <= last for n in calls)


_MADE_LABELS = {"ones", "zeros", "full", "ones_like", "zeros_like", "full_like", "new_ones", "new_zeros", "new_full", "fill_"}


def _against_made_labels(ctx: Context) -> bool:
    """Does a loss op of the step compare an output with labels the step makes (``torch.ones(B, 1)``
    for real, ``zeros`` for fake): a GAN critic's or generator's loss?"""
    from vaelint.capture.ops import RECON_LOSS_OPS, RESHAPE_OPS

    view = ctx.view
    for node in view.graph.nodes:
        if view.op(node) not in RECON_LOSS_OPS:
            continue
        for a in [a for a in list(node.args)[:2] if isinstance(a, fx.Node)]:
            while view.op(a) in RESHAPE_OPS and a.args and isinstance(a.args[0], fx.Node):
                a = a.args[0]
            if view.op(a) in _MADE_LABELS:
                return True
    return False


def _compares_an_output_with_its_input(ctx: Context) -> bool:
    """Does a loss op compare a layer's output with an input that output is computed from (an
    autoencoder with no sampler, a graph autoencoder's adjacency), where no sample marks the
    reconstruction? A discriminator's BCE against ones compares with no input."""
    view = ctx.view
    layers = view.with_parameters()
    return any(
        _compared_with_its_input(view, out, operands)
        for operands in _comparisons(view)
        for out in operands
        if any(view.depends_on(out, layer) for layer in layers)
    )


def _reconstructs_its_input(ctx: Context) -> bool:
    """Does the loss compare the model's output with an input the output is computed from (an
    autoencoder's reconstruction), not with another target (a forecaster's y)?"""
    view, recon = ctx.view, ctx.roles.recon
    if recon is None:
        return False
    return any(
        _compared_with_its_input(view, out, operands, recon)
        for operands in _comparisons(view)
        for out in operands
        if view.depends_on(out, recon)
    )


def _comparisons(view):
    """The tensor operands of each comparison of the graph (a loss op, a difference)."""
    from vaelint.capture.ops import RECON_LOSS_OPS

    for node in view.graph.nodes:
        if view.op(node) in RECON_LOSS_OPS or view.op(node) in ("sub", "rsub"):
            yield [a for a in list(node.args)[:2] if isinstance(a, fx.Node)]


def _compared_with_its_input(view, out, operands, made_of=None) -> bool:
    """Is ``out`` compared, among ``operands``, with an input it is computed from (or the data only
    of one), the other side not being ``made_of`` (the reconstruction) itself?"""
    inputs = [p for p in view.placeholders() if view.depends_on(made_of if made_of is not None else out, p)]
    return bool(inputs) and any(
        a in inputs or view.is_data_only(a) and any(view.depends_on(a, p) for p in inputs)
        for a in operands
        if a is not out and not (made_of is not None and view.depends_on(a, made_of))
    )


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
