"""A LightningModule with no training step of its own (a trainer object computes its loss): checked
as any model is, with --loss or the loss found by name, instead of "has no training_step", which
left --loss unread and the model unchecked (helper 39a, mikedwhite/lightning-vae3d)."""

from __future__ import annotations

from vaelint.frontends.base import TargetRef


def own_method(module, name: str) -> bool:
    """Does the module's class (or a class of the user's it derives from) define ``name``, not
    Lightning's base class (whose training_step only says it is not overridden)? A step the
    constructor sets on the instance (``self.training_step = self._elbo_step``) is its own."""
    if callable(vars(module).get(name)):
        return True
    for cls in type(module).__mro__:
        if name in vars(cls):
            return (cls.__module__ or "").split(".")[0] not in ("pytorch_lightning", "lightning", "lightning_fabric")
    return False


def as_a_model(ref, request):
    """The class checked as a model, with the loss given or found as for any model."""
    from vaelint.frontends import standins
    from vaelint.frontends.plain import PlainFrontend

    with standins.installed():  # Lightning itself may be missing: its import stands in
        program = PlainFrontend().load(TargetRef(ref.spec, ref.path, ref.name), request)
    program.notes.append(f"{ref.name} has no training_step: checked as a model, with the loss given or found as for any model")
    return program
