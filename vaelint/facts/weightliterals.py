"""Numbers written on a KL weight's line (``1e-6 * -0.5 * torch.sum(...)``, ``-0.5 / n``): what
:mod:`vaelint.facts.weightsource` reads to say where a factor comes from."""

from __future__ import annotations

import math
import re

NUMBER = re.compile(r"(?<![\w.])(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.])")


def number_beside(text: str, name: str) -> str | None:
    """``-0.5 / n``, ``n * 0.5``: a number written against the name on the line, or None."""
    found = re.search(rf"(-?\d+(?:\.\d*)?(?:e-?\d+)?\s*[/*]\s*{re.escape(name)}\b|\b{re.escape(name)}\s*[/*]\s*\d+(?:\.\d*)?)", text)
    return found.group(1) if found is not None else None


def literal_said(text: str, value: float) -> str | None:
    """A number written on the line that is the factor (never the 5 of 0.5), or two whose product is
    (``1e-6 * -0.5 * torch.sum(...)``: literals the run folds into one number)."""
    if any(close(float(n), value) for n in NUMBER.findall(text)):
        return f"the literal {value:g}"
    numbers = [float(n) for n in NUMBER.findall(text) if float(n)]
    pair = next(((a, b) for i, a in enumerate(numbers) for b in numbers[i + 1 :] if close(abs(a * b), abs(value))), None)
    return f"the literals {pair[0]:g} * {pair[1]:g}" if pair is not None else None


def close(a, b) -> bool:
    """The same number, or its inverse (a weight written as a divisor)."""
    return math.isclose(float(a), float(b), rel_tol=1e-6) or math.isclose(1 / float(a), float(b), rel_tol=1e-6) if a else False
