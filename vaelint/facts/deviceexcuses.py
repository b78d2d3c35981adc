"""When a CPU tensor that meets the model's on the simulated GPU is no VAE012 finding
(rules/vae012_device_mismatch.py): it is made in the training step's own lines (where it lives is
the script's choice), moved to the GPU under a condition the code settled on this machine, or made
by the model's constructor on the device the constructor also moves the model to. Each that
excuses one says so in a note where a user would otherwise wonder."""

from __future__ import annotations

import ast
import inspect
import textwrap

import torch.nn as nn

from vaelint.source.cells import where
from vaelint.source.facts import constructor_move, guarded_move, guarded_move_into, names_the_cpu
from vaelint.source.setupmoves import device_test_move


def excused(ctx, meeting) -> bool:
    """Is this meeting of a CPU tensor with the model's on the simulated GPU no finding?"""
    return (
        _in_step_code(ctx, meeting)
        or _moved_under_a_flag(ctx, meeting)
        or _made_with_the_model(ctx, meeting)
        or _moved_by_an_override(ctx, meeting)
    )


_MOVERS = ("to", "cuda", "_apply")
_LIBRARIES = ("torch", "lightning", "pytorch_lightning", "vaelint", "transformers", "diffusers")


def _moved_by_an_override(ctx, meeting) -> bool:
    """A tensor the model holds (no parameter or buffer) where the model, or a module on the way to
    the one holding it, overrides ``to``, ``cuda`` or ``_apply`` (``self.mask = self.mask.to(...)``
    after ``super().to(...)``): the override may move it with the model, which the simulated GPU,
    placing parameters and buffers, does not run. Undecided, said in a note."""
    if not meeting.held:
        return False
    chain, _parts = _holders(ctx, meeting.held)
    for m in chain:
        # the user's own class: a library's override (Lightning's to() keeps its device property) moves no attribute
        owner = next((k for k in type(m).__mro__ if any(n in vars(k) for n in _MOVERS) and not k.__module__.startswith(_LIBRARIES)), None)
        if owner is None or not issubclass(owner, nn.Module):
            continue
        name = next(n for n in _MOVERS if n in vars(owner))
        note = (
            f"VAE012 did not decide the model's attribute {meeting.held}: {owner.__name__}.{name} is overridden and may "
            "move it with the model, which the simulated GPU does not run (a buffer, register_buffer, moves with it for sure)"
        )
        if note not in ctx.notes:
            ctx.notes.append(note)
        return True
    return False


def _in_step_code(ctx, meeting) -> bool:
    """A tensor a training step makes in its own lines (not in the model or its
    loss): where it lives is the script's choice (``if args.cuda: ... .cuda()``
    with flags the simulated GPU cannot set), not a bug vaelint can decide."""
    step = getattr(ctx.program, "step", None)
    made = meeting.made
    if step is None or step.loc is None or made is None or not step.lines:
        return False
    first, last = step.lines
    return made.path == step.loc.path and first <= made.line <= last


def _moved_under_a_flag(ctx, meeting) -> bool:
    """The tensor is moved to the GPU under an ``if`` the simulated run did not take
    (``if self.use_cuda: eps = eps.cuda()``, the flag set from
    ``torch.cuda.is_available()`` when the model was built here): on a GPU the flag
    is set and the move runs. Not decided, and the report says so (JointVAE's
    sampler and its discrete KL)."""
    if meeting.made is not None:
        moved, place, what = guarded_move(meeting.made), meeting.made, "the tensor made there on the CPU"
    elif meeting.loc is not None:
        moved, place, what = guarded_move_into(meeting.loc), meeting.loc, "the CPU tensor that meets the model's there"
    else:
        return False
    if moved is None:
        # made from (or meeting the model as) an attribute the constructor moves under the condition:
        # a distribution object; a mask it keeps as a plain attribute (self.mask = Variable(mask))
        held = constructor_move(place)
        if held is not None:
            came = "which the tensor made there comes from" if meeting.made is not None else "which that line reads"
            moved, what = held[1:], f"self.{held[0]}, {came},"
    if moved is None:
        return False
    line, condition = moved
    undecided = (
        f"VAE012 did not decide {place.where()}: {what} is moved to the GPU under `if {condition}:` "
        f"({where(place.path, line)}), a condition the code settled on this machine, without a GPU, which the simulated "
        "GPU cannot change"
    )
    if undecided not in ctx.notes:  # the same tensor meeting the model again
        ctx.notes.append(undecided)
    return True


def model_moved_under_a_flag(built) -> str | None:
    """Why VAE012 cannot decide a model never moved in this run: the model built at ``built`` is moved
    under an ``if`` the run did not take (``if device.type != "cpu": model.to(device)``, ``if
    args.cuda: model.cuda()``), which a GPU run takes. None when it has no such move."""
    moved = device_test_move(built)
    if moved is None:
        return None
    line, condition = moved
    return (
        f"the model built at {built.where()} is moved to the device under `if {condition}:` ({where(built.path, line)}), a "
        "condition the code settled on this machine, without a GPU, which the simulated GPU cannot change"
    )


def _made_with_the_model(ctx, meeting) -> bool:
    """A tensor the model holds (no parameter or buffer) that its constructor makes on the
    device the constructor is given, and the constructor moves the model there itself
    (``self.p_z = Normal(torch.zeros(z, device=device), ...)`` then ``self.to(device)``): the
    two go together to whatever device the model is built for. Not a finding, said in a note
    (they part only if the model is moved again after it is built)."""
    if not meeting.held:
        return False
    chain, parts = _holders(ctx, meeting.held)
    module = chain[-1]
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(type(module).__init__)))
    except (OSError, TypeError, SyntaxError):
        return False

    def moves(node) -> set:  # the devices ``X.to(device)`` / ``device=device`` name in node
        calls = [c for c in ast.walk(node) if isinstance(c, ast.Call)]
        named = {ast.unparse(k.value) for c in calls for k in c.keywords if k.arg == "device"}
        return named | {ast.unparse(c.args[0]) for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "to" and c.args}

    model_moves = {
        ast.unparse(c.args[0])
        for c in ast.walk(tree)
        if isinstance(c, ast.Call)
        and isinstance(c.func, ast.Attribute)
        and c.func.attr == "to"
        and isinstance(c.func.value, ast.Name)
        and c.func.value.id == "self"
        and c.args
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or not any(
            isinstance(t, ast.Attribute) and t.attr == parts[0] and isinstance(t.value, ast.Name) and t.value.id == "self"
            for t in node.targets
        ):
            continue
        devices = {d for d in moves(node.value) if not names_the_cpu(d)}
        if not devices and (_cuda_type_with_the_model(tree, node.value) or _typed_as_an_owner_chose(chain[:-1], node.value)):
            devices, model_moves = {"a CUDA tensor type"}, {"a CUDA tensor type"}
        if devices and devices <= model_moves:
            holder = meeting.held[: len(meeting.held) - len(".".join(parts))] + parts[0]
            how = (
                "with the tensor type its constructor chooses (a torch.cuda type where CUDA is there)"
                if devices == {"a CUDA tensor type"}
                else f"on the device its constructor is given ({', '.join(sorted(devices))})"
            )
            note = (
                f"VAE012: the model's attribute {holder} is made {how}, and the constructor moves the model there "
                "itself: they stay together unless the model is moved again after it is built (make it a buffer to be safe)"
            )
            if note not in ctx.notes:
                ctx.notes.append(note)
            return True
    return False


def _cuda_type_with_the_model(tree, value) -> bool:
    """``torch.zeros(T, B, 1).type(self.dtype)`` where the constructor chose ``self.dtype =
    torch.cuda.FloatTensor if self.use_cuda else torch.FloatTensor`` and moves the model itself
    (``self.cuda()``, ``self.to(...)``): legacy code whose tensor type and model go together."""
    typed = {
        ast.unparse(c.args[0])
        for c in ast.walk(value)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "type" and c.args
    }
    return bool(typed & _cuda_types(tree)) and _moves_itself(tree)


def _cuda_types(tree) -> set:
    """The names a constructor assigns a torch.cuda tensor type to (``self.dtype = torch.cuda.FloatTensor if ...``)."""
    return {
        ast.unparse(t) for n in ast.walk(tree) if isinstance(n, ast.Assign) and "torch.cuda." in ast.unparse(n.value) for t in n.targets
    }


def _moves_itself(tree) -> bool:
    return any(
        isinstance(c, ast.Call)
        and isinstance(c.func, ast.Attribute)
        and c.func.attr in ("cuda", "to")
        and ast.unparse(c.func.value) == "self"
        for c in ast.walk(tree)
    )


def _typed_as_an_owner_chose(owners: list, value) -> bool:
    """``torch.zeros(T, B, 1).type(dtype)`` in a submodule's constructor, ``dtype`` given to it by a
    module above it whose constructor chose ``torch.cuda.FloatTensor if use_cuda else ...`` and moves
    itself (``self.cuda()``): the VRAE family's decoder inputs go where that module goes."""
    handed = [
        c.args[0]
        for c in ast.walk(value)
        if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "type" and c.args
    ]
    # a type it was given (a name, self.dtype), not one written down (torch.FloatTensor: the CPU's)
    if not any(isinstance(a, (ast.Name, ast.Attribute)) and not ast.unparse(a).startswith("torch.") for a in handed):
        return False
    for owner in owners:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(type(owner).__init__)))
        except (OSError, TypeError, SyntaxError):
            continue
        if _cuda_types(tree) and _moves_itself(tree):
            return True
    return False


def _holders(ctx, held: str) -> tuple[list, list[str]]:
    """(the model and its submodules down to the one holding ``held``, the rest of its path from
    that module on: ``flow.mask`` -> [model, model.flow], ["mask"])."""
    module = getattr(getattr(ctx.capture, "wrapper", None), "model", None) or getattr(ctx.program, "model", None)
    chain, parts = [module], held.split(".")
    while len(parts) > 1 and isinstance(getattr(module, parts[0], None), nn.Module):
        module = getattr(module, parts.pop(0))
        chain.append(module)
    return chain, parts
