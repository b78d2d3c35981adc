"""Whose step a backward is, by the optimiser the code steps right after it.

A VAE-GAN trained in three steps per batch (discriminator, decoder, encoder: takahiro-itazuri/
vaegan-pytorch) backpropagates the discriminator's loss first, and where its fake is not
detached that loss reaches the reparameterised sample too. What trains the VAE is the step whose
optimiser holds the encoder's parameters (those the sample's mean and scale are computed with);
a backward followed at once by an optimiser that holds none of them (``dis_loss.backward();
opt_dis.step()``) is another network's, and the run passes over it as over any other."""

from __future__ import annotations

import ast
import os


def trains_another_network(capture, is_noise) -> bool:
    """Does the optimiser stepped right after this backward (in the statements that follow it in
    the innermost user frame) hold none of the encoder's parameters, while it holds some of what
    the loss reaches? Unknown (no such step, no optimiser, no encoder found): False."""
    from vaelint.frontends.training.liveinner import parameters_reached

    optimisers = _stepped_after(capture)
    if not optimisers:
        return False
    # every optimiser stepped there: a VAE-GAN's decoder and encoder, each with its own
    # (``loss.backward(); opt_dec.step(); opt_enc.step()``), step one backward together
    held = {id(p) for optimiser in optimisers for group in optimiser.param_groups for p in group.get("params", ())}
    encoder = encoder_parameters(capture.loss, is_noise)
    return bool(encoder) and not held & encoder and bool(held & parameters_reached([capture.loss]))


def encoder_cleared_after(capture, is_noise) -> bool:
    """Does an optimiser holding the encoder's parameters clear their gradients right after this
    backward, before another backward (``loss_gan.backward(); optimizer_e.zero_grad();
    loss_enc.backward()``: a VAE-GAN whose discriminator loss reaches the sample)? Then what this
    backward gave the encoder is thrown away: it is another network's."""
    import torch

    later, frame = _statements_after(capture)
    for k, stmt in enumerate(later[:-1]):
        if _step_call(stmt) is not None:
            return False
        target = _step_call(stmt, "zero_grad")
        if target is None:
            continue
        optimiser = _value_of(target, frame)
        if not isinstance(optimiser, torch.optim.Optimizer) or not any(".backward(" in ast.unparse(s) for s in later[k + 1 : k + 2]):
            return False
        held = {id(p) for group in optimiser.param_groups for p in group.get("params", ())}
        return bool(held & encoder_parameters(capture.loss, is_noise))
    return False


def _stepped_after(capture) -> list:
    """The optimisers of the ``NAME.step()`` calls after the backward's statement, in its block,
    up to another backward (a scheduler's or an EMA's step passed over)."""
    import torch

    later, frame = _statements_after(capture)
    stepped = []
    for stmt in later:
        if ".backward(" in ast.unparse(stmt):
            break  # a step after another backward is that backward's
        target = _step_call(stmt)
        if target is not None:
            value = _value_of(target, frame)
            if isinstance(value, torch.optim.Optimizer):
                stepped.append(value)  # not a scheduler's, an EMA's or a GradScaler's step: no optimiser of its own
    return stepped


def _statements_after(capture) -> tuple[list, object]:
    """(the three statements after the backward's, in its block; the backward's frame)."""
    from vaelint.frontends.training.sites import parse_file

    if not capture.frames:
        return [], None
    frame, (line, col), _locals = capture.frames[-1]
    file = parse_file(os.path.realpath(frame.f_code.co_filename))
    if file is None:
        return [], frame
    for node in ast.walk(file.tree):
        for body in (getattr(node, field, None) for field in ("body", "orelse", "finalbody")):
            if not isinstance(body, list):
                continue
            on = [k for k, s in enumerate(body) if isinstance(s, ast.stmt) and s.lineno <= line <= (s.end_lineno or s.lineno)]
            # `opt.zero_grad(); loss.backward(); opt.step()` on one line: the statement the backward is in
            at = next((k for k in on if _holds_column(body[k], line, col)), on[0] if on else None)
            if at is None or hasattr(body[at], "body"):
                continue  # a compound statement (a class or function, a loop, if, with, try): the backward is inside
            return body[at + 1 : at + 4], frame
    return [], frame


def _holds_column(stmt: ast.stmt, line: int, col) -> bool:
    if not isinstance(col, int) or stmt.lineno != line or stmt.end_lineno != line:
        return False
    return stmt.col_offset <= col < (stmt.end_col_offset or 0)


def _step_call(stmt: ast.stmt, method: str = "step") -> ast.expr | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and func.attr == method:
            return func.value
    return None


def _value_of(expr: ast.expr, frame):
    """``opt_dis`` or ``self.optim_D`` read in the frame."""
    return dotted_value(expr, {**frame.f_globals, **frame.f_locals})


def dotted_value(expr: ast.expr, scope: dict):
    """``opt_dis``, ``self.optim_D`` or ``args.batch_size`` read in ``scope`` (names and attributes
    only: no code runs but plain attribute reads); None for any other expression."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    value = scope.get(expr.id)
    for part in reversed(parts):
        value = getattr(value, part, None)
    return value


def encoder_parameters(loss, is_noise) -> set:
    """id()s of the parameters the sample's other factors are computed with (``std`` of ``eps *
    std``: the inputs of the autograd node that saved the drawn noise): the encoder's."""
    from vaelint.frontends.training.autogradwalk import autograd_nodes
    from vaelint.frontends.training.livenoise import saved_tensors

    others = []
    for node in autograd_nodes([getattr(loss, "grad_fn", None)]):
        if any(is_noise(v) for v in saved_tensors(node)):
            others += [n for n, _ in getattr(node, "next_functions", ()) if n is not None]
    return _parameters_below(others)


def _parameters_below(nodes: list) -> set:
    from vaelint.frontends.training.autogradwalk import autograd_nodes

    return {id(node.variable) for node in autograd_nodes(nodes, limit=None) if getattr(node, "variable", None) is not None}


def backward_follows(capture) -> bool:
    """Does another backward follow this one in its block (within the next three statements)
    before any optimiser steps or clears gradients (``kl.backward(retain_graph=True); z = ...;
    rec.backward()``)? Then the two add into one step. Unknown: False."""
    return following_backward(capture) is not None


def following_backward(capture) -> int | None:
    """The line of the backward that follows this one so (:func:`backward_follows`); None for none."""
    later, _frame = _statements_after(capture)
    for stmt in later:
        text = ast.unparse(stmt)
        if ".step(" in text or ".zero_grad(" in text:
            return None
        if ".backward(" in text:
            return stmt.lineno
    return None
