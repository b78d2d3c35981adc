"""The target's run on the simulated GPU (:mod:`vaelint.confirm.simdevice`), made once per
target for VAE012: at the user's batch, or for a large model at the smallest batch the shape
runs took, its meetings said at the user's batch."""

from __future__ import annotations

from dataclasses import replace

from vaelint.confirm.simdevice import Simulation, simulate

# parameters above which the simulated run takes the smallest batch the shape runs took: where
# tensors meet does not hang on the batch, and a large model's activations at the user's batch
# beside the check's own took a 151M-parameter NVAE out of memory at batch 32
LARGE_MODEL = 20_000_000


def simulated_run(ctx) -> Simulation:
    """The target's model and loss on the simulated device, at the user's batch, or a smaller one
    the shape runs took for a large model (computed once per target; VAE012 reads it)."""
    if "simulated_device" not in ctx.cache:
        from vaelint.facts.shapes import make_inputs

        wrapper = ctx.capture.wrapper
        batch = _batch_for(ctx, wrapper)
        hook, wrapper._on_output = wrapper._on_output, None  # the capture's hook writes graph nodes
        # a GPU run starts from the model as it was moved there: a state the CPU runs kept on it
        # (an LSTM's h, c of the last batch, self.h = h.detach()) is made on the device in training
        ctx.capture.restore_tensors()
        try:
            # a training step's batch comes from its loader on the CPU and the step moves it; where
            # the step moves none of it, the batch is taken to be on the GPU already, as a model's is
            step = getattr(ctx.program, "step", None) is not None
            # code that chose a device and never moved the model: its weights stay on the CPU there
            unmoved = step and ctx.program.step.model_left_on_cpu and not _moved_where_cuda_is(ctx.program)
            sim = simulate(wrapper, make_inputs(ctx.specs, batch), ctx.capture.reseed, batch_on_cpu=step, model_on_cpu=unmoved)
            if unmoved and not sim.batch_moved:  # nor its batch: the step runs where it is, on the CPU
                ctx.capture.restore_tensors()
                sim = simulate(wrapper, make_inputs(ctx.specs, batch), ctx.capture.reseed, batch_on_cpu=True)
            if step and not sim.batch_moved:
                ctx.capture.restore_tensors()
                sim = simulate(wrapper, make_inputs(ctx.specs, batch), ctx.capture.reseed)
        finally:
            wrapper._on_output = hook
        if batch != ctx.batch:  # said at the user's batch; the shape runs' batches collide with no model size
            sim.meetings = [replace(m, shape=tuple(ctx.batch if d == batch else d for d in m.shape)) for m in sim.meetings]
        ctx.cache["simulated_device"] = sim
    return ctx.cache["simulated_device"]


def _moved_where_cuda_is(program) -> bool:
    """``if torch.cuda.is_available(): model.cuda()`` after the line that builds the model: a GPU
    machine takes that branch, so its weights are on the GPU there (a notebook's commonest move)."""
    from vaelint.source.setupmoves import device_test_move

    sites = getattr(program, "module_sites", None) or {}
    built = next((sites[id(m)] for m in program.model.modules() if id(m) in sites), None)
    moved = device_test_move(built) if built is not None else None
    return moved is not None and moved[1].replace(" ", "") in ("torch.cuda.is_available()", "cuda.is_available()")


def _batch_for(ctx, model) -> int:
    """The user's batch, or for a large model the smallest other batch the shape runs took."""
    from torch.nn.parameter import is_lazy

    if sum(p.numel() for p in model.parameters() if not is_lazy(p)) < LARGE_MODEL:
        return ctx.batch
    runs = getattr(ctx.runs, "runs", {})
    took = [b for b, run in runs.items() if b < ctx.batch and run.failure is None]
    return min(took, default=ctx.batch)


def on_a_real_gpu(ctx) -> bool:
    """Are the model's weights on this machine's GPU (the code moved them there and its step ran)?"""
    return any(p.is_cuda for p in ctx.capture.wrapper.parameters())
