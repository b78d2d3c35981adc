"""Step 1 of reading the Gaussian KL element (vaelint/facts/gaussian_kl.py): the part of the
captured graph between the encoder's heads and the KL element evaluated again, node by node, in
float64 from the run's own head values, so the user's formula is read without float32 rounding."""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import Tensor

from vaelint.inputs import same_kind


@dataclass
class Replayed:
    values: dict  # target node -> value
    dtype: torch.dtype  # the lowest float precision an op computed in (float64 unless one cast down)


def replay(graph: fx.Graph, modules: dict, targets: list[fx.Node], seeds: dict, run, fixed: dict | None = None) -> Replayed | None:
    """Evaluate ``targets`` again in float64 from ``seeds`` (node -> tensor).

    Nodes that depend on a seed are recomputed (floating results widened to
    float64, so a ``.float()`` in the formula does not bring the rounding
    back; an op that computes in lower precision inside is noted in
    ``dtype``); the other nodes they read keep the run's values (``run``: a
    :class:`vaelint.capture.result.RunResult`). ``fixed`` nodes keep the given values
    and pass no change on (a sample held still). None when a node cannot be replayed.
    """
    fixed = fixed or {}
    live = _recomputed(graph, targets, seeds, fixed)
    env: dict = {n: t.detach().to(torch.float64).clone() for n, t in {**fixed, **seeds}.items()}
    lowest = torch.float64
    for node in graph.nodes:
        if node not in live or node in env:
            continue
        for a in node.all_input_nodes:
            if a not in env:
                value = _recorded(a, run)
                if value is _MISSING:
                    return None
                env[a] = value
        try:
            raw = _evaluate(node, env, modules)
        except Exception:  # noqa: BLE001 - an op we cannot repeat: no replay
            return None
        if isinstance(raw, Tensor) and raw.is_floating_point() and torch.finfo(raw.dtype).eps > torch.finfo(lowest).eps:
            lowest = raw.dtype
        env[node] = _widen(raw)
    for t in targets:
        if t not in env:
            value = _recorded(t, run)
            if value is _MISSING:
                return None
            env[t] = value
    return Replayed({t: env.get(t) for t in targets}, lowest)


def _recomputed(graph: fx.Graph, targets, seeds, fixed) -> set[fx.Node]:
    """The nodes a replay computes again: ancestors of a target that depend on a seed (not
    through a fixed node); what else they read comes from the run."""
    ancestors: set[fx.Node] = set()
    stack = list(targets)
    while stack:
        n = stack.pop()
        if n in ancestors:
            continue
        ancestors.add(n)
        if n not in seeds and n not in fixed:
            stack.extend(n.all_input_nodes)
    live = set(seeds)
    for node in graph.nodes:
        if node in ancestors and node not in fixed and node not in live and any(a in live for a in node.all_input_nodes):
            live.add(node)
    return live


def replay_reads(graph: fx.Graph, targets: list[fx.Node], seeds) -> set[fx.Node]:
    """The nodes whose run values a replay of ``targets`` from ``seeds`` reads: the seeds, the
    targets, and what the recomputed nodes read beside each other."""
    live = _recomputed(graph, targets, seeds, {})
    outside = {a for n in live for a in n.all_input_nodes if a not in live}
    return set(seeds) | set(targets) | outside


_MISSING = object()


def _recorded(node: fx.Node, run):
    if node in run.tensors:
        return _widen(run.tensors[node].detach().cpu())
    if node in run.values:
        return run.values[node]
    return _MISSING


def _widen(value):
    if isinstance(value, Tensor) and value.is_floating_point() and value.dtype != torch.float64:
        return value.detach().to(torch.float64)
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return same_kind(value, (_widen(v) for v in value)) if not hasattr(value, "_fields") else value
    return value


def _evaluate(node: fx.Node, env: dict, modules: dict):
    args = fx.node.map_arg(node.args, lambda n: env[n])
    kwargs = dict(fx.node.map_arg(node.kwargs, lambda n: env[n]))
    for key in ("dtype",):  # a cast written into the formula would undo the widening
        if isinstance(kwargs.get(key), torch.dtype) and kwargs[key].is_floating_point:
            kwargs[key] = torch.float64
    if node.op == "call_function":
        if node.target is operator.getitem or callable(node.target):
            return node.target(*args, **kwargs)
    if node.op == "call_method":
        self_obj, *rest = args
        if node.target in ("float", "half", "bfloat16", "type_as") and isinstance(self_obj, Tensor):
            return self_obj
        if node.target == "to":
            rest = [torch.float64 if isinstance(a, torch.dtype) and a.is_floating_point else a for a in rest]
            rest = [a for a in rest if not isinstance(a, Tensor)]
        return getattr(self_obj, node.target)(*rest, **kwargs)
    raise NotImplementedError(f"cannot replay {node.op} {node.target}")
