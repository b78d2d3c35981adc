"""A LightningModule's step run without a Trainer: ``self.log``, ``self.log_dict``, ``self.print``
do nothing, ``self.optimizers()`` gives optimisers that do not step, the Trainer's logger is a
do-nothing one, and a manual optimisation's ``self.manual_backward(loss)`` backpropagates nothing:
it hands the loss on, and where a step hands it several (a FactorVAE's or VAE-GAN's critic stepped
first on ``z.detach()``), the VAE's is the one that trains the most of the module's weights."""

from __future__ import annotations

import contextlib
import inspect

from vaelint.errors import VaelintError


def quiet(module) -> None:
    """What a LightningModule needs a Trainer for, made harmless on this instance."""
    from vaelint.frontends.training.runtime import StepLoss

    def manual_backward(loss, *args, **kwargs):
        given = module.__dict__.get("_vaelint_backwards")
        if given is None:
            raise StepLoss(loss)
        given.append(loss)  # nothing is backpropagated; the step goes on to its other losses

    class _Optimizer:
        def __getattr__(self, item):
            return lambda *a, **k: None

    def optimizers(*args, **kwargs):
        from vaelint.frontends.standinlightning import configured_optimizers

        return configured_optimizers(module, _Optimizer)

    for name, value in (
        ("log", lambda *a, **k: None),
        ("log_dict", lambda *a, **k: None),
        ("print", lambda *a, **k: None),
        ("manual_backward", manual_backward),
        ("optimizers", optimizers),
        ("lr_schedulers", lambda *a, **k: _Optimizer()),
        ("toggle_optimizer", lambda *a, **k: None),
        ("untoggle_optimizer", lambda *a, **k: None),
    ):
        if not _own_value(module, name):
            object.__setattr__(module, name, value)
    _logs_to_nothing(module)


def _own_value(module, name: str) -> bool:
    """The module keeps a value of its own under a LightningModule method's name (``self.log_dict =
    {"train": {}}`` in __init__, read by a callback): the real Lightning leaves it there, and so
    does the check."""
    return name in vars(module) and not callable(vars(module)[name])


def quiet_logging(*modules) -> None:
    """The LightningModules' logging made harmless on these instances (``self.log``, ``self.log_dict``,
    ``self.print``, their loggers), where a step runs out of a Trainer's loop (the user's frames hold it
    once the Trainer has reached the backward: MisconfigurationException); other modules as they are."""
    for module in modules:
        if not any(c.__name__ == "LightningModule" for c in type(module).__mro__):
            continue
        for name in ("log", "log_dict", "print"):
            if not _own_value(module, name):
                object.__setattr__(module, name, lambda *a, **k: None)
        _logs_to_nothing(module)


def _logs_to_nothing(module) -> None:
    """``self.logger.experiment.add_image(...)`` in a training step: an installed Lightning's
    ``logger`` is its Trainer's, None with no Trainer, and the step failed on None's attribute
    (maxjcohen/vqvae's Aim logger). The instance's class is given a do-nothing logger where the
    Trainer gives it none."""
    from vaelint.frontends.standinbase import _Anything

    cls = type(module)
    if not isinstance(getattr(cls, "logger", None), property):
        return

    def logger(self):  # the Trainer's where it has one
        trainer = getattr(self, "_trainer", None)
        return trainer.logger if trainer is not None and trainer.logger is not None else _Anything()

    own = {"logger": property(logger), "loggers": property(lambda self: [self.logger])}
    module.__class__ = type(cls.__name__, (cls,), {**own, "__module__": cls.__module__, "__qualname__": cls.__qualname__})


def step_end(module, out):
    """The loss a step's output makes where the module's own ``training_step_end`` computes it
    (Lightning 1.x: ``training_step`` returns ``(recons, inputs, mu, log_var)``, the loss, the
    KL among it, is computed in ``training_step_end``): that method called on the output, as
    Lightning 1.x calls it; the output itself for any other module."""
    own = [
        c
        for c in type(module).__mro__
        if "training_step_end" in vars(c) and c.__module__.split(".")[0] not in ("pytorch_lightning", "lightning", "vaelint")
    ]
    return module.training_step_end(out) if own else out


def the_vaes_loss(module, losses: list):
    """Of the losses a manual-optimisation step hands to ``manual_backward``, the one that trains
    the most of the module's weights: a FactorVAE's or VAE-GAN's critic is stepped first on
    ``z.detach()`` and reaches only its own layers, the VAE's loss reaches the encoder and the
    decoder. The first where the losses are no tensors with autograd graphs (a traced step)."""
    import torch.fx as fx

    from vaelint.frontends.training.liveinner import parameters_reached

    if len(losses) == 1:
        return losses[0]
    sizes = {id(p): p.numel() for p in module.parameters()}
    try:
        reached = [
            _traced_weights(loss.node, module) if isinstance(loss, fx.Proxy) else sum(sizes.get(i, 0) for i in parameters_reached([loss]))
            for loss in losses
        ]
    except Exception:  # noqa: BLE001 - no graph to walk: the first, as the step gives it
        return losses[0]
    if not any(reached):  # a run without autograd (no_grad): the loss the traced step chose
        picked = module.__dict__.get("_vaelint_backward_pick", 0)
        return losses[picked if picked < len(losses) else 0]
    module.__dict__["_vaelint_backward_pick"] = reached.index(max(reached))
    return losses[module.__dict__["_vaelint_backward_pick"]]


def _traced_weights(node, module) -> int:
    """How many of the module's weights a traced loss is computed from, a ``detach()`` cutting the
    way as it cuts the gradient."""
    seen, stack, total = set(), [node], 0
    while stack:
        n = stack.pop()
        if n in seen or (n.op in ("call_method", "call_function") and getattr(n.target, "__name__", n.target) == "detach"):
            continue
        seen.add(n)
        if n.op in ("get_attr", "call_module"):
            total += _weights_at(module, n.target, n.op == "get_attr")
        stack.extend(n.all_input_nodes)
    return total


def _weights_at(module, target: str, parameter: bool) -> int:
    """The weights a traced graph's attribute names, its path read from the module or, where the
    tracer holds the module under a name of its own (``model.enc.weight``), from below that name."""
    parts = target.split(".")
    for k in range(len(parts)):
        name = ".".join(parts[k:])
        try:
            if parameter:
                return module.get_parameter(name).numel()
            return sum(p.numel() for p in module.get_submodule(name).parameters())
        except AttributeError:
            continue
    return 0


def lightning_factory(file, name: str, lightning_classes) -> bool:
    """Is ``name`` a top-level function of ``file`` that returns one of its LightningModules
    (``def make_vae(): return AutoencoderKL(enc, dec)``, the factory vaelint's own message advises
    for a module whose parts are passed in)? Then the target is that module, its step the loss
    (before: the plain front end built it and found 'no loss', exit 0; MeteoSwiss/ldcast, helper-found).
    ``lightning_classes(file)`` names the file's LightningModules."""
    import ast

    from vaelint.source.astutil import dotted

    fn = next((n for n in file.tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if fn is None:
        return False
    made = {
        (dotted(n.value.func) or "").split(".")[-1] for n in ast.walk(fn) if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)
    }
    return bool(made & lightning_classes(file))


@contextlib.contextmanager
def backward_as_manual(module, given: list):
    """A manual-optimisation step that calls ``loss.backward()`` itself (a FactorVAE's or VAE-GAN's
    module, as Lightning allows): each such loss is handed on as ``manual_backward``'s is, traced or
    run, and nothing is backpropagated. An automatic-optimisation module is left as it is."""
    if getattr(module, "automatic_optimization", True) is not False:
        yield
        return
    import torch
    import torch.fx as fx

    def handed(loss, *args, **kwargs):
        given.append(loss)

    real, had = torch.Tensor.backward, "backward" in vars(fx.Proxy)
    torch.Tensor.backward = handed
    fx.Proxy.backward = handed
    try:
        yield
    finally:
        torch.Tensor.backward = real
        if not had:
            del fx.Proxy.backward


INDEX_NAMES = ("batch_idx", "optimizer_idx", "dataloader_idx", "batch_nb", "idx")


def guessed_index(name: str, guessed: list, error: Exception) -> VaelintError:
    """The step raised with a parameter vaelint gave 0 as Lightning's batch index: say so, and how to give it."""
    from vaelint.errors import error_text

    p = guessed[0]
    return VaelintError(
        "loss",
        f"{name} raised {error_text(error)} with {p}=0, the batch index Lightning would pass there: if {p} is "
        f"something else (a count, a weight's step), give its value with --loss-kwarg {p}=VALUE",
    )


def step_indices(method, params: list) -> dict:
    """The indices Lightning gives a step beside its batch: known names as 0, and the second
    parameter, however it is named (``training_step(self, batch, _)``), when it has no default."""
    extra = {p: 0 for p in params[1:] if p in INDEX_NAMES}
    signature = inspect.signature(method).parameters
    if (
        len(params) > 1
        and params[1] not in extra
        and signature[params[1]].default is inspect.Parameter.empty
        and signature[params[1]].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ):
        extra[params[1]] = 0
    return extra
