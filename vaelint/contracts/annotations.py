"""The model's jaxtyping annotations as contracts, and the calls that meet them.

``def encode(self, x: Float[Tensor, "batch data"]) -> Float[Tensor, "batch latent"]``
is a shape contract the author wrote down. This module finds every annotated
function of the user's code the model reaches (methods of the model's classes,
module-level helpers, the loss, dataclass fields through the class's generated
``__init__``) and reads its annotations as jaxtyping parsed them. While the
capture runs, vaelint/contracts/calls.py notes their calls; the shapes stage
gives the values symbolic shapes, and vaelint/contracts/check.py checks them as
jaxtyping would. For ``vaelint annotate`` the model's unannotated forward/
encode/decode/reparameterize and the loss are watched too.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from vaelint.contracts.dimnames import _resolve as resolve_hints
from vaelint.source.frames import SourceLoc, is_user_file

# the methods of a VAE whose names say what they are: their dims are one
# vocabulary across the model (``latent`` in encode's return and decode's argument)
API_NAMES = ("forward", "encode", "decode", "reparameterize", "reparametrize", "reparameterise", "sample")


def is_api_name(name: str) -> bool:
    return name.startswith(API_NAMES) or name in ("loss", "loss_function", "vae_loss", "elbo")


# --------------------------------------------------------------------------- annotations


@dataclass(frozen=True)
class ArraySpec:
    """One jaxtyping array annotation, as jaxtyping parsed it."""

    kind: str  # "Float", "Int", "Shaped", ...
    dtypes: tuple | None  # the dtype names it accepts (None: any)
    dims: tuple  # jaxtyping's dim objects
    variadic: int | None  # the index of ``*name`` or ``...``
    dim_str: str
    optional: bool = False  # ``Float[...] | None``

    @property
    def text(self) -> str:
        return f'{self.kind}[Tensor, "{self.dim_str}"]'


@dataclass(frozen=True)
class TupleSpec:
    items: tuple  # of specs (None: not annotated), or one spec repeated (``tuple[X, ...]``)
    repeated: bool = False


def is_jaxtyping(annotation) -> bool:
    return isinstance(annotation, type) and isinstance(getattr(annotation, "dim_str", None), str) and hasattr(annotation, "dims")


def spec_of(annotation):
    """ArraySpec / TupleSpec for an annotation vaelint can check, else None."""
    if is_jaxtyping(annotation):
        dtypes = annotation.dtypes
        return ArraySpec(
            annotation.dtype.__name__,
            tuple(dtypes) if isinstance(dtypes, (list, tuple)) else None,
            tuple(annotation.dims),
            annotation.index_variadic,
            annotation.dim_str,
        )
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1 and len(args) == 2:
            inner = spec_of(members[0])
            return dataclasses.replace(inner, optional=True) if isinstance(inner, ArraySpec) else None
        return None
    if origin in (tuple, typing.Tuple) and args:
        if len(args) == 2 and args[1] is Ellipsis:
            inner = spec_of(args[0])
            return TupleSpec((inner,), repeated=True) if inner is not None else None
        items = tuple(spec_of(a) for a in args)
        return TupleSpec(items) if any(i is not None for i in items) else None
    return None


# --------------------------------------------------------------------------- contracts


@dataclass
class Contract:
    """An annotated (or, for ``vaelint annotate``, a watched) function."""

    fn: Callable
    qualname: str
    params: list[str]  # every parameter, in order (self included)
    specs: dict[str, Any]  # parameter name or "return" -> spec (annotated ones only)
    hints: dict[str, Any]  # the resolved annotations, for jaxtyping's own check
    locs: dict[str, SourceLoc]  # parameter name or "return" -> the annotated line
    def_loc: SourceLoc
    api: bool = False  # its names bind across the model's calls
    dataclass_of: type | None = None  # a dataclass's generated __init__: the fields

    @property
    def code(self):
        return self.fn.__code__

    @property
    def short(self) -> str:
        """``VAE.encode`` -> ``encode``; a dataclass: ``VAEOutput``."""
        if self.dataclass_of is not None:
            return self.dataclass_of.__name__
        return self.qualname.rsplit(".", 1)[-1]


def _locs_of_function(fn, qualname: str) -> tuple[dict, SourceLoc]:
    from vaelint.source.facts import _parse, def_node

    path = fn.__code__.co_filename
    def_loc = SourceLoc(path, fn.__code__.co_firstlineno, 1, qualname)
    parsed = _parse(path)
    node = def_node(parsed[0], fn.__code__) if parsed else None
    if node is None:
        return {}, def_loc
    def_loc = SourceLoc(path, node.lineno, node.col_offset + 1, qualname)
    a = node.args
    locs = {}
    for arg in [*a.posonlyargs, *a.args, *([a.vararg] if a.vararg else []), *a.kwonlyargs, *([a.kwarg] if a.kwarg else [])]:
        at = arg.annotation or arg
        locs[arg.arg] = SourceLoc(path, at.lineno, at.col_offset + 1, qualname, at.end_lineno, (at.end_col_offset or 0) + 1)
    at = node.returns or node
    locs["return"] = SourceLoc(path, at.lineno, at.col_offset + 1, qualname, at.end_lineno, (at.end_col_offset or 0) + 1)
    return locs, def_loc


def _locs_of_fields(cls, path_hint: str | None = None) -> tuple[dict, SourceLoc]:
    from vaelint.source.facts import _parse

    path = class_file(cls) or path_hint or ""
    def_loc = SourceLoc(path, 0, 1, cls.__qualname__)
    parsed = _parse(path) if path else None
    locs = {}
    for node in ast.walk(parsed[0]) if parsed else ():
        if (
            isinstance(node, ast.ClassDef)
            and node.name == cls.__name__
            and set(cls.__annotations__)
            <= {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
        ):
            def_loc = SourceLoc(path, node.lineno, node.col_offset + 1, cls.__qualname__)
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    at = stmt.annotation
                    locs[stmt.target.id] = SourceLoc(path, at.lineno, at.col_offset + 1, cls.__qualname__)
    return locs, def_loc


def _contract(fn, qualname: str, api: bool, watch_unannotated: bool) -> Contract | None:
    code = getattr(fn, "__code__", None)
    if code is None or not is_user_file(code.co_filename):
        return None
    hints = resolve_hints(fn)
    specs = {name: s for name, ann in hints.items() if (s := spec_of(ann)) is not None}
    if not specs and not watch_unannotated:
        return None
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    locs, def_loc = _locs_of_function(fn, qualname)
    return Contract(fn, qualname, params, specs, hints, locs, def_loc, api)


def _dataclass_contract(cls, path_hint: str | None = None) -> Contract | None:
    hints = resolve_hints(cls)
    fields_ = [f.name for f in dataclasses.fields(cls) if f.init]
    specs = {name: s for name in fields_ if (s := spec_of(hints.get(name))) is not None}
    init = cls.__dict__.get("__init__")
    if not specs or init is None or not hasattr(init, "__code__"):
        return None
    locs, def_loc = _locs_of_fields(cls, path_hint)
    if not def_loc.path or not is_user_file(def_loc.path):
        return None
    return Contract(
        init, cls.__qualname__, ["self", *fields_], specs, {k: hints[k] for k in specs}, locs, def_loc, api=True, dataclass_of=cls
    )


@dataclass
class Contracts:
    """The contracts of one target, by code object (what the watcher meets)."""

    by_code: dict = field(default_factory=dict)

    @property
    def annotated(self) -> list[Contract]:
        return [c for c in self.by_code.values() if c.specs]

    def __bool__(self) -> bool:
        return bool(self.by_code)


def _functions_of(cls) -> list[tuple[str, Callable]]:
    out = []
    for name, value in vars(cls).items():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value):
            out.append((name, value))
    return out


def find_contracts(program, watch_unannotated: bool = False) -> Contracts:
    """Every annotated function of the user's code the target can reach: the
    methods of the model's classes (and their bases) and of the classes and
    functions beside them in the user's files, the loss and the training step's
    module. ``watch_unannotated``: also the model's forward/encode/decode/
    reparameterize/sample and the loss (what ``vaelint annotate`` writes)."""
    found = Contracts()
    # the VAE's own classes: the model's, or for a training step (whose model is a
    # container of the modules it calls) those modules'
    tops = [type(program.model)] if _user_class(type(program.model)) else [type(m) for m in program.model.children()]
    model_classes = [c for m in program.model.modules() for c in type(m).__mro__ if _user_class(c)]
    namespaces: dict[int, dict] = {}
    seen: set = set()

    def add(contract):
        if contract is not None and contract.code not in found.by_code:
            found.by_code[contract.code] = contract

    for cls in dict.fromkeys(model_classes):
        on_top = any(cls in top.__mro__ for top in tops)
        for name, fn in _functions_of(cls):
            namespaces.setdefault(id(fn.__globals__), fn.__globals__)
            api = on_top and is_api_name(name)
            add(_contract(fn, f"{cls.__qualname__}.{name}", api, watch_unannotated and api))
        seen.add(cls)
    loss = program.loss.fn if program.loss is not None else None
    loss_fn = getattr(loss, "__func__", loss)
    if inspect.isfunction(loss_fn):
        namespaces.setdefault(id(loss_fn.__globals__), loss_fn.__globals__)
        add(_contract(loss_fn, loss_fn.__qualname__, True, watch_unannotated))
        if loss_fn.__code__ in found.by_code:
            found.by_code[loss_fn.__code__].api = True
    step = program.step.fn if program.step is not None else None
    if inspect.isfunction(step):
        namespaces.setdefault(id(step.__globals__), step.__globals__)
    for ns in namespaces.values():
        for value in list(ns.values()):
            if inspect.isfunction(value) and value.__globals__ is ns:
                add(_contract(value, value.__qualname__, False, False))
            elif (
                isinstance(value, type)
                and value not in seen
                and (_user_class(value) or (dataclasses.is_dataclass(value) and value.__module__ == ns.get("__name__")))
            ):
                seen.add(value)
                if dataclasses.is_dataclass(value):
                    add(_dataclass_contract(value, ns.get("__file__")))
                for name, fn in _functions_of(value):
                    add(_contract(fn, f"{value.__qualname__}.{name}", False, False))
    return found


def class_file(cls) -> str | None:
    """The file that defines a class: by its module, else by its methods' code (a
    training script's module is loaded under a name sys.modules does not hold)."""
    try:
        # a script run as __main__ (vaelint runs training code as `python FILE` does): its
        # classes' module is not the __main__ sys.modules holds
        path = inspect.getsourcefile(cls) if cls.__module__ != "__main__" else None
        if path:
            return path
    except (TypeError, OSError):
        pass
    for _name, fn in _functions_of(cls):
        if not fn.__code__.co_filename.startswith("<"):  # not a dataclass's generated __init__
            return fn.__code__.co_filename
    return None


def _user_class(cls) -> bool:
    path = class_file(cls)
    return bool(path) and is_user_file(path)


def may_have_contracts(program) -> bool:
    """Cheap: does any user file the model's classes live in mention jaxtyping?"""
    import linecache

    paths = set()
    for m in program.model.modules():
        for c in type(m).__mro__:
            if _user_class(c):
                paths.add(class_file(c))
    for fn in (program.loss.fn if program.loss else None, program.step.fn if program.step else None):
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        if code is not None:
            paths.add(code.co_filename)
    from vaelint.source.facts import _parse

    for path in paths:
        parsed = _parse(path)
        text = parsed[1] if parsed else "".join(linecache.getlines(path))
        if "jaxtyping" in text:
            return True
    return False
