"""How each loss term is reduced and scaled: the facts behind beta_eff.

A loss is ``a * sum_{b,d} rec + c * sum_{b,z} kl`` with ``beta_eff = c / a`` (README, "Rules"). Each term is walked
down to the elementwise tensor it reduces, collecting factors: reductions (``sum``/``mean``, a loss's ``reduction=``;
a mean divides by the sizes it reduces), sizes taken from tensors (``/ x.size(0)``), explicit numbers (``0.01 *``,
``* kld_weight``). The KL element's own constant (the -0.5) is normalised away in ``vaelint/facts/lossscales.py``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch.fx as fx

from vaelint.capture.ops import CLASS_INDEX_LOSSES, RECON_LOSS_OPS, adds_dims_only, one_tensor_listed
from vaelint.facts import argnumbers
from vaelint.facts.argnumbers import (
    literal_times,
    not_a_size,
    per_batch,
    same_at_all_batches,
    times_the_batch,
    values_in_args,
    written_as_the_batch,
)
from vaelint.facts.datasize import data_size
from vaelint.facts.dimwords import describe_dims as _describe_dims
from vaelint.facts.graphview import is_size
from vaelint.facts.oversize import constant_over_size
from vaelint.facts.paddingmask import masked_mean, padding_mask
from vaelint.facts.shapes import Dim
from vaelint.facts.termfactor import Factor
from vaelint.source.facts import divides_by_a_length

if TYPE_CHECKING:
    from vaelint.facts.countedout import CountedOut


@dataclass
class TermScale:
    term: fx.Node
    element: fx.Node | None
    factors: list[Factor] = field(default_factory=list)
    normalization: float = 1.0  # element / closed-form KL (KL terms only)
    target: str | None = None  # "capacity" (|KL - C|) or "floor" (free bits: clamp(KL, min=l), relu(KL - l)): the KL inside
    parts: int = 1  # a reconstruction written as a sum of parts reduced alike: how many
    read_as: str | None = None  # a KL weighed by no N(0, 1) closed form of its heads: "stacked steps", "log q(z)"
    counted_out: CountedOut | None = None  # a count taken from the reduced element (sum(...) - mu.numel())

    @property
    def batch_power(self) -> int:
        return sum(f.batch_power for f in self.factors)

    @property
    def mean_sizes(self) -> float:
        """The constant sizes the term is divided by (means, ``x.numel()``)."""
        return math.prod(f.const_sizes for f in self.factors)

    def own(self) -> tuple[int, float]:
        """(batch power, constant sizes) of the term's own reductions, not a whole sum's it sits in."""
        mine = [f for f in self.factors if not f.shared]
        return sum(f.batch_power for f in mine), math.prod(f.const_sizes for f in mine)

    @property
    def written(self) -> float:
        """The product of the numbers written on the term, with their signs."""
        return math.prod(f.value for f in self.factors if f.kind == "const")

    @property
    def explicit(self) -> float:
        """Numbers written on the term (and the KL formula's own constant, normalised away)."""
        return abs(self.written * self.normalization)

    def reductions(self) -> list[Factor]:
        return [f for f in self.factors if f.kind in ("sum", "mean", "size")]

    def describe(self) -> str:
        parts = []
        for f in self.reductions():
            if f.kind == "size":
                parts.append(f"{'divided' if f.batch_power < 0 else 'multiplied'} by {f.over}")
            else:
                parts.append(f"{f.kind} over {f.over}")
        return ", ".join(parts) if parts else "no reduction"


_STOP = object()  # the walk ends at this node: it is the term's element
_AROUND_A_TARGET = {"abs", "relu", "clamp", "clamp_min", "maximum", "max"}  # |kl - C|, relu(kl - l), clamp(kl, min=l), max(kl, l)
_SAME_VALUES = {"squeeze", "view", "reshape", "flatten", "contiguous", "clone", "float", "double", "to"}  # walked where shapes keep


@dataclass
class _Ends:
    scale: TermScale | None  # the walk's result, decided by one step (None: the sizes were unknown)


class TermWalker:
    def __init__(self, ctx):
        self.ctx = ctx
        self.view = ctx.view
        self.runs = ctx.runs

    def labels(self, node, positions) -> tuple[str, int, int, int]:
        """(text, batch power, product of constant sizes, Monte Carlo samples) of the dims reduced."""
        fact = self.ctx.shape(node)
        if fact is None or fact.sizes is None:
            return "?", 0, 1, 1
        samples = self.ctx.sample_dims(node)
        dims = self._dims(fact)
        return _describe_dims((fact.sizes[p], dims[p] if dims is not None else None, p in samples) for p in positions)

    def _dims(self, fact):
        """The fact's dims; where no run at another batch size reached the node (they failed first: a
        list of lengths made for one batch size), a dim as large as the user's batch read as the batch
        (it came from the input's) and the others as constants. A mean over B x T read as over the
        constants 20 x 8 was a false VAE002 ('reduced unlike each other over the batch')."""
        if fact.dims is not None or len(fact.by_batch) != 1 or self.ctx.batch < 2 or self.ctx.batch not in fact.sizes:
            return fact.dims
        # full-batch training (a graph VAE's N nodes, vaelint/frontends/training/madebatches.py): one batch, its
        # size read as a constant, as beta_eff is judged at it
        if "full-batch training" in (getattr(getattr(self.ctx, "program", None), "full_batches", "") or ""):
            return fact.dims
        # one dim only, the first of that size (a latent of 20 beside a batch of 20 stays a constant)
        first = list(fact.sizes).index(self.ctx.batch)
        return tuple(Dim(1, 0) if k == first else Dim(0, size) for k, size in enumerate(fact.sizes))

    def broadcast_labels(self, nodes) -> tuple[str, int, int, int] | None:
        """The same for the broadcast of several tensors (an elementwise loss)."""
        facts = [self.ctx.shape(n) for n in nodes]
        if any(f is None or f.sizes is None for f in facts):
            return None
        rank = max(len(f.sizes) for f in facts)
        samples = [self.ctx.sample_dims(n) for n in nodes]
        dims_of = [self._dims(f) for f in facts]
        pairs = []
        for i in range(rank, 0, -1):
            size, dim, sample = 1, None, False
            for f, k, dims in zip(facts, samples, dims_of):
                if i <= len(f.sizes) and not f.one_at(len(f.sizes) - i):
                    size = f.sizes[-i]
                    dim = dims[-i] if dims is not None else None
                    sample = sample or len(f.sizes) - i in k
            pairs.append((size, dim, sample))
        return _describe_dims(pairs)

    def scalar_of(self, node, arg):
        """(value at B0, batch power, k) of a number the op scales by: a constant, or k*B (x.size(0): k=1, x.numel(): k=D)."""
        if written_as_the_batch(self.ctx, self.runs, node, arg):  # / x.size(0), the runs at other batch sizes failed first
            return float(self.ctx.batch), 1, 1
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            if self.ctx.ints_are_literals or same_at_all_batches(self.runs, node, arg) or not_a_size(self.runs, node, arg):
                return float(arg), 0, 1
            k = per_batch(values_in_args(self.runs, node, arg))
            return (float(arg), 1, k) if k else None
        if isinstance(arg, fx.Node):
            values = {b: r.values.get(arg) for b, r in self.runs.runs.items() if arg in r.values}
            floats = any(isinstance(v, float) for v in values.values())  # N * sigma ** 2: B times a weight (one value: 0.5 / n)
            if values and (floats or len(set(values.values())) > 1):
                k = times_the_batch(values) if floats else per_batch(values)
                return (float(values[self.runs.batch]), 1, k) if k else None
            if values:
                return float(next(iter(values.values()))), 0, 1
            t = self.runs.runs[self.runs.batch].tensors.get(arg)
            if t is not None and t.numel() == 1 and not any(self.view.depends_on(arg, f) for f in self.ctx.roles.forward_outputs.values()):
                return float(t), 0, 1
        return None

    def walk(self, term: fx.Node) -> TermScale | None:
        """The term's factors, down to its element (the loss op or the value it scales); None: sizes unknown."""
        scale = TermScale(term, None)
        node = term
        for _ in range(40):
            op = self.view.op(node)
            tensors = [a for a in node.args if isinstance(a, fx.Node) and self.ctx.shape(a) is not None]
            if op == "mul" and len(tensors) == 2 and padding_mask(self.view, self.runs.runs[self.runs.batch].tensors, tensors):
                step = padding_mask(self.view, self.runs.runs[self.runs.batch].tensors, tensors)[1]
            elif op == "div" and masked_mean(self.view, self.runs.runs[self.runs.batch].tensors, node) is not None:
                total = masked_mean(self.view, self.runs.runs[self.runs.batch].tensors, node)
                step = self._reduced(scale, total, "mean", total.args[0])  # read as the mean it is
            elif op in ("mul", "div") and len(node.args) == 2:
                step = self._scaled(scale, node, op, tensors)
            elif op == "neg" and tensors:
                scale.factors.append(Factor("const", -1.0, 0, 1, "-1", node, op))
                step = tensors[0]
            elif op in ("sum", "mean") and tensors:
                step = self._reduced(scale, node, op, tensors[0])
            elif op in RECON_LOSS_OPS and tensors:
                step = self._loss_element(scale, node, op, tensors)
            elif op in _AROUND_A_TARGET and tensors:
                step = self._inside_a_target(scale, node, op)
            elif tensors and (op == "unsqueeze" or (op == "getitem" and adds_dims_only(node))):
                step = tensors[0]  # mse.mean(1)[:, None]: a dim of 1 added, the reduction under it the term's
            elif op in ("stack", "cat") and one_tensor_listed(node):
                step = node.args[0][0]  # torch.stack([kl]).mean(dim=0): a list of one term (disent's compute_ave_loss)
            elif tensors and op in _SAME_VALUES and self._keeps_values(node, tensors[0]):
                step = tensors[0]  # torch.clamp(kl.mean(), min=l).squeeze(): the same values, its shape's
            else:
                step = _STOP
            if isinstance(step, _Ends):
                return step.scale
            if step is _STOP:
                break
            node = step
        scale.element = node
        return scale

    def _scaled(self, scale: TermScale, node: fx.Node, op: str, tensors: list):
        """``tensor * k`` or ``tensor / k``: the factor, and the tensor to go on from."""
        a, b = node.args
        tensor, other = (a, b) if a in tensors else (b, a)
        if other in tensors and self._a_number(tensor) and not self._a_number(other):
            tensor, other = other, tensor  # self.beta * kl with self.beta = torch.Tensor([4.0]): the weight is a number
        if tensor not in tensors or (op == "div" and tensor is b):
            return _STOP  # no tensor, or k / tensor: not a scaling
        num = self.scalar_of(node, other) if other not in tensors or self._is_scalar_const(other) else None
        if num is None and op == "mul" and constant_over_size(self, scale, other):
            return tensor  # -0.5 / x.size(0) * torch.sum(...): read as torch.sum(...) * -0.5 / x.size(0)
        if num is None or (num[0] == 0 and op != "mul"):
            return _STOP
        if num[0] == 0:
            # a weight of 0 at the step checked (a warm-up's first step): the term's element is
            # still read (its form, VAE007); its weight, 0, is no beta (lossscales says so)
            scale.factors.append(Factor("const", 0.0, 0, 1, "0", node, op))
            return tensor
        value, power, k = num
        c = literal_times(self.view, other, k) if power and op == "div" else 0
        if c:  # / (2 * n): a number written in the code times a size, a weight 1/2 on the size
            scale.factors.append(Factor("const", 1 / c, 0, 1, f"{1 / c:g}", node, op))
            k, value = k // c, value / c
        if power and isinstance(k, float):  # B times a number that is no size (N * sigma ** 2): B, and a weight
            w, sign = (1 / k, -1) if op == "div" else (k, 1)
            scale.factors += [
                Factor("size", 1.0, sign, 1, self.ctx.batch_size_text, node, op),
                Factor("const", w, 0, 1, f"{w:g}", node, op),
            ]
            return tensor
        if power:
            shown, k = argnumbers.size_said(self.ctx.batch_size_text, k, value)  # a size that follows the batch: B, k*B, B/2
            sign = -1 if op == "div" else 1
            scale.factors.append(Factor("size", 1.0, sign, k if op == "div" else 1 / k, shown, node, op))
            return tensor
        loc = node.meta.get("loc")
        if op == "div" and value == self.ctx.batch and loc is not None and divides_by_a_length(loc.path, loc.line):
            # loss / len(batch): a Python list's length, a number to the run, follows the batch it counts
            scale.factors.append(Factor("size", 1.0, -1, 1, "len(...), the batch's length", node, op))
            return tensor
        pinned = self._pinned_batch(value, loc) if op == "div" else None
        if pinned is not None:
            b, k = pinned
            shown = f"{int(value)} (the batch size {b} written down{f' times {k}' if k > 1 else ''})"
            scale.factors.append(Factor("size", 1.0, -1, k, shown, node, op, pinned=b))
            return tensor
        if node.meta.get("library_fn") == "log_prob" and abs(value) == 0.5:
            return tensor  # a Gaussian log_prob's own -0.5 (MultivariateNormal's Mahalanobis term): no weight
        if op == "div":
            value = 1 / value
        shown = f"{int(1 / value)}" if op == "div" and float(1 / value).is_integer() else f"{value:g}"
        scale.factors.append(Factor("const", value, 0, 1, shown, node, op))
        return tensor

    def _inside_a_target(self, scale: TermScale, node: fx.Node, op: str):
        """``|kl - C|`` (a capacity C the KL is held at), ``clamp(kl, min=l)``, ``max(kl, l)`` or
        ``relu(kl - l)`` (free bits): the KL inside, where the target is a number or a value the
        data does not move (a schedule). Where the KL is above its floor, its weight is the term's."""
        inner = [a for a in node.args if isinstance(a, fx.Node) and self._reads_the_data(a)]
        others = [a for a in (*node.args, *node.kwargs.values()) if a not in inner]
        if len(inner) != 1 or not all(self._is_a_number(a) for a in others):
            return _STOP
        if op == "max" and not any(isinstance(a, fx.Node) for a in others):
            return _STOP  # torch.max(kl, 0): a reduction over dim 0, not a floor
        tensor = inner[0]
        shifted = self.view.op(tensor) in ("sub", "rsub") and len(tensor.args) == 2 and self._is_a_number(tensor.args[1])
        # |C - kl|: the capacity written first (a number minus the KL), as |kl - C| under abs
        first = op == "abs" and self.view.op(tensor) == "sub" and len(tensor.args) == 2 and self._is_a_number(tensor.args[0])
        if op in ("abs", "relu") and not (shifted or first):
            return _STOP  # |kl|, relu(kl): no target
        if shifted or first:
            tensor = tensor.args[1] if first else tensor.args[0]  # kl - C, C - kl
            if not isinstance(tensor, fx.Node):
                return _STOP
        scale.target = "capacity" if op == "abs" else "floor"
        return tensor

    def _keeps_values(self, node, src) -> bool:
        out, got = self.ctx.shape(node), self.ctx.shape(src)
        if out is None or got is None or out.sizes is None or got.sizes is None:
            return False
        return out.sizes == got.sizes or (math.prod(out.sizes) == 1 and math.prod(got.sizes) == 1)

    def _reads_the_data(self, node) -> bool:
        return any(a.op == "placeholder" for a in self.view.ancestors(node))

    def _is_a_number(self, value) -> bool:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if isinstance(value, fx.Node) and is_size(value):  # free bits per dim: clamp(min=bound * mu.size(1))
            return True
        return isinstance(value, fx.Node) and not self._reads_the_data(value) and self._is_scalar_const(value)

    def _reduced(self, scale: TermScale, node: fx.Node, op: str, src: fx.Node):
        """``.sum(...)`` or ``.mean(...)``: the dims it reduces, and its input to go on from."""
        fact = self.ctx.shape(src)
        if fact is None or fact.sizes is None:
            return _Ends(None)
        positions = self._reduced_positions(node, len(fact.sizes), self._int_value)
        if not positions:
            return src  # kl.sum(-1) or .mean() of a 0-d tensor: nothing is reduced
        if self.view.op(src) == "stack" and one_tensor_listed(src) and all(fact.sizes[p] == 1 for p in positions):
            return src  # torch.stack([kl]).mean(dim=0): the dim of 1 the stack added
        text, power, consts, samples = self.labels(src, positions)
        if op == "mean":
            scale.factors.append(Factor("mean", 1.0, -power, consts, text, node, op))
        else:  # a sum over the samples is L times the estimate
            scale.factors.append(Factor("sum", 1.0, 0, 1 / samples, text, node, op))
        return src

    def _loss_element(self, scale: TermScale, node: fx.Node, op: str, tensors: list):
        """A loss op (``mse_loss``, ``binary_cross_entropy``): its own reduction, and the term's element."""
        reduction = self._reduction_of(node)
        if reduction == "none":
            return _STOP
        if op in CLASS_INDEX_LOSSES:
            # a mean over the targets (one per position, classes excluded)
            ref = tensors[1] if len(tensors) > 1 else tensors[0]
            fact = self.ctx.shape(ref)
            if fact is None or fact.sizes is None:
                return _Ends(None)
            text, power, consts, samples = self.labels(ref, range(len(fact.sizes)))
        else:
            # elementwise losses average over the broadcast of both sides
            got = self.broadcast_labels(tensors[:2])
            if got is None:
                return _Ends(None)
            text, power, consts, samples = got
        if reduction == "mean":
            scale.factors.append(Factor("mean", 1.0, -power, consts, text, node, op))
        else:
            scale.factors.append(Factor("sum", 1.0, 0, 1 / samples, text, node, op))
        scale.element = node
        return _Ends(scale)

    def _pinned_batch(self, value: float, loc=None) -> tuple[int, int] | None:
        """(batch, k) when a constant divisor is the example or configured batch size written down times k (1, D, Z).
        One that is the latent or data size too (``kl / Z``, Z = 16 = B) is that size unless its line names a batch."""
        if value != int(value) or value < 2:
            return None
        c = int(value)
        data = data_size(self.ctx)
        latent = self.ctx.latent_size or 1
        batches = {self.ctx.batch, getattr(self.ctx.program, "configured_batch", None)} - {None}
        if c in (data, latent) and not argnumbers.names_a_batch(loc):
            return None
        for b in sorted(batches):
            if b > 1 and c % b == 0 and c // b in {1, data, latent, data * latent}:
                return b, c // b
        return None

    def _int_value(self, d):
        t = self.runs.runs[self.runs.batch].tensors.get(d) if isinstance(d, fx.Node) else None
        return int(t.item()) if t is not None and t.numel() == 1 and not t.is_floating_point() else d

    def _a_number(self, node) -> bool:
        """One value no input, parameter or draw of the run makes (a weight the code holds as a tensor)."""
        made = {node} | set(self.view.value_ancestors(node))  # device=kl.device reads no value of kl
        return self._is_scalar_const(node) and not any(n.op == "placeholder" or n in self.view.with_parameters() for n in made)

    def _is_scalar_const(self, node) -> bool:
        t = self.runs.runs[self.runs.batch].tensors.get(node)
        return t is not None and t.numel() == 1

    @staticmethod
    def _reduced_positions(node, rank: int, value_of=lambda d: d) -> list[int]:
        dim = node.kwargs.get("dim", node.kwargs.get("axis", node.args[1] if len(node.args) > 1 else None))
        if dim is None:
            return list(range(rank))
        # dims given as 0-d tensors (dim=list(torch.arange(kl.dim()))[1:], pixyz's way): their values
        dims = [value_of(d) for d in (dim if isinstance(dim, (tuple, list)) else [dim])]
        if not all(isinstance(d, int) for d in dims):
            return list(range(rank))
        if rank == 0:
            return []  # sum(dim=-1) of a 0-d tensor: nothing is reduced
        return sorted(d % rank for d in dims)

    def _reduction_of(self, node) -> str:
        if node.op == "call_module":  # nn.MSELoss(reduction="sum"): the module holds it
            module = self.ctx.capture.modules.get(node.target)
            return str(getattr(module, "reduction", "mean"))
        size_average, reduce = node.kwargs.get("size_average"), node.kwargs.get("reduce")
        if size_average is not None or reduce is not None:  # the legacy arguments win, as in torch
            if reduce is False:
                return "none"
            return "sum" if size_average is False else "mean"
        return str(node.kwargs.get("reduction", "mean"))
