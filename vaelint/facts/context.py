"""Everything the rules may read about one analysed target."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaelint.capture.result import Capture
from vaelint.contracts.dimnames import DimNames
from vaelint.facts.categorical import no_gaussian_sampler
from vaelint.facts.graphview import GraphView, is_made_constant, loose_constants
from vaelint.facts.reparams import MATRIX_KL
from vaelint.facts.roles import Roles
from vaelint.facts.shapes import ShapeFact, ShapeRuns
from vaelint.frontends.base import Program
from vaelint.frontends.lossfind import LossPlan
from vaelint.inputs import InputSpec
from vaelint.source.frames import SourceLoc
from vaelint.vocab import Need


def loc_of(node) -> SourceLoc | None:
    """The user's line that made this node (innermost user frame)."""
    return node.meta.get("loc") if node is not None else None


def stack_of(node) -> tuple:
    """The user's frames when this node was made, innermost first."""
    return node.meta.get("stack", ()) if node is not None else ()


@dataclass
class Context:
    program: Program
    specs: list[InputSpec]
    capture: Capture
    view: GraphView
    roles: Roles
    runs: ShapeRuns
    loss: LossPlan | None
    beta: float = 1.0
    dim_names: DimNames = field(default_factory=DimNames)
    # facts several rules share (loss scales, KL reading), computed once
    cache: dict = field(default_factory=dict)
    # what rules tell the report beside their findings (how a rule decided)
    notes: list = field(default_factory=list)
    # the user's annotated functions (vaelint/contracts/annotations.py); None: the code has none
    contracts: object = None

    def reading(self, key: str, compute, kind: type):
        """A reading several rules share, computed once: (it, "") when ``compute(ctx)``
        returned a ``kind``, else (None, the reason it returned instead)."""
        if key not in self.cache:
            self.cache[key] = compute(self)
        got = self.cache[key]
        return (got, "") if isinstance(got, kind) else (None, got or "")

    @property
    def has_loss(self) -> bool:
        """A loss function was found, or the forward returns its own loss."""
        return self.loss is not None or self.roles.loss_total is not None or bool(self.roles.loss_parts)

    def nodes_by_op(self, *ops: str) -> list:
        """The graph's nodes whose op (in the shared vocabulary of vaelint/capture/ops.py) is
        one of ``ops``, in graph order; all of them when none is given. One scan."""
        index = self.cache.get("nodes_by_op")
        if index is None:
            index = {}
            for node in self.view.graph.nodes:
                index.setdefault(self.view.op(node), []).append(node)
            self.cache["nodes_by_op"] = index
        if not ops:
            return list(self.view.graph.nodes)
        wanted = set(ops)
        return [n for n in self.view.graph.nodes if self.view.op(n) in wanted] if len(wanted) > 1 else list(index.get(ops[0], []))

    @property
    def extra_batches(self) -> tuple:
        """The batch sizes the shapes were solved at, beside the user's."""
        return self.runs.extra

    def failure_at(self, batch: int):
        """The run's failure at that batch size, if it failed."""
        return self.runs.failure_at(batch)

    def values(self, *nodes, run=None) -> list:
        """The tensors these nodes computed on the run at the user's batch (or on
        ``run``, a confirmation pass's); None for a node the run did not keep."""
        tensors = (run if run is not None else self.runs.runs[self.runs.batch]).tensors
        return [tensors.get(n) for n in nodes]

    @property
    def failure(self):
        """The failure of the run at the user's batch, if the model raised."""
        return self.runs.failure

    @property
    def ints_are_literals(self) -> bool:
        """A plain int in the graph was written in the code, never computed from a tensor
        (so an int argument can be read on one run, without comparing batch sizes)."""
        return self.capture.ints_are_literals

    @property
    def framework(self) -> str:
        """ "keras" for a Keras 3 model (run on the torch backend), else "torch"."""
        return self.program.framework

    def read_after_run(self) -> set:
        """The nodes whose values anything reads once a run is done: the loss side
        (everything not computed before the forward's outputs), the forward's
        outputs and inputs, and each stochastic layer's nodes. The encoder's and
        decoder's inner activations are the rest: the largest tensors, read by no
        rule's confirmation."""
        forward = set()
        for out in self.roles.forward_outputs.values():
            forward |= self.view.ancestors(out)
        keep = {n for n in self.view.graph.nodes if n not in forward}
        keep |= set(self.roles.forward_outputs.values()) | set(self.roles.inputs)
        for r in self.roles.reparams:
            keep |= {r.noise, r.eps, r.std, r.product, r.mu, r.z, r.logvar}
            keep |= self.view.ancestors(r.std) - self.view.ancestors(r.logvar)  # logvar -> std
        if self.roles.recon is not None:
            keep.add(self.roles.recon)
        return keep

    def is_model_state(self, node) -> bool:
        """A parameter or buffer of the model (not a constant the graph holds)."""
        return node.op == "get_attr" and not is_made_constant(node)

    def loose_constants(self) -> list:
        """Tensors the graph holds as constants, not weights, that an op reads (graphview.loose_constants)."""
        return loose_constants(self.view.graph, self.capture.modules)

    def unmet(self, need: Need) -> str | None:
        """Why this target lacks what a rule needs (``Rule.needs``); None when it has it."""
        return _UNMET[Need(need)](self)

    def _no_loss(self) -> str | None:
        if self.has_loss:
            return None
        if self.program.step is None:
            return self.program.loss_missing_reason or "no loss found: pass one with --loss"
        failure = self.runs.failure
        if failure is not None:
            where = f" at {failure.loc.where()}" if failure.loc else ""
            return f"the training step raised{where} before it computed its loss"
        return "the training step's loss could not be read from what it backpropagates"

    def _no_reparam(self) -> str | None:
        return None if self.roles.reparam is not None else no_gaussian_sampler(self.view, self.roles.categorical)

    def _no_posterior(self) -> str | None:  # a Gaussian sampler or a categorical one: a KL the reductions rules read
        no = self.roles.reparam is None and not self.roles.categorical
        return "no reparameterisation (mu + eps * std, or F.gumbel_softmax of logits) found in the graph" if no else None

    def _no_recon(self) -> str | None:
        no = self.roles.recon is None
        return "no reconstruction found: no forward output depends on the sample" if no else None

    def _no_kl_term(self) -> str | None:
        if any(r.matrix for r in self.roles.reparams):
            return MATRIX_KL
        no_kl = self.has_loss and not self.roles.kl_terms
        return "no KL term found in the loss (no term depends on the mean or the scale head alone)" if no_kl else None

    def _no_rec_term(self) -> str | None:
        if self.has_loss and not self.roles.rec_terms:
            return "no reconstruction term found in the loss"
        return None

    def _not_own_devices(self) -> str | None:
        return self.program.device_policy() or None

    def _not_clean_run(self) -> str | None:
        if self.runs.failure is not None:
            return f"the model raised at batch {self.runs.failure.batch}, so the values this rule reads do not exist"
        return None

    def shape(self, node) -> ShapeFact | None:
        return node.meta.get("shape") if node is not None else None

    @property
    def batch(self) -> int:
        return self.runs.batch

    @property
    def batch_size_text(self) -> str:
        """How the code reads the batch size, as a person writes it: ``x.size(0)``, or
        ``x.size(1)`` where the batch is dim 1 ((T, B, F) sequences)."""
        return f"x.size({self.specs[0].batch_dim if self.specs else 0})"

    @property
    def latent_size(self) -> int | None:
        """Z, the latent size per sample: a conv latent's C x H x W counts as one size."""
        r = self.roles.reparam
        fact = self.shape(r.mu) if r else None
        if not fact or not fact.dims or fact.dims[-1].batch_dependent:
            return None
        rest = [d for d in fact.dims if not d.batch_dependent]
        if len(rest) != len(fact.dims) - 1 or not fact.dims[0].batch_dependent:
            return fact.dims[-1].const  # a sequence of latents (B x T x Z): Z per step
        size = 1
        for d in rest:
            size *= d.const
        return size

    @property
    def sample_axes(self) -> tuple[tuple[int, int], ...]:
        """(position, size) of the dims the sample z has and its mean does not: Monte Carlo samples
        per input, in front (``q.rsample([L])``: L x B x Z from B x Z heads) or after the batch
        (``mu.unsqueeze(1) + eps * std.unsqueeze(1)``: B x S x Z); () for one sample."""
        r = self.roles.reparam
        mu, z = (self.shape(r.mu), self.shape(r.z)) if r else (None, None)
        if mu is None or z is None or mu.sizes is None or z.sizes is None:
            return ()
        k = len(z.sizes) - len(mu.sizes)
        batch = [d.batch_dependent for d in z.dims] if z.dims is not None else [False] * len(z.sizes)
        if k > 0 and all(a in (b, 1) for a, b in zip(mu.sizes, z.sizes[k:])) and not any(batch[:k]):
            return tuple((i, z.sizes[i]) for i in range(k))
        if k == 1 and len(z.sizes) > 2 and batch[0] and (z.sizes[0], *z.sizes[2:]) == tuple(mu.sizes):
            return ((1, z.sizes[1]),)
        return ()

    def sample_dims(self, node) -> frozenset[int]:
        """The positions of ``node``'s dims that are the Monte Carlo sample axes: a tensor made
        from the samples that still has them (the L x B x D or B x S x D reconstruction)."""
        axes, fact, r = self.sample_axes, self.shape(node), self.roles.reparam
        # with the batch beside them: L x B ... in front, B x S after it
        if not axes or fact is None or fact.sizes is None or len(fact.sizes) < axes[-1][0] + (2 if axes[0][0] == 0 else 1):
            return frozenset()
        if any(fact.sizes[p] != s for p, s in axes) or not (node is r.z or self.view.depends_on(node, r.z)):
            return frozenset()
        if axes[0][0] and (fact.dims is None or not fact.dims[0].batch_dependent):
            return frozenset()  # samples after the batch: the tensor has the batch in front too
        return frozenset(p for p, _ in axes)

    def sample_positions(self, node) -> int:
        """How many leading dims of ``node`` are the Monte Carlo sample axes (L x B x D)."""
        dims = self.sample_dims(node)
        return len(dims) if dims == frozenset(range(len(dims))) else 0

    def names_for(self, node) -> dict[int, str]:
        """Constant sizes to show by name on this node: the names of an annotation
        that held on it (vaelint/contracts/check.py), else the latent size as Z (or
        the model's annotated name) on latent-side tensors, annotated data dims
        on input-side tensors and the reconstruction."""
        held = self.dim_names.by_node.get(node)
        if held is not None:
            return held
        if self.is_latent(node):
            z = self.latent_size
            return {z: self.dim_names.latent} if z is not None else {}
        if node is self.roles.recon or node in self.roles.inputs or self.view.is_data_only(node):
            return dict(self.dim_names.data)
        return {}

    def symbols(self, node) -> list[str] | None:
        fact = self.shape(node)
        return fact.symbols(self.names_for(node)) if fact else None

    def is_latent(self, node) -> bool:
        """Between the encoder's heads and the sample, or on the KL side of the loss:
        where a size equal to the latent size means Z."""
        r = self.roles.reparam
        if r is None or node is None:
            return False
        if node in (r.mu, r.logvar, r.std, r.eps, r.noise, r.z, r.product):
            return True
        v = self.view
        return (
            (v.depends_on(node, r.mu) or v.depends_on(node, r.logvar))
            and not v.depends_on(node, r.z)
            and not (self.roles.recon is not None and v.depends_on(node, self.roles.recon))
        )

    def shape_text(self, node, named: bool = True) -> str:
        """``B x Z (32 x 16)``: symbolic, then the sizes at the user's batch."""
        fact = self.shape(node)
        if fact is None:
            return "?"
        sym = fact.text(self.names_for(node) if named else None)
        sizes = fact.sizes_text()
        return sym if sym == sizes else f"{sym} ({sizes})"

    def module_of(self, node):
        """The nn.Module a node runs (call_module) or whose parameters it reads."""
        if node.op == "call_module":
            return self.capture.modules.get(node.target)
        for arg in node.all_input_nodes:
            if arg.op == "get_attr" and "." in str(arg.target):
                owner = str(arg.target).rsplit(".", 1)[0]
                mod = self.capture.modules.get(owner)
                if mod is not None:
                    return mod
        return None

    def module_name(self, module) -> str | None:
        for name, mod in self.capture.modules.items():
            if mod is module:
                return name.removeprefix("model.")
        return None

    def params_of(self, node) -> set[str]:
        """The model's parameter names (``fc1.weight``) a node reads."""
        prefix = "model."
        if node.op == "call_module":
            mod = self.capture.modules.get(node.target)
            if mod is None or not str(node.target).startswith(prefix):
                return set()
            base = str(node.target)[len(prefix) :]
            return {f"{base}.{n}" for n, _ in mod.named_parameters()}
        if node.op == "get_attr" and str(node.target).startswith(prefix):
            return {str(node.target)[len(prefix) :]}
        return set()

    def stage_params(self) -> dict[str, set[str]]:
        """Parameters of the encoder (what mu and logvar depend on) and of the
        decoder (what the reconstruction depends on after the sample)."""
        r, recon, view = self.roles.reparam, self.roles.recon, self.view
        out: dict[str, set[str]] = {"encoder": set(), "decoder": set()}
        if r is None:
            return out
        enc_nodes = view.ancestors(r.mu) | view.ancestors(r.logvar)
        for node in self.capture.graph.nodes:
            names = self.params_of(node) if node.op == "call_module" else set()
            if node.op == "get_attr":
                names = self.params_of(node)
            if not names:
                continue
            if node in enc_nodes:
                out["encoder"] |= names
            elif recon is not None and node in view.ancestors(recon):
                out["decoder"] |= names
        return out

    def literal_sizes(self, node) -> list[int]:
        """Integer arguments written into the code for this op (``randn(64, Z)``,
        ``view(-1, 1024)``), not computed from a tensor (``x.size(0)``), as the
        capture route can tell (vaelint/capture/route.py, Route.literal_ints)."""
        return self.capture.literal_ints(node, self.runs)


# Need -> the Context's reason for lacking it (None: it has it); one entry per need
_UNMET = {
    Need.LOSS: Context._no_loss,
    Need.REPARAM: Context._no_reparam,
    Need.POSTERIOR: Context._no_posterior,
    Need.RECON: Context._no_recon,
    Need.KL_TERM: Context._no_kl_term,
    Need.REC_TERM: Context._no_rec_term,
    Need.OWN_DEVICES: Context._not_own_devices,
    Need.CLEAN_RUN: Context._not_clean_run,
}
assert set(_UNMET) == set(Need), "every Need has its reason"


def build_context(program, specs, cap, runs, plan, beta) -> Context:
    """The roles found in the captured graph (computed once, here), and everything the rules read."""

    from vaelint.contracts.dimnames import from_annotations
    from vaelint.facts.forwardloss import own_loss, read_forward_loss
    from vaelint.facts.lossroles import loss_roles
    from vaelint.facts.roles import forward_roles

    view = GraphView(cap.graph, cap.modules)
    forward_out = dict(
        sorted(
            ((n.meta["forward_output"], n) for n in cap.graph.nodes if "forward_output" in n.meta),
            key=lambda item: tuple((0, k, "") if isinstance(k, int) else (1, 0, str(k)) for k in item[0]),
        )
    )
    roles = forward_roles(view, forward_out)
    output_struct = _output_structure(cap)
    if (plan is not None or program.step is not None) and output_struct is not None:
        loss_roles(view, roles, output_struct)
    elif (own := own_loss(output_struct)) is not None:  # out["elbo"]; scVI's (inference, generative, losses)
        loss_roles(view, roles, own)
    elif plan is None and program.step is None:
        read_forward_loss(view, roles, output_struct)  # ``return rec + kl``
    if not roles.comparisons and roles.recon is not None and runs.failure is not None:
        # a recorded run that raised in its loss has no output to read the loss from, yet its loss
        # compared the reconstruction with the data (binary_cross_entropy on logits: VAE010)
        from vaelint.facts.lossroles import find_comparisons

        roles.comparisons = find_comparisons(view, roles)
    ctx = Context(program, specs, cap, view, roles, runs, plan, beta)
    ctx.dim_names = from_annotations(
        program.model,
        [ctx.shape(n).sizes if ctx.shape(n) else None for n in roles.inputs],
        [ctx.shape(n).sizes if ctx.shape(n) else None for n in forward_out.values()],
        ctx.latent_size,
    )
    return ctx


def _output_structure(cap):
    out_nodes = [n for n in cap.graph.nodes if n.op == "output"]
    if not out_nodes:
        return None
    return out_nodes[0].args[0]
