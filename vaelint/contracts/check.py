"""Checking the annotated calls (vaelint/contracts/calls.py) as jaxtyping checks them.

One call's arguments, then its return value, share one memo of named dims, as
under ``jaxtyped``: ``Float[Tensor, "batch latent"]`` binds ``latent`` at its
first use and every later use must agree; fixed sizes, ``#`` (size 1 also
fits), ``_`` (any size), ``...`` and ``*name`` (any number of dims; a named
one binds that tuple), symbolic expressions (``"dim-1"``, evaluated on the
sizes bound so far), and dtype kinds (``Float``, ``Int``, ``Bool``) are read
from jaxtyping's own parse of the annotation. Sizes are compared at the user's
batch, so a contract that holds only at that batch is VAE005's case, not a
contract violation; the symbolic shapes are for the message.

Beyond jaxtyping, the model's own methods (forward, encode, decode,
reparameterize, sample), the loss and dataclass fields share one vocabulary:
a name they bind to a size that does not move with the batch means one size
across all of them, when each of those functions ran once (a helper called
several times is generic in its dims, and binds per call only).
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

from vaelint.contracts.annotations import ArraySpec, Contract, TupleSpec
from vaelint.contracts.calls import Call, Other
from vaelint.source.frames import SourceLoc


@dataclass(frozen=True)
class Fact:
    """What is known of one value: sizes at the user's batch, symbolic dims, dtype."""

    sizes: tuple[int, ...]
    dims: tuple | None  # vaelint.facts.shapes.Dim per axis, when solved
    dtype: str  # jaxtyping's name for it: "float32", "int64", "bool"


@dataclass
class Bound:
    """A name's binding: its size (a tuple for ``*name``), and where it was bound."""

    name: str
    size: Any
    dim: Any  # the symbolic Dim (or tuple of them), None when unknown
    contract: Contract
    slot: str
    spec: ArraySpec
    loc: SourceLoc | None
    node: Any = None
    fact: Fact | None = None
    axis: int | None = None

    @property
    def where(self) -> str:
        """``encode's return value``"""
        return where_of(self.contract, self.slot)


@dataclass
class Violation:
    kind: str  # dtype, rank, fixed, name, expression, variadic, not_tensor, across
    contract: Contract
    slot: str  # "argument z", "return value", "return value [1]", "field mu"
    loc: SourceLoc | None
    spec: ArraySpec
    fact: Fact | None
    node: Any  # the graph node (symbolic check) or None
    axis: int | None = None
    detail: str = ""  # what was expected, in words
    bound: dict = field(default_factory=dict)  # name -> Bound, the call's memo when it failed
    earlier: Bound | None = None  # the binding this value contradicts

    @property
    def key(self) -> tuple:
        return (self.kind, self.contract.qualname, self.slot)


@dataclass
class Held:
    """A value whose annotation held: the names its dims were given."""

    node: Any
    names: dict  # axis -> name
    api: bool = False  # on one of the model's own functions (their names are its vocabulary)


@dataclass
class ContractFacts:
    violations: list[Violation]
    held: list[Held]
    calls: int  # annotated calls checked
    contracts: int  # annotated functions the run reached
    shared_excluded: set  # names never shared across calls (they move with the batch)


def slot_label(contract: Contract, name: str) -> str:
    if name == "return":
        return "return value"
    return f"field {name}" if contract.dataclass_of is not None else f"argument {name}"


def where_of(contract: Contract, slot: str) -> str:
    return f"{contract.short}'s {slot}"


def dtype_name(dtype) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def check_calls(calls: list[Call], fact_of: Callable[[Any], Fact | None], exclude: set | None = None) -> ContractFacts:
    """``fact_of`` maps a value the watcher kept (a node, a tensor) to its Fact.
    ``exclude``: names not to share across calls (the confirmation passes the
    symbolic check's, so both judge the same names)."""
    violations: list[Violation] = []
    held: list[Held] = []
    shared: dict[str, list[Bound]] = {}
    counts: dict = {}
    for call in calls:
        counts[call.contract.code] = counts.get(call.contract.code, 0) + 1
    checked = 0
    reached = set()
    for call in sorted(calls, key=lambda c: c.index):
        if not call.contract.specs:
            continue
        checked += 1
        reached.add(call.contract.code)
        memo = _Memo()
        ints = {k: v.value for k, v in call.args.items() if isinstance(v, Other) and isinstance(v.value, int)}
        for name in [*call.contract.params, "return"]:
            spec = call.contract.specs.get(name)
            values = call.values
            if spec is None or name not in values:
                continue
            for slot, s, value in _leaves(slot_label(call.contract, name), spec, values[name]):
                v = _check_value(call.contract, slot, s, value, fact_of, memo, ints, call.contract.locs.get(name))
                if isinstance(v, Violation):
                    violations.append(v)
                elif isinstance(v, Held):
                    held.append(v)
        if call.contract.api and counts[call.contract.code] == 1:
            for b in memo.single.values():
                shared.setdefault(b.name, []).append(b)
    batchy = {n for n, bs in shared.items() if any(_moves(b.dim) for b in bs)}
    excluded = batchy if exclude is None else exclude
    for name, bindings in shared.items():
        if name in excluded:
            continue
        first = bindings[0]
        for b in bindings[1:]:
            if b.size != first.size:
                violations.append(_across(b, first))
                break
    seen, unique = set(), []
    for v in violations:
        if (v.key, v.loc) not in seen:
            seen.add((v.key, v.loc))
            unique.append(v)
    return ContractFacts(unique, held, checked, len(reached), excluded)


def _moves(dim) -> bool:
    if isinstance(dim, tuple):
        return any(_moves(d) for d in dim)
    return dim is not None and getattr(dim, "batch_dependent", False)


class _Memo:
    def __init__(self):
        self.single: dict[str, Bound] = {}
        self.variadic: dict[str, tuple[bool, Bound]] = {}


def _leaves(slot: str, spec, value):
    """(slot, ArraySpec, value) for each array annotation in a (tuple) annotation."""
    if isinstance(spec, ArraySpec):
        yield slot, spec, value
        return
    if not isinstance(spec, TupleSpec):
        return
    if not isinstance(value, tuple):
        value = _items_of_node(value)
        if value is None:
            return
    specs = [spec.items[0]] * len(value) if spec.repeated else list(spec.items)
    for i, (s, v) in enumerate(zip(specs, value)):
        if s is not None and v is not None:
            yield from _leaves(f"{slot} [{i}]", s, v)


def _items_of_node(node):
    """An fx node that is a tuple (``h.chunk(2, 1)`` returned whole): its items,
    as the graph's getitem nodes take them (None where none does)."""
    users = getattr(node, "users", None)
    if not users:
        return None
    items = {u.args[1]: u for u in users if u.op == "call_function" and u.target is operator.getitem and isinstance(u.args[1], int)}
    if not items:
        return None
    return tuple(items.get(i) for i in range(max(items) + 1))


def _check_value(contract, slot, spec: ArraySpec, value, fact_of, memo: _Memo, ints: dict, loc):
    if isinstance(value, Other):
        if value.kind == "NoneType" and spec.optional:
            return None
        if value.kind in ("int", "float", "bool", "NoneType"):
            return Violation("not_tensor", contract, slot, loc, spec, None, None, detail=f"a Python {value.kind}")
        return None  # a value vaelint cannot see into
    fact = fact_of(value)
    if fact is None:
        return None
    node = value if hasattr(value, "meta") else None

    def fail(kind, detail, axis=None, earlier=None):
        return Violation(kind, contract, slot, loc, spec, fact, node, axis, detail, dict(memo.single), earlier)

    if (
        spec.dtypes is not None
        and fact.dtype
        and not any((d == fact.dtype if isinstance(d, str) else bool(d.match(fact.dtype))) for d in spec.dtypes)
    ):
        return fail("dtype", f"{spec.kind} ({', '.join(d if isinstance(d, str) else d.pattern for d in spec.dtypes)})")
    rank, dims = len(fact.sizes), spec.dims
    if spec.variadic is None and rank != len(dims):
        return fail("rank", f"{len(dims)} dims")
    if spec.variadic is not None and rank < len(dims) - 1:
        return fail("rank", f"at least {len(dims) - 1} dims")
    names: dict[int, str] = {}
    where = (contract, slot, spec, loc, node, fact)
    if spec.variadic is None:
        pairs = list(enumerate(dims))
    else:
        i = spec.variadic
        tail = len(dims) - i - 1
        pairs = list(enumerate(dims[:i])) + [(rank - tail + k, d) for k, d in enumerate(dims[i + 1 :])]
    for axis, d in pairs:
        problem = _check_dim(d, axis, fact, memo, ints, where, names)
        if problem is not None:
            kind, detail, earlier = problem
            return fail(kind, detail, axis, earlier)
    if spec.variadic is not None:
        problem = _check_variadic(dims[spec.variadic], spec.variadic, fact, len(dims) - spec.variadic - 1, memo, where)
        if problem is not None:
            kind, detail, earlier = problem
            return fail(kind, detail, spec.variadic, earlier)
    return Held(node, names, contract.api) if node is not None else None


def _dim_at(fact: Fact, axis: int):
    return fact.dims[axis] if fact.dims is not None and axis < len(fact.dims) else None


def _check_dim(d, axis, fact: Fact, memo: _Memo, ints, where: tuple, names):
    size = fact.sizes[axis]
    kind = type(d).__name__
    if kind == "_AnonymousDim":
        return None
    if getattr(d, "broadcastable", False) and size == 1:
        return None
    if kind == "_FixedDim":
        return None if d.size == size else ("fixed", f"{d.size}", None)
    if kind == "_SymbolicDim":
        sizes = {n: b.size for n, b in memo.single.items()}
        try:
            text = eval(f"f'{d.elem}'", dict(ints))  # noqa: S307 - jaxtyping's own reading of the annotation
            expected = eval(text, {"__builtins__": {"min": min, "max": max, "abs": abs}}, sizes)  # noqa: S307
        except Exception:  # noqa: BLE001 - a name not bound yet: jaxtyping cannot check it either
            return None
        return None if expected == size else ("expression", f"{d.elem} = {expected}", None)
    name = getattr(d, "name", None)
    if name is None:
        return None
    earlier = memo.single.get(name)
    if earlier is None:
        memo.single[name] = Bound(name, size, _dim_at(fact, axis), *where, axis)
        names[axis] = name
        return None
    if earlier.size != size:
        return ("name", f"{name} = {earlier.size}", earlier)
    names[axis] = name
    return None


def _check_variadic(d, start, fact: Fact, tail: int, memo: _Memo, where: tuple):
    if type(d).__name__ != "_NamedVariadicDim":
        return None
    end = len(fact.sizes) - tail
    shape = tuple(fact.sizes[start:end])
    dims = tuple(fact.dims[start:end]) if fact.dims is not None else None
    earlier = memo.variadic.get(d.name)
    if earlier is None:
        memo.variadic[d.name] = (d.broadcastable, Bound(d.name, shape, dims, *where))
        return None
    # as jaxtyping decides it (_array_types.py, its variadic memo): a broadcastable
    # binding widens to the broadcast shape; a plain one must be met exactly, or
    # broadcast to by a later ``#*name``
    prev_broadcastable, bound = earlier
    joint = _broadcast(shape, bound.size)
    if prev_broadcastable:
        if joint is None or (not d.broadcastable and joint != shape):
            return ("variadic", f"*{d.name} broadcastable with {bound.size}", bound)
        memo.variadic[d.name] = (d.broadcastable, dataclasses.replace(bound, size=joint))
        return None
    if not d.broadcastable:
        return None if shape == bound.size else ("variadic", f"*{d.name} = {bound.size}", bound)
    if joint != bound.size:
        return ("variadic", f"*{d.name} broadcastable to {bound.size}", bound)
    return None


def _broadcast(a: tuple, b: tuple):
    out = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + a), reversed((1,) * (len(a) - len(b)) + b)):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(reversed(out))


def _across(b: Bound, first: Bound) -> Violation:
    """A shared name bound to two sizes by two of the model's functions."""
    return Violation("across", b.contract, b.slot, b.loc, b.spec, b.fact, b.node, b.axis, f"{b.name} = {first.size}", {b.name: b}, first)


# --------------------------------------------------------------------------- wording


def bound_text(bound: dict, render: Callable[[Any, Any], str]) -> str:
    """The names bound when the value failed, as jaxtyping lists them (``batch=B latent=16``)."""
    parts = []
    for name, b in bound.items():
        parts.append(f"{name}={render(b.dim, b.size)}")
    return " ".join(parts)


# --------------------------------------------------------------------------- on a target


def read(ctx) -> ContractFacts | str:
    """The annotated calls the capture met, checked on the solved shapes (a reading
    of vaelint/facts/context.py: ``ctx.reading("contracts", read, ContractFacts)``)."""
    if not ctx.contracts:
        return "the model's code has no jaxtyping annotations"
    calls = ctx.capture.contract_calls
    if not any(c.contract.specs for c in calls):
        return "no annotated function of the model's code ran on this input"
    tensors = ctx.runs.runs[ctx.runs.batch].tensors

    def fact_of(node):
        shape = node.meta.get("shape") if hasattr(node, "meta") else None
        if shape is None or shape.sizes is None:
            return None
        t = tensors.get(node)
        return Fact(tuple(shape.sizes), shape.dims, dtype_name(t.dtype) if t is not None else "")

    return check_calls(calls, fact_of)


def concrete_fact(value) -> Fact | None:
    """A real tensor's Fact (the confirmation's eager run)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None or dtype is None:
        return None
    return Fact(tuple(shape), None, dtype_name(dtype))


def name_held_dims(ctx) -> None:
    """A jaxtyping annotation that held names its value's dims in the flow table."""
    if not ctx.contracts:
        return
    try:
        facts, _why = ctx.reading("contracts", read, ContractFacts)
    except Exception as e:  # noqa: BLE001 - the rule reports it as a bug of vaelint's
        ctx.cache["contracts"] = f"the annotations could not be checked ({type(e).__name__}: {e})"
        return
    # per value, the first annotation that held on it, the model's own functions first;
    # a size two dims of it name differently (height and width, both 12) stays a number
    for held in sorted(facts.held if facts else (), key=lambda h: not h.api):
        shape = ctx.shape(held.node)
        if shape is None or shape.dims is None or held.node in ctx.dim_names.by_node or not held.names:
            continue
        names: dict = {}
        for a, n in held.names.items():
            if a < len(shape.dims) and not shape.dims[a].batch_dependent:
                names.setdefault(shape.dims[a].const, set()).add(n)
        ctx.dim_names.by_node[held.node] = {size: ns.pop() for size, ns in names.items() if len(ns) == 1}
