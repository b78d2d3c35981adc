"""Why a training step's model could not be found: the step calls no module vaelint can see
(a setup line that failed may have built it, a name the step uses that the setup never
defined), said once per failed line."""

from __future__ import annotations

import ast
import re

from vaelint.errors import VaelintError


def said_once(failed: list) -> list[str]:
    """The failed setup lines, each said once: a line whose error names its own place already
    (``a.py:196: a.py:37: the step uses ...``) is said from that place, and an error said twice
    (the same line reached from two places) once."""
    out: list[str] = []
    for text in failed:
        text = re.sub(r"^[^\s:]+:\d+: (?=[^\s:]+:(?:\d+|cell \d+:\d+): )", "", text.rstrip(". "))
        if text not in out:
            out.append(text)
    return out


def no_modules(plan, fn, failed: list) -> str:
    """Why a step reached calls no model: often a name nothing defines (a notebook
    run out of order: its cells train ``vae`` but define ``model``); else the setup's
    failed lines (``failed``), which may have built it."""
    import builtins

    from vaelint.source.cells import where
    from vaelint.source.facts import origin_of
    from vaelint.source.frames import SourceLoc

    site = plan.site.place
    from vaelint.frontends.placeholders import MissingImport

    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    for name in [*fn.__code__.co_freevars, *fn.__code__.co_names]:
        try:
            value = cells[name].cell_contents if name in cells else fn.__globals__.get(name)
        except ValueError:
            continue
        if isinstance(value, MissingImport):  # a setup line that failed: say which, and why
            try:
                value._fail()
            except VaelintError as e:
                return f"the training step uses {name!r}, which the setup could not build: {e.message}"
    undefined = []
    for stmt in plan.region:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in undefined:
                known = node.id in fn.__globals__ or node.id in fn.__code__.co_freevars or hasattr(builtins, node.id)
                assigned = any(
                    isinstance(s, (ast.Assign, ast.AugAssign, ast.For))
                    and node.id in {n.id for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                    for s in ast.walk(ast.Module(body=plan.region, type_ignores=[]))
                )
                if not known and not assigned and node.id not in plan.batch_names:
                    undefined.append((node.id, node.lineno))
    if undefined:
        name, line = undefined[0]
        defined = origin_of(SourceLoc(site.scope.path, line, 1), ast.Name(name, ast.Load()))
        if defined is not None:  # under a condition that was false, or after a line that failed
            return (
                f"{where(site.scope.path, line)}: the training step uses {name!r}, which the setup did not define "
                f"with these arguments: the line that defines it ({where(site.scope.path, defined[0].line)}) did not run "
                "(a condition on the way was false, or a line before it failed). Give the script's arguments "
                "with --script-args."
            )
        return (
            f"{where(site.scope.path, line)}: the training step uses {name!r}, which nothing before it defines "
            "(in a notebook: cells run out of order?). Define it, or check the model with PATH:MODEL --loss PATH:LOSS."
        )
    shown = said_once(failed)[:3]
    because = f" Lines of the setup that failed, which may have built it: {'; '.join(shown)}." if shown else ""
    handed = _model_parameter(plan)
    if handed:
        return f"{handed}{because}"
    return (
        f"{where(site.scope.path, site.line)}: the training step calls no nn.Module that vaelint can see; "
        f"check the model with PATH:MODEL --loss PATH:LOSS.{because}"
    )


def _model_parameter(plan) -> str:
    """The step calls a parameter of the function checked (``model(x)`` in ``def train(model,
    optimizer, loader)``) that vaelint has no module for, as the code's own call of the function was
    not reached: which parameter, and the line that builds what the code hands it ("" if none)."""
    from vaelint.source.cells import where
    from vaelint.source.facts import handed_to

    scope = plan.site.place.scope.node  # the function's own definition (fn is the step made of it)
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    params = [a.arg for a in (*scope.args.posonlyargs, *scope.args.args, *scope.args.kwonlyargs)]
    called = [
        (n.func.id, n.lineno)
        for stmt in plan.region
        for n in ast.walk(stmt)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in params
    ]
    if not called:
        return ""
    name, line = called[0]
    path = plan.site.place.scope.path
    said = (
        f"{where(path, line)}: the training step calls {name}(...), the parameter {name!r} of {scope.name}, and vaelint "
        f"has no module for it: the code's own call of {scope.name} was not reached"
    )
    built = handed_to(path, scope.name, params.index(name), name)
    model = "MODEL"
    if built is not None:
        loc, text = built
        said += f"; the module it hands over is built at {where(path, loc.line)} ({text}), which did not run"
        made = re.search(r"=\s*([A-Za-z_][\w.]*)\(", text)
        model = made.group(1).rpartition(".")[2] if made else model
    return (
        f"{said}. Make the setup run (its data where the code reads it), or check the model alone: "
        f"{where(path, 1).rpartition(':')[0]}:{model} --input SPEC, with --init NAME=VALUE for its constructor's arguments."
    )
