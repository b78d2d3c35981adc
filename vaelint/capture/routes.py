"""The capture routes, as an ordered list: each is asked in turn, and the first
whose graph runs at every batch size the shapes stage asks for is kept.

A route is a :class:`Route` with ``try_capture(job, refused) -> Capture | Refusal``
and the capabilities the rules and readings ask of a graph (``literal_ints``)
instead of testing which route made it. Adding a route is one module with a
``Route`` subclass and one entry in :func:`routes` (README, "Development").
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Callable

from vaelint.capture.recording import RecordingRoute
from vaelint.capture.route import Captured, CaptureJob, Refusal, Route, restore_tensors, saved_attributes
from vaelint.capture.samereads import merge_same_reads
from vaelint.capture.symbolic import SymbolicRoute
from vaelint.errors import VaelintError


def routes() -> list[Route]:
    """The routes in the order they are tried."""
    return [SymbolicRoute(), RecordingRoute()]


def capture_and_run(job: CaptureJob, run: Callable) -> Captured:
    """The first route whose capture runs at every batch (``run(capture, specs,
    keep_graph=...)``, the shapes stage); when every route's graph raises, the
    first attempt whose error is the model's own (never one a route made)."""
    job.program.before_capture(job.inputs)
    job.binding_facts = binding_facts(job.program, job.plan)
    job.saved = saved_attributes(job.program.model)
    candidates = [r for r in routes() if r.applies(job.program)]
    refused: list[Refusal] = []
    for route in candidates:
        # what an earlier route's trace or runs stored on the model (self.x = x.cuda()
        # in the loss stores a Proxy) must not meet this route's run
        job.restore_attributes()
        got = route.try_capture(job, refused)
        if isinstance(got, Refusal):
            refused.append(got)
            continue
        # the report names the route that gave the graph, and why the ones before it did not
        got.route, got.method, got.fallback_reason = route, route.name, fallback_reason(refused)
        got.restore_tensors = functools.partial(restore_tensors, job.saved)
        merge_same_reads(got.graph)  # logvar[:, :k] read twice is one value for every rule
        try:
            attempt = Captured(got, run(got, job.specs, keep_graph=job.keep_graph), got.binder)
        except VaelintError:
            raise
        except Exception as e:  # noqa: BLE001 - a graph vaelint cannot run: the next route
            if route is candidates[-1]:
                raise
            refused.append(Refusal(route, route.could_not_run(e)))
            continue
        if attempt.runs.failure is None:
            return attempt
        refused.append(Refusal(route, route.graph_raised(job.specs[0].batch), attempt))
    attempts = [r for r in refused if r.attempt is not None]
    if not attempts:
        raise RuntimeError(f"no capture route gave a graph: {'; '.join(r.reason for r in refused)}")
    own = [r for r in attempts if not r.route.own_error(r.attempt.runs.failure.error)]
    return (own[0] if own else attempts[-1]).attempt


def fallback_reason(refused: list[Refusal]) -> str | None:
    """Why the routes before this one gave no graph (the report's fallback reason)."""
    return refused[-1].reason if refused else None


def binding_facts(program, plan) -> tuple:
    """(the forward's returned names, where the code calls the loss): what the
    user's code says about binding the loss (vaelint/capture/bindnames.py)."""
    from vaelint.capture.bindnames import call_site_sources, return_names

    if plan is None or program.step is not None:
        return {}, None
    names = return_names(program.forward_fn())
    paths = [program.path]
    try:
        loss_file = inspect.getsourcefile(getattr(plan.fn, "__func__", plan.fn))
    except TypeError:
        loss_file = None
    if loss_file:
        paths.append(os.path.realpath(loss_file))
    folder = os.path.dirname(program.path)
    try:
        paths += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py"))[:30]
    except OSError:
        pass
    return names, call_site_sources(plan.fn, program.model, list(dict.fromkeys(paths)))
