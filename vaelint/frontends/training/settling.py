"""Where a schedule read at round counter values (:mod:`.schedules`) really settles: the first whole
counter value, between two readings, at which the weight reaches its last value."""

from __future__ import annotations

import math


def settled_at(values: list, evaluate) -> list:
    """The readings with the counter's first value where the weight reaches the value it settles
    at, found between the two readings around it (``min(1, epoch / 50)`` settles from epoch 50, not
    from the reading at 100): bisected over whole counter values, the weight moving one way there."""
    last = values[-1][1]
    k = next(
        (i for i, (_c, v) in enumerate(values) if all(math.isclose(w, last, rel_tol=1e-9, abs_tol=1e-12) for _c2, w in values[i:])), None
    )
    if not k or not isinstance(values[k - 1][0], int) or values[k][0] - values[k - 1][0] < 2:
        return values
    before = [v for _c, v in values[:k]] + [last]
    if not (all(a <= b for a, b in zip(before, before[1:])) or all(a >= b for a, b in zip(before, before[1:]))):
        return values  # it went up and down on the way (a cyclical schedule): no one crossing
    low, high = values[k - 1][0], values[k][0]  # not settled at low, settled at high
    while high - low > 1:
        mid = (low + high) // 2
        got = evaluate(mid)
        if got is None:
            return values
        if math.isclose(got, last, rel_tol=1e-9, abs_tol=1e-12):
            high = mid
        else:
            low = mid
    if high == values[k][0]:
        return values
    # settled from there on, where it can be seen: a few counter values up to the next reading
    span = values[k][0] - high
    for c in {high + span // 4, high + span // 2, high + 3 * span // 4, values[k][0] - 1}:
        got = evaluate(c)
        if got is None or not math.isclose(got, last, rel_tol=1e-9, abs_tol=1e-12):
            return values
    return [*values[:k], (high, last), *values[k:]]
