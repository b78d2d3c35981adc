"""The confirmation pass: a real forward, loss and backward on the device.

Static facts say what should go wrong; this pass shows it happening on the
device the model will train on (CUDA when available, else the CPU), in
training mode, seeded, with the caller's RNG state restored afterwards. It
runs at the user's batch and at a second batch that repeats the first one
(2*B), so terms that sum over the batch double while averaged ones stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vaelint.capture.result import Capture, RunResult
from vaelint.diagnostics import Check
from vaelint.facts.shapes import make_inputs
from vaelint.inputs import InputSpec
from vaelint.modes import set_training
from vaelint.runtime.concurrency import available_memory


@dataclass
class Observation:
    device: str
    result: RunResult | None  # at the user's batch
    error: BaseException | None = None
    doubled: RunResult | None = None  # the same samples twice (2*B)
    loss_value: float | None = None
    backward_error: BaseException | None = None
    grads: dict = field(default_factory=dict)  # parameter name -> gradient norm (None: none reached it)
    skipped: str | None = None  # why the pass did not run
    # the annotated calls of an eager run on the device, with their real tensors
    # (vaelint/contracts/calls.py), when a finding asked for them
    contract_calls: list | None = None
    # the first node (in the order the run computed them) whose value holds a NaN or an inf
    # while the values it was computed from are finite: where a non-finite loss began
    nonfinite: object = None

    def shapes_at(self, node) -> list[tuple] | None:
        """Shapes of the tensors that reached ``node`` in this run."""
        if self.result is None or node is None:
            return None
        out = [self.result.shapes.get(a) for a in node.all_input_nodes if a.op != "get_attr"]
        return None if any(s is None for s in out) else out

    def value(self, node, doubled: bool = False):
        run = self.doubled if doubled else self.result
        return run.tensors.get(node) if run is not None and node is not None else None


def pick_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def lives_on(model, device: str) -> bool:
    """Are the model's weights on ``device`` already (the CPU, or a GPU the code moved them to)?
    Then the shapes stage's run at the user's batch ran there, and the confirmation can take its
    forward instead of running another: on a GPU that second forward's activations doubled the
    check's memory (an SD-VAE at 2x3x512x512: 55 GiB against its step's 21)."""
    tensors = [*model.parameters(), *model.buffers()]
    if not tensors:
        return device == "cpu"
    return all(t.device.type == torch.device(device).type for t in tensors)


def fits(model, device: str) -> str | None:
    """A reason to skip, when a training step would not fit the device's free memory
    (the static analysis stands; a kill by the out-of-memory killer says nothing)."""
    from torch.nn.parameter import is_lazy

    need = sum(p.numel() * p.element_size() for p in model.parameters() if not is_lazy(p))  # a lazy one has no size yet
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
    else:
        free = available_memory()
        if free is None:
            return None
        free += need  # the weights are already in memory
    if need * 4 > free:  # weights, gradients and activations need a few times the weights
        return f"the model needs about {need * 4 / 2**30:.1f} GiB and {device} has {free / 2**30:.1f} GiB free"
    return None


def confirm_run(
    capture: Capture,
    specs: list[InputSpec],
    device: str,
    total_of,
    seed: int = 0,
    doubled: bool = True,
    reuse: RunResult | None = None,
    retain_graph: bool = True,
    keep: set | None = None,
    random_nodes: list | None = None,
    contracts=None,
) -> Observation:
    """Forward, loss and backward at the user's batch on ``device``, and, when
    ``doubled``, a forward at 2*B (the same samples twice). ``reuse``: a run at
    the user's batch on this device that kept its autograd graph (the shape
    stage's, same seed and inputs): its forward is not repeated. ``retain_graph``
    keeps the graph after the backward (for gradients between nodes); ``keep``:
    the nodes whose tensors anything reads after the run, the others' large
    tensors are let go before the backward, which can then free them. The
    doubled batch replays the first run's draws of ``random_nodes`` twice over,
    so that it really is the same samples, noise included. ``contracts``: the
    annotated functions to watch on one more, eager run (VAE014's confirmation)."""
    wrapper = capture.wrapper
    set_training(wrapper)
    try:
        reason = fits(wrapper, device)
        if reason:
            return Observation(device, None, skipped=f"confirmation pass skipped: {reason}")
        wrapper.to(device)
    except RuntimeError as e:  # out of memory while moving the weights
        return Observation(device, None, error=e, skipped=f"confirmation pass skipped: could not move the model to {device} ({e})")
    batch = specs[0].batch
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    try:
        with torch.random.fork_rng(devices=devices):
            capture.reseed(seed)
            # the inputs are drawn again only for a run that needs them (a reused forward does not:
            # 25 ms of drawing at 32x3x256x256)
            needs_inputs = reuse is None or doubled or bool(contracts)
            inputs = tuple(t.to(device) for t in make_inputs(specs, batch, seed)) if needs_inputs else ()
            obs = _forward_backward(capture, inputs, batch, device, total_of, reuse, retain_graph, keep)
            if reuse is not None and "modified by an inplace operation" in str(obs.backward_error or ""):
                # a buffer of the code's that each run refills in place (input.resize_as_(batch).copy_(batch),
                # old DCGAN-style loops): the runs after the reused one wrote it again; a run of its own
                capture.reseed(seed)
                inputs = inputs or tuple(t.to(device) for t in make_inputs(specs, batch, seed))
                obs = _forward_backward(capture, inputs, batch, device, total_of, None, retain_graph, keep)
            if doubled and obs.result is not None and obs.result.failure is None:
                twice = tuple(s.doubled(t, batch) for t, s in zip(inputs, specs))
                replay = {}
                for node in random_nodes or ():
                    drawn = obs.result.tensors.get(node)
                    # along its batch axis: dim 0 where that is the batch's size, else the first that is
                    axis = next((i for i, size in enumerate(drawn.shape) if size == batch), None) if drawn is not None else None
                    if axis is not None:
                        replay[node] = torch.cat([drawn.detach(), drawn.detach()], dim=axis)
                with torch.no_grad():
                    obs.doubled = capture.run(twice, 2 * batch, replay=replay)
            if contracts:
                from vaelint.contracts.calls import concrete_calls

                capture.reseed(seed)
                obs.contract_calls = concrete_calls(capture, contracts, inputs)
    except torch.cuda.OutOfMemoryError as e:
        obs = Observation(device, None, error=e, skipped=f"confirmation pass stopped: {device} ran out of memory")
    finally:
        wrapper.zero_grad(set_to_none=True)
        wrapper.to("cpu")
    return obs


# a tensor of more elements than this that nothing reads after the run is let go
_LARGE = 1 << 16


def _forward_backward(capture, inputs, batch, device, total_of, reuse=None, retain_graph=True, keep=None) -> Observation:
    result = reuse if reuse is not None else capture.run(inputs, batch, keep_autograd=True)
    total = total_of(result.output) if result.failure is None else None
    if isinstance(total, torch.Tensor) and total.numel() == 1 and not bool(torch.isfinite(total.detach())):
        nonfinite = first_nonfinite(result.tensors)  # before the large values are let go
    else:
        nonfinite = None
    if keep is not None:
        for node in [n for n, t in result.tensors.items() if n not in keep and t.numel() > _LARGE]:
            del result.tensors[node]
    obs = Observation(device, result, error=result.failure.error if result.failure else None, nonfinite=nonfinite)
    if result.failure is not None:
        return obs
    if not isinstance(total, torch.Tensor) or total.numel() != 1:
        return obs
    obs.loss_value = float(total.detach())
    if not total.requires_grad:
        return obs
    try:
        total.backward(retain_graph=retain_graph)
    except RuntimeError as e:
        obs.backward_error = e
        return obs
    # keep each gradient's norm, not the gradient: a copy of every gradient would
    # hold another set of weights in memory (8.6 GB more at 1e9 parameters)
    for name, p in capture.wrapper.named_parameters():
        if p.requires_grad:
            obs.grads[name.removeprefix("model.")] = None if p.grad is None else float(torch.linalg.vector_norm(p.grad))
    return obs


def first_nonfinite(tensors: dict):
    """The first node, in the order the run computed them, whose floating value is not finite."""
    for node, value in tensors.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            if not bool(torch.isfinite(value.detach()).all()):
                return node
    return None


def gradient_of(obs: Observation, output_node, input_node) -> float | None:
    """|d output / d input| in the real run; 0.0 when no gradient path exists."""
    if obs.result is None:
        return None
    out, inp = obs.value(output_node), obs.value(input_node)
    if out is None or inp is None or not out.requires_grad or not inp.requires_grad:
        return 0.0 if out is not None and inp is not None else None
    (grad,) = torch.autograd.grad(out.sum(), inp, retain_graph=True, allow_unused=True)
    return 0.0 if grad is None else float(grad.detach().abs().sum())


def whole_model_checks(ctx, obs: Observation) -> list[Check]:
    """The loss is a finite scalar; each stage's gradient is finite and non-zero."""
    import math

    checks = []
    if ctx.has_loss and obs.error is None:
        value = obs.loss_value
        ok = value is not None and math.isfinite(value)
        checks.append(Check("loss", ok, f"{value:.6g}" if value is not None else f"not a scalar{_what_came_back(obs)}"))
    if obs.grads:
        for stage, names in ctx.stage_params().items():
            grads = [obs.grads.get(n) for n in names if n in obs.grads]
            if not grads:
                continue
            norm = math.sqrt(sum(g * g for g in grads if g is not None))
            ok = math.isfinite(norm) and norm > 0
            checks.append(Check(f"{stage} gradient", ok, f"norm {norm:.3g}"))
    if obs.backward_error is not None:
        checks.append(Check("backward", False, str(obs.backward_error).splitlines()[0]))
    return checks


def _what_came_back(obs: Observation) -> str:
    """What a loss that is no one number gave: ``: a tensor of shape 8`` or ``: 2 tensors of shapes 8, 8``."""
    out = obs.result.output if obs.result is not None else None  # what the loss returned
    items = list(out) if isinstance(out, (tuple, list)) else list(out.values()) if isinstance(out, dict) else [out]
    shapes = [" x ".join(map(str, t.shape)) or "scalar" for t in items if isinstance(t, torch.Tensor)]
    if len(shapes) == 1:
        return f": a tensor of shape {shapes[0]}"
    return f": {len(shapes)} tensors of shapes {', '.join(shapes)}" if shapes else ""
