"""The shape-flow table of a report: input -> encoder -> reparameterisation ->
decoder -> loss, each row with its symbolic shape, its sizes and its line; the
loss rows with their reductions and beta_eff; how a multi-valued loss was read."""

from __future__ import annotations

import inspect
import math
import os

from vaelint.capture.outputs import path_text
from vaelint.diagnostics import FlowRow, TargetResult
from vaelint.facts.adaptedweights import changing_weight
from vaelint.facts.context import Context, loc_of
from vaelint.facts.datasize import data_size
from vaelint.facts.lossroles import TOTAL_KEYS
from vaelint.facts.lossscales import BetaEff, loss_scales
from vaelint.facts.roles import Roles
from vaelint.facts.schedules import scheduled_weight
from vaelint.source.frames import SourceLoc, is_user_file


def beta_effective(ctx: Context, result: TargetResult) -> None:
    """beta_eff as a formula, and each loss term's reductions in the flow table."""
    scales = loss_scales(ctx)
    if scales is None:
        return
    formulas = []
    for one in scales.each_kl():  # one per KL term (a hierarchical VAE has several)
        formula = one.formula(data_size(ctx), ctx.latent_size)
        weight = one.kl.explicit
        scheduled = scheduled_weight(ctx, one.kl)
        pins = [f.pinned for f in one.kl.factors if f.pinned] + [-f.pinned for f in one.rec.factors if f.pinned]
        constant = one.pinned_constant(ctx.batch)
        if constant is not None:
            formula = constant  # the number written down leaves beta_eff the same at every batch
        elif len(pins) == 1:
            # a batch size written as a number on one term: right at that batch only
            formula = f"B/{pins[0]}" if pins[0] > 0 else f"{-pins[0]}/B"
        if scheduled is not None:
            # an annealed weight: its value at this step, and where it goes
            s, limit = scheduled.schedule, scheduled.limit
            now = _times(f"{weight:.3g}", formula)
            later = "never settling" if limit is None else _times(f"{limit:g}", formula)
            later = f"cyclically, up to {_times(f'{scheduled.peak:g}', formula)}" if s.cycling else f"to {later}"
            formula = f"{now} at {s.counter} {s.values[0][0]}, annealed ({s.name}) {later}"
        else:
            said = BetaEff(formula, one.reduction_ratio(ctx.batch), weight, one.rec.explicit)
            formula = said.formula  # as VAE002 and VAE004 say it
            if not math.isclose(weight, 1.0, rel_tol=1e-3) and changing_weight(one.kl) is not None:
                formula = f"{formula} at the step checked (its weight changes from step to step: VAE004)"
            if said.reductions != "1" and math.isclose(said.reductions_value * weight, 1.0, rel_tol=1e-3):
                formula = f"{formula} = {said.value:.6g}"  # the weight undoes the reductions (an ELBO / K)
        if one.kl.target == "capacity":
            formula = f"{formula}, on |KL - C| (a capacity objective)"
        loc = one.kl.term.meta.get("loc")
        formulas.append((formula, f"line {loc.line}" if loc else "?"))
    if len({f for f, _ in formulas}) == 1:
        result.beta_effective = formulas[0][0]
    else:
        result.beta_effective = ", ".join(f"{f} (KL at {where})" for f, where in formulas)
    # the parts of a KL written over several terms are reduced alike: each reads as the first
    described = {p: scales.kl for p in scales.kl_parts} | {scales.rec.term: scales.rec} | {kl.term: kl for kl in scales.kls}
    for row in result.flow:
        if row.stage == "loss" and row.node in described:
            row.note = described[row.node].describe()


def _times(value: str, formula: str) -> str:
    """``value`` times ``formula`` as a person writes it: 0.004/(B*Z), not 0.004*1/(B*Z); 1/(B*Z), not 1*1/(B*Z)."""
    if formula == "1" or value == "0":
        return value  # 0 times anything is 0 (a warm-up's first step), not 0/Z
    if value == "1":
        return formula
    return f"{value}/{formula[2:]}" if formula.startswith("1/") else f"{value}*{formula}"


def loss_reading(roles: Roles) -> str | None:
    """How a loss that returns several values was read, when that took a decision."""
    paths = roles.total_paths
    text = [path_text(p, "loss") for p in paths]
    if roles.loss_parts and len(paths) > 1:
        return (
            f"the loss returns {len(paths)} terms that none of its values adds up ({', '.join(text)}): "
            "read as their sum, as a training step that adds them does"
        )
    if roles.total_per_sample:
        return None  # the forward's own per-sample loss: the report's loss line says which item
    named = bool(paths) and len(paths[0]) == 1 and paths[0][0] in TOTAL_KEYS  # out["elbo"]: named, no decision
    if roles.loss_total is not None and paths and paths[0] not in ((), (0,)) and not named:
        return f"the loss returns several values; {text[0]} is computed from the others and is read as the total"
    return None


def flow_rows(ctx: Context) -> list[FlowRow]:
    rows: list[FlowRow] = []
    roles = ctx.roles

    def add(stage, name, node, named=True, note=""):
        if node is None:
            return
        fact = ctx.shape(node)
        symbols = ctx.symbols(node) if named else (fact.symbols() if fact else None)
        sizes = {}
        if fact and fact.sizes is not None:
            for sym, size in zip(symbols, fact.sizes):
                if not sym.isdigit():
                    key = "B" if "B" in sym and not sym.isidentifier() or sym == "B" else sym
                    sizes[key] = ctx.batch if key == "B" else size
        at_batch = tuple(fact.sizes) if fact and fact.sizes is not None and len(fact.sizes) == len(symbols) else None
        rows.append(FlowRow(stage, name, symbols, sizes, loc_of(node) or _inner_loc(ctx, node), note, node=node, at_batch=at_batch))

    names_in = ctx.capture.input_names
    given = [ph for ph in roles.inputs if not ph.meta.get("made_data")]  # the data a step made is no input of its
    made = any(ph.meta.get("made_data") for ph in roles.inputs)
    for ph in roles.inputs:
        if made and not ph.meta.get("made_data") and not ph.users:
            continue  # a batch the step read only outside torch (through NumPy): the data it made stands for it
        if ph.meta.get("loc") is None:
            ph.meta["loc"] = _forward_def(ctx)
        i = given.index(ph) if ph in given else len(names_in)
        add("input", ph.meta.get("made_data") or (names_in[i] if i < len(names_in) else ph.name), ph)
    r = roles.reparam
    if r is not None:
        add("encoder", "mu", r.mu)
        add("encoder", "logvar" if "exp" in r.scale_ops else "scale", r.logvar)
        add("reparam", "eps", r.eps)
        add("reparam", "z", r.z)
    if roles.recon is not None:
        add("decoder", "recon", roles.recon)
    scales = loss_scales(ctx)
    kls = {kl.term for kl in scales.kls} | set(scales.kl_parts) if scales is not None else set(roles.kl_terms[:1])
    for node in roles.rec_terms:
        add("loss", "rec", node, named=False)
    for node in roles.kl_terms:
        add("loss", "kl" if node in kls else "reg", node, named=False)
    if roles.loss_total is not None:
        add("loss", "loss", roles.loss_total, named=False)
    return rows


def alike_once(rows: list[FlowRow]) -> list[FlowRow]:
    """Terms made on one line again and again (a recurrent VAE's KL of each time step, added
    up in a loop) are one row that says how many there are, not a row each (after their
    reductions are written in: rows alike in everything)."""
    out: list[FlowRow] = []
    count = 0
    for row in rows + [None]:
        last = out[-1] if out else None
        if (
            row is not None
            and last is not None
            and row.stage == "loss"
            and ((row.stage, row.name, row.shape, row.note, row.loc) == (last.stage, last.name, last.shape, last.note, last.loc))
        ):
            count += 1
            continue
        if count and last is not None:
            last.note = f"{last.note} ({count + 1} terms like this)" if last.note else f"{count + 1} terms like this"
        count = 0
        if row is not None:
            out.append(row)
    return out


def _inner_loc(ctx: Context, node) -> SourceLoc | None:
    """For a node with no line of its own (Keras's per-sample average of the
    loss runs in vaelint): the nearest line among what it is computed from."""
    for earlier in sorted(ctx.view.ancestors(node), key=lambda n: -ctx.view.order.get(n, 0)):
        loc = loc_of(earlier)
        if loc is not None:
            return loc
    return None


def _forward_def(ctx: Context) -> SourceLoc | None:
    """Where the model's inputs come in: its forward (a Keras model's call), or,
    for a model whose forward is a library's (a Keras functional model), the
    line that built it."""
    step = ctx.program.step
    if step is not None and step.loc is not None:
        return step.loc  # a training step's batch comes in at its loop over the loader
    model = ctx.program.model
    for name in ("forward", "call"):
        fn = getattr(type(model), name, None)
        try:
            path = os.path.realpath(inspect.getsourcefile(fn))
            lines, start = inspect.getsourcelines(fn)
        except (OSError, TypeError):
            continue
        if is_user_file(path):
            return SourceLoc(path, start, 1, name)
    return ctx.program.module_sites.get(id(model))
