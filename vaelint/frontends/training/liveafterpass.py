"""A run that passed over a backward whose loss reaches no random sample (a VQ-VAE's, a plain
autoencoder's) and then stopped later in the same loop (``torch.cuda.synchronize()`` after
``opt.step()``, a logging line that fails on this machine): the step was reached and ran, as the
user's run reaches it; what stopped the run came after it. The passed backward is the step to
check, as where the run went round without stopping (a loop that failed later in its body is no
reason to say "no training step")."""

from __future__ import annotations

import ast
import os


def stopped_later_in_its_loop(runtime, watch) -> bool:
    """Did the run first stop at a line after the first passed backward's, inside the innermost loop
    that holds that backward (in the same file)?"""
    from vaelint.frontends.training.sites import parse_file

    if not runtime.stops or not watch.passed or not watch.passed[0].frames:
        return False
    where, _error = runtime.stops[0]
    stop_path, _, stop_line = where.rpartition(":")
    if not stop_line.isdigit() or not stop_path:
        return False
    frame, (line, _col), _values = watch.passed[0].frames[-1]
    path = os.path.realpath(frame.f_code.co_filename)
    if os.path.realpath(stop_path) != path:
        return False
    file = parse_file(path)
    loops = (
        [n for n in ast.walk(file.tree) if isinstance(n, (ast.For, ast.While)) and n.lineno <= line <= (n.end_lineno or 0)] if file else []
    )
    if not loops:
        return False
    loop = max(loops, key=lambda n: n.lineno)  # the innermost
    return line < int(stop_line) <= (loop.end_lineno or 0)
