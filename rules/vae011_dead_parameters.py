"""VAE011 dead-parameters: parameters that receive no gradient from the loss."""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass

import torch.nn as nn

from vaelint.facts.stepchoices import random_branch
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.source.frames import SourceLoc, is_user_file
from vaelint.vocab import Need, Severity

_MODEL = """import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.hidden = nn.Linear(20, 16)
        self.extra = nn.Linear(16, 16)  # <- finding
        self.fc_mu = nn.Linear(16, latent)
        self.fc_logvar = nn.Linear(16, latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        {EXTRA}
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar


def loss_function(recon, x, mu, logvar):
    rec = F.binary_cross_entropy(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl
"""


def _model(extra: str) -> str:
    return fill(_MODEL, extra=extra)


# a trainable scale held by the model itself beside its layers (a sigma-VAE's log_sigma)
_SCALED = (
    _MODEL.replace("  # <- finding", "")
    .replace(
        "        self.dec = nn.Linear(latent, 20)\n",
        "        self.dec = nn.Linear(latent, 20)\n        self.log_scale = nn.Parameter(torch.zeros(()))  # <- finding\n",
    )
    .replace("        return torch.sigmoid(self.dec(z)), mu, logvar", "        return torch.sigmoid(self.dec(z) {SCALE}), mu, logvar")
)


class DeadParameters(Rule):
    code = "VAE011"
    name = "dead-parameters"
    severity = Severity.WARNING
    needs = (Need.LOSS, Need.CLEAN_RUN)
    summary = "Parameters that receive no gradient from the loss."
    what = """
Layers kept in a plain list or dict attribute (``self.hidden = []``), which no module
registers, so no optimiser built from ``model.parameters()`` trains them; a weight replaced by a
new ``nn.Parameter`` in ``forward`` (``self.lin.weight = nn.Parameter(self.lin.weight * mask)``),
whose optimiser's copy never gets a gradient. Trainable parameters
whose module never contributes to the loss: a layer
defined in ``__init__`` and never wired into ``forward``, or a head whose output
is computed and then dropped; or a parameter a module holds itself beside
layers that train (a sigma-VAE's ``log_sigma``, a learned prior's scale) that the
loss never reads; or the sampler's heads left out of the optimiser that trains the encoder below
them (``Adam(list(model.encoder.parameters()) + list(model.decoder.parameters()))``, a
``parameters()`` overridden to list some modules only): they get gradients no step applies.
vaelint reads the captured forward-plus-loss
graph for the modules the loss depends on, and the confirmation pass checks
that their gradients are missing after ``backward()``. Frozen parameters
(``requires_grad=False``) are not reported, nor, in training code, those no
optimiser of the step holds (a pretrained network it uses but does not train).
"""
    why = """
The optimiser carries them along untouched, and a layer you think is part of
the model is not: a missing residual block, a second decoder layer, an
auxiliary head that is never trained.
"""
    example = """
self.extra = nn.Linear(16, 16)     # defined ...
h = torch.relu(self.hidden(x))     # ... but forward never calls it
"""
    fix = """
Wire the module into forward (``h = torch.relu(self.extra(h))``), or delete it
(or freeze it with ``requires_grad_(False)`` if it is trained elsewhere).
"""
    VALID = [
        Example(_model("h = torch.relu(self.extra(h))"), inputs=("6x20",)),
        Example(_model("self.extra.requires_grad_(False)"), inputs=("6x20",)),
        # the near miss of a plain list: nn.ModuleList registers its layers
        Example(
            _model("h = torch.relu(self.extra[0](h))").replace(
                "self.extra = nn.Linear(16, 16)", "self.extra = nn.ModuleList([nn.Linear(16, 16)])"
            ),
            inputs=("6x20",),
        ),
        Example(fill(_SCALED.replace("{EXTRA}", "h = torch.relu(self.extra(h))"), scale="* self.log_scale.exp()"), inputs=("6x20",)),
        # the near miss of the first invalid example: a running average kept by assignment under `if self.training:`
        # (an EMA VQ-VAE's codebook), read detached, meant to move without the optimiser
        Example(
            _model("h = torch.relu(self.extra(h))")
            .replace(
                "self.extra = nn.Linear(16, 16)  # <- finding",
                "self.extra = nn.Linear(16, 16)\n        self.center = nn.Parameter(torch.zeros(16))",
            )
            .replace(
                "        h = torch.relu(self.extra(h))",
                "        if self.training:\n"
                "            self.center = nn.Parameter(0.99 * self.center.detach() + 0.01 * h.mean(0).detach())\n"
                "        h = torch.relu(self.extra(h - self.center.detach()))",
            ),
            inputs=("6x20",),
        ),
    ]
    INVALID = [
        # a weight replaced by a new nn.Parameter in forward (a MADE mask applied so): the optimiser's never trains
        Example(
            _model("h = torch.relu(self.extra(h))")
            .replace(
                "        h = torch.relu(self.extra(h))",
                "        self.extra.weight = nn.Parameter(self.extra.weight * 1.0)  # <- finding\n        h = torch.relu(self.extra(h))",
            )
            .replace("self.extra = nn.Linear(16, 16)  # <- finding", "self.extra = nn.Linear(16, 16)"),
            inputs=("6x20",),
            at="finding",
            message="replaces extra.weight with a new nn.Parameter",
        ),
        # a layer kept in a plain list: forward uses it, no module registers it, no optimiser holds it
        Example(
            _model("h = torch.relu(self.extra[0](h))").replace("self.extra = nn.Linear(16, 16)", "self.extra = [nn.Linear(16, 16)]"),
            inputs=("6x20",),
            at="finding",
            message="extra is a plain list of 1 Linear layer",
        ),
        Example(_model("pass"), inputs=("6x20",), at="finding", message="extra (Linear"),
        Example(_model("unused = self.extra(h)"), inputs=("6x20",), at="finding", message="never reaches the loss"),
        Example(
            fill(_SCALED.replace("{EXTRA}", "h = torch.relu(self.extra(h))"), scale=""),
            inputs=("6x20",),
            at="finding",
            message="log_scale (a parameter of VAE, 1 value) gets no gradient",
        ),
    ]

    def check(self, ctx):
        total = ctx.roles.loss_total
        if not ctx.has_loss or ctx.failure is not None:
            return
        view = ctx.view
        targets = [total] if total is not None else [t for _s, t in ctx.roles.loss_terms]
        if not targets:
            return
        used_nodes = set()
        for t in targets:
            used_nodes |= view.ancestors(t)
        graph_params, used_params = set(), set()
        for node in ctx.nodes_by_op():
            names = ctx.params_of(node)
            graph_params |= names
            if node in used_nodes:
                used_params |= names
        model = ctx.program.model
        # parameters another backward of the step trains (a GAN's discriminator) are not the VAE loss's
        reached = {id(p) for n, p in model.named_parameters() if n in used_params}
        elsewhere = ctx.program.trained_by_others(reached) if hasattr(ctx.program, "trained_by_others") else set()
        held = ctx.program.held_by_optimisers() if hasattr(ctx.program, "held_by_optimisers") else None
        if held is not None and held & reached:
            # what no optimiser holds is not trained by the step (a frozen first stage under a prior)
            elsewhere = elsewhere | {id(p) for _n, p in model.named_parameters() if id(p) not in held}
        dead = {n for n, p in model.named_parameters() if p.requires_grad and n not in used_params and id(p) not in elsewhere}
        yield from self._unregistered(ctx, model, held)
        yield from self._left_out(ctx, model, held, used_params)
        yield from self._rebuilt_in_forward(model)
        if not dead:
            return
        choice = random_branch(ctx.program)
        if choice is not None:
            raise SkipRule(
                f"the step takes a random branch ({choice}): the modules it runs differ from step to step, and one step "
                "cannot tell a module that never trains from one it left out"
            )
        modules = self._dead_modules(model, dead)
        for name, module in modules:
            count = sum(p.numel() for p in module.parameters())
            in_graph = any(f"{name}.{p}" in graph_params for p, _ in module.named_parameters())
            site = ctx.program.module_sites.get(id(module))
            reads_z = in_graph and _sized_as_a_state(model, module) and _reads_the_sample(ctx, name)
            yield self.report(DeadModule(name, _describe(module), count, in_graph, reads_sample=reads_z), site)
        # a parameter a module holds itself beside layers that train (a sigma-VAE's log_sigma, a
        # learned prior's scale): no module of its own is dead, the parameter is
        for name in sorted(dead):
            if any(name.startswith(f"{m}.") for m, _ in modules):
                continue
            owner_name, _, attr = name.rpartition(".")
            owner = model.get_submodule(owner_name) if owner_name else model
            site = _assigned_at(owner, attr) or ctx.program.module_sites.get(id(owner))
            count = getattr(owner, attr).numel()
            yield self.report(DeadModule(name, f"a parameter of {type(owner).__name__}", count, name in graph_params, True), site)

    def _left_out(self, ctx, model, held, used_params: set):
        """The sampler's mean or scale head, whose gradient the loss gives, left out of the optimiser
        that trains the encoder below it (``Adam(list(enc.parameters()) + list(dec.parameters()))``,
        a ``parameters()`` overridden to list the stacks only): the heads never train. A first stage
        trained by none of the step's optimisers (frozen under a prior) is not read so."""
        if not held:
            return
        ids = {n: id(p) for n, p in model.named_parameters() if p.requires_grad}
        heads, trunk = set(), set()
        for layer in ctx.roles.reparams:
            for head in (layer.mu, layer.logvar):
                module = _producing_module(ctx.view, head)
                if module is None:
                    continue
                own = ctx.params_of(module)
                heads |= own
                trunk |= {n for a in ctx.view.ancestors(module) if a is not module for n in ctx.params_of(a)} - own
        untrained = sorted(n for n in heads & used_params if n in ids and ids[n] not in held)
        if not untrained or not any(ids.get(n) in held for n in trunk):
            return
        left = sorted({n.rpartition(".")[0] for n in used_params if n in ids and ids[n] not in held})
        count = sum(p.numel() for n, p in model.named_parameters() if n.rpartition(".")[0] in left)
        site = ctx.program.module_sites.get(id(model.get_submodule(untrained[0].rpartition(".")[0])))
        yield self.report(LeftOut(", ".join(left), count), site)

    def _unregistered(self, ctx, model, held):
        """Layers kept in a plain list, tuple or dict attribute (``self.hidden = []`` then
        ``self.hidden.append(nn.Linear(...))``): no module registers them, so ``model.parameters()``
        and the optimiser built from it never hold their weights."""
        registered = {id(m) for m in model.modules()}
        for owner_name, owner in model.named_modules():
            code = getattr(type(owner).__init__, "__code__", None)  # where the class's own __init__ is written
            if code is None or not is_user_file(code.co_filename):
                continue  # a library's module (a Keras layer tracks its layers in lists of its own)
            for attr, value in vars(owner).items():
                items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
                layers = [m for m in items if isinstance(m, nn.Module) and id(m) not in registered]
                params = [p for m in layers for p in m.parameters() if p.requires_grad]
                if not params or (held is not None and all(id(p) in held for p in params)):
                    continue
                name = f"{owner_name}.{attr}" if owner_name else attr
                kinds = sorted({type(m).__name__ for m in layers})
                seen = Unregistered(name, type(value).__name__, len(layers), "/".join(kinds), sum(p.numel() for p in params))
                yield self.report(seen, _assigned_at(owner, attr) or ctx.program.module_sites.get(id(owner)))

    def _rebuilt_in_forward(self, model):
        """``self.lin.weight = nn.Parameter(self.lin.weight * self.mask)`` in a forward (a MADE layer's
        mask applied so): each call makes a new leaf, and the parameter the optimiser was built with
        never gets a gradient."""
        import ast

        seen = set()
        for name, module in model.named_modules():
            cls = type(module)
            if cls in seen:
                continue
            seen.add(cls)
            try:
                path = inspect.getsourcefile(cls.forward)
                if not path or not is_user_file(path):
                    continue
                lines, first = inspect.getsourcelines(cls.forward)
                tree = ast.parse(textwrap.dedent("".join(lines)))
            except (OSError, TypeError, SyntaxError):
                continue
            updates = _running_updates(tree)
            for node in ast.walk(tree):
                if node in updates:
                    continue  # a codebook kept by moving averages (EMA VQ-VAE): updated by assignment on purpose
                target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
                call = node.value if target is not None else None
                if (
                    isinstance(target, ast.Attribute)
                    and ast.unparse(target).startswith("self.")
                    and isinstance(call, ast.Call)
                    and ast.unparse(call.func).split(".")[-1] == "Parameter"
                ):
                    attr = ast.unparse(target)[len("self.") :]
                    where = SourceLoc(path, first + node.lineno - 1, node.col_offset + 1 + _indent(lines))
                    yield self.report(RebuiltInForward(f"{name}.{attr}" if name else attr, type(module).__name__), where)

    @staticmethod
    def _dead_modules(model, dead: set[str]):
        """The outermost modules all of whose trainable parameters are dead."""
        out = []
        for name, module in model.named_modules():
            if not name:
                continue
            params = [f"{name}.{n}" for n, p in module.named_parameters() if p.requires_grad]
            if params and all(p in dead for p in params):
                if not any(name.startswith(o + ".") for o, _ in out):
                    out.append((name, module))
        return out

    def confirm(self, finding, ctx, observed):
        if not observed.grads or isinstance(finding.observed, (RebuiltInForward, Unregistered, LeftOut)):
            return None  # read off the code: the gradients a run records are the new leaves', or none
        prefix = f"{finding.observed.name}."
        grads = [g for n, g in observed.grads.items() if n.startswith(prefix) or n == finding.observed.name]
        if not grads:
            return None
        return all(g is None or g == 0.0 for g in grads)


def _indent(lines: list) -> int:
    return len(lines[0]) - len(lines[0].lstrip()) if lines else 0


@dataclass(frozen=True)
class RebuiltInForward(Observed):
    """A parameter replaced by a new nn.Parameter each time forward runs."""

    name: str  # as named_parameters() names it
    owner: str  # the module class whose forward does it

    def message(self) -> str:
        return (
            f"{self.owner}.forward replaces {self.name} with a new nn.Parameter each time it runs: the new one is a fresh "
            "leaf no optimiser holds, and the one the optimiser was built with never gets a gradient, so the layer never trains."
        )

    def fix(self) -> str:
        return "apply the change in the computation instead (F.linear(x, self.lin.weight * self.mask, self.lin.bias), the mask a buffer)"


@dataclass(frozen=True)
class Unregistered(Observed):
    """Layers held in a plain container attribute, which no module registers."""

    name: str  # the attribute, qualified
    container: str  # "list", "dict", "tuple"
    count: int
    kinds: str  # "Linear"
    parameters: int

    def message(self) -> str:
        return (
            f"{self.name} is a plain {self.container} of {self.count} {self.kinds} layer{'s' if self.count != 1 else ''} "
            f"({self.parameters} parameters) that no module registers: model.parameters() does not hold them, so the "
            "optimiser never trains them (and model.to(device), state_dict() and load_state_dict() pass them over)."
        )

    def fix(self) -> str:
        kind = "nn.ModuleDict" if self.container == "dict" else "nn.ModuleList"
        return f"hold them in {kind}: self.{self.name.rsplit('.', 1)[-1]} = {kind}(...)"


def _producing_module(view, node):
    """The module call whose output a head is, through a chunk, an index or a view of it."""
    for _ in range(4):
        if node is None or not hasattr(node, "op"):
            return None
        if node.op == "call_module":
            return node
        inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        node = inputs[0] if len(inputs) == 1 else None
    return None


@dataclass(frozen=True)
class LeftOut(Observed):
    """Modules the loss gives a gradient that no optimiser of the step holds, the sampler's heads among them."""

    names: str  # "to_mu, to_logvar, fc"
    parameters: int

    def message(self) -> str:
        return (
            f"{self.names} ({self.parameters} parameters) get the loss's gradient, but no optimiser of the step holds "
            "them, while the encoder below them trains: they never train (the sampler's mean and scale heads among "
            "them) and stay as initialised."
        )

    def fix(self) -> str:
        return "build the optimiser from model.parameters() (and do not override parameters() to list only some modules)"


def _assigned_at(owner, attr: str):
    """Where ``owner``'s class sets ``self.<attr> = ...`` (its ``__init__`` or another method)."""
    import ast
    import inspect

    from vaelint.source.frames import SourceLoc

    for cls in type(owner).__mro__:
        try:
            lines, first = inspect.getsourcelines(cls)
            path = inspect.getsourcefile(cls)
        except (OSError, TypeError):
            continue
        try:
            tree = ast.parse("".join(lines).lstrip() if lines[0][:1].isspace() else "".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name) and t.value.id == "self":
                    return SourceLoc(path, first + t.lineno - 1, t.col_offset + 1 + (len(lines[0]) - len(lines[0].lstrip())))
    return None


def _describe(module) -> str:
    cls = type(module).__name__
    if hasattr(module, "in_features"):
        return f"{cls} {module.in_features} -> {module.out_features}"
    return cls


@dataclass(frozen=True)
class DeadModule(Observed):
    """A submodule whose every trainable parameter gets no gradient from the loss."""

    name: str  # qualified, as in named_modules(): confirm reads the gradients under it
    description: str  # "Linear 16 -> 16"
    parameters: int
    in_graph: bool  # forward uses it, but its output never reaches the loss
    parameter: bool = False  # one parameter a module holds itself, not a module
    reads_sample: bool = False  # its input is made of the sample z (h0 = fc(z) no decoder is handed)

    def message(self) -> str:
        if self.parameter:
            why = "the step reads it, but not on the way to the loss" if self.in_graph else "nothing in the step uses it"
            values = f"{self.parameters} value{'s' if self.parameters != 1 else ''}"
            return f"{self.name} ({self.description}, {values}) gets no gradient from the loss: {why}, so it never trains."
        why = "its output never reaches the loss" if self.in_graph else "forward never uses it"
        return f"{self.name} ({self.description}, {self.parameters} parameters) gets no gradient from the loss: {why}."

    def fix(self) -> str:
        if self.parameter:
            return (
                f"use {self.name} in the loss where it belongs (a learned scale divides the error it scales), or make it a "
                f"buffer (register_buffer) or freeze it (requires_grad_(False)) if it is not meant to train"
            )
        if self.in_graph and self.reads_sample:
            return (
                f"hand {self.name}'s output, made of the sample z, to the decoder that was meant to read it (an RNN "
                "decoder's initial state: gru(inputs, h0)), or remove it"
            )
        if self.in_graph:
            return f"use {self.name}'s output in the loss (the auxiliary term it was meant for), or remove it"
        return f"wire {self.name} into forward, or remove it (freeze it with requires_grad_(False) if it is trained elsewhere)"


def _running_updates(tree) -> set:
    """The statements of a forward that update state by assignment on purpose: those under ``if
    self.training:`` or ``with torch.no_grad():`` (an EMA VQ-VAE's ``self.codebook.weight =
    nn.Parameter(self.sums / self.counts)``, a running average the optimiser is not meant to move;
    its reads are detached or straight-through)."""
    import ast

    out = set()
    for node in ast.walk(tree):
        guarded = (isinstance(node, ast.If) and "self.training" in ast.unparse(node.test) and "not" not in ast.unparse(node.test)) or (
            isinstance(node, ast.With) and any("no_grad" in ast.unparse(item.context_expr) for item in node.items)
        )
        if guarded:
            out.update(n for stmt in node.body for n in ast.walk(stmt))
    return out


def _sized_as_a_state(model, module) -> bool:
    """A layer whose output is the size of a recurrent layer's state in the model (h0 = fc(z) for a GRU of
    that hidden size): what an RNN decoder is handed, not an auxiliary classifier's or a critic's head."""
    import torch.nn as nn

    out = getattr(module, "out_features", None)
    recurrent = (nn.RNNBase, nn.RNNCellBase)
    return out is not None and any(isinstance(m, recurrent) and m.hidden_size == out for m in model.modules())


def _reads_the_sample(ctx, name: str) -> bool:
    """Does a call of the module ``name`` read a value made of a sampler's z?"""
    samples = [r.z for r in ctx.roles.reparams if r.z is not None]
    calls = [n for n in ctx.nodes_by_op() if any(p.startswith(f"{name}.") for p in ctx.params_of(n))]
    return any(ctx.view.depends_on(n, z) for n in calls for z in samples)
