"""The confirmation pass: a real forward, loss and backward on the device.

Static facts say what should go wrong; this pass shows it happening on the
device the model will train on (CUDA when available, else the CPU), in
training mode, seeded, with the caller's RNG state restored afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vaelint.capture import Capture, RunResult
from vaelint.inputs import InputSpec
from vaelint.shapes import make_inputs


@dataclass
class Observation:
    device: str
    result: RunResult | None
    error: BaseException | None = None
    loss_value: float | None = None
    backward_error: BaseException | None = None
    notes: list[str] = field(default_factory=list)

    def shapes_at(self, node) -> list[tuple] | None:
        """Shapes of the tensors that reached ``node`` in this run."""
        if self.result is None or node is None:
            return None
        out = [self.result.shapes.get(a) for a in node.all_input_nodes if a.op != "get_attr"]
        return None if any(s is None for s in out) else out


def pick_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def confirm_run(capture: Capture, specs: list[InputSpec], device: str, total_of, seed: int = 0) -> Observation:
    """Run forward + loss + backward at the user's batch on ``device``."""
    wrapper = capture.wrapper
    wrapper.train()
    try:
        wrapper.to(device)
    except RuntimeError as e:  # e.g. out of memory while moving the weights
        return Observation(device, None, error=e, notes=[f"could not move the model to {device}: {e}"])
    batch = specs[0].batch
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        inputs = tuple(t.to(device) for t in make_inputs(specs, batch, seed))
        result = capture.run(inputs, batch)
        obs = Observation(device, result, error=result.failure.error if result.failure else None)
        if result.failure is None:
            total = total_of(result.output)
            if isinstance(total, torch.Tensor) and total.numel() == 1:
                obs.loss_value = float(total.detach())
                if total.requires_grad:
                    try:
                        total.backward()
                    except RuntimeError as e:
                        obs.backward_error = e
    wrapper.zero_grad(set_to_none=True)
    return obs
