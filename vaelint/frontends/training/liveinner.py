"""A backward inside the step that comes before the VAE's own (:mod:`.live`): FactorVAE trains
its total-correlation discriminator inside the loss function (``d_loss.backward(retain_graph=True)``
on the sample z), then the step backpropagates the VAE's loss. The first reaches the sample, as a
VAE loss does, but not through the model's first output (the reconstruction) and so trains only
part of what the model computed with (its encoder, not its decoder), while the code
backpropagates again after it: it is passed over, as a discriminator's backward is, and the run
goes on to the VAE's."""

from __future__ import annotations


def trains_part_before_the_vaes(capture, first_output) -> bool:
    """Does this backward's loss leave out parameters the step's first model call computed its
    output with, while a frame on the way to it backpropagates again later?"""
    outputs = tensors_in(first_output) if first_output is not None else []
    if not outputs or getattr(outputs[0], "grad_fn", None) is None:
        return False
    if _reaches(capture.loss, outputs[0].grad_fn):
        return False  # it trains through the model's first output (the reconstruction): a VAE's loss
    used = parameters_reached(outputs)
    if not used or used <= parameters_reached(tensors_in(capture.loss)):
        return False
    from vaelint.frontends.training.liveoptim import backward_after

    return any(backward_after(frame.f_code.co_filename, line[0] if isinstance(line, tuple) else line) for frame, line, _ in capture.frames)


def _reaches(loss, node) -> bool:
    """Is ``node`` (an autograd node) in the graph the loss backpropagates through?"""
    from vaelint.frontends.training.autogradwalk import autograd_nodes

    return any(n is node for n in autograd_nodes([getattr(loss, "grad_fn", None)], limit=None))


def tensors_in(value) -> list:
    """The tensors in a value (a tensor, or a tuple, list or dict of them, nested)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


def parameters_reached(tensors: list) -> set:
    """id()s of the parameters the tensors' autograd graphs reach."""
    from vaelint.frontends.training.autogradwalk import autograd_nodes

    nodes = autograd_nodes([getattr(t, "grad_fn", None) for t in tensors], limit=None)
    return {id(node.variable) for node in nodes if getattr(node, "variable", None) is not None}
