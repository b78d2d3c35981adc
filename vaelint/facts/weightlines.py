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


def setting_is_the_weight(text: str, setting: str, assigned, weighed) -> bool:
    """Is the setting on the line (``args.kl_weight``) what names the weight, rather than the name
    assigned before it: none is, that name is the term weighed (``kl`` of ``cfg.beta * kl``), the
    setting is an attribute of it (not ``args = parser.parse_args()``), or the setting is a side of
    the product and that name is not (read inside the other side: ``F.l1_loss(recon, x) *
    args.recon_weight``, not ``recon``). ``weighed(name)``: is that name the term weighed?"""
    if assigned is None or setting.startswith(assigned[0] + "."):
        return True
    if weighed(assigned[0]):
        return True
    return multiplies(text, setting) and not multiplies(text, assigned[0])
