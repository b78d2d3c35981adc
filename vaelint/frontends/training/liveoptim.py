"""Parameters another optimiser of the code trains: a VAE-GAN's discriminator, stepped by its
own optimiser after a backward that comes after the VAE's (the run stops at the VAE's, so that
backward is never seen). Its parameters get no gradient from the VAE loss by design: VAE011
does not call them dead."""

from __future__ import annotations


def optimisers_in(values: dict, module_globals: dict) -> list:
    """The optimisers the step's frame can reach: its variables, the module's names, and the
    attributes of the objects among them (``self.optim_D`` of a trainer object)."""
    import torch

    found, seen = [], set()

    def look(value, depth: int) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, torch.optim.Optimizer):
            found.append(value)
        elif isinstance(value, (list, tuple)) and depth < 2:
            for v in value[:16]:
                look(v, depth + 1)
        elif isinstance(value, dict) and depth < 2:
            for v in list(value.values())[:64]:
                look(v, depth + 1)
        elif (
            depth < 1
            and hasattr(value, "__dict__")
            and not isinstance(value, (type, torch.nn.Module, torch.Tensor))
            and not type(value).__module__.startswith(("builtins", "torch"))
        ):
            for v in list(vars(value).values())[:64]:
                look(v, depth + 1)

    for value in [*values.values(), *module_globals.values()]:
        look(value, 0)
    return found


def trained_by_other_optimisers(optimisers: list, reached: set, later_backward: bool = False) -> set:
    """id()s of the parameters of the optimisers that hold none of the parameters the VAE loss
    reaches: their own losses train them. Where the step goes on to another backward after the
    VAE's (a VAE-GAN's discriminator loss), an optimiser other than the VAE's (the one holding
    most of what the VAE loss reaches) trains its parameters by that backward, even where the
    VAE loss reaches some of them (the discriminator's features in a feature-matching loss): the
    ones the VAE loss does not reach (its real/fake head) are trained there, not dead."""
    optimisers = list({id(opt): opt for opt in optimisers}.values())  # one optimiser listed twice is one
    held = [{id(p) for group in opt.param_groups for p in group.get("params", ())} for opt in optimisers]
    out = set()
    for params in held:
        if params and not params & reached:
            out |= params
    if later_backward and len(held) > 1:
        # the other optimisers' parameters the VAE loss does not reach are trained by the later
        # backward, even where an optimiser holds the VAE's too (two Adams over model.parameters(),
        # the critic a submodule of the model: student VAE-GAN code)
        vaes = max(held, key=lambda params: len(params & reached))
        for params in held:
            if params is not vaes:
                out |= params - reached
    return out


_OPTIMISERS = {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "LBFGS", "SparseAdam", "ASGD", "Rprop"}


class _Read:
    """An optimiser the read code would build: the parameter groups its first argument gives."""

    def __init__(self, params):
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{"params": list(g.get("params", ()))} for g in groups]


def read_optimisers(path: str, namespace: dict, sandbox) -> list:
    """The optimisers the file builds (``torch.optim.Adam(net.disc.parameters(), ...)``), read
    from its code where the setup left them out: each one's parameters, from its first argument
    evaluated where the step runs (``self``, the module's names). Those that need what is not
    there are left out."""
    import ast

    from vaelint.source.astutil import dotted
    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and dotted(node.func).rpartition(".")[2] in _OPTIMISERS):
            continue
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "params"), None)
        if arg is None:
            continue
        try:
            with sandbox.active():
                params = eval(compile(ast.Expression(body=arg), path, "eval"), dict(namespace))  # noqa: S307 - the user's own argument
            found.append(_Read(params))
        except Exception:  # noqa: BLE001, S112 - it needs what only the setup computes: not this one
            continue
    return found


def backward_after(path: str, line: int) -> bool:
    """Does the function holding the backward at ``path:line`` backpropagate again after it
    (``d_loss.backward()``, ``manual_backward``, ``accelerator.backward``: :func:`.sites.backward_of`)?"""
    import ast

    from vaelint.frontends.training.sites import backward_of
    from vaelint.source.astutil import walk_statements
    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return False
    holders = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.lineno <= line <= (n.end_lineno or n.lineno)
    ]
    body = min(holders, key=lambda n: (n.end_lineno or n.lineno) - n.lineno).body if holders else tree.body
    return any(stmt.lineno > line and backward_of(stmt) is not None for stmt in walk_statements(body))


def backward_elsewhere(path: str, line: int) -> bool:
    """Does the code backpropagate again after the VAE's backward at ``path:line`` in its function
    (:func:`backward_after`), or anywhere else in its file: another function's backward (a VAE-GAN's
    ``disc_step``, called every few batches from another branch of the loop than the VAE's step,
    which the run reaches first)? Then an optimiser other than the VAE's trains its parameters there."""
    import ast

    from vaelint.frontends.training.sites import backward_of
    from vaelint.source.files import read_source

    if backward_after(path, line):
        return True
    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return False
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def holder(at: int):  # the innermost function a line is in (None: the module's top level)
        around = [d for d in defs if d.lineno <= at <= (d.end_lineno or d.lineno)]
        return min(around, key=lambda d: (d.end_lineno or d.lineno) - d.lineno) if around else None

    losses = {n.lineno: ast.dump(loss) for n in ast.walk(tree) if isinstance(n, ast.stmt) and (loss := backward_of(n)) is not None}
    mine = (losses.get(line), holder(line))
    # the same loss backpropagated another way in the same function (scaler.scale(loss).backward()
    # beside loss.backward() under an AMP switch) is the VAE's own, not another network's
    return any(at != line and (loss, holder(at)) != mine for at, loss in losses.items())
