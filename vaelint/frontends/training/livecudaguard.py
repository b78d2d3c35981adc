"""A check in the code that stops it without CUDA (``if not torch.cuda.is_available(): raise``,
``assert torch.cuda.is_available()``), answered as a GPU machine answers it while the code runs
on a machine without CUDA (:mod:`.livecuda`): the code runs on, its moves to CUDA kept on the CPU.
And on a machine with CUDA, a run that stopped where tensors of two devices met
(:func:`met_another_device`): checked again as on a machine without one."""

from __future__ import annotations

import os

from vaelint.source.frames import is_user_file

# "train.py:70": the code's checks that stop it without CUDA, let past (said in a note)
GUARDS_PASSED: list[str] = []


def a_guard_asks(frame) -> bool:
    """Is ``torch.cuda.is_available()`` asked by the code's own check that stops it without CUDA
    (``if not torch.cuda.is_available(): raise ...``, ``assert torch.cuda.is_available()``)? Such
    a check is answered as a GPU machine would answer it, so the code runs on; everything else
    is told the truth (the code's device choice stays the CPU, its moves to CUDA are kept there)."""
    from vaelint.source.frames import display_path

    if not guard_at(frame, _asks_cuda):
        return False
    where = f"{display_path(frame.f_code.co_filename)}:{frame.f_lineno}"
    if where not in GUARDS_PASSED:
        GUARDS_PASSED.append(where)
    return True


def guard_at(frame, asks) -> bool:
    """Is the code's line running in ``frame`` a check that stops the program when the value
    ``asks`` recognises (an ast test) is false: ``assert TEST`` or ``if not TEST: raise/exit``?"""
    import ast

    from vaelint.frontends.training.sites import parse_file

    path = frame.f_code.co_filename
    if not is_user_file(path):
        return False
    file = parse_file(path)
    line = frame.f_lineno
    for node in ast.walk(file.tree) if file else ():
        if getattr(node, "lineno", None) != line:
            continue
        if isinstance(node, ast.Assert) and asks(node.test):
            return True
        if isinstance(node, ast.If) and isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not):
            if asks(node.test.operand) and _stops(node.body):
                return True
    return False


def _asks_cuda(test) -> bool:
    import ast

    return (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Attribute)
        and test.func.attr == "is_available"
        and "cuda" in ast.unparse(test.func)
    )


def _stops(body: list) -> bool:
    """A block that ends the program: it raises or exits (after printing, say)."""
    import ast

    last = body[-1] if body else None
    if isinstance(last, ast.Raise):
        return True
    call = last.value if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) else None
    return call is not None and ast.unparse(call.func) in ("exit", "quit", "sys.exit", "os._exit")


def answer_gpu_queries(patch) -> None:
    """A query of the GPU the code logs (``torch.cuda.get_device_name()``, ``current_device()``):
    answered for device 0 where there is no CUDA, as a GPU machine would answer (it raised "Torch
    not compiled with CUDA enabled" and the run stopped); told the truth where there is CUDA."""
    import torch

    def asked(real, answer):
        return lambda *a, **k: real(*a, **k) if torch.cuda.is_available() else answer

    for name, answer in (
        ("current_device", 0),
        ("get_device_name", "no GPU (vaelint checks on the CPU)"),
        ("get_device_capability", (0, 0)),
    ):
        patch(torch.cuda, name, asked(getattr(torch.cuda, name), answer))
    real_count = torch.cuda.device_count
    # code that asserted CUDA (let past: GUARDS_PASSED) then picks its device as a GPU machine
    # would, ``rank % torch.cuda.device_count()``: one device, not a division by zero (LlamaGen).
    # Asked of the real count, not of is_available(): a CUDA build's is_available() calls
    # device_count(), this very function (a RecursionError on every GPU machine)
    patch(torch.cuda, "device_count", lambda: count if (count := real_count()) > 0 or not GUARDS_PASSED else 1)
    if not torch.cuda.is_available():
        patch(torch, "device", _devices_by_index(torch.device))


def _devices_by_index(real):
    """``torch.device(0)`` (``torch.device(torch.cuda.current_device())``, ``torch.device(args.gpu)``)
    names the first GPU on a GPU machine; without an accelerator torch refuses it ("Cannot access
    accelerator device when none is available") and the run stopped in its setup. Here it is
    ``cuda:0``, whose moves stay on the CPU as every move to CUDA does; any other device is
    torch's own, and ``isinstance(d, torch.device)`` holds for every device, as before."""

    class _Kind(type):
        def __instancecheck__(cls, value):
            return isinstance(value, real)

        def __subclasscheck__(cls, other):
            return issubclass(other, real)

    class device(metaclass=_Kind):
        def __new__(cls, *args, **kwargs):
            try:
                return real(*args, **kwargs)
            except RuntimeError:
                index = args[0] if args else kwargs.get("index", kwargs.get("type"))
                if len(args) + len(kwargs) != 1 or not isinstance(index, int) or isinstance(index, bool):
                    raise
                return real("cuda", index)

    device.__module__, device.__doc__ = real.__module__, real.__doc__
    return device


# torch's words where tensors of two devices meet (or a layer wants its input on the GPU): "Expected
# all tensors to be on the same device", "found at least two devices", "Input type
# (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the same", SyncBatchNorm's
# "expected input tensor to be on GPU"; not any error that says "device" (a config's KeyError)
_TWO_DEVICES = ("same device", "two devices", "to be on GPU", "weight type (torch.cuda", "Input type (torch.cuda")


def met_another_device(error) -> bool:
    """On a machine with a GPU, the run stopped where tensors of two devices met (a label the code
    left on the CPU beside a model it moved to the GPU) or a layer wanted its input on the GPU
    (SyncBatchNorm): checked again as on a machine without one, where VAE012 says which tensor
    is where (vaelint/analyze.py), instead of ending at torch's error."""
    import torch

    if error is None or not torch.cuda.is_available():
        return False
    return any(words in str(error) for words in _TWO_DEVICES)


def names_a_device(args, kwargs) -> bool:
    """Does ``.to(...)`` name a device other than the CPU? ``.to("cpu")``, ``.to(device)`` with a
    ``device = "cpu"`` the code fixed (not chosen by asking for CUDA) places nothing: such code runs
    on the CPU on any machine (a step that moves its batch with ``.to(torch.device("cpu"))`` got a
    false VAE012 on a GPU machine; the simulated-GPU run it caused cost a latent-diffusion VAE a
    whole forward)."""
    import torch

    target = kwargs.get("device", args[0] if args else None)
    if isinstance(target, int) and not isinstance(target, bool):
        return True  # a device ordinal is an accelerator's
    if not isinstance(target, (str, torch.device)):
        return False
    try:
        return torch.device(target).type != "cpu"
    except (RuntimeError, TypeError):  # .to("float16"): a string that names no device
        return False


def to_a_chosen_device(args, kwargs, device_aware: bool) -> bool:
    """``.to(device)`` where ``device`` is the CPU the code chose after asking whether CUDA is
    there (``"cuda" if torch.cuda.is_available() else "cpu"``), not a CPU its line names."""
    import torch

    from vaelint.source.defaultargs import given_as_a_default
    from vaelint.source.facts import line_text, names_the_cpu
    from vaelint.source.frames import frame_loc, innermost_user_frame

    target = kwargs.get("device", args[0] if args else None)
    if not device_aware:
        return False
    if not isinstance(target, (str, torch.device)) or str(target) != "cpu":
        return False
    frame = innermost_user_frame()
    loc = frame_loc(frame) if frame is not None else None
    text = line_text(loc.path, loc.line) if loc is not None else ""
    # a constructor's own default (def __init__(self, device='cpu'), built as VAE()) is the CPU anywhere
    return bool(text) and not names_the_cpu(text) and not given_as_a_default(frame, "device")


_ADVICE = ("print", "warn", "warning", "info", "debug", "echo", "write")


def advises_only(frame) -> bool:
    """Is the frame's line the test of an ``if`` whose body only says something (a print, a
    warning, a log line): the code asks whether CUDA is there only to advise a switch?"""
    import ast

    from vaelint.frontends.training.sites import parse_file

    file = parse_file(os.path.realpath(frame.f_code.co_filename))
    if file is None:
        return False
    line = frame.f_lineno
    for node in ast.walk(file.tree):
        if isinstance(node, ast.If) and node.test.lineno <= line <= (node.test.end_lineno or node.test.lineno):
            said = [s for s in node.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
            names = [ast.unparse(s.value.func).rpartition(".")[2] for s in said]
            return len(said) == len(node.body) and not node.orelse and all(n in _ADVICE for n in names)
    return False
