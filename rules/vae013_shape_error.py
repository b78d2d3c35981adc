"""VAE013 shape-error: an operation cannot take the shapes that reach it."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.errorkinds import kind_of
from vaelint.rulebase import Example, Observed, Rule, fill
from vaelint.source.facts import call_argument, expr_text, origin_of
from vaelint.vocab import ErrorKind, Severity

# The size argument a layer fixes at construction: (argument index, keyword, what it is).
_LAYER_INPUT = {
    "Linear": (0, "in_features", "in_features"),
    "Bilinear": (0, "in1_features", "in1_features"),
    "Conv1d": (0, "in_channels", "in_channels"),
    "Conv2d": (0, "in_channels", "in_channels"),
    "Conv3d": (0, "in_channels", "in_channels"),
    "ConvTranspose1d": (0, "in_channels", "in_channels"),
    "ConvTranspose2d": (0, "in_channels", "in_channels"),
    "ConvTranspose3d": (0, "in_channels", "in_channels"),
    "BatchNorm1d": (0, "num_features", "num_features"),
    "BatchNorm2d": (0, "num_features", "num_features"),
    "LayerNorm": (0, "normalized_shape", "normalized_shape"),
    "LSTM": (0, "input_size", "input_size"),
    "GRU": (0, "input_size", "input_size"),
    "RNN": (0, "input_size", "input_size"),
}

# an RNN's initial state given without its layer dim (B x H for (h0, c0))
_STATE_FIX = (
    "give nn.{cls} its initial state as (num_layers * num_directions) x B x hidden_size, "
    "the input's batch in dim 1 even with batch_first=True: e.g. h0 = h.unsqueeze(0) (repeat it over the layers "
    "with .repeat(num_layers, 1, 1))"
)


def is_shape_error(error: BaseException) -> bool:
    return kind_of(error) is ErrorKind.SHAPE


_TEMPLATE = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, image_size={SIZE}, latent_dim=8):
        super().__init__()
        self.flat = {FLAT}
        self.enc = nn.Linear(self.flat, 2 * latent_dim)
        self.dec = nn.Linear(latent_dim, self.flat)

    def forward(self, x):
        mu, logvar = self.enc(x.view(x.size(0), -1)).chunk(2, dim=-1)  # <- finding
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar
"""
_MLP = fill(_TEMPLATE, size=28, flat="image_size * image_size")


class ShapeError(Rule):
    code = "VAE013"
    name = "shape-error"
    severity = Severity.ERROR
    defers_to = ("VAE003",)  # a failing comparison of recon and input is VAE003's finding
    summary = "An operation cannot take the shapes that reach it."
    what = """
The model raises a shape error on the input you gave: a Linear layer whose
in_features was worked out for another image size, a Conv layer fed the
wrong number of channels, a reshape whose sizes do not divide the tensor.
vaelint reports the failing op at your line with the shapes that reached it
written with the batch as B, and, for a layer, the earlier line that fixed
the size it expected. In training code, a step that hands its model the
loader's batch as it comes (a TensorDataset's batch is a list, [x] even for
one tensor) raises for want of a tensor: reported at the model's call.
"""
    why = """
PyTorch's message names sizes (``mat1 and mat2 shapes cannot be multiplied
(32x8192 and 2048x256)``) but not the layer, nor the line where 2048 came
from; that line is usually far from the failure, in __init__.
"""
    example = """
self.flatten_dim = hidden_dims[-1] * 4      # 2 x 2 feature map: right for 64x64 only
self.fc_mu = nn.Linear(self.flatten_dim, latent_dim)
...
h = self.encoder(x).flatten(1)              # B x 8192 for 128x128 input
mu = self.fc_mu(h)                          # VAE013
"""
    fix = """
Compute the size from the input size instead of writing it down: pass a dummy
tensor through the conv stack in __init__ (``with torch.no_grad():
n = self.encoder(torch.zeros(1, C, H, W)).numel()``), or use
``nn.LazyLinear(out_features)``.
"""
    VALID = [
        Example(_MLP, inputs=("4x784",)),
        Example(_MLP, inputs=("4x1x28x28",)),  # flattened by the view: fine
    ]
    INVALID = [
        Example(_MLP, inputs=("4x1x32x32",), at="finding", message="B x 1024"),
        Example(fill(_TEMPLATE, size=32, flat="28 * 28"), inputs=("4x1x32x32",), at="finding", message="self.flat = 28 * 28"),
    ]

    def check(self, ctx):
        failure = ctx.failure
        whole = getattr(ctx.program, "batch_whole", None)
        if failure is None and whole is not None:  # the code as written gave its model the loader's list and raised
            loc, model, kind, parts, detail = whole
            yield self.report(BatchGivenWhole(model, kind, parts, detail), loc)
            return
        stop = getattr(ctx.program, "shape_stop", None)
        if failure is None and stop is not None:  # the step as written raised after its model, on the first batch
            yield self.report(StepRaised(stop[1], ctx.batch), stop[0])
            return
        if failure is None or not is_shape_error(failure.error):
            return
        node = failure.node
        detail = str(failure.error).strip().splitlines()[0]
        if node is None:
            yield self.report(ShapeErrorRaised(ctx.specs[0].text(), detail), failure.loc)
            return
        op = ctx.view.op(node)
        module = ctx.module_of(node)
        tensors = [a for a in node.all_input_nodes if a.op != "get_attr" and ctx.shape(a) is not None]
        shown = " and ".join(f"a tensor of shape {ctx.shape_text(a)}" for a in tensors[:2]) or "its inputs"
        if module is not None:
            cls = type(module).__name__
            name = ctx.module_name(module) or op
            state = cls in ("LSTM", "GRU", "RNN") and ("hx" in detail or "hidden" in detail.lower())
            seen = OpCannotTake(
                f"{name} ({cls}{_layer_sizes(module)})",
                shown,
                "" if state else self._size_origin(ctx, module, cls) or "",
                detail,
                _STATE_FIX.format(cls=cls) if state else self._fix_for(cls),
            )
        elif op == "view" and "stride" in detail:
            # the sizes agree; the memory layout does not (a view after permute/transpose/expand)
            seen = OpCannotTake(
                "view",
                shown,
                ": the tensor is not contiguous in memory",
                detail,
                "use .reshape(...) instead of .view(...), or call .contiguous() before .view(...)",
            )
        else:
            seen = OpCannotTake(
                op, shown, "", detail, "make the sizes agree: derive them from the tensor (x.size(0), -1) rather than writing them down."
            )
        yield self.report(seen, failure.loc, node=node)

    def explains(self, failure, ctx):
        return is_shape_error(failure.error)

    def confirm(self, finding, ctx, observed):
        if isinstance(finding.observed, (BatchGivenWhole, StepRaised)):
            return True  # seen raising in the run of the code as written, on the batch its loader gave
        return observed.error is not None and is_shape_error(observed.error)

    @staticmethod
    def _fix_for(cls: str) -> str:
        if cls == "Linear":
            return (
                "compute in_features from the input size (run a dummy tensor through the layers "
                "before it in __init__ and take .numel()), or use nn.LazyLinear(out_features)"
            )
        if cls.startswith("Conv") or cls.startswith("BatchNorm"):
            return "make the layer's channel count match the tensor that reaches it (dim 1)"
        return "make the layer's input size match the tensor that reaches it"

    @staticmethod
    def _size_origin(ctx, module, cls) -> str:
        site = ctx.program.module_sites.get(id(module))
        spec = _LAYER_INPUT.get(cls)
        if site is None or spec is None:
            return ""
        index, keyword, what = spec
        expr = call_argument(site, index, keyword)
        text = f"; {what} is set at {site.where()}"
        if expr is None:
            return text
        origin = origin_of(site, expr)
        if origin is not None:
            loc, src = origin
            return f"; {what} comes from `{src}` at {loc.where()}, worked out for another input size"
        return text + f" as `{expr_text(site, expr)}`"


def _layer_sizes(module) -> str:
    for attr in ("in_features", "in_channels", "num_features", "input_size"):
        if hasattr(module, attr):
            return f", {attr}={getattr(module, attr)}"
    return ""


@dataclass
class ShapeErrorRaised(Observed):
    """A shape error raised where no graph node stands for the op (the message is PyTorch's)."""

    inputs: str  # the --input spec
    detail: str  # the error's first line

    def message(self) -> str:
        return f"the model raised a shape error on input {self.inputs}: {self.detail}"

    def fix(self) -> str:
        if "hx" in self.detail:  # "For batched 3-D input, hx and cx should also be 3-D"
            return _STATE_FIX.format(cls="LSTM" if "cx" in self.detail else "GRU/RNN")
        return "make the sizes agree; the line above is where PyTorch gave up."


@dataclass
class OpCannotTake(Observed):
    """An op (a layer, with its sizes) and the shapes that reached it."""

    taker: str  # "fc1 (Linear 1024 -> 256)", "view"
    inputs: str  # "a tensor of shape B x 4096 (8 x 4096)"
    origin: str  # where the wrong size was fixed (", sized at ..."), or why it cannot (": not contiguous"), or ""
    detail: str  # the error's first line
    remedy: str

    def message(self) -> str:
        return f"{self.taker} cannot take {self.inputs}{self.origin} ({self.detail})"

    def fix(self) -> str:
        return self.remedy


@dataclass
class BatchGivenWhole(Observed):
    """The training step calls its model with the loader's batch as it comes, a list or tuple of
    tensors where the model's first layer takes a tensor (found by running the code as written)."""

    model: str  # the model's class
    kind: str  # "list", "tuple"
    parts: str  # "32 x 30", "32 x 784, 32"
    detail: str  # the error's first line

    def message(self) -> str:
        n = self.parts.count(",") + 1
        return (
            f"{self.model} is called with the loader's batch as it comes, a {self.kind} of {n} tensor{'s' * (n > 1)} "
            f"({self.parts}), and raised: {self.detail}. A DataLoader gives a list of its data set's tensors, [x] even "
            "for a TensorDataset of one tensor, so the step fails on its real data too"
        )

    def fix(self) -> str:
        if self.parts.count(",") == 0:
            return "unpack the batch before the model: `for (x,) in loader:` or `x = batch[0]`, then model(x) and compare with x"
        return "unpack the batch before the model: `for x, y in loader:` or `x = batch[0]`, then model(x)"


@dataclass
class StepRaised(Observed):
    """The training step's own code raised a shape error after its model ran, running the code as
    written on its first batch (a line the step vaelint read from the code leaves out)."""

    detail: str  # "IndexError: index 1 is out of bounds for dimension 1 with size 1"
    batch: int

    def message(self) -> str:
        return (
            f"the training step raises here on its first batch ({self.batch} samples), after the model ran: "
            f"{self.detail}. The step cannot train as written; vaelint checked the rest of it without this line"
        )

    def fix(self) -> str:
        if "0-dim" in self.detail or "0-dimensional" in self.detail:  # loss.data[0], torch 0.3's one-element loss
            return "a loss is a 0-dim tensor since torch 0.4 (torch 0.3's had one element): read its number with .item(), not [0]"
        return "make the index or sizes at this line agree with the tensor that reaches it (print its .shape there)"
