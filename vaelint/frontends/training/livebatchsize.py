"""``--input`` at a batch size the code never takes: the step ran on ``--input``'s batch and raised
a shape error, while every loader the run read makes batches of another size. Code that writes its
batch size down beside a loader of that size (an RNN state ``torch.zeros(BATCH, h)`` with
``DataLoader(batch_size=BATCH, drop_last=True)``) fails only at the batch the user typed, and the
report blamed the code (VAE013 at the cat, every loss rule not checked) for the size on the command
line (helper-found). The run is made again at the loader's batch size: if it reaches the step there,
that is what is checked, with a note of the batch that failed; where the loader can also give a
smaller last batch, VAE005's run at another batch size says what writes the size down."""

from __future__ import annotations

from dataclasses import replace


def again_at_the_loaders_batch(frontend, ref, request, home, run_error):
    """The run made again at the batch size of the code's loaders, where --input's batch of another
    size raised a shape error (above); None where there is no such size or that run fails too."""
    import os
    import sys

    from vaelint.errors import VaelintError
    from vaelint.frontends.training.freshimports import forget_modules_since
    from vaelint.frontends.training.liveprogram import live_program

    size = getattr(run_error, "loader_batch", None)
    if size is None:
        return None
    given = _given_batch(request.inputs)
    before = set(sys.modules)
    try:
        program = live_program(frontend, ref, at_the_batch(request, size), home)
    except VaelintError:
        forget_modules_since(before, [os.getcwd(), os.path.dirname(home.path)])
        return None
    program.notes.insert(0, note_for(run_error, given, size))
    if not program.inputs_over_given:  # what the capture runs: --input's samples at the loader's batch
        program.inputs = program.inputs or at_the_batch(request, size).inputs
        program.inputs_over_given, program.inputs_origin = True, f"--input's samples at the loader's batch of {size}"
    return program


def record_loader(watch, loader) -> None:
    """The batch size a loader the run read was built with (``DataLoader.batch_size``)."""
    size = getattr(loader, "batch_size", None)
    if isinstance(size, int) and not isinstance(size, bool) and size > 1:
        watch.loader_batches.add(size)


def the_loaders_batch(runtime, watch, request) -> int | None:
    """The one batch size the run's loaders make, where the run stopped at a shape error on
    ``--input``'s batch of another size: the size to run the code again at."""
    from vaelint.errorkinds import kind_of
    from vaelint.vocab import ErrorKind

    given = _given_batch(request.inputs)
    if given is None or not runtime.stops or len(watch.loader_batches) != 1 or watch.taken is None:
        return None
    size = next(iter(watch.loader_batches))
    _where, error = runtime.stops[0]
    if size == given or kind_of(error) is not ErrorKind.SHAPE:
        return None
    return size


def _given_batch(specs: list) -> int | None:
    batched = [s for s in specs if s.unbatched is None and not s.indexes_batch]
    return batched[0].batch if batched else None


def at_the_batch(request, size: int):
    """The request with its ``--input`` specs at ``size`` samples a batch (those at the batch typed)."""
    given = _given_batch(request.inputs)
    specs = []
    for s in request.inputs:
        if s.unbatched is not None or s.batch != given:
            specs.append(s)
        elif s.indexes_batch:
            specs.append(replace(s, shape=s.sized(size), high=size))
        else:
            specs.append(replace(s, shape=s.sized(size)))
    return replace(request, inputs=specs)


def note_for(run_error, given: int, size: int) -> str:
    """What the report says of the batch typed and the batch checked."""
    stop = getattr(run_error, "stop_text", "") or "a shape error"
    return (
        f"--input's batch of {given} is not the batch size of the code's loader ({size}), and at {given} the step raised "
        f"({stop}); checked at the loader's batch of {size} (give --input at {size}, or leave --input out)"
    )


def stop_text(runtime) -> str:
    """Where and what the run's first stop was, in a line."""
    from vaelint.errors import clipped

    where, error = runtime.stops[0]
    said = clipped(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__, 200)
    return f"{where}: {type(error).__name__}: {said}" if where else f"{type(error).__name__}: {said}"
