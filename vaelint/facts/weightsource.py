"""Where a factor on a loss term comes from, read from the source of the line the run made it on (VAE004's messages
and fixes): a loss keyword, a model attribute, a setting such as ``args.kl_weight``, a literal, or a name assigned
before; and which operand of a product is the weight and which the term (the one assigned where the run made it)."""

from __future__ import annotations

import inspect
import math
import re

import torch
import torch.fx as fx

from vaelint.capture.ops import op_name
from vaelint.facts.context import loc_of
from vaelint.facts.graphview import is_size
from vaelint.facts.weightlines import setting_is_the_weight
from vaelint.facts.weightliterals import NUMBER as _NUMBER
from vaelint.facts.weightliterals import close as _close
from vaelint.facts.weightliterals import literal_said as _literal_said
from vaelint.facts.weightliterals import number_beside as _number_beside
from vaelint.source.facts import line_text, module_assignment


def factor_source(ctx, factor) -> str:
    """Where the value of a constant factor on the KL term comes from, said for the message: a
    loss keyword, an attribute of the model, a module-level name, a literal, the setting it is
    read from (``args.kl_weight``), or the name assigned before it."""
    value = factor.value
    loc = factor.loc
    where = f" at {loc.where()}" if loc else ""
    plan = ctx.loss
    if plan is not None:
        for name, kw in plan.kwargs.items():
            if isinstance(kw, (int, float)) and _close(kw, value):
                return f"the loss keyword {name} = {kw!r}{where}"
        try:
            params = inspect.signature(plan.fn).parameters.values()
        except (TypeError, ValueError):
            params = []
        text = line_text(loc.path, loc.line) if loc else ""
        for p in params:
            if not isinstance(p.default, (int, float)) or isinstance(p.default, bool) or not re.search(rf"\b{p.name}\b", text):
                continue
            if _close(p.default, value):
                return f"the loss keyword {p.name} = {p.default!r}{where}"
            for number in _NUMBER.findall(text):  # beta * 0.5, folded into one factor by the run
                if float(number) and _close(p.default * float(number), value):
                    return f"the loss keyword {p.name} = {p.default!r} times {number}{where}"
    text = line_text(loc.path, loc.line) if loc else ""
    for owner, attr in re.findall(r"\b(\w+)\.(\w+)\b(?!\s*\()", text):  # self.beta; model.llik_scaling handed the model
        held = getattr(ctx.program.model, attr, None) if owner == "self" or owner not in ctx.program.module.__dict__ else None
        if isinstance(held, (int, float)) and not isinstance(held, bool) and _close(held, value):
            return f"the attribute {owner}.{attr} = {held:g}{where}"
    for name in re.findall(r"\b([A-Za-z_]\w*)\b", text):
        held = ctx.program.module.__dict__.get(name)
        if isinstance(held, (int, float)) and not isinstance(held, bool) and _close(held, value):
            set_at = module_assignment(loc.path, name) if loc is not None else None
            if set_at is not None and set_at.line != loc.line:  # BETA = 4 at the top, used in the step
                return f"the module-level {name} = {held:g}, set at {set_at.where()} and used at {loc.where()}"
            return f"the module-level {name} = {held:g}{where}"
    folded = _times_a_number(ctx, text, value)
    if folded is not None:  # beta * 0.5 * torch.sum(...): the run folds the weight and the 1/2 into one number
        return f"{folded}{where}"
    literal = _literal_said(text, value)
    if literal is not None:
        return f"{literal}{where}"
    divisor = _size_divisor(text, value) if _divides_by_a_size(factor) else None
    if divisor is not None:
        return f"the division by {divisor} = {round(1 / value)}{where}"  # / x.size(0): a length, not a batch size
    over = _constant_over_a_size(ctx, text, value)
    if over is not None:
        return f"the factor {over} = {value:g}{where}"  # -0.5 / adj.size(0): the number of nodes, the KL's 1/2 folded in
    assigned = _assigned_name(loc, text, _kl_lines(factor), value)
    setting = _setting(factor, text)
    if setting is not None and setting_is_the_weight(text, setting, assigned, lambda n: loc is not None and _weighed(text, n, loc)):
        return f"{setting} = {value:g}{where}"  # args.kl_weight, not args = parser.parse_args()
    if assigned is not None and (beside := _number_beside(text, assigned[0])):  # -0.5 / n: the KL's 1/2 folded in
        return f"the factor {beside} = {value:g}{where}"
    if assigned is not None and not _other_value(ctx, assigned[0], value) and not (loc is not None and _weighed(text, assigned[0], loc)):
        return f"{assigned[0]}, set at {assigned[1].where()} as `{assigned[2]}`"
    given = _given_by_the_caller(factor, text)
    if given is not None:  # beta=cfg["train"]["beta"] where the step calls the loss
        return f"{given}, used at {loc.where()}" if loc else given
    return f"a factor of {value:g}{where}"


def _times_a_number(ctx, text: str, value: float) -> str | None:
    """A name on the line (``args.beta``, ``self.cfg.beta``, a module-level ``BETA``) whose value times
    a number written beside it is the factor: "args.beta = 0.02 times 0.5"."""
    numbers = [float(n) for n in _NUMBER.findall(text) if float(n)]
    for chain in dict.fromkeys(re.findall(r"(?<![.\w])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?![\w(])", text)):
        held = _value_of(ctx, chain)
        if held is None or _close(held, value):
            continue
        for number in numbers:
            if _close(held * number, value):
                return f"{chain} = {held:g} times {number:g}"
    return None


def _value_of(ctx, chain: str) -> float | None:
    """The number a dotted name holds where the step can see it (the model for ``self``, the module)."""
    first, *rest = chain.split(".")
    module = getattr(ctx.program, "module", None)
    held = ctx.program.model if first == "self" else module.__dict__.get(first) if module is not None else None
    for attr in rest:
        held = held.get(attr) if isinstance(held, dict) else getattr(held, attr, None)
    if isinstance(held, torch.Tensor) and held.numel() == 1:
        held = float(held)
    return float(held) if isinstance(held, (int, float)) and not isinstance(held, bool) else None


def _weighed(text: str, name: str, loc) -> bool:
    """Is ``name`` the term a product on the line weighs, not its weight? The other side is the
    weight where it is a number made of a name (``float(beta) * kl``) or a parameter of the
    function the line is in (``beta * kl`` in ``def loss(..., beta)``), and ``name`` is neither."""
    import ast

    try:
        tree = ast.parse(text.strip().removeprefix("return ").strip())
    except SyntaxError:
        return False
    params = _parameters_around(loc)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
            continue
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if not (isinstance(side, ast.Name) and side.id == name) or name in params:
                continue
            converted = isinstance(other, ast.Call) and getattr(other.func, "id", "") in ("float", "int") and other.args
            if converted or (isinstance(other, ast.Name) and other.id in params) or _a_setting_of(other, params):
                return True
    return False


def _a_setting_of(node, params: set) -> bool:
    """``cfg.beta``, ``config["train"]["kl_weight"]``: an attribute or item of a parameter of the
    function (a configuration handed to it), the weight of the product it sits in."""
    import ast

    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name) and node.id in params


def _parameters_around(loc) -> set:
    """The parameter names of the function whose body holds ``loc``'s line."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(loc.path))
    except (OSError, SyntaxError, ValueError, AttributeError):
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= loc.line <= (node.end_lineno or 0):
            found = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
    return found


def _given_by_the_caller(factor, text: str) -> str | None:
    """``beta`` a parameter of the loss function, given by its caller as ``beta=cfg["train"]["beta"]``
    (a weight from a config file): "beta, given as beta=cfg["train"]["beta"] at train.py:35"."""
    stack = factor.node.meta.get("stack") if factor.node is not None else None
    names = [n for n in re.findall(r"\b([A-Za-z_]\w*)\b", text) if n not in ("self", "torch", "F")]
    for caller in (stack or [])[1:3]:
        call = line_text(caller.path, caller.line)
        for name in names:
            # a keyword of a call (``f(x, beta=cfg.beta)``), not an assignment's target (``loss, kl = f(...)``)
            given = re.search(rf"[(,]\s*{name}\s*=(?!=)\s*([^,()=]+(?:\([^()]*\))?[^,()=]*)", call)
            if given is not None and "(" not in call[: given.start() + 1]:
                continue
            if given is not None and given.group(1).strip() != name:
                return f"{name}, given as {name}={given.group(1).strip()} at {caller.where()}"
    return None


def handed_expression(factor, text: str) -> str:
    """What the caller wrote for a parameter on the factor's line (``warm`` of ``kl_weight=warm``), or ""."""
    given = _given_by_the_caller(factor, text)
    return given.split(" given as ", 1)[-1].split("=", 1)[-1].rsplit(" at ", 1)[0] if given else ""


def named_weight(ctx, factor) -> bool:
    """Is the factor a weight read from a name (``b``, ``self.beta``, a keyword)? A number written
    out (``0.25 * -torch.sum(...)``, ``-0.5 / adj.size(0)``, ``beta * 0.5``) may hold the KL
    formula's own 1/2."""
    source = factor_source(ctx, factor)
    return not source.startswith(("a factor of", "the literal", "the factor ")) and " times " not in source


def _other_value(ctx, name: str, value: float) -> bool:
    """Does ``name`` hold a number (at module level) that is neither the factor nor its inverse?
    Then the factor is more than the name: ``-0.5 / n`` is 0.0025 with n = 200, the KL formula's
    1/2 folded into it."""
    held = ctx.program.module.__dict__.get(name) if getattr(ctx.program, "module", None) is not None else None
    if isinstance(held, torch.Tensor):
        # a tensor of many values is no weight: the factor is computed from it (``-0.5 /
        # adj.size(0)``, a graph VAE's KL over its N nodes, the 1/2 folded in)
        return held.numel() != 1 or not _close(float(held), value)
    return isinstance(held, (int, float)) and not isinstance(held, bool) and not _close(held, value)


def _divides_by_a_size(factor) -> bool:
    """Is the factor's own op a division by a size query (``/ x.size(0)``), not a weight that
    happens to sit on a line that also divides by one?"""
    node = getattr(factor, "node", None)
    if not isinstance(node, fx.Node) or op_name(node) not in ("div", "floordiv", "true_divide"):
        return False
    return len(node.args) > 1 and isinstance(node.args[1], fx.Node) and is_size(node.args[1])


def _size_divisor(text: str, value: float) -> str | None:
    """``x.size(0)`` when the line divides by a size of a tensor and the factor is one over a
    whole number (the KL divided by the sequence length): said as the division, not as a
    name assigned before it; ``kl /= x.shape[1]`` in place too (it was said "x.shape = 0.00127551")."""
    if not value or value >= 1 or not _close(1 / value, round(1 / value)):
        return None
    found = re.findall(r"/=?\s*(\w[\w.]*\.(?:size\(\s*-?\d*\s*\)|shape\[\s*-?\d+\s*\])|len\(\s*\w[\w.]*\s*\))", text)
    return found[-1] if len(set(found)) == 1 else None


def _constant_over_a_size(ctx, text: str, value: float) -> str | None:
    """``-0.5 / adj.size(0)`` written on the KL, ``adj`` a tensor of the module (so fx folded the
    division into one number): the expression, when it gives the factor."""
    module = getattr(getattr(ctx, "program", None), "module", None)
    if module is None:
        return None
    pattern = r"(-?\s*\d*\.?\d+)\s*/\s*(?:(\w+)\.size\(\s*(\d+)\s*\)|(\w+)\.shape\[\s*(\d+)\s*\]|len\(\s*(\w+)\s*\))"
    for m in re.finditer(pattern, text):
        name = m.group(2) or m.group(4) or m.group(6)
        held = module.__dict__.get(name)
        try:
            dim = m.group(3) or m.group(5)
            size = len(held) if m.group(6) else held.shape[int(dim)]
            c = float(m.group(1).replace(" ", ""))
        except (TypeError, AttributeError, IndexError, ValueError):
            continue
        if size and _close(c / size, value):
            return " ".join(m.group(0).split())
    return None


def _factor_side(factor, texts: list[str]) -> int | None:
    """Which of the two operands is the weight: a number written out, or the
    ``self.`` attribute the message names; None when the source does not say."""
    import ast

    numbers = []
    for i, text in enumerate(texts):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.append(i)
    if len(numbers) == 1:
        return numbers[0]
    kl = _kl_operand(factor, texts)
    if kl is not None:
        return 1 - kl
    named = _assigned_name(factor.loc, line_text(factor.loc.path, factor.loc.line), _kl_lines(factor)) if factor.loc else None
    if named is not None and named[0].startswith("self.") and texts.count(named[0]) == 1:
        return texts.index(named[0])
    return None


def _kl_lines(factor) -> set:
    """The lines where the operands the run recorded as tensors were made: the KL side of the
    product (``self.loss_E`` of ``self.opt.beta * self.loss_E`` was made at ``self.loss_E /= n``)."""
    import torch.fx as fx

    node = getattr(factor, "node", None)
    locs = [loc_of(a) for a in (node.args if node is not None else ()) if isinstance(a, fx.Node)]
    return {(loc.path, loc.line) for loc in locs if loc is not None}


def _kl_operand(factor, texts: list[str]) -> int | None:
    """Which operand's text is the KL term: the name or attribute assigned where the run made
    the tensor the factor multiplies."""
    import ast

    from vaelint.source.facts import origin_of

    lines = _kl_lines(factor)
    if factor.loc is None or not lines:
        return None
    found = []
    for i, text in enumerate(texts):
        try:
            expr = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            continue
        origin = origin_of(factor.loc, expr) if isinstance(expr, (ast.Name, ast.Attribute)) else None
        if origin is not None and (origin[0].path, origin[0].line) in lines:
            found.append(i)
    return found[0] if len(found) == 1 else None


def _assigned_name(loc, text: str, skip: set = frozenset(), value: float | None = None):
    """A name on the factor's line that the function assigns before it
    (``kld_weight = kwargs['M_N']``): (name, where, the assignment's text). Of several
    assignments, the last one that can have given ``value``: ``beta = 1.0`` under an ``if`` the
    run did not take is not where a weight of 0.1 was set."""
    import ast

    from vaelint.source.facts import origin_of, origins_of

    def could_give(found) -> bool:
        rhs = found[1].split("=", 1)[1].strip() if "=" in found[1] else ""
        try:
            literal = ast.literal_eval(rhs)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return True
        if literal is None:
            return value is None  # kl_weight = None, set later: not where a number came from
        return value is None or not isinstance(literal, (int, float)) or math.isclose(literal, value, rel_tol=1e-6)

    if loc is None:
        return None
    if loc.end_line == loc.line and loc.end_column:
        text = text_at(loc) or text  # the multiplication itself: `kld_weight * kld_loss`
    # in a product of two, an attribute that is a whole operand is the weight:
    # ``self.beta * total_kld`` (not ``(1 - self.alpha) * kld_weight * kld``, nor
    # ``self.beta * kld_weight * kld``, whose weight is more than the attribute)
    two = _top_level_stars(text) == 1
    for attr in re.findall(r"(?:^|\*)\s*self\.(\w+)\s*(?=\*|$)", text.strip()) if two else []:
        found = origin_of(loc, ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Load()))
        # the constructor's self.kl_weight = 1.0 is not where a weight of 4 came from (a schedule set it)
        if found is not None and (found[0].path, found[0].line) not in skip and could_give(found):
            return f"self.{attr}", found[0], found[1]
    for name in re.findall(r"(?<![.\w])([A-Za-z_]\w*)\b", text):
        found = next((f for f in reversed(origins_of(loc, ast.Name(name, ast.Load()))) if could_give(f)), None)
        if found is not None and found[0].line < loc.line and (found[0].path, found[0].line) not in skip:
            return name, found[0], found[1]
    return None


def _setting(factor, text: str) -> str | None:
    """A setting the factor is read from (``self.opt.beta``, ``args.kl_weight``,
    ``cfg.loss.beta``): the one dotted name of the product that is not the KL term."""
    if factor.loc is None:
        return None
    if factor.loc.end_line == factor.loc.line and factor.loc.end_column:
        text = text_at(factor.loc) or text
    chains = list(dict.fromkeys(re.findall(r"(?<![.\w])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w(])", text)))
    kl = _kl_operand(factor, chains)
    rest = [c for i, c in enumerate(chains) if i != kl]
    return rest[0] if len(rest) == 1 and (kl is not None or len(chains) == 1) else None


def _top_level_stars(text: str) -> int:
    """How many ``*`` multiply at the outermost level of an expression's text."""
    depth, count = 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "*" and depth == 0 and text[i - 1 : i] != "*" and text[i + 1 : i + 2] != "*":
            count += 1
    return count


def text_at(loc) -> str:
    """The source between a location's start and end columns."""
    from vaelint.source.files import read_source

    try:
        lines = read_source(loc.path).splitlines()
    except (OSError, ValueError):
        return ""
    return lines[loc.line - 1][loc.column - 1 : loc.end_column - 1] if 0 < loc.line <= len(lines) else ""


def unit_weight(ctx, term) -> str | None:
    """``self.NAME`` where the KL term is weighted by an attribute that holds 1 on this check (a
    loss class built with its defaults, ``ElboLoss(beta=1)``, where the training builds it with
    another value): a weight in the code, at 1 here, not a KL with no weight. None else."""
    loc = loc_of(term)
    text = line_text(loc.path, loc.line) if loc else ""
    plan = getattr(ctx, "loss", None)
    fn = plan.fn if plan is not None else None
    holders = [h for h in (getattr(fn, "__self__", None), fn, getattr(ctx.program, "model", None)) if h is not None]
    for attr in re.findall(r"self\.(\w+)\s*\*|\*\s*self\.(\w+)", text):
        name = attr[0] or attr[1]
        for holder in holders:
            held = getattr(holder, name, None)
            if isinstance(held, (int, float)) and not isinstance(held, bool) and held == 1:
                return f"self.{name}"
    return None
