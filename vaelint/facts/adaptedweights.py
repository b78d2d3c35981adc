"""A KL weight the code adapts as it trains: a controller, not a beta.

``loss = rec + kl_scale * kl`` with ``kl_scale = manager.get_scale()`` and, after the backward,
``manager.step(loss_dict["kl_loss"])`` (soft free bits, Kingma et al. 2016); ``beta =
pi.pid(target, kl.item())`` with ``pi.update(kl)``; ``self.beta = self.beta * torch.exp(lr *
(kl - target))`` (GECO, ControlVAE). The check runs one step, where such a weight has its first
value (1e-05 of a controller that moves it each step toward a KL target): that value is no beta,
and VAE004 said it was, with a fix that deleted the controller (Arnaud15/vaes_ptorch's VD-VAE).

Where the weight is read from an object the code also hands a value each step
(``manager.step(x)``: a call with an argument that is not a number), or from a name or attribute
the code sets from itself and another value (``beta *= rate``, ``self.beta = clamp(self.beta +
lr * err)``), the weight changes from step to step as the code decides, and is said so, not
judged. A count (``+= 1``) is :mod:`vaelint.facts.countedweights`' to say."""

from __future__ import annotations

import ast
import math
import re

from vaelint.facts.countedweights import _files, parsed_files
from vaelint.facts.weightsource import _assigned_name, _given_by_the_caller, _kl_lines, handed_expression
from vaelint.source.facts import line_text

# names an update reads that are no value of the step's: modules and builtins
_NO_VALUE = {"self", "math", "torch", "np", "numpy", "F", "min", "max", "abs", "float", "int", "round", "clip"}


# calls that move, load or log, not adapt
_NO_UPDATE = {"backward", "to", "cuda", "cpu", "load_state_dict", "train", "eval", "apply", "zero_grad", "add_scalar", "log"}


def adapted_weight(factor) -> str | None:
    """ "kl_scale reads kl_scale_manager, which the code hands a value each step at train.py:85
    (kl_scale_manager.step(loss_dict["kl_loss"]))", or None."""
    loc = factor.loc
    if loc is None:
        return None
    text = line_text(loc.path, loc.line)
    assigned = _assigned_name(loc, text, _kl_lines(factor), factor.value)
    given = _given_by_the_caller(factor, text) or ""
    handed = handed_expression(factor, text)  # the caller's: kl_scale=manager.get_scale()
    read = "\n".join((text, assigned[2] if assigned else "", handed))
    weight = assigned[0] if assigned else (given.split(",", 1)[0] if given else "its weight")
    objects = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)\s*\.\s*\w+", read)) - _NO_VALUE
    objects |= {"self." + a for a in re.findall(r"self\.(\w+)\s*\.\s*\w+", read)}
    # the weight's own names: the one assigned before the line, the caller's, and the attributes on
    # the line that are no call (self.beta): not what its assignment reads (an adjacency's size), nor
    # the KL's (``kl += ...`` is a sum)
    held = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)\b(?!\s*[.(])", handed)) - _NO_VALUE
    kl_lines = _kl_lines(factor)
    own = f"{text}\n{handed}"
    held |= {"self." + a for a in re.findall(r"self\.(\w+)\b(?!\s*[.(])", own) if not _made_as_the_kl(loc, a, kl_lines)}
    if assigned:
        held.add(assigned[0])
    if assigned and assigned[0] in objects | {o.split(".", 1)[-1] for o in objects}:
        weight = "its weight"  # controller = SoftFreeBits(...): the object, not the weight
    for path, tree in parsed_files(_files(factor)):
        stepped, each_step = _in_a_training_loop(tree)
        for node in ast.walk(tree):
            if (path, getattr(node, "lineno", 0)) in kl_lines or id(node) not in each_step:
                continue  # the KL term's own making (self.loss_E /= n); the setup's, run once
            said = (_handed_a_value(node, objects) if id(node) in stepped else None) or _set_from_itself(node, held)
            if said is not None:
                from vaelint.source.frames import display_path

                name, how = said
                return f"{weight} reads {name}, which the code {how} at {display_path(path)}:{node.lineno} ({ast.unparse(node)[:80]})"
    return None


def _made_as_the_kl(loc, attr: str, kl_lines: set) -> bool:
    """Is ``self.attr`` the KL side of the product (``self.opt.beta * self.loss_E``, the tensor made
    at ``self.loss_E /= n``), not the weight?"""
    from vaelint.source.facts import origin_of

    found = origin_of(loc, ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Load()))
    return found is not None and (found[0].path, found[0].line) in kl_lines


def _in_a_training_loop(tree) -> tuple[set, set]:
    """(the nodes of the loops that call a backward, those and the nodes of the functions such a loop
    calls by name): what runs each step, not ``model.to(device)`` or ``adj = (adj + adj.T > 0)`` of the
    setup. A method the loop calls (``model.geco_update(kl)``, the loss method) runs each step too."""
    found: set = set()
    called: set = set()
    for loop in ast.walk(tree):
        if isinstance(loop, (ast.For, ast.AsyncFor, ast.While)) and any(
            isinstance(n, ast.Attribute) and n.attr == "backward" for n in ast.walk(loop)
        ):
            found |= {id(n) for n in ast.walk(loop)}
            called |= {_called_name(n.func) for n in ast.walk(loop) if isinstance(n, ast.Call)}
    each = set(found)
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and (fn.name in called or fn.name in ("forward", "__call__")):
            each |= {id(n) for n in ast.walk(fn)}
    return found, each


def _called_name(func) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return "self." + node.attr
    return None


def _handed_a_value(node, objects: set) -> tuple[str, str] | None:
    """``manager.step(kl)`` as a statement: the object the weight is read from, handed a value."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)):
        return None
    call = node.value
    owner = _dotted(call.func.value)
    if owner not in objects or call.func.attr in _NO_UPDATE or call.func.attr.endswith("_"):
        return None  # a tensor's own ops (kl.backward(), z.add_(x)), a module's moves: no weight handed a value
    values = [*call.args, *(k.value for k in call.keywords)]
    if not any(_reads_a_value(v) for v in values):
        return None  # manager.step() or manager.step(1): a count, not the step's value
    return owner, "hands a value each step"


def _set_from_itself(node, held: set) -> tuple[str, str] | None:
    """``beta *= rate``, ``self.beta = self.beta * torch.exp(err)``: the weight moved from its own
    last value by another value (``+= 1``, a count, is not)."""
    if isinstance(node, ast.AugAssign):
        target, value = node.target, node.value
        if isinstance(node.op, (ast.Add, ast.Sub)) and not _reads_a_value(value):
            return None
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
        name = _dotted(target)
        # itself an operand of arithmetic (self.beta * k, min(1, beta + step)), not x.to(device) or f(x)
        if name is None or not any(isinstance(n, ast.BinOp) and name in (_dotted(n.left), _dotted(n.right)) for n in ast.walk(value)):
            return None
        others = [n for n in ast.walk(value) if isinstance(n, (ast.Name, ast.Attribute)) and _dotted(n) not in (name, None)]
        if not any(_dotted(n) not in _NO_VALUE for n in others):
            return None
    else:
        return None
    name = _dotted(target)
    if name is None or name not in held or not _reads_a_value(value):
        return None
    return name, "moves from its own last value each step"


def _reads_a_value(node) -> bool:
    """Does the expression read a name that is no module or builtin (``loss_dict["kl"]``, ``err``)?"""
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id not in _NO_VALUE:
            return True
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            return True
    return False


def _main_factor(kl_scale):
    """The KL's weight, its largest constant factor other than the formula's own (the 0.5 of
    -0.5 * sum(...)); None where the KL is weighed by nothing but 1."""
    if math.isclose(abs(kl_scale.explicit), 1.0, rel_tol=1e-3):
        return None
    norm = abs(kl_scale.normalization)
    consts = [f for f in kl_scale.factors if f.kind == "const" and f.value and not math.isclose(abs(f.value), 1.0, rel_tol=1e-6)]
    consts = [f for f in consts if not math.isclose(abs(f.value) * norm, 1.0, rel_tol=1e-3) and not math.isclose(abs(f.value), 0.5)]
    return max(consts, key=lambda f: abs(math.log(abs(f.value)))) if consts else None


def adapted_kl_weight(kl_scale) -> str | None:
    """Why the KL's weight is a controller's (:func:`adapted_weight` of its main factor), or None."""
    main = _main_factor(kl_scale)
    return None if main is None else adapted_weight(main)


def changing_weight(kl_scale) -> str | None:
    """Why the KL's weight changes from step to step, a count or a controller, or None."""
    from vaelint.facts.countedweights import counted_weight

    main = _main_factor(kl_scale)
    return None if main is None else counted_weight(main) or adapted_weight(main)
