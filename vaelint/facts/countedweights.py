"""A KL weight that reads a count the code keeps: a warm-up the check cannot read as a schedule.

``w = ramp(0, 1, self.calls, self.warmup)`` in a loss object whose ``__call__`` counts
``self.calls += 1``; ``beta = self.scheduler.get_beta(self.step, self.epoch)`` with ``self.epoch =
epoch`` set from the epoch loop. The check runs one step, where such a weight has its first value
(0.002 of a warm-up to 1): that value is no beta, and VAE004 said it was, with a fix that deleted
the warm-up (helper A, YannDubs/disentangling-vae; helper B, racousin/ml_mobility_ns3). Where the
weight's own line, or the assignment that gives it, reads an attribute that the code counts up by a
number (``+= 1``, ``self.it = self.it + 1``) or sets from a count (a name counted so, a loop over
``range(...)``), the weight changes from step to step and is said so, not judged."""

from __future__ import annotations

import ast
import os
import re

from vaelint.facts.weightsource import _assigned_name, _kl_lines
from vaelint.source.facts import line_text


def counted_weight(factor) -> str | None:
    """ "w reads self.calls, which the code counts up at train.py:18", or None."""
    loc = factor.loc
    if loc is None:
        return None
    text = line_text(loc.path, loc.line)
    assigned = _assigned_name(loc, text, _kl_lines(factor), factor.value)
    read = text + "\n" + (assigned[2] if assigned else "")
    attrs = set(re.findall(r"self\.(\w+)", read))
    counted = _counted(_files(factor))
    # an attribute the code counts: a name counted in the step is a counter the schedules of
    # frontends/training/schedules.py read (and find steady, as a helper handed the step may be)
    for key, kind in [((a, True), "self." + a) for a in sorted(attrs)]:
        where = counted.get(key)
        if where is not None:
            weight = assigned[0] if assigned else "its weight"
            return f"{weight} reads {kind}, which the code {where}"
    return None


def _files(factor) -> list[str]:
    """The factor's file and the user's files on its call stack (the loop that calls the loss)."""
    paths = [factor.loc.path] + [s.path for s in (factor.node.meta.get("stack") or []) if getattr(s, "path", None)]
    return [p for p in dict.fromkeys(paths) if p.endswith(".py") and os.path.isfile(p)]


def _counted(paths: list[str]) -> dict:
    """{(name, is_attribute): "counts up at train.py:18"} of the names the files count with."""
    from vaelint.source.frames import display_path

    found: dict = {}
    trees = parsed_files(paths)
    for path, tree in trees:
        for node in ast.walk(tree):
            at = f"{display_path(path)}:{getattr(node, 'lineno', '?')}"
            # a count goes up by a number (step += 1, self.it = self.it + 1), not by a tensor (loss += kl)
            if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)) and _a_number(node.value):
                found.setdefault(_key(node.target), f"counts up at {at}")
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.Add):
                left, right = node.value.left, node.value.right
                for target in node.targets:
                    if any(_key(a) == _key(target) and _a_number(b) for a, b in ((left, right), (right, left))):
                        found.setdefault(_key(target), f"counts up at {at}")
            elif isinstance(node, (ast.For, ast.AsyncFor)) and _over_a_range(node.iter):
                # the count itself: epoch of range(...), i of enumerate(...)'s (i, x), not the batch x
                target = node.target.elts[0] if isinstance(node.target, ast.Tuple) and node.target.elts else node.target
                if isinstance(target, ast.Name):
                    found.setdefault((target.id, False), f"loops over at {at}")
    # self.epoch = epoch, self.step, self.epoch = step, epoch: set from a count, or from a value of one
    # (self.beta = min(1, epoch / 10)); or the model's own attribute set so by the code that trains it
    # (model.epoch = ep, model.kl_weight = min(1.0, (epoch + 1) / 5), read in forward as self.epoch)
    for path, tree in trees:
        training = _training_loops(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                pairs = (
                    zip(target.elts, node.value.elts)
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                    else [(target, node.value)]
                )
                for one, value in pairs:
                    if not isinstance(one, ast.Attribute) or not _reads_a_count(value, found):
                        continue
                    plain = _key(one) is not None and isinstance(value, (ast.Name, ast.Attribute))
                    if not plain and id(node) not in training:
                        # another object's attribute, or a value worked out of a count: only where a loop
                        # that trains sets it (an evaluation sweep after training sets no warm-up)
                        continue
                    key = (one.attr, True) if isinstance(one.value, ast.Name) else _key(one)
                    found.setdefault(key, f"sets from a count at {display_path(path)}:{node.lineno}")
    found.pop(None, None)
    return found


def _training_loops(tree) -> set:
    """id()s of the statements inside a loop that trains: one whose body backpropagates
    (``.backward(``) or calls a function of the file's that does (``train_epoch(model, loader)``)."""
    trains = {
        f.name
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "backward" for c in ast.walk(f))
    }

    def trains_in(loop) -> bool:
        for c in ast.walk(loop):
            if isinstance(c, ast.Call):
                name = c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", "")
                if name == "backward" or name in trains:
                    return True
        return False

    inside = set()
    for loop in ast.walk(tree):
        if isinstance(loop, (ast.For, ast.AsyncFor, ast.While)) and trains_in(loop):
            inside.update(id(n) for n in ast.walk(loop))
    return inside


def _reads_a_count(value, found: dict) -> bool:
    """Is ``value`` a counted name, or a number worked out of one (no call on a tensor's value: a
    plain expression of names, attributes, numbers and calls such as min, max, float)?"""
    if isinstance(value, ast.IfExp) and ast.dump(value.body) == ast.dump(value.orelse):
        return _reads_a_count(value.body, found)  # the same value either way: the test changes nothing
    if isinstance(value, (ast.Name, ast.Attribute)):
        return _key(value) in found
    names = [n for n in ast.walk(value) if isinstance(n, (ast.Name, ast.Attribute)) and _key(n) in found]
    return bool(names) and isinstance(value, (ast.BinOp, ast.Call, ast.IfExp, ast.UnaryOp))


def parsed_files(paths: list[str]) -> list:
    """(path, its syntax tree) of each file that reads and parses."""
    out = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                out.append((path, ast.parse(fh.read())))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
    return out


def _a_number(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _key(node):
    if isinstance(node, ast.Name):
        return node.id, False
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr, True
    return None


def _over_a_range(node) -> bool:
    """``range(...)``, ``enumerate(...)`` or ``tqdm(range(...))``: a loop whose variable counts."""
    while isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("range", "trange", "enumerate"):
            return True
        node = node.args[0] if node.args else None
    return False
