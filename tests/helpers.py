"""Running vaelint in-process for tests."""

from __future__ import annotations

from vaelint.analyze import Options, analyse
from vaelint.inputs import parse_input_spec


def check(path: str, target: str, inputs, loss: str | None = None, init=None, dynamic=True, **kw):
    options = Options(inputs=[parse_input_spec(s) for s in inputs], init=dict(init or {}), loss=loss, dynamic=dynamic, **kw)
    return analyse(path if target == "-" else f"{path}:{target}", options)


def found(result) -> set:
    return {(f.code, f.loc.line if f.loc else None) for f in result.findings}
