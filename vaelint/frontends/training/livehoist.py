"""The batch of an index loop written into the model's call (``model(data[i : i + 32])``): no
variable holds it, so the step read off the run (:mod:`.livestep`) had no batch to be given, and
the check stopped with "no variable of the code holds the batch". The slice the model was given is
named, ``vaelint_batch``, in a copy of the step's statements (everywhere it is written: the loss's
``data[i : i + 32]`` too), and that name is the step's batch."""

from __future__ import annotations

import ast
import copy

NAME = "vaelint_batch"


def hoisted_input(statements: list[ast.stmt], values: dict, module_globals: dict, inputs: list):
    """(expression, value) of a slice of a variable written in ``statements`` (the loop body up to
    the backward) whose value is the model's first input; None where there is none."""
    import torch

    wanted = [t for t in inputs if isinstance(t, torch.Tensor)][:1]
    if not wanted:
        return None
    target = wanted[0]
    for stmt in statements:
        for node in ast.walk(stmt):
            if not isinstance(node, ast.Subscript) or not _plain(node):
                continue
            try:
                value = eval(compile(ast.Expression(copy.deepcopy(node)), "<vaelint>", "eval"), dict(module_globals), dict(values))  # noqa: S307
            except Exception:  # noqa: BLE001 - an expression this frame cannot evaluate: not it
                continue
            if (
                isinstance(value, torch.Tensor)
                and value.shape == target.shape
                and value.dtype == target.dtype
                and torch.equal(value, target)
            ):
                return node, value
    return None


def _plain(node: ast.Subscript) -> bool:
    """A slice of a name or an attribute by names, numbers and arithmetic: evaluating it again
    changes nothing (no call, no generator)."""
    allowed = (ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Tuple)
    allowed += (ast.Load, ast.operator, ast.unaryop)
    return all(isinstance(n, allowed) for n in ast.walk(node))


def named(statements: list[ast.stmt], expression: ast.expr) -> list[ast.stmt]:
    """Copies of ``statements`` with every occurrence of ``expression`` read as the name."""
    shape = ast.dump(expression)

    class Name(ast.NodeTransformer):
        def visit_Subscript(self, node):
            if ast.dump(node) == shape:
                return ast.copy_location(ast.Name(NAME, ast.Load()), node)
            return self.generic_visit(node)

    return [Name().visit(copy.deepcopy(s)) for s in statements]
