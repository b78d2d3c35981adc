"""The calls of the user's annotated functions (vaelint/contracts/annotations.py), as they run.

While the capture traces or records the computation, a profile function
(``sys.setprofile``: nothing of the user's is wrapped or changed) notes each
call of a watched function with what it took and returned: the graph node of
each tensor on the capture run, the real tensors on the confirmation's eager
run, where jaxtyping itself checks them (:func:`jaxtyping_rejects`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable

from vaelint.contracts.annotations import Contract, Contracts

# --------------------------------------------------------------------------- calls


@dataclass
class Other:
    """A value that is no tensor (an int, a distribution): kept by kind."""

    kind: str
    value: Any = None


@dataclass
class DataclassValue:
    cls: type
    fields: dict


@dataclass
class Call:
    contract: Contract
    args: dict  # parameter name -> value (a node, a tensor, a tuple of them, Other)
    ret: Any = None
    returned: bool = False
    index: int = 0  # the order calls began in

    @property
    def values(self) -> dict:
        out = dict(self.args)
        if self.returned:
            out["return"] = self.ret
        return out


class _Watcher:
    """A profile function: notes each call of a watched code object, chaining to
    whatever profile function was already set (the training front end's marker)."""

    def __init__(self, contracts: Contracts, convert: Callable[[Any], Any], previous):
        self.by_code = contracts.by_code
        self.convert = convert
        self.previous = previous
        self.open: dict = {}
        self.calls: list[Call] = []

    def __call__(self, frame, event, arg):
        if event == "call":
            contract = self.by_code.get(frame.f_code)
            if contract is not None:
                local = frame.f_locals
                args = {p: self.convert(local[p]) for p in contract.params if p in local and p != "self"}
                call = Call(contract, args, index=len(self.calls))
                self.calls.append(call)
                self.open[id(frame)] = (frame, call)
        elif event == "return":
            opened = self.open.pop(id(frame), None)
            if opened is not None and opened[0] is frame and arg is not None:
                opened[1].ret = self.convert(arg)
                opened[1].returned = True
        if self.previous is not None:
            self.previous(frame, event, arg)


@contextlib.contextmanager
def watching(contracts: Contracts, convert: Callable[[Any], Any]):
    """While inside, the calls of ``contracts``' functions are noted (yielded list)."""
    previous = sys.getprofile()
    watcher = _Watcher(contracts, convert, previous)
    sys.setprofile(watcher)
    try:
        yield watcher.calls
    finally:
        sys.setprofile(previous)


def converter(leaf: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A value as the watcher keeps it: ``leaf`` maps a tensor (or fx Proxy) to
    what is kept of it (its node, or the tensor itself); containers are walked."""

    def convert(value, depth: int = 0):
        got = leaf(value)
        if got is not None:
            return got
        if depth < 3 and isinstance(value, (tuple, list)):
            return tuple(convert(v, depth + 1) for v in value)
        if depth < 3 and dataclasses.is_dataclass(value) and not isinstance(value, type):
            return DataclassValue(
                type(value), {f.name: convert(getattr(value, f.name, None), depth + 1) for f in dataclasses.fields(value)}
            )
        if isinstance(value, bool) or value is None:
            return Other(type(value).__name__, value)
        if isinstance(value, (int, float)):
            return Other(type(value).__name__, value)
        return Other(type(value).__name__)

    return convert


def watch_into(contracts: Contracts, leaf: Callable[[Any], Any], calls: list):
    """A watcher factory for a capture route: each use notes its calls into ``calls``."""

    @contextlib.contextmanager
    def watch():
        with watching(contracts, converter(leaf)) as noted:
            try:
                yield
            finally:
                calls.extend(noted)

    return watch


# --------------------------------------------------------------------------- real runs


def concrete_calls(capture, contracts: Contracts, inputs: tuple) -> list[Call]:
    """The annotated calls of a real (eager) run of the target at ``inputs``, their
    values the real tensors: what the confirmation checks with jaxtyping itself.
    The run's own failure, if any, ends it: the calls made until then are kept."""
    import torch

    calls: list = []
    wrapper = capture.wrapper
    hook, wrapper._on_output = wrapper._on_output, None  # the capture's hook writes graph nodes
    wrapper._watch = watch_into(contracts, lambda v: v if isinstance(v, torch.Tensor) else None, calls)
    try:
        with torch.no_grad():
            wrapper.run(inputs)
    except Exception:  # noqa: BLE001 - the run's failure is the model's; the calls so far stand
        pass
    finally:
        wrapper._watch = None
        wrapper._on_output = hook
    return calls


def _raw(value):
    """A kept value as the function saw it (the tensors are the real ones)."""
    if isinstance(value, Other):
        return value.value
    if isinstance(value, DataclassValue):
        return None
    if isinstance(value, tuple):
        return tuple(_raw(v) for v in value)
    return value


def jaxtyping_rejects(call: Call) -> str | None:
    """jaxtyping's own verdict on one real call: the arguments and the return value
    it had, checked by ``jaxtyped(typechecker=beartype)`` on a stand-in with the
    function's signature and annotations (nothing is run again). The error's
    first line, or None when jaxtyping accepts the call."""
    from beartype import beartype
    from jaxtyping import jaxtyped

    contract = call.contract
    fn = contract.fn
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if contract.dataclass_of is not None:
        params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in contract.params]
    parts, star = [], False
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            if not star:
                parts.append("*")
                star = True
            parts.append(p.name)
        else:
            parts.append(p.name)
    ns: dict = {}
    exec(f"def stand_in({', '.join(parts)}):\n    return __vaelint_ret__\n", ns)  # noqa: S102 - names from a signature
    stand_in = ns["stand_in"]
    ns["__vaelint_ret__"] = _raw(call.ret) if call.returned else None
    annotations = {k: v for k, v in contract.hints.items() if k in contract.specs}
    if not call.returned:
        annotations.pop("return", None)
    stand_in.__annotations__ = annotations
    stand_in.__qualname__ = stand_in.__name__ = fn.__name__
    positional, keywords = [], {}
    for p in params:
        value = _raw(call.args.get(p.name)) if p.name != "self" else None
        if p.kind is p.VAR_POSITIONAL:
            positional.extend(value or ())
        elif p.kind is p.VAR_KEYWORD:
            keywords.update(value or {})
        elif p.kind is p.KEYWORD_ONLY:
            keywords[p.name] = value
        else:
            positional.append(value)
    try:
        jaxtyped(typechecker=beartype)(stand_in)(*positional, **keywords)
    except Exception as e:  # noqa: BLE001 - jaxtyping's TypeCheckError (or beartype's violation)
        text = str(e).strip()
        return text.splitlines()[0] if text else type(e).__name__
    return None
