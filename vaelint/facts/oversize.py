"""A number over a size written before the tensor it scales (``-0.5 / x.size(0) * torch.sum(...)``,
``(1 / (2 * n)) * (mu.pow(2).sum() + ...)``): its constant and its division by the size, as the
factors :class:`vaelint.facts.reductions.TermWalker` reads for a term (and termscale for a sum of parts)."""

from __future__ import annotations

import torch.fx as fx

from vaelint.facts.argnumbers import literal_times, size_said
from vaelint.facts.termfactor import Factor


def constant_over_size(walker, scale, other) -> bool:
    """``c / n`` written before the tensor (``-0.5 / x.size(0) * torch.sum(...)``, negated too: ``-(0.5 / N)``):
    a Python number over a size no run holds; its constant and its division by the size are the term's factors."""
    negated = isinstance(other, fx.Node) and walker.view.op(other) == "neg" and len(other.args) == 1
    other, sign = (other.args[0], -1) if negated else (other, 1)
    if not isinstance(other, fx.Node) or walker.view.op(other) not in ("truediv", "div") or len(other.args) != 2:
        return False
    c, size = other.args
    if not isinstance(c, (int, float)) or isinstance(c, bool) or c == 0 or not isinstance(size, fx.Node):
        return False
    num = walker.scalar_of(other, size)
    if num is None or num[0] == 0:
        return False
    value, power, k = num
    written = literal_times(walker.view, size, k) if power else 0
    if written:  # 1 / (2 * n): the number written times a size, its 1/2 a weight on 1 / n
        c, k = c / written, k // written
    scale.factors.append(Factor("const", float(sign * c), 0, 1, f"{sign * c:g}", other, "mul"))
    if power:
        shown, k = size_said(walker.ctx.batch_size_text, k, value)
        scale.factors.append(Factor("size", 1.0, -1, k, shown, other, "div"))
    else:
        shown = f"{int(value)}" if float(value).is_integer() else f"{1 / value:g}"
        scale.factors.append(Factor("const", 1 / value, 0, 1, shown, other, "div"))
    return True
