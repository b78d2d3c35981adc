"""Where the code takes a batch (:class:`.live.Watch`): a second draw inside the step's own loop,
and a generator of the code's own that loops over a loader."""

from __future__ import annotations


def a_generator(frame) -> bool:
    import inspect

    return frame is not None and bool(frame.f_code.co_flags & inspect.CO_GENERATOR)


def drawn_inside_the_loop_of(last, frame, where) -> bool:
    """Is this draw, in the frame that took the last batch (before any model call: the same
    step), inside the body of the loop that took it (``for x in loader: x2 = next(iter(loader))``)
    or in the same loop body as that take (``x, _ = next(it); x_aux, _ = next(it)``)? A ``for``
    over another loader after a take (``x_val = next(iter(val)); for x in train:``) is no such draw."""
    if last is None or frame is None or last.frame is not frame or where[0] <= last.line[0]:
        return False
    import ast
    import os

    from vaelint.frontends.training.sites import parse_file

    file = parse_file(os.path.realpath(frame.f_code.co_filename))
    loops = [n for n in ast.walk(file.tree) if isinstance(n, (ast.For, ast.AsyncFor, ast.While))] if file else []
    if any(loop.lineno == where[0] and isinstance(loop, (ast.For, ast.AsyncFor)) for loop in loops):
        # a loop of its own over a loader, even inside the last take's loop (a loader built per
        # episode, `for ep in episodes: for x in DataLoader(ep["obs"])`): its batch is the step's
        return False
    if any(loop.lineno == last.line[0] and loop.body[0].lineno <= where[0] <= (loop.end_lineno or 0) for loop in loops):
        return True
    around = [loop for loop in loops if loop.body[0].lineno <= last.line[0] <= (loop.end_lineno or 0)]
    inner = max(around, key=lambda loop: loop.body[0].lineno, default=None)
    return inner is not None and where[0] <= (inner.end_lineno or 0)


def trained_objects(frame) -> tuple:
    """id()s of the objects the taking function was handed (its arguments that are no plain
    values: a model, a loss function, a trainer's ``self``): one function that trains a plain
    autoencoder first, then the VAE (``for model, loss in [(AE(), ...), (VAE(), ...)]: fit(model,
    loss, loader)``), takes from the same loop for each, and each is a loop of its own. An
    epoch's call of ``train(epoch)`` is handed the same objects: its loop is the one it was."""
    if frame is None:
        return ()
    code = frame.f_code
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    values = [frame.f_locals.get(n) for n in names]
    return tuple(id(v) for v in values if v is not None and not isinstance(v, (bool, int, float, str, bytes, tuple, list, dict)))


class ModelCall(tuple):
    """A top-level model call of the run, ``(module, args)``, whether autograd recorded it (a call
    under ``torch.no_grad()`` before the loop, a shape check on ``X[:1]``, is not the step's), and the
    autograd nodes of its output (a forward that builds lazy layers before the optimiser is made
    reaches no loss)."""

    graded = True
    out_fns: tuple = ()
    site = None  # (code, (line, column)) of the user's statement that made the call

    def note_output(self, output) -> None:
        from torch.utils._pytree import tree_leaves

        # their ids only: holding the nodes kept every call's graph alive (an evaluation pass chunk by chunk before
        # training grew by its activations); an id reused after one is freed only ranks a call, never decides alone
        self.out_fns = tuple(id(f) for f in (getattr(t, "grad_fn", None) for t in tree_leaves(output)) if f is not None)


def model_call(module, args, site=None) -> ModelCall:
    import torch

    call = ModelCall((module, args))
    call.graded, call.site = torch.is_grad_enabled(), site
    return call


def zip_parts(last, value) -> tuple:
    """Each zipped loader's item count (-1: a bare tensor), for a name bound to the zip's pairs:
    ``last`` the batch taken so far by the same statement (a Taken), ``value`` the next loader's."""
    part = lambda batch: (len(batch),) if isinstance(batch, (tuple, list)) else (-1,)  # noqa: E731
    return (*(last.parts or part(last.value)), *part(value))
