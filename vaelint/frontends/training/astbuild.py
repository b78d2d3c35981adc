"""Building the AST nodes the rewrite adds to the user's code (vaelint/frontends/training/rewrite.py):
calls of the runtime, constants, and generated statements placed at the line they stand for."""

from __future__ import annotations

import ast

RT = "__vaelint__"  # the runtime's name in the rewritten modules
ITEMS, NAMED = "__vaelint_items", "__vaelint_named"
SAVED = "__vaelint_saved_"  # SAVED + NAME: a variable's value when the batch came in (step += 1 reads it)


def rt(attr: str) -> ast.expr:
    return ast.Attribute(value=ast.Name(RT, ast.Load()), attr=attr, ctx=ast.Load())


def batch_use(use) -> ast.expr:
    """``BatchUse(kind, arity, keys=(...))``, how the generated step reads a batch; or None."""
    if use is None:
        return const(None)
    keys = [ast.keyword("keys", const(tuple(use.keys)))] if use.keys else []
    keys += [ast.keyword("type_tested", const(True))] if getattr(use, "type_tested", False) else []
    keys += [ast.keyword("optional", const(tuple(use.optional)))] if getattr(use, "optional", ()) else []
    keys += [ast.keyword("listed", const(tuple(use.listed)))] if getattr(use, "listed", ()) else []
    return ast.Call(func=rt("BatchUse"), args=[const(use.kind), const(use.arity)], keywords=keys)


def rt_call(attr: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=rt(attr), args=list(args), keywords=[])


def const(v) -> ast.expr:
    return ast.Constant(v)


def located(node: ast.AST, like: ast.AST) -> ast.AST:
    """``node`` and every node inside it without a location get ``like``'s."""
    for n in ast.walk(node):
        if isinstance(n, (ast.stmt, ast.expr, ast.excepthandler, ast.arg, ast.keyword)):
            if not hasattr(n, "lineno"):
                ast.copy_location(n, like)
            if getattr(n, "end_lineno", None) is None:
                n.end_lineno, n.end_col_offset = getattr(like, "end_lineno", like.lineno), getattr(like, "end_col_offset", 0)
    return node


def mark(stmt: ast.stmt) -> ast.stmt:
    stmt._vaelint_kept_as_is = True  # a path statement or the region: no setup wrapping
    return stmt


def function_def(name: str, body: list[ast.stmt]) -> ast.FunctionDef:
    """def NAME(*__vaelint_items, **__vaelint_named): BODY"""
    fields = dict(
        name=name,
        args=ast.arguments(
            posonlyargs=[], args=[], vararg=ast.arg(ITEMS), kwonlyargs=[], kw_defaults=[], kwarg=ast.arg(NAMED), defaults=[]
        ),
        body=body,
        decorator_list=[],
        returns=None,
    )
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        fields["type_params"] = []
    return ast.FunctionDef(**fields)


def no_args() -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
