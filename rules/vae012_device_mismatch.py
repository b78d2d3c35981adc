"""VAE012 device-mismatch: a tensor created on a fixed device inside forward or the loss."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.capture.numpydraws import standard_normal
from vaelint.capture.ops import CREATION_OPS
from vaelint.confirm.simrun import on_a_real_gpu, simulated_run
from vaelint.errorkinds import kind_of
from vaelint.facts.context import loc_of
from vaelint.facts.cpumeetings import creates_on_cpu, first_meeting, is_mismatch, meets_there, on_device, same_place
from vaelint.facts.deviceexcuses import excused, model_moved_under_a_flag
from vaelint.rulebase import Example, Observed, Rule, SkipRule, fill
from vaelint.vocab import ErrorKind, FixAvailability, Need, Severity

_MODEL = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.latent = latent
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        eps = {NOISE}  # <- noise
        z = mu + eps * torch.exp(0.5 * logvar)  # <- sample
        return torch.sigmoid(self.dec(z)), mu, logvar
"""


def _model(noise: str) -> str:
    return fill(_MODEL, noise=noise)


# JointVAE's way: a flag set when the model is built, the move under it
_FLAGGED = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.use_cuda = torch.cuda.is_available()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        std = torch.exp(0.5 * logvar)
        eps = torch.zeros(std.size()).normal_()  # <- noise
        if self.use_cuda:
            {MOVED} = {MOVED}.cuda()
        z = mu + std * eps  # <- sample
        return torch.sigmoid(self.dec(z)), mu, logvar
"""


# the 2017 way (vampprior, sylvester flows): the device chosen once when the model is built, from
# a flag a GPU machine sets; on this machine the flag and the choice are the CPU's
_CHOSEN = """import argparse

import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4, args=argparse.Namespace(cuda=torch.cuda.is_available())):
        super().__init__()
        self.args = args
        {CHOICE}
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        std = torch.exp(0.5 * logvar)
        {NOISE}  # <- noise
        z = mu + std * eps  # <- sample
        return torch.sigmoid(self.dec(z)), mu, logvar
"""
_BY_FLAG = """if self.args.cuda:
            eps = torch.cuda.FloatTensor(std.size()).normal_()
        else:
            eps = torch.FloatTensor(std.size()).normal_()"""


# a mask the model keeps as a plain attribute: model.to(device) moves its parameters and buffers only
_HELD = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)
        {KEEP}

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z * self.mask)), mu, logvar  # <- masked
"""
_MOVED_WHEN_BUILT = (
    "mask = torch.ones(latent)\n        if torch.cuda.is_available():\n            mask = mask.cuda()\n        self.mask = mask"
)
# the attribute moved again in the constructor to a device chosen in place: a GPU machine moves it there
_MOVED_TO_CHOSEN = "self.mask = torch.ones(latent)\n        self.mask = self.mask.to(torch.device({DEVICE}))"


# a loss function whose first parameter is the forward's tuple: the fix names a tensor, not it
_TUPLE_LOSS = """

def loss_function(outputs, x):
    recon, mu, logvar = outputs
    prior_logvar = {PRIOR}  # <- prior
    kl = 0.5 * torch.sum(logvar.exp() + mu.pow(2) - 1 - logvar + prior_logvar)
    return torch.nn.functional.binary_cross_entropy(recon, x, reduction="sum") + kl
"""


def _tuple_loss(prior: str) -> str:
    return _model("torch.randn_like(mu)") + fill(_TUPLE_LOSS, prior=prior)


def _chosen(choice: str, noise: str = "eps = self.FloatTensor(std.size()).normal_()") -> str:
    return fill(_CHOSEN, choice=choice, noise=noise)


# a distribution object the constructor makes (no buffer: .to(device) does not move it), moved to
# the GPU there under a condition settled when the model is built (or not moved at all)
_DIST = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self, latent=4):
        super().__init__()
        self.enc = nn.Linear(20, 2 * latent)
        self.dec = nn.Linear(latent, 20)
        self.N = torch.distributions.Normal(0, 1){MOVE}

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * self.N.sample(mu.shape)  # <- sample
        return torch.sigmoid(self.dec(z)), mu, logvar
"""
_MOVED_IN_INIT = """
        if torch.cuda.is_available():
            self.N.loc = self.N.loc.cuda()
            self.N.scale = self.N.scale.cuda()"""


# ops through which a CPU tensor stays on the CPU
class DeviceMismatch(Rule):
    code = "VAE012"
    fix_availability = FixAvailability.SOMETIMES
    name = "device-mismatch"
    severity = Severity.ERROR
    needs = (Need.OWN_DEVICES,)
    summary = "A tensor created on a fixed device inside forward or the loss breaks on a GPU."
    what = """
A tensor created inside forward or the loss without ``device=`` (``torch.randn(n,
Z)``, ``torch.zeros(...)``, ``torch.tensor([...])``, ``torch.FloatTensor(n)``),
or moved with ``.cpu()``, lives on the CPU; when it then meets the model's
tensors, which are on the GPU in training, the op fails. vaelint runs the model
on a simulated GPU (its weights and inputs say ``cuda:0``, ``torch.cuda.is_available()``
is True, ``.cuda()`` works), so the model's own guards (``if mu.is_cuda:``,
``device = "cuda" if torch.cuda.is_available() else "cpu"``) take their GPU
branch, and reports each op where a CPU tensor meets a GPU one, on a machine
without a GPU. On a GPU the confirmation pass shows the real failure. A tensor
moved to the GPU under a flag the code set before the model ran (``if
self.use_cuda: eps = eps.cuda()``, ``use_cuda = torch.cuda.is_available()`` when
the model was built) is not decided on such a machine: a note names the line.
An attribute the constructor moves there under such a condition (``if
torch.cuda.is_available(): self.N.loc = self.N.loc.cuda()``, a distribution object) is not
decided either, with a note.
A tensor the model holds as a plain attribute (``self.prior = Normal(torch.zeros(z,
device=device), ...)``) made on the device the constructor is given, where the
constructor also moves the model there (``self.to(device)``), goes wherever the
model is built for: a note, not a finding.
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
        # guarded: moved to the GPU when the model is there (decided on a simulated GPU)
        Example(_model("torch.randn(mu.shape).cuda() if mu.is_cuda else torch.randn(mu.shape)"), inputs=("6x20",)),
        Example(_model('torch.randn(mu.shape, device="cuda" if torch.cuda.is_available() else "cpu")'), inputs=("6x20",)),
        # moved under a flag the code set on this machine (no GPU): not decided, a note says so
        Example(fill(_FLAGGED, moved="eps"), inputs=("6x20",)),
        # a type or a branch chosen by a flag a GPU machine sets: decided as on a GPU machine
        Example(_chosen("self.FloatTensor = torch.cuda.FloatTensor if args.cuda else torch.FloatTensor"), inputs=("6x20",)),
        Example(_chosen("self.FloatTensor = torch.FloatTensor", _BY_FLAG), inputs=("6x20",)),
        # the distribution's parameters moved to the GPU by the constructor, under is_available(): a note
        Example(fill(_DIST, move=_MOVED_IN_INIT), inputs=("6x20",)),
        # a CPU type given a list (CPU indices into a GPU tensor are allowed)
        Example(_model("torch.randn_like(mu)[torch.LongTensor([5, 4, 3, 2, 1, 0])]"), inputs=("6x20",)),
        # a mask held as a buffer moves with the model; a 0-dim CPU tensor is a number to a GPU op
        Example(fill(_HELD, keep='self.register_buffer("mask", torch.ones(latent))'), inputs=("6x20",)),
        Example(fill(_HELD, keep="self.mask = torch.tensor(2.0)"), inputs=("6x20",)),
        # a plain attribute the constructor moves under is_available() (sylvester-flows' MADE masks): a note
        Example(fill(_HELD, keep=_MOVED_WHEN_BUILT), inputs=("6x20",)),
        # moved by reassignment to torch.device("cuda" if torch.cuda.is_available() else "cpu"): the model's device
        Example(fill(_HELD, keep=fill(_MOVED_TO_CHOSEN, device='"cuda" if torch.cuda.is_available() else "cpu"')), inputs=("6x20",)),
    ]
    INVALID = [
        Example(
            _model("torch.randn(mu.size(0), self.latent)"),
            inputs=("6x20",),
            at="noise",
            message="randn",
            fixed=_model("torch.randn(mu.size(0), self.latent, device=x.device)"),
        ),
        Example(_model("torch.randn_like(mu).cpu()"), inputs=("6x20",), at="noise", message="cpu", fixed=_model("torch.randn_like(mu)")),
        Example(
            _model("torch.tensor([[1.0] * 4] * 6) * torch.randn_like(mu)"),
            inputs=("6x20",),
            at="noise",
            message="tensor",
            fixed=_model("torch.tensor([[1.0] * 4] * 6, device=x.device) * torch.randn_like(mu)"),
        ),
        # decoded by a layer whose weights are on the device
        Example(
            _model("torch.randn_like(mu) + 0 * self.dec(torch.randn(6, 4)).sum()"),
            inputs=("6x20",),
            at="noise",
            message="linear",
            fixed=_model("torch.randn_like(mu) + 0 * self.dec(torch.randn(6, 4, device=x.device)).sum()"),
        ),
        # a legacy constructor, outside torch's functions: seen on the simulated GPU
        Example(_model("torch.FloatTensor(mu.size(0), self.latent).normal_()"), inputs=("6x20",), at="sample", message="simulated GPU"),
        # a CPU type given a GPU tensor raises there ("legacy constructor expects device type: cpu")
        Example(_model("torch.FloatTensor(torch.randn_like(mu))"), inputs=("6x20",), at="noise", message="CPU tensor type"),
        # the CPU type whatever the flag says: no GPU machine chooses otherwise
        Example(_chosen("self.FloatTensor = torch.FloatTensor"), inputs=("6x20",), at="sample", message="simulated GPU"),
        # the same distribution never moved: it samples on the CPU on a GPU machine too
        Example(fill(_DIST, move=""), inputs=("6x20",), at="sample", message="normal"),
        # the flag moves another tensor: the noise stays on the CPU whatever it says
        Example(
            fill(_FLAGGED, moved="std"),
            inputs=("6x20",),
            at="noise",
            message="zeros",
            fixed=fill(_FLAGGED, moved="std").replace("torch.zeros(std.size())", "torch.zeros(std.size(), device=std.device)"),
        ),
        # a plain tensor attribute: model.to(device) moves parameters and buffers only
        Example(
            fill(_HELD, keep="self.mask = torch.ones(latent)"), inputs=("6x20",), at="masked", message="neither a parameter nor a buffer"
        ),
        # the near miss of the chosen device: moved to the CPU written down, it stays there on a GPU machine
        Example(
            fill(_HELD, keep=fill(_MOVED_TO_CHOSEN, device='"cpu"')),
            inputs=("6x20",),
            at="masked",
            message="neither a parameter nor a buffer",
        ),
        # and a dtype chosen by the GPU's presence moves it nowhere
        Example(
            fill(
                _HELD,
                keep="self.mask = torch.ones(latent)\n        self.mask = self.mask.to(torch.float64 if torch.cuda.is_available() else torch.float32)",
            ),
            inputs=("6x20",),
            at="masked",
            message="neither a parameter nor a buffer",
        ),
        Example(
            _tuple_loss("torch.zeros(mu.size(1))"),
            inputs=("6x20",),
            loss="loss_function",
            at="prior",
            message="zeros",
            fixed=_tuple_loss("torch.zeros(mu.size(1), device=x.device)"),
        ),
    ]

    def check(self, ctx):
        named = [self.report(seen, loc) for seen, loc in _cuda_by_name(ctx)]
        yield from named
        try:
            yield from self._on_a_simulated_gpu(ctx)
        except SkipRule:
            if not named:  # the CPU configuration's failure is decided whatever the simulated GPU could not
                raise

    def _on_a_simulated_gpu(self, ctx):
        static = list(self._from_graph(ctx))
        # a tensor made of a NumPy array (capture/numpydraws.py) is made outside torch, as a constant is
        made_outside = ctx.loose_constants() or ctx.nodes_by_op("standard_normal")
        if not static and not made_outside and not getattr(ctx.capture, "legacy_constructors", None) and not _moves_its_batch(ctx):
            return  # nothing made on a fixed device (torch.LongTensor(t) is a CPU type): no simulated run needed
        sim = simulated_run(ctx)
        meetings = [m for m in sim.meetings if not excused(ctx, m)]
        if sim.error is not None:
            if is_mismatch(sim.error) and not sim.met_real_gpu:
                yield from static  # the simulated run failed on the mismatch itself
                return
            if not meetings:
                # a candidate the run never reached may be guarded (if mu.is_cuda: eps = eps.cuda()):
                # undecided, so not checked, never a finding
                raise SkipRule(
                    f"the model did not run to its end on a simulated GPU ({sim.error}), so where its tensors meet on a GPU is not known"
                )
            ctx.notes.append(f"VAE012 checked the model on a simulated GPU up to where that run stopped ({sim.error})")
        else:
            ctx.notes.append("VAE012 ran the model on a simulated CUDA device (no GPU needed)")
        places, emitted = set(), set()
        self._undecided = None
        for meeting in meetings:
            # one tensor of unknown origin meeting the model in two ops of one line (x * w - w): one finding
            loc = meeting.loc
            place = (meeting.made, meeting.made_by) if meeting.made or loc is None else (loc.path, loc.line, meeting.shape, meeting.held)
            if meeting.batch:
                place = ("the batch", meeting.shape)  # the unmoved batch said once, where it first meets the GPU
            if meeting.parameter:
                place = ("the model's weights",)  # a model never moved: said once, where it is built
            if place in places:
                continue  # the same tensor meeting the model again
            places.add(place)
            # the graph takes every input to be on the device; a training step's batch started on the
            # CPU (a label never moved stays there): the same bug only where the run saw it meet
            match = next((f for f in static if same_place(f, meeting) and (not sim.batch_moved or meets_there(f, meeting))), None)
            finding = match or (self._model_left_on_cpu(ctx, meeting) if meeting.parameter else self._from_meeting(meeting))
            if finding is None or id(finding) in emitted:
                continue
            emitted.add(id(finding))
            finding.observed.meeting = meeting  # seen on the simulated GPU: confirm reads it
            yield finding
        # a graph candidate that met no GPU tensor in the simulated run is device-safe
        # (a guard such as `if mu.is_cuda: eps = eps.cuda()`): no finding
        if self._undecided and not emitted:
            raise SkipRule(self._undecided)  # the model's move was the only question, and it is undecided

    def _from_meeting(self, meeting):
        shape = " x ".join(str(s) for s in meeting.shape) or "scalar"
        if meeting.refused:
            made = (
                f"{meeting.made_by}(...) at {meeting.made.where() if meeting.made else '?'} is a CPU tensor type: given "
                f'a tensor of shape {shape} that is on the GPU, it raises there ("expected TensorOptions(..., device=cpu)" '
                'or "legacy constructor expects device type: cpu", as torch\'s version words it)'
            )
            return self.report(CpuTensorSeen(made, "", "legacy", True), meeting.made)
        if meeting.made is not None:
            made = f"{meeting.made_by}() at {meeting.made.where()} makes a tensor of shape {shape} on the CPU"
        elif meeting.batch:
            made = (
                f"the batch's tensor of shape {shape} is on the CPU, as its loader gives it, and reaches the model "
                "unmoved (the step moves the batch with .to(device) or .cuda(), but not this tensor, or not the one it passes on)"
            )
        elif meeting.held:
            made = (
                f"the model's attribute {meeting.held}, a tensor of shape {shape} that is neither a parameter "
                "nor a buffer (so model.to(device) does not move it), is on the CPU"
            )
        else:
            made = (
                f"a tensor of shape {shape} is on the CPU (made in the setup and never moved to the device, or "
                "by a legacy constructor: torch.FloatTensor(...), torch.Tensor(...), Variable(...))"
            )
        where = f" at {meeting.loc.where()}" if meeting.loc else ""
        op = "attribute" if meeting.made is None and meeting.held else "batch" if meeting.batch else meeting.made_by or "tensor"
        held = meeting.held if meeting.held_directly else None  # a distribution's loc is no attribute to register
        seen = CpuTensorSeen(made, f"the model's GPU tensors in {meeting.op}{where}", op, True, held=held)
        return self.report(seen, meeting.made or meeting.loc)

    def _model_left_on_cpu(self, ctx, meeting):
        """The code moves its batch to the device and never moves the model: one finding, at the
        line that builds the model (where ``.to(device)`` goes), else where its weights first meet."""
        shape = " x ".join(str(s) for s in meeting.shape)
        built = _built_at(ctx, meeting.parameter)
        undecided = model_moved_under_a_flag(built) if built is not None else None
        if undecided is not None:
            self._undecided = undecided  # moved under `if device.type != "cpu":`, settled on this CPU machine
            return None
        where = f" at {meeting.loc.where()}" if meeting.loc else ""
        made = (
            f"the model{f' built at {built.where()}' if built else ''} is never moved to the device (no "
            f".to(device), no .cuda()): its weights ({meeting.parameter}, {shape}) stay on the CPU while the step "
            "moves its batch to the GPU"
        )
        seen = CpuTensorSeen(made, f"the batch in {meeting.op}{where}", "model", True)
        return self.report(seen, built or meeting.loc)

    def _from_graph(self, ctx):
        view = ctx.view
        for node in ctx.nodes_by_op(*CREATION_OPS, "cpu"):
            op = view.op(node)
            if not creates_on_cpu(ctx, node, op):
                continue
            meet = first_meeting(ctx, node)
            if meet is None:
                continue
            other = next((a for a in meet.all_input_nodes if a is not node and not view.depends_on(a, node)), None)
            made = (
                f"{op}() moves a tensor of shape {ctx.shape_text(node)} to the CPU"
                if op == "cpu"
                else f"{op} creates a tensor of shape {ctx.shape_text(node)} on the CPU (no device=)"
            )
            if node.target is standard_normal:  # torch.FloatTensor(np.random.normal(...))
                made = f"a tensor made of a NumPy array drawn with np.random, of shape {ctx.shape_text(node)}, stays on the CPU"
            loc = loc_of(node)
            if op != "cpu" and loc is not None and loc.function == "__init__":
                # made by a constructor that runs inside forward: a layer built while the model runs
                op, made = (
                    "layer",
                    (
                        f"a layer is built while the model runs (the __init__ at {loc.where()}, called from forward): "
                        f"its weights (a tensor of shape {ctx.shape_text(node)}) are made on the CPU at each call"
                    ),
                )
            met = ctx.shape_text(other) if other is not None else "?"
            seen = CpuTensorSeen(made, f"the model's {met} tensor in {view.op(meet)}{_at(meet)}", op, False)
            yield self.report(seen, loc_of(node), node=meet)

    def autofix(self, finding, ctx):
        """``torch.randn(n)`` made on the CPU -> ``torch.randn(n, device=t.device)``, ``t``
        the tensor it meets; ``h.cpu()`` -> ``h``. Noise of a reparameterization is
        drawn with std's shape (torch.randn_like(std)) where it already has it."""
        from vaelint.fixes.edits import SAFE, Fix
        from vaelint.fixes.source import expr_at, is_plain_reference, operand_for

        call = expr_at(finding.loc)
        if call is None or not call.is_call:
            return None
        if call.callee() is not None and call.callee().endswith(".cpu") and not call.node.args:
            receiver = call.receiver()  # h.cpu() -> h (seen in the graph or only on the simulated GPU)
            return Fix(f"keep the tensor on its device: {call.code(receiver)}", (call.replace(call.code(receiver)),), SAFE)
        if finding.node is None:
            return None
        meet = finding.node
        made = next((n for n in meet.all_input_nodes if loc_of(n) == finding.loc), None)
        if made is None:
            made = next((a for a in ctx.view.ancestors(meet) if loc_of(a) == finding.loc), None)
        if made is None:
            return None
        others = [a for a in meet.all_input_nodes if a is not made and not ctx.view.depends_on(a, made) and on_device(ctx, a)]
        for other in others:
            found = operand_for(ctx, meet, other)
            if found is not None and is_plain_reference(*found):
                return _made_on(call, made, found[0].code(found[1]), "create it on the device of the tensor it meets")
        params = call.enclosing_parameters()  # forward(self, x) -> x; loss(recon, x, ...) -> recon
        if params:
            return _made_on(call, made, params[0], "create it on the device of the function's input")
        return None

    def confirm(self, finding, ctx, observed):
        if isinstance(finding.observed, CudaByName):
            return True  # the run as configured reached the move: without CUDA it raises there
        if not observed.device.startswith("cuda"):
            # the simulated GPU run saw the meeting (none: the simulation could not run)
            return True if finding.observed.meeting is not None else None
        err = observed.error
        return err is not None and kind_of(err) is ErrorKind.DEVICE


def _made_on(call, made, tensor: str, description: str):
    """The edit that makes ``call``'s tensor on ``tensor``'s device: ``device=`` for a torch factory;
    ``.to(x.device)`` after a tensor made of a NumPy array (torch.FloatTensor(arr), torch.from_numpy(arr)
    take no device=)."""
    from vaelint.fixes.edits import SAFE, Fix
    from vaelint.fixes.rewrites import with_keyword

    if made.target is standard_normal or any(getattr(a, "target", None) is standard_normal for a in made.all_input_nodes):
        moved = f"{call.text}.to({tensor}.device)"
        return Fix(f"{description}: {moved}", (call.replace(moved),), SAFE)
    return with_keyword(call, "device", f"{tensor}.device", description)


def _moves_its_batch(ctx) -> bool:
    """Does a training step move its batch itself (``x = imgs.to(device)``)? Then which of the
    batch's tensors reach the model on a GPU is the simulated run's to say (``model(imgs)`` beside
    the moved ``x`` meets the GPU's weights on the CPU). Not where the code's own step ran on this
    machine's real GPU: a batch tensor it left on the CPU raised there, so the simulated run (a
    whole forward of the model on the CPU, the most of a latent-diffusion VAE's check) is spared."""
    if getattr(ctx.program, "step", None) is None or on_a_real_gpu(ctx):
        return False
    return any(
        any(a.op == "placeholder" for a in ctx.view.ancestors(node)) and not any(a.op == "get_attr" for a in ctx.view.ancestors(node))
        for node in ctx.nodes_by_op("to", "cuda")
    )


def _built_at(ctx, parameter: str = ""):
    """The user's line that built the model: the outermost module holding ``parameter`` that one
    was seen built at (the encoder's line for encoder.0.weight beside a decoder built apart)."""
    sites = getattr(ctx.program, "module_sites", None) or {}
    model, parts = ctx.program.model, parameter.split(".")[:-1]
    holders = [model]
    for i in range(1, len(parts) + 1):
        try:
            holders.append(model.get_submodule(".".join(parts[:i])))
        except AttributeError:
            break
    found = next((sites[id(m)] for m in holders if id(m) in sites), None)
    return found or next((sites[id(m)] for m in model.modules() if id(m) in sites), None)


def _at(node) -> str:
    loc = loc_of(node)
    return f" at {loc.where()}" if loc else ""


@dataclass
class CpuTensorSeen(Observed):
    """A tensor made (or moved) on the CPU, and the model's tensor it meets there."""

    made: str  # "torch.randn() at model.py:20 makes a tensor of shape 16 on the CPU"
    meets: str  # "the model's B x 16 tensor in mul at model.py:21"
    op: str  # what made it: the fix depends on it
    simulated: bool  # found by the simulated GPU run, not in the graph
    meeting: object = None  # the simulated run's meeting (vaelint/confirm/simdevice.py), when it saw one
    held: str | None = None  # the model's attribute that holds it ("flow.mask", "prior.loc"), when one does

    def message(self) -> str:
        seen = " (seen on a simulated GPU)" if self.simulated else ""
        if self.op == "legacy":
            return f"{self.made}{seen}."
        return f"{self.made}; it meets {self.meets}, which fails on a GPU with 'Expected all tensors to be on the same device'{seen}."

    def fix(self) -> str:
        if self.op == "cpu":
            return "keep the tensor on its device: drop .cpu() (or move the result back with .to(x.device))"
        if self.op == "legacy":
            return (
                "convert on the tensor's own device instead of through a CPU type: i.long() for torch.LongTensor(i), "
                "v.float() for torch.FloatTensor(v), torch.sparse_coo_tensor(i, v, size) for torch.sparse.FloatTensor(i, v, size)"
            )
        if self.op == "model":
            return "move the model where the step moves its batch, once after building it: model = VAE(...).to(device)"
        if self.op == "batch":
            return (
                "give the model the tensor the step moved (x = imgs.to(device); model(x)), or move every tensor of the batch it passes on"
            )
        if self.op == "attribute" and self.held:
            name = self.held.rsplit(".", 1)[-1]
            return (
                f"register it as a buffer so that model.to(device) moves it: self.register_buffer('{name}', ...) in the "
                f"constructor in place of self.{name} = ...; or make it in forward from the input (torch.ones_like(x))"
            )
        if self.op == "attribute":
            return (
                "register it with the module so that model.to(device) moves it: self.register_buffer('prior_loc', "
                "torch.zeros(z_dim)), and build what holds it from the buffers in forward (Normal(self.prior_loc, "
                "self.prior_scale)); or make it there from the input: torch.zeros_like(mu)"
            )
        if self.op == "layer":
            return (
                "build the layer once, in the model's __init__ (self.trend = TrendLayer(...)): a submodule moves "
                "with model.to(device) and is trained; one built in forward is neither"
            )
        if self.op == "standard_normal":  # torch.FloatTensor(np.random.normal(...)), torch.from_numpy(...)
            return "move it where the model is: torch.from_numpy(arr).to(x.device), or draw a sampler's noise with torch: torch.randn_like(std)"
        if self.op.startswith("rand") or self.op in ("normal", "empty"):
            return "draw it where the model is: torch.randn_like(std), or pass device=std.device"
        return "create it where the model is: torch.zeros_like(x) / x.new_zeros(...), or pass device=x.device"


def _cuda_by_name(ctx):
    """(CudaByName, where) for each move to CUDA by name in a step whose model the code placed on the
    CPU it chose in this run (``Step.cuda_by_name``, vaelint/frontends/training/livemodelmoves.py)."""
    from vaelint.source.facts import line_text
    from vaelint.source.frames import SourceLoc

    step = getattr(ctx.program, "step", None)
    for what, path, line in getattr(step, "cuda_by_name", ()) or ():
        text = line_text(path, line) or ""
        at = next((text.index(w) for w in (".cuda(", ".to(", "device=") if w in text), -1)  # the move's column
        yield CudaByName(what), SourceLoc(path, line, at + 1 if at >= 0 else 1)


@dataclass
class CudaByName(Observed):
    """A step's move to CUDA by name (``.cuda()``, ``device="cuda"``), while the code placed its model on
    the device it chose, the CPU as run here."""

    what: str  # ".cuda()", ".to('cuda')"

    def message(self) -> str:
        return (
            f"{self.what} puts a tensor on the GPU by name, whatever device the code chose for the model: the code places "
            "the model on a device it chooses (the CPU in this run: no GPU here, or its GPU switch off), and there the "
            "step fails at this line ('Torch not compiled with CUDA enabled' without CUDA, 'Expected all tensors to be on "
            "the same device' on a GPU machine running the model on the CPU)."
        )

    def fix(self) -> str:
        return (
            "put it on the device of the tensor it meets: .to(x.device) (torch.randn_like(mu) for noise), or on the "
            "device the code chose: .to(device)"
        )
