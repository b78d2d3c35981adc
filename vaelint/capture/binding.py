"""Bind the loss's parameters to what the forward produced (the loss itself is
found by the front ends: vaelint/frontends/lossfind.py). Binding uses the roles found in the traced graph (which output is the
reconstruction, the mean, the log-variance, the sample); parameter names are
only hints for which role a parameter wants.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Union

import torch.nn as nn

from vaelint.capture.namehints import CONTAINER_NAMES, CONVENTIONAL_ORDER, ROLE_WORDS, role_of_name
from vaelint.capture.outputreads import is_record, read_as_record
from vaelint.capture.outputs import distribution_owner, flatten_outputs, get_path, path_text, reduced_to_a_number
from vaelint.capture.passthrough import called_target, passed_through
from vaelint.capture.unfollowed import Unfollowed
from vaelint.errors import ForwardHasLoss, VaelintError
from vaelint.facts.graphview import GraphView
from vaelint.facts.roles import forward_roles

if TYPE_CHECKING:
    from vaelint.frontends.lossfind import LossPlan


def _output_paths(out) -> set:
    """The forward's outputs: each leaf, and each list or tuple of them (a list of feature maps the
    forward returns as one value, ``return recon, mu, logvar, h_real``, is one output)."""
    leaves = [path for path, _value in flatten_outputs(out)]
    return {FromPath(path[:i]) for path in leaves for i in range(1, len(path) + 1)} | {FromPath(p) for p in leaves}


def _has_the_path(source, out) -> bool:
    """Is a call site's source one the forward's output has (an input, or an output path it holds)?"""
    inner = source.inner if isinstance(source, Transformed) else source
    return not isinstance(inner, FromPath) or FromPath(inner.path) in _output_paths(out)


# --------------------------------------------------------------------------- sources
# Where one loss parameter's value comes from, on every run of the capture.


@dataclass(frozen=True)
class FromInput:
    index: int  # the forward's input at that position

    def value(self, out, inputs):
        return inputs[self.index]


@dataclass(frozen=True)
class FromPath:
    path: tuple  # a leaf of the forward's output (vaelint/capture/outputs.py)

    def value(self, out, inputs):
        return get_path(out, self.path)


@dataclass(frozen=True)
class Transformed:
    """A source as a call site of the loss hands it on, its methods applied: ``pred_x.squeeze(1)``."""

    inner: FromInput | FromPath
    calls: tuple  # ((method, args, ((keyword, value), ...)), ...), literal arguments only

    @property
    def path(self) -> tuple:
        return getattr(self.inner, "path", ())

    def value(self, out, inputs):
        value = self.inner.value(out, inputs)
        for method, args, kwargs in self.calls:
            value = value[as_index(args[0])] if method == "__getitem__" else getattr(value, method)(*args, **dict(kwargs))
        return value

    def text(self, inner: str) -> str:
        def call(method, args, kwargs):
            if method == "__getitem__":  # a slice written at the call: batch[:, 1:]
                return f"[{index_text(args[0])}]"
            said = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs]
            return f".{method}({', '.join(said)})"

        return inner + "".join(call(*c) for c in self.calls)


def _is_slice(key) -> bool:
    return isinstance(key, tuple) and len(key) == 4 and key[0] == "slice"


def as_index(key):
    """The index a call site's subscript wrote (bindnames._literal_key: a slice held as
    ("slice", start, stop, step)), as Python takes it."""
    if _is_slice(key):
        return slice(*key[1:])
    return tuple(as_index(k) for k in key) if isinstance(key, tuple) else key


def index_text(key) -> str:
    """That index as Python writes it: ``:, 1:``."""
    if _is_slice(key):
        said = ":".join("" if b is None else str(b) for b in key[1:3])
        return said + (f":{key[3]}" if key[3] is not None else "")
    if isinstance(key, tuple):
        return ", ".join(index_text(k) for k in key)
    return "..." if key is Ellipsis else str(key)


@dataclass(frozen=True)
class WholeOutput:
    def value(self, out, inputs):
        return out


@dataclass(frozen=True)
class OutputsInOrder:  # a ``*args`` parameter
    def value(self, out, inputs):
        return list(out) if isinstance(out, (tuple, list)) else [out]


@dataclass(frozen=True, eq=False)  # by identity: a --loss-kwarg value may be a list
class Given:
    given: Any  # a --loss-kwarg value

    def value(self, out, inputs):
        return self.given


Source = Union[FromInput, FromPath, Transformed, WholeOutput, OutputsInOrder, Given]


class ParamKind(Enum):
    """How the loss takes a parameter: so the call passes its value."""

    POSITIONAL = "positional"
    KEYWORD = "keyword"
    VARARGS = "varargs"  # *args: the value is a list, spread
    VARKW = "varkw"  # **kwargs: the value is a dict, spread


@dataclass
class Binding:
    """How each loss parameter gets its value; decided once, applied on every run."""

    sources: list[tuple[str, Source | None]] = field(default_factory=list)  # (param, source)
    descriptions: list[tuple[str, str]] = field(default_factory=list)  # (param, text)
    kind_of_param: dict[str, ParamKind] = field(default_factory=dict)
    # parameters bound by position alone: nothing in the code or the graph said which output
    guessed: list[str] = field(default_factory=list)

    def guess_text(self) -> str:
        text = dict(self.descriptions)
        return ", ".join(f"{p} <- {text.get(p, '?')}" for p in self.guessed)

    def add(self, name: str, kind: ParamKind, source: Source | None, text: str) -> None:
        self.sources.append((name, source))
        self.kind_of_param[name] = kind
        self.descriptions.append((name, text))

    def call_args(self, out, inputs) -> tuple[list, dict]:
        args, kwargs = [], {}
        for param, source in self.sources:
            value = source.value(out, inputs)
            kind = self.kind_of_param[param]
            if kind is ParamKind.VARARGS:
                args.extend(value)
            elif kind is ParamKind.VARKW:
                kwargs.update(value)
            elif kind is ParamKind.POSITIONAL:
                args.append(value)
            else:
                kwargs[param] = value
        return args, kwargs


def _returns_own_loss(out) -> bool:
    """A dict under ``loss`` with a tensor: the forward's output, or one of its outputs (scVI's
    ``return inference, generative, {"loss": ...}``)."""
    if isinstance(out, (tuple, list)):
        return any(isinstance(o, dict) and _returns_own_loss(o) for o in out)
    return isinstance(out, dict) and "loss" in out and not isinstance(out["loss"], (int, float, type(None)))


@dataclass
class _Decision:
    """A binding being decided: what is bound so far and what is still free."""

    binding: Binding
    found: dict  # role -> (source, description)
    extra: dict  # --loss-kwarg values not bound yet
    used_roles: set = field(default_factory=set)
    unnamed: list = field(default_factory=list)  # parameters whose names say nothing
    positional_ok: bool = True
    named: dict = field(default_factory=dict)  # parameter -> the role its name says


class Binder:
    """Called inside the captured forward, right after the model returned."""

    def __init__(
        self, plan: LossPlan, input_names: list[str] | None = None, output_names: dict | None = None, call_site: tuple | None = None
    ):
        self.plan = plan
        self.binding: Binding | None = None
        self.input_names = input_names or []
        # what the user's code says (vaelint/capture/bindnames.py): the forward's returned names,
        # and where the training code calls this loss
        self.output_names = output_names or {}
        self.call_site = call_site
        self.trains_at = lambda: ""  # where the code trains the model (its own fit()): said when nothing binds

    def __call__(self, out: Any, inputs: tuple, leaf_nodes: dict):
        if not self.plan.explicit and (_returns_own_loss(out) or self.plan.in_forward):
            raise ForwardHasLoss(self.plan.name)
        if self.binding is None:
            self.binding = self._decide(out, inputs, leaf_nodes)
        return self.binding.call_args(out, inputs)

    def _decide(self, out, inputs, leaf_nodes: dict) -> Binding:
        fn = self.plan.fn
        target = passed_through(called_target(fn))  # def loss(self, *args, **kwargs): return elbo_loss(*args, **kwargs)
        try:
            params = list(inspect.signature(target).parameters.values())
        except (TypeError, ValueError):
            raise VaelintError("loss", f"the loss {self.plan.name} has no readable signature.") from None

        found = self._role_paths(out, leaf_nodes)
        # outputs the user's own code gives a parameter (its call site, or the name it
        # is returned under) are that parameter's: no role or hint takes them for another
        named = set(p.name for p in params)
        reserved = {src for n, src in (self.call_site[0].items() if self.call_site else ()) if n in named}
        reserved |= {FromPath(path) for n, path in self.output_names.items() if n in named}
        found = {r: f for r, f in found.items() if f[0] not in reserved or r == "input"}
        decision = _Decision(Binding(), found, dict(self.plan.kwargs))
        decision.named = {p.name: role_of_name(p.name) for p in params}
        for p in params:
            self._bind_param(decision, p, out)
        self._bind_by_position(decision, out)
        self._bind_extra(decision, params)
        return decision.binding

    def _bind_param(self, d: _Decision, p: inspect.Parameter, out) -> None:
        """One parameter, by what says most about it: a --loss-kwarg, a forward input of
        its name, the training code's call, the name forward returns, its role."""
        binding = d.binding
        if p.kind == p.VAR_POSITIONAL:
            binding.sources.append((p.name, OutputsInOrder()))
            binding.kind_of_param[p.name] = ParamKind.VARARGS
            binding.descriptions.append((f"*{p.name}", "the forward's outputs, in order"))
            d.positional_ok = False
            return
        if p.kind == p.VAR_KEYWORD:
            return
        positional = d.positional_ok and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        kind = ParamKind.POSITIONAL if positional else ParamKind.KEYWORD
        source, text = self._said_by_code(p, out, d)
        if source is not None:
            binding.add(p.name, kind, source, text)
            d.used_roles |= {r for r, f in d.found.items() if f[0] == source}
            return
        role = role_of_name(p.name)
        # a parameter whose items the loss takes by position is the whole output only where no other
        # parameter is named for a role of it (loss(recon, x, stats) with stats[0], stats[1]: the heads stacked)
        by_position = not any(r not in (None, "input", "outputs") for n, r in d.named.items() if n != p.name)
        if (p.name.lower() in CONTAINER_NAMES and is_record(out)) or read_as_record(self.plan.fn, p.name, out, by_position):
            role = "outputs"
        if role == "outputs":
            binding.add(p.name, kind, WholeOutput(), "the forward's whole output")
        elif role is not None and role not in d.used_roles and role in d.found:
            d.used_roles.add(role)
            binding.add(p.name, kind, *d.found[role])
        elif p.default is not p.empty:
            # a role the graph did not show (a sampler vaelint cannot see): bound by
            # position below, like a parameter whose name says nothing
            if kind is ParamKind.POSITIONAL:
                d.positional_ok = False  # later ones must go by keyword
        else:
            d.unnamed.append(p)
            binding.add(p.name, kind, None, "")

    def _said_by_code(self, p: inspect.Parameter, out, d: _Decision) -> tuple:
        """(source, description) when the user's words bind ``p``, else (None, "")."""
        if p.name in d.extra:
            counted = p.name in getattr(self.plan, "counters", ())
            value = d.extra.pop(p.name)
            if isinstance(value, nn.Module):  # the model, to a loss that reads it (lossfind._give_the_model_read)
                return Given(value), f"the model {type(value).__name__}"
            return Given(value), ("0, the counter's first step" if counted else f"--loss-kwarg {p.name}")
        if p.name in self.input_names[1:]:  # a forward input the loss needs too (sequence lengths, labels): by name
            return FromInput(self.input_names.index(p.name)), f"the forward's input {p.name}"
        if self.call_site is not None and p.name in self.call_site[0] and _has_the_path(self.call_site[0][p.name], out):
            # the training code calls this loss: its call site decides (where the output it names is one
            # the forward returns: ``z, outs = self.features(x)`` unpacks another function's tuple)
            source = self.call_site[0][p.name]
            if isinstance(source, Unfollowed):
                raise source.error(self.call_site[1], self.plan.name, p.name)
            inner = source.inner if isinstance(source, Transformed) else source
            text = "the input" if isinstance(inner, FromInput) else path_text(inner.path)
            text = source.text(text) if isinstance(source, Transformed) else text
            return source, f"{text} (as {self.call_site[1]} calls it)"
        plural = next((n for n in self.input_names[1:] if p.name in (n + "s", n.removesuffix("s"))), None)
        if plural is not None and p.name not in self.output_names:  # length beside forward(x, lengths)
            return FromInput(self.input_names.index(plural)), f"the forward's input {plural}"
        if p.name in self.output_names and p.name not in self.input_names[:1] and FromPath(self.output_names[p.name]) in _output_paths(out):
            # named as the forward returns it (not its input's name reassigned: ``x = self.decode(z); return x, mu``)
            source = FromPath(self.output_names[p.name])
            return source, f"{path_text(source.path)} (returned as {p.name})"
        return None, ""

    def _bind_by_position(self, d: _Decision, out) -> None:
        """Parameters whose names say nothing take the conventional order
        loss(recon_x, x, mu, logvar) among the roles still free, then the
        forward's outputs not bound yet, in order."""
        binding = d.binding
        free = [d.found[r] for r in CONVENTIONAL_ORDER if r not in d.used_roles and r in d.found]
        taken = {src for _p, src in binding.sources if src is not None}
        for path, _value in flatten_outputs(out):
            src = FromPath(path)
            if src not in taken and all(src != f[0] for f in free):
                free.append((src, f"{path_text(path)} (forward output, by position)"))
        free = [f for f in free if f[0] not in taken]
        if any(isinstance(src, WholeOutput) for src in taken):
            # loss(outputs, x_raw): the whole output is taken, reconstruction and all; the rest are the
            # forward's inputs (x_raw bound to the reconstruction compared it with itself)
            free = [f for f in free if not isinstance(f[0], FromPath)]
        scalars = {path for path, value in flatten_outputs(out) if reduced_to_a_number(value)}
        for p in d.unnamed:
            # a loss term the forward computed (recon_loss, kld_loss) is one of its outputs, a scalar
            # where it returns one, never its input
            outputs = [f for f in free if isinstance(f[0], FromPath)] if role_of_name(p.name) == "term" else []
            pick = next((f for f in outputs if f[0].path in scalars), outputs[0] if outputs else None)
            if pick is not None:
                free.remove(pick)
                free.insert(0, pick)
            if not free:
                raise VaelintError(
                    "loss",
                    f"cannot bind the loss {self.plan.name}: nothing is left for its parameter {p.name!r} "
                    f"(the forward returns {len(flatten_outputs(out))} values, all bound). Return it from "
                    f"forward, or for a number pass it with --loss-kwarg {p.name}=VALUE.{self.trains_at()}",
                )
            source, text = free.pop(0)
            idx = [i for i, (name, _s) in enumerate(binding.sources) if name == p.name][0]
            binding.sources[idx] = (p.name, source)
            binding.descriptions[idx] = (p.name, text)
            if "by position" in text:
                binding.guessed.append(p.name)

    def _bind_extra(self, d: _Decision, params: list) -> None:
        """--loss-kwarg values no parameter took: into **kwargs, or an error."""
        extra = d.extra
        if not extra:
            return
        var = next((p for p in params if p.kind == p.VAR_KEYWORD), None)
        if var is None:
            raise VaelintError("loss", f"--loss-kwarg {', '.join(extra)}: the loss {self.plan.name} takes no such parameter.")
        d.binding.sources.append((var.name, Given(extra)))
        d.binding.kind_of_param[var.name] = ParamKind.VARKW
        for k in extra:
            d.binding.descriptions.append((k, f"--loss-kwarg {k} = {extra[k]!r}"))

    def _role_paths(self, out, leaf_nodes: dict) -> dict:
        """role -> (source, description), from the graph first, then from output names."""
        found: dict[str, tuple] = {}
        input_name = self.input_names[0] if self.input_names else "x"
        found["input"] = (FromInput(0), f"the input {input_name}")
        if leaf_nodes:
            graph = next(iter(leaf_nodes.values())).graph
            view = GraphView(graph)
            roles = forward_roles(view, leaf_nodes)
            r = roles.reparam
            pairs = [("recon", roles.recon)]
            if r is not None:
                pairs += [("mu", r.mu), ("logvar", r.logvar), ("z", r.z)]
            for role, node in pairs:
                path = roles.path_of(node) if node is not None else None
                if path is not None:
                    # a loss takes the distribution the forward returned, not its loc
                    path = distribution_owner(out, path)
                    found[role] = (FromPath(path), f"{path_text(path)} ({ROLE_WORDS[role]}, from the graph)")
        # Names of dict keys / dataclass fields as hints for what the graph left open.
        leaves = flatten_outputs(out)
        for path, _value in leaves:
            key = path[-1] if path else None
            if isinstance(key, str):
                role = role_of_name(key.lstrip("."))
                if role in ROLE_WORDS and role not in found:
                    found[role] = (FromPath(path), f"{path_text(path)} ({ROLE_WORDS[role]}, by its name)")
        # the first output shaped as data (a scalar the forward returns is a loss term it computed)
        shaped = [leaf for leaf in leaves if not reduced_to_a_number(leaf[1])]
        if "recon" not in found and shaped and not isinstance(out, dict):
            path = shaped[0][0]
            which = "first output" if path == leaves[0][0] else "first output shaped as data"
            found["recon"] = (FromPath(path), f"{path_text(path)} (reconstruction, {which})")
        return found
