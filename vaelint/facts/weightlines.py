"""What a line of the loss says of a weight on it, read from its text (``F.l1_loss(recon, x) *
args.recon_weight``: the setting is a side of the product)."""

from __future__ import annotations

import ast


def multiplies(text: str, setting: str) -> bool:
    """Is the setting a side of a product or quotient on the line (``F.l1_loss(recon, x) *
    args.rec_weight``), the weight itself, whatever names the other side reads?"""
    try:
        tree = ast.parse(text.strip().removeprefix("return ").strip())
    except SyntaxError:
        return False
    return any(
        isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div)) and setting in (ast.unparse(n.left), ast.unparse(n.right))
        for n in ast.walk(tree)
    )
