"""Running vaelint in-process for tests."""

from __future__ import annotations

from vaelint.analyze import Options, analyse
from vaelint.inputs import parse_input_spec


def check(path: str, target: str, inputs, loss: str | None = None, init=None, dynamic=True, **kw):
    options = Options(inputs=[parse_input_spec(s) for s in inputs], init=dict(init or {}), loss=loss, dynamic=dynamic, **kw)
    return analyse(path if target == "-" else f"{path}:{target}", options)


def found(result) -> set:
    return {(f.code, f.loc.line if f.loc else None) for f in result.findings}


def captured_graph(path, target, spec="4x784", route="fx"):
    """The captured computation of ``path:target`` by torch.fx (``route="fx"``) or by recording a run at ``spec``."""
    from vaelint.capture.recording import capture_recording
    from vaelint.capture.symbolic import capture_fx
    from vaelint.facts.shapes import make_inputs
    from vaelint.frontends import LoadRequest, load_program

    loaded = load_program(f"{path}:{target}", LoadRequest(init={}))
    if route == "fx":
        return capture_fx(loaded, None, None, 1)
    return capture_recording(loaded, None, None, make_inputs([parse_input_spec(spec)], 4))
