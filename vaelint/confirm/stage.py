"""The confirmation stage of one target: what the findings need of the pass, the
pass itself (vaelint/confirm/forward_backward.py), and each rule's verdict on its
finding."""

from __future__ import annotations

from vaelint.capture.ops import RANDOM_OPS
from vaelint.catalogue import rule_bug
from vaelint.confirm.devicechoice import asserts_on_cuda
from vaelint.confirm.forward_backward import confirm_run, lives_on, whole_model_checks
from vaelint.diagnostics import TargetResult
from vaelint.errors import VaelintError
from vaelint.vocab import ConfirmNeed


def confirm_findings(ctx, findings: list[tuple], device: str, keep_graph: bool, result: TargetResult, progress) -> None:
    """Run the pass on ``device`` and mark each finding confirmed true, false or None."""
    runs = ctx.runs
    if device.startswith("cuda") and runs.failure is not None and asserts_on_cuda(runs.failure.error):
        # the model raises at the user's batch: on CUDA that error may be a device-side
        # assert (binary_cross_entropy of values outside [0, 1]), which leaves the process
        # no usable GPU; the CPU raises it as an exception the rules can read
        result.notes.append(
            f"the model raises at batch {runs.failure.batch} on the CPU, so the confirmation pass ran "
            "there as well (on CUDA the same error can be a device-side assert)"
        )
        device = "cpu"
        keep_graph = keep_graph and lives_on(ctx.capture.wrapper, device)  # the kept run is of the device it ran on
    progress("confirmation")
    needs = set().union(*(_confirm_needs(rule, f, ctx) for rule, f in findings))
    dead = dead_activations(ctx)
    if not keep_graph:
        let_go_of_inner_activations(ctx)
    obs = confirm_run(
        ctx.capture,
        ctx.specs,
        device,
        ctx.roles.total_value,
        doubled=ConfirmNeed.DOUBLED_BATCH in needs,
        reuse=runs.runs[runs.batch] if keep_graph else None,
        retain_graph=ConfirmNeed.GRAPH in needs,
        keep=ctx.read_after_run(),
        random_nodes=ctx.nodes_by_op(*RANDOM_OPS),
        contracts=ctx.contracts if ConfirmNeed.CONTRACT_RUN in needs else None,
    )
    if obs.skipped:
        result.notes.append(obs.skipped)
        return
    result.confirmed_on = device
    for rule, f in findings:
        try:
            f.confirmed = rule.confirm(f, ctx, obs)
        except Exception as e:  # noqa: BLE001
            result.notes.append(rule_bug(rule, "confirm", e))
    result.checks = whole_model_checks(ctx, obs)
    failed = [c for c in result.checks if not c.ok]
    if failed:
        from vaelint.confirm.inplace import inplace_text

        tensors = obs.result.tensors if obs.result is not None else None
        written = inplace_text(ctx.capture.graph, obs.backward_error, tensors, ctx.capture.modules)
        if written:  # the code's own failure, at its lines: python stops at the same backward
            raise VaelintError("loss", written)
        said = not_finite_text(ctx, obs, failed) + dead_activation_text(ctx, failed, dead)
        if not findings:  # a check that failed is never "no findings": exit 2 saying what failed
            hint = (
                " The loss checked is one number: check the training script that reduces these terms "
                "(vaelint check train.py), or give --loss a function that returns the loss as the training does."
                if any(c.name == "loss" and c.detail.startswith("not a scalar") for c in failed)
                else ""
            )
            raise VaelintError("loss", f"the confirmation run failed ({said}); no rule explains it, so the check cannot pass.{hint}")
        result.notes.append(f"the confirmation run failed: {said}")


def not_finite_text(ctx, obs, failed) -> str:
    """What failed in the real run, and where a value first stopped being finite."""
    text = "; ".join(f"{c.name} {c.detail}" for c in failed)
    node = obs.nonfinite
    if node is None:
        return text
    from vaelint.facts.context import loc_of

    loc = loc_of(node)
    at = f" at {loc.where()}" if loc is not None else ""
    made = f"`{ctx.view.op(node)}`{at}, of shape {ctx.shape_text(node)}"
    negative = _negative_input(ctx, obs, node)
    if negative:
        return f"{text}. The first value that is not finite is {made}: {negative}"
    return (
        f"{text}. The first value that is not finite is {made}, computed from finite values: a log of 0, an "
        "exp that overflows (a log-variance head with no bound), or a division by 0 there"
    )


def _negative_input(ctx, obs, node) -> str:
    """A log or a square root of values below 0, said with what they are: the sampler's scale head
    read as a standard deviation with nothing that keeps it positive (a plain Linear's output); ""."""
    from vaelint.facts.context import loc_of

    op = ctx.view.op(node)
    src = next((a for a in node.all_input_nodes if a.op != "get_attr"), None)
    value = obs.value(src) if op in ("log", "log2", "log10", "sqrt", "rsqrt") and src is not None else None
    if value is None or not hasattr(value, "is_floating_point") or not value.is_floating_point():
        return ""
    below = int((value < 0).sum())
    if not below:
        return ""
    said = f"a {op} of negative values ({below} of its {value.numel()} inputs are below 0)"
    layer = next((r for r in ctx.roles.reparams if src in (r.std, r.logvar) and r.std is r.logvar), None)
    if layer is None:
        return said
    head = loc_of(layer.std)
    where = f" (at {head.where()})" if head is not None else ""
    return (
        f"{said}: they are the sampler's scale head{where}, a layer's output read as a standard deviation with "
        "nothing that keeps it positive. Make it positive (std = F.softplus(h) + 1e-4), or predict a log-variance "
        "and use std = torch.exp(0.5 * logvar)"
    )


_CLIPPING = ("relu", "relu_", "relu6", "threshold", "hardtanh", "clamp", "clamp_", "clamp_min", "clip")


def dead_activations(ctx) -> list:
    """The clipping activations (ReLU, clamp, ...) of the run at the user's batch whose every
    value is 0 at this initialisation, read before the inner activations are let go."""
    import torch

    held = ctx.runs.runs[ctx.runs.batch].tensors
    return [
        n
        for n in ctx.nodes_by_op(*_CLIPPING)
        if isinstance(held.get(n), torch.Tensor) and held[n].numel() and not torch.count_nonzero(held[n])
    ]


# a tensor of more elements than this that nothing reads once the rules have run is let go
_LARGE = 1 << 16


def let_go_of_inner_activations(ctx) -> None:
    """The rules have run: the encoder's and decoder's inner activations the run at the user's
    batch holds (the bulk of a forward's memory: 1.4 GiB of an SD-VAE's at 2x3x128x128) are read
    by nothing that follows, and would sit beside the confirmation's own forward and backward."""
    import torch

    run = ctx.runs.runs[ctx.runs.batch]
    keep = ctx.read_after_run()
    for node in [n for n, t in run.tensors.items() if n not in keep and getattr(t, "numel", lambda: 0)() > _LARGE]:
        del run.tensors[node]
    for node, t in run.tensors.items():  # what is kept keeps no autograd graph: that graph holds every activation
        if isinstance(t, torch.Tensor) and t.grad_fn is not None:
            run.tensors[node] = t.detach()


def dead_activation_text(ctx, failed, dead: list) -> str:
    """A stage whose gradient is 0 while the loss is finite: the activation that lets none through
    (a ReLU whose every value is 0 at this initialisation: ``dead``), named with its line; '' when none is."""
    from vaelint.facts.context import loc_of

    if not any(c.name.endswith("gradient") and c.detail == "norm 0" for c in failed):
        return ""
    if not dead:
        return ""
    node = dead[-1]  # the one nearest the loss: what is before it gets nothing either
    loc = loc_of(node)
    at = f" at {loc.where()}" if loc is not None else ""
    return (
        f": every value of `{ctx.view.op(node)}`{at}, of shape {ctx.shape_text(node)}, is 0 at this initialisation, "
        "so no gradient passes it and training would not move what comes before it (a dead ReLU; on a decoder's "
        "output it clips a reconstruction that starts below 0). End the decoder with no activation, a sigmoid "
        "or a softplus, or initialise it so that its output starts above 0"
    )


def _confirm_needs(rule, finding, ctx) -> set[ConfirmNeed]:
    try:
        return set(rule.confirm_needs(finding, ctx))
    except Exception:  # noqa: BLE001 - its confirm will say what went wrong
        return set(ConfirmNeed)
