"""VAE012 device-mismatch: a tensor created on a fixed device inside forward or the loss."""

from __future__ import annotations

from vaelint.ops import ARITH_OPS, CREATION_OPS
from vaelint.rulebase import Example, Rule

_MODEL = '''import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.latent = latent
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        eps = {NOISE}
        z = mu + eps * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar
'''


def _model(noise: str) -> str:
    return _MODEL.replace("{NOISE}", noise)


# ops through which a CPU tensor stays on the CPU
_PASS_THROUGH = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "expand", "expand_as", "permute",
                 "transpose", "contiguous", "float", "double", "half", "normal_", "uniform_", "getitem", "neg",
                 "clone", "detach", "repeat", "t"}
# ops that move a tensor to where it belongs
_MOVES = {"to", "cuda", "type_as", "to_device"}
# ops that combine tensors and need them on one device
_MEETS = ARITH_OPS | {"matmul", "linear", "cat", "stack", "addcmul", "where", "mse_loss", "binary_cross_entropy",
                      "binary_cross_entropy_with_logits", "l1_loss", "bmm", "mm", "conv2d", "conv1d",
                      "gru", "lstm", "rnn", "rnn_tanh", "embedding"}


class DeviceMismatch(Rule):
    code = "VAE012"
    name = "device-mismatch"
    severity = "error"
    summary = "A tensor created on a fixed device inside forward or the loss breaks on a GPU."
    what = """
A tensor created inside forward or the loss without ``device=`` (``torch.randn(n,
Z)``, ``torch.zeros(...)``, ``torch.tensor([...])``), or moved with ``.cpu()``,
lives on the CPU; when it then meets the model's tensors, which are on the GPU in
training, the op fails. vaelint finds such tensors in the graph and the op where
they meet model tensors, so this is caught on a machine without a GPU; on a GPU
the confirmation pass shows the failure.
"""
    why = """
The model works in every CPU test and crashes on the first GPU run with
``Expected all tensors to be on the same device``, often in someone else's
training script. Zero-dimensional constants (``torch.tensor(0.5)``) are fine:
PyTorch moves those itself.
"""
    example = """
eps = torch.randn(mu.size(0), self.latent)   # on the CPU, mu on the GPU
z = mu + eps * std                           # RuntimeError on CUDA
"""
    fix = """
Create tensors like the ones they meet: ``torch.randn_like(std)``,
``torch.zeros_like(x)``, ``x.new_zeros(n, Z)``, or pass ``device=x.device``.
"""
    VALID = [
        Example(_model("torch.randn_like(mu)"), inputs=("6x20",)),
        Example(_model("torch.randn(mu.size(0), self.latent, device=mu.device)"), inputs=("6x20",)),
        Example(_model("torch.randn(mu.shape).to(mu.device)"), inputs=("6x20",)),
        Example(_model("mu.new_empty(mu.shape).normal_()"), inputs=("6x20",)),
        # a CPU index tensor into a model tensor is allowed
        Example(_model("torch.randn_like(mu)[torch.arange(mu.size(0))]"), inputs=("6x20",)),
    ]
    INVALID = [
        Example(_model("torch.randn(mu.size(0), self.latent)"), inputs=("6x20",), line=14, message="randn"),
        Example(_model("torch.randn_like(mu).cpu()"), inputs=("6x20",), line=14, message="cpu"),
        Example(_model("torch.tensor([[1.0] * 4] * 6) * torch.randn_like(mu)"), inputs=("6x20",), line=14, message="tensor"),
        # decoded by a layer whose weights are on the device
        Example(_model("torch.randn_like(mu) + 0 * self.dec(torch.randn(6, 4)).sum()"), inputs=("6x20",), line=14, message="linear"),
    ]

    def check(self, ctx):
        view = ctx.view
        for node in view.graph.nodes:
            op = view.op(node)
            if not self._creates_on_cpu(ctx, node, op):
                continue
            meet = self._meeting(ctx, node)
            if meet is None:
                continue
            other = next((a for a in meet.all_input_nodes if a is not node and not view.depends_on(a, node)), None)
            made = (
                f"{op}() moves a tensor of shape {ctx.shape_text(node)} to the CPU"
                if op == "cpu"
                else f"{op} creates a tensor of shape {ctx.shape_text(node)} on the CPU (no device=)"
            )
            met = ctx.shape_text(other) if other is not None else "?"
            yield self.finding(
                f"{made}; it meets the model's {met} tensor in {view.op(meet)}{_at(meet)}, which "
                "fails on a GPU with 'Expected all tensors to be on the same device'.",
                node.meta.get("loc"),
                self._fix(op),
                node=meet,
            )

    @staticmethod
    def _creates_on_cpu(ctx, node, op) -> bool:
        if op == "cpu":
            return True
        if op not in CREATION_OPS or op.endswith("_like") or op in {"normal_", "uniform_", "exponential_", "random_", "bernoulli_"}:
            return False
        if node.kwargs.get("device") is not None:
            return False
        if any(isinstance(a, type(node)) for a in node.all_input_nodes) and op in {"tensor", "as_tensor", "normal"}:
            return False  # built from tensors: inherits their device
        fact = ctx.shape(node)
        return fact is not None and fact.sizes is not None and len(fact.sizes) > 0

    @staticmethod
    def _meeting(ctx, node):
        """The first op where this tensor, unmoved, meets a tensor from the input or the weights."""
        view = ctx.view
        frontier, seen = [node], set()
        while frontier:
            n = frontier.pop(0)
            for user in n.users:
                if user in seen:
                    continue
                seen.add(user)
                op = view.op(user)
                if op in _MOVES:
                    continue
                if op in _MEETS:
                    others = [a for a in user.all_input_nodes if a is not n and not view.depends_on(a, node)]
                    if any(_on_device(ctx, a) for a in others):
                        return user
                    module = ctx.capture.modules.get(user.target) if user.op == "call_module" else None
                    if module is not None and any(True for _ in module.parameters()):
                        return user  # a layer whose weights live on the device
                if op == "getitem" and user.args and user.args[0] is not n:
                    continue  # a CPU index into a tensor: allowed, the result stays on its device
                if op in _PASS_THROUGH or op in _MEETS:
                    frontier.append(user)
        return None

    @staticmethod
    def _fix(op: str) -> str:
        if op == "cpu":
            return "keep the tensor on its device: drop .cpu() (or move the result back with .to(x.device))"
        if op.startswith("rand") or op in ("normal", "empty"):
            return "draw it where the model is: torch.randn_like(std), or pass device=std.device"
        return "create it where the model is: torch.zeros_like(x) / x.new_zeros(...), or pass device=x.device"

    def confirm(self, finding, ctx, observed):
        if not observed.device.startswith("cuda"):
            return None  # a CPU run cannot show it
        err = observed.error
        return err is not None and "device" in str(err)


def _on_device(ctx, node) -> bool:
    """Computed from the inputs or the weights (which live on the training device)."""
    return any(a.op == "placeholder" or (a.op in ("call_module",)) or (a.op == "get_attr" and not str(a.target).startswith("_constant"))
               for a in ctx.view.ancestors(node))


def _at(node) -> str:
    loc = node.meta.get("loc")
    return f" at {loc.display_path()}:{loc.line}" if loc else ""
