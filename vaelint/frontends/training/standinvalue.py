"""A value the check does not have (a batch item no --input gives, an argument the step does not
need, a data set): harmless until used for real, then it says what it stands for and what to do
(:mod:`.runtime` hands them out)."""

from __future__ import annotations

from typing import Any

from vaelint.errors import VaelintError
from vaelint.source.frames import user_frame

_CHAINABLE = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "float",
        "long",
        "int",
        "double",
        "half",
        "bfloat16",
        "detach",
        "requires_grad_",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "view",
        "reshape",
        "type",
        "type_as",
        "flatten",
        "clone",
        "numpy",
    }
)


class StandIn:
    """A value the check does not have: a batch item no ``--input`` gives, an
    argument the step does not need, a data set. Harmless until used for real;
    then it says what it stands for and what to do."""

    def __init__(self, what: str, fix: str = "", data: Any = None):
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_fix", fix)
        object.__setattr__(self, "_data", data)  # what is known of it (a data set's item shapes)

    def _fail(self, *_a, **_k):
        loc = user_frame()
        where = f"{loc.where()}: " if loc else ""
        what, fix = object.__getattribute__(self, "_what"), object.__getattribute__(self, "_fix")
        raise VaelintError("input", f"{where}the step uses {what}, which the check has no value for. {fix}".strip())

    def __getattr__(self, item):
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        if item in _CHAINABLE:
            return lambda *a, **k: self
        if item == "zero_grad":
            # an optimiser nothing passes (run_epoch(self, rows, opt)): clearing gradients before the
            # backward changes nothing the check reads, and its step() after the backward never runs
            return lambda *a, **k: None
        self._fail()

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        from torch.utils._pytree import tree_leaves

        for a in tree_leaves((args, kwargs or {})):
            if isinstance(a, StandIn):
                a._fail()
        return NotImplemented

    __call__ = _fail

    def __repr__(self):
        return f"<stand-in for {object.__getattribute__(self, '_what')}>"


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    setattr(StandIn, f"__{_op}__", lambda self, *a: self._fail())
    setattr(StandIn, f"__r{_op}__", lambda self, *a: self._fail())
for _name in ("__iter__", "__len__", "__index__", "__int__", "__float__", "__bool__", "__neg__"):
    setattr(StandIn, _name, lambda self, *a: self._fail())


def _keyed(self, key):
    """``data["images"]`` of an item no --input gives: a dict, whose keys take --input NAME.KEY=SPEC
    (no plain SPEC describes a dict; the message offered one: C-DSVAE's batches)."""
    import re

    fix = object.__getattribute__(self, "_fix")
    named = re.search(r"--input (\w+)=SPEC", fix)
    if not isinstance(key, str) or named is None:
        self._fail()
    loc = user_frame()
    where = f"{loc.where()}: " if loc else ""
    name = named.group(1)
    raise VaelintError(
        "input",
        f"{where}the step reads {name}[{key!r}] of {object.__getattribute__(self, '_what')}, which the check has no value for: "
        f"the item is a dict. Give each key the step reads with --input {name}.KEY=SPEC, "
        f"e.g. --input {name}.{key}=16x3x64x64 (its shape at your batch size).",
    )


StandIn.__getitem__ = _keyed


def stand_in_said(error: BaseException) -> str | None:
    """What a stand-in the code handed to a library that checks types before torch's dispatch
    sees it (``Variable(y)``: 'Variable data has to be a tensor, but got StandIn') stands for, and
    what to give instead; the same of a name a failed import left (``nn.Linear(64, LSIZE)``:
    "found element of type Unavailable"); None when no stand-in is behind the error."""
    if "StandIn" not in str(error) and "Unavailable" not in str(error):
        return None
    from vaelint.frontends.placeholders import MissingImport

    frames, tb = [], error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            # a name a failed import left (LSIZE of a module that could not be imported) handed to torch,
            # which type-checks it before any of its methods runs: "element of type Unavailable"; one
            # level inside a tuple or list too (nn.Linear(64, (LSIZE,)), sizes=[ASIZE, LSIZE])
            for one in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(one, (StandIn, MissingImport)):
                    try:
                        one._fail()
                    except VaelintError as said:
                        return said.message
    return None
