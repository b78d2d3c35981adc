"""VAE014 shape-contract: a value contradicts its jaxtyping annotation."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.contracts.check import ContractFacts, Violation, check_calls, concrete_fact, read
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.vocab import ConfirmNeed, FixAvailability, Severity

_MODEL = """import torch
import torch.nn as nn
from jaxtyping import Float
from torch import Tensor


class VAE(nn.Module):
    def __init__(self, data_dim=784, latent_dim=8):
        super().__init__()
        self.enc = nn.Linear(data_dim, 2 * latent_dim)
        self.dec = nn.Linear({DEC_IN}, data_dim)

    def encode(self, x: Float[Tensor, "batch data"]) -> tuple[Float[Tensor, "batch latent"], Float[Tensor, "batch latent"]]:
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: {DECODE_ARG}) -> Float[Tensor, "batch data"]:  # <- finding
        return torch.sigmoid(self.dec(z))

    def forward(self, x: Float[Tensor, "batch data"]):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        {DECODE_CALL}
        return self.decode(z), mu, logvar
"""


def _model(dec_in="latent_dim", decode_arg='Float[Tensor, "batch latent"]', decode_call="pass") -> str:
    return fill(_MODEL, dec_in=dec_in, decode_arg=decode_arg, decode_call=decode_call)


_CONDITIONED = dict(dec_in="latent_dim + 10", decode_call="z = torch.cat([z, z.new_zeros(z.size(0), 10)], dim=1)")


@dataclass
class ContractBreak(Observed):
    """What was seen: the value, its annotation, and the names bound when it failed."""

    violation: Violation
    value: str  # "decode's argument z"
    shape: str  # "B x 18 (4 x 18)"
    problem: str  # what disagrees, in words
    bound: str  # "batch=B latent=8", as jaxtyping lists them
    suggestion: str  # an annotation that holds, or ""

    def message(self) -> str:
        v = self.violation
        bound = f" (bound: {self.bound})" if self.bound else ""
        return f"{self.value} is {self.shape}, annotated {v.spec.text}: {self.problem}{bound}"

    def fix(self) -> str:
        v = self.violation
        if v.kind == "dtype":
            return f"annotate the dtype it has ({self.suggestion}), or convert the value before the call."
        if v.kind == "across":
            return (
                f"if this is not the same {v.earlier.name} as at {v.earlier.where}, give it a name of its own "
                f"({self.suggestion}); if it is, make the sizes agree."
            )
        if v.kind == "not_tensor":
            return f"pass a tensor, or annotate the parameter as the Python {v.detail[9:]} it is."
        hint = f"write {self.suggestion} if that shape is right" if self.suggestion else "write the annotation for the shape it has"
        return f"{hint}; otherwise the code computes the wrong shape here (fix the line that builds it)."


class ShapeContract(Rule):
    code = "VAE014"
    fix_availability = FixAvailability.SOMETIMES
    name = "shape-contract"
    severity = Severity.ERROR
    summary = "A value contradicts its jaxtyping shape or dtype annotation."
    what = """
Annotations such as ``Float[Tensor, "batch latent"]`` on the model's
functions (forward, encode, decode, reparameterize, the loss, helpers,
dataclass fields) are a shape contract. vaelint reads them as jaxtyping
does, named dims bound across a call, fixed sizes, ``...``, ``*batch``,
``#`` (broadcastable) and ``_`` (any) dims, expressions (``"dim-1"``), dtype
kinds (``Float``, ``Int``, ``Bool``), and checks every value the model's run
passes or returns against them on the solved shapes. The model's own methods,
its loss and its output dataclass share one set of names: ``latent`` in
encode's return and decode's argument must be one size. A value that
contradicts its annotation is reported at the annotation's line, with the
value's shape (batch as B) and the names bound so far, and confirmed when
``jaxtyped(typechecker=beartype)`` rejects the real call.
"""
    why = """
An annotation that is wrong is worse than none: it tells the reader (and
the next annotation) a shape the code does not compute. jaxtyping and beartype
check only the calls that happen to run under the checker; vaelint checks
every annotated call of the model on its input, before a run trips over it,
and across functions, which jaxtyping does not.
"""
    example = """
def decode(self, z: Float[Tensor, "batch latent"]) -> ...:   # VAE014
    ...
z = torch.cat([z, onehot], dim=1)     # B x (latent + 10): not "batch latent"
x_hat = self.decode(z)
"""
    fix = """
Write the annotation for the shape the value has (vaelint suggests one, with
the names bound so far: ``Float[Tensor, "batch 18"]``), give a different
quantity its own name (``latent_cond``), or fix the line that computes the
wrong shape. ``vaelint annotate`` writes annotations from the solved shapes.
"""
    VALID = [
        Example(_model()),
        Example(_model(decode_arg='Float[Tensor, "batch _"]', **_CONDITIONED)),
        Example(_model(decode_arg='Float[Tensor, "*batch features"]', **_CONDITIONED)),
        Example(_model(decode_arg='Float[Tensor, "..."]', **_CONDITIONED)),
        Example(_model(decode_arg='Float[Tensor, "#batch latent"]')),
    ]
    INVALID = [
        Example(
            _model(**_CONDITIONED),
            at="finding",
            message="latent is 18 here",
            fixed=_model(**_CONDITIONED, decode_arg='Float[Tensor, "batch 18"]'),
            unsafe=True,
        ),
        Example(
            _model(decode_arg='Float[Tensor, "batch 16"]'),
            at="finding",
            message="dim 1 is 8",
            fixed=_model(decode_arg='Float[Tensor, "batch 8"]'),
            unsafe=True,
        ),
        Example(
            _model(decode_arg='Float[Tensor, "batch"]'),
            at="finding",
            message="2 dims",
            fixed=_model(decode_arg='Float[Tensor, "batch 8"]'),
            unsafe=True,
        ),
        Example(
            _model(decode_arg='Int[Tensor, "batch latent"]').replace("import Float", "import Float, Int"),
            at="finding",
            message="float32",
            fixed=_model().replace("import Float", "import Float, Int"),
            unsafe=True,
        ),
    ]

    def check(self, ctx):
        facts, why = ctx.reading("contracts", read, ContractFacts)
        if facts is None:
            if ctx.contracts:
                raise SkipRule(why)
            return  # no annotations: no contract to check
        for v in facts.violations:
            yield self.report(_observe(v, ctx), v.loc or v.contract.def_loc, node=v.node)

    def confirm_needs(self, finding, ctx) -> set:
        return {ConfirmNeed.CONTRACT_RUN}

    def autofix(self, finding, ctx):
        """Unsafe (the annotation or the code may be the wrong one: a choice): the
        annotation written as the one that holds, in the file's own spelling (only its
        dims string, and its dtype name where that is what disagrees)."""
        import re

        import libcst as cst

        from vaelint.fixes.edits import UNSAFE, Fix
        from vaelint.fixes.source import expr_at

        seen = finding.observed
        wanted = re.fullmatch(r"(\w+)\[[^,]+,\s*(\".*\")\]", seen.suggestion or "") if isinstance(seen, ContractBreak) else None
        expr = expr_at(finding.loc)
        if wanted is None or expr is None or not isinstance(expr.node, cst.Subscript) or len(expr.node.slice) != 2:
            return None
        dims = expr.node.slice[1].slice  # the Index holding "batch latent"
        if not isinstance(dims, cst.Index) or not isinstance(dims.value, cst.SimpleString):
            return None
        edits = []
        if expr.code(dims.value) != wanted.group(2):
            edits.append(expr.replace(wanted.group(2), dims.value))
        dtype = expr.node.value
        name = dtype.attr if isinstance(dtype, cst.Attribute) else dtype if isinstance(dtype, cst.Name) else None
        if name is not None and name.value != wanted.group(1):
            edits.append(expr.replace(wanted.group(1), name))
            if isinstance(dtype, cst.Name):  # Float -> Int: Int imported beside Float where Float is
                imported = _import_beside(expr, name.value, wanted.group(1))
                if imported is False:
                    return None
                edits += [imported] if imported is not None else []
        if not edits:
            return None
        return Fix(f"annotate what the code computes: {seen.suggestion}", tuple(edits), UNSAFE)

    def confirm(self, finding, ctx, observed):
        calls = getattr(observed, "contract_calls", None)
        if calls is None:
            return None
        v: Violation = finding.observed.violation
        symbolic, _ = ctx.reading("contracts", read, ContractFacts)
        real = check_calls(calls, concrete_fact, exclude=symbolic.shared_excluded if symbolic else None)
        seen = any(r.contract.code == v.contract.code and r.slot == v.slot for r in real.violations)
        if not seen or v.kind == "across":
            return seen
        from vaelint.contracts.calls import jaxtyping_rejects

        return any(jaxtyping_rejects(c) is not None for c in calls if c.contract.code == v.contract.code)


def _dtypes_text(spec) -> str:
    names = [d if isinstance(d, str) else d.pattern for d in spec.dtypes or ()]
    if names and all(n.startswith(("float", "bfloat")) for n in names):
        return "floating dtypes"
    if names and all(n.startswith(("int", "uint")) for n in names):
        return "integer dtypes"
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def _render(dim, size) -> str:
    if isinstance(size, tuple):
        dims = dim if isinstance(dim, tuple) and len(dim) == len(size) else [None] * len(size)
        return "(" + ", ".join(_render(d, s) for d, s in zip(dims, size)) + ")"
    return dim.text() if dim is not None and dim.batch_dependent else str(size)


def _observe(v: Violation, ctx) -> ContractBreak:
    from vaelint.contracts.check import bound_text, where_of

    value = where_of(v.contract, v.slot)
    shape = ctx.shape_text(v.node, named=False) if v.node is not None else "?"
    fact = v.fact
    axis = v.axis
    size = fact.sizes[axis] if fact is not None and axis is not None and axis < len(fact.sizes) else None
    if v.kind == "dtype":
        problem = f"it is {fact.dtype}, and {v.spec.kind} accepts {_dtypes_text(v.spec)} only"
    elif v.kind == "rank":
        problem = f"it has {len(fact.sizes)} dims, the annotation has {v.detail.removesuffix(' dims')}"
    elif v.kind == "fixed":
        problem = f"dim {axis} is {size}, the annotation fixes it at {v.detail}"
    elif v.kind == "name":
        e = v.earlier
        problem = (
            f"dim {axis} is {size}, but {e.name} is {e.size}, bound at {e.where}"
            if e.where != value
            else f"dim {axis} is {size}, but {e.name} is {e.size} in the same value"
        )
    elif v.kind == "expression":
        problem = f"dim {axis} is {size}, but {v.detail}"
    elif v.kind == "variadic":
        e = v.earlier
        problem = f"its *{e.name} dims are {fact.sizes[axis : len(fact.sizes) - (len(v.spec.dims) - axis - 1)]}, but *{e.name} is {e.size}, bound at {e.where}"
    elif v.kind == "across":
        e = v.earlier
        other = ctx.shape_text(e.node, named=False) if e.node is not None else str(e.size)
        problem = f"{e.name} is {size} here, but {e.size} at {e.where} ({other}); the model's functions name one size {e.name}"
    else:
        problem = f"it is {v.detail}, not a tensor"
    bound = bound_text(v.bound, _render) if v.kind != "across" else ""
    return ContractBreak(v, value, shape, problem, bound, _suggest(v))


def _suggest(v: Violation) -> str:
    """An annotation the value satisfies, with the names bound so far where they fit."""
    fact = v.fact
    if fact is None:
        return ""
    if v.kind == "dtype":
        kind = "Float" if fact.dtype.startswith(("float", "bfloat")) else "Bool" if fact.dtype == "bool" else "Int"
        return f'{kind}[Tensor, "{v.spec.dim_str}"]'
    tokens = v.spec.dim_str.split()
    if v.kind == "across" and v.axis is not None and len(tokens) == len(fact.sizes):
        tokens[v.axis] = str(fact.sizes[v.axis])  # the same dims, this one by its size
        return f'{v.spec.kind}[Tensor, "{" ".join(tokens)}"]'
    by_size = {}
    for name, b in v.bound.items():
        if not isinstance(b.size, tuple) and (v.kind != "across" or name != v.earlier.name):
            by_size.setdefault(b.size, name)
    spec_names = [getattr(d, "name", None) for d in v.spec.dims] if len(v.spec.dims) == len(fact.sizes) and v.spec.variadic is None else []
    dims = []
    for axis, size in enumerate(fact.sizes):
        own = spec_names[axis] if axis < len(spec_names) else None
        if v.kind == "across" and axis == v.axis:
            dims.append(str(size))
        elif own and own in v.bound and v.bound[own].size == size:
            dims.append(own)
        elif fact.dims is not None and fact.dims[axis].batch_dependent:
            same = [n for n, b in v.bound.items() if b.dim == fact.dims[axis]]
            dims.append(
                same[0] if same else "batch" if "batch" not in v.bound and fact.dims[axis].coef == 1 and not fact.dims[axis].const else "_"
            )
        elif size in by_size:
            dims.append(by_size[size])
        else:
            dims.append(str(size))
    return f'{v.spec.kind}[Tensor, "{" ".join(dims)}"]'


def _import_beside(expr, old: str, new: str):
    """The edit that imports ``new`` in the ``from ... import`` that imports ``old`` (``from jaxtyping
    import Float`` -> ``from jaxtyping import Float, Int``); None when ``new`` is imported there
    already (or by a ``*``), False when no such import is found."""
    import libcst as cst

    for stmt in expr.module.body:
        for small in getattr(stmt, "body", ()) if isinstance(stmt, cst.SimpleStatementLine) else ():
            if not isinstance(small, cst.ImportFrom):
                continue
            if isinstance(small.names, cst.ImportStar):
                return None
            names = [a.evaluated_alias or a.evaluated_name for a in small.names]
            if new in names:
                return None
            if old in names:
                return expr.insert_after(small.names[-1], f", {new}")
    return False
