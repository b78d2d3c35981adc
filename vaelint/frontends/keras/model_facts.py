"""Keras 3 models, checked on the torch backend.

Once loaded (:mod:`vaelint.frontends.keras.loading`), a Keras model is an ``nn.Module`` and the
pipeline treats it as a PyTorch one. This module holds what is Keras's own
about the model:

* which models are Keras's, and which replay their layers themselves (a
  functional model's nodes take the line that built their layer);
* weights built before capture, and Keras's seed generators restarted before
  every run, so every check builds the same weights and draws the same noise;
* the loss: the losses ``call()`` adds with ``self.add_loss(...)``, a
  per-sample loss averaged as ``compile()`` does, and the keras.io pattern of a
  model whose forward and loss live in ``train_step``
  (:mod:`vaelint.frontends.keras.train_step`).
"""

from __future__ import annotations

import functools
import inspect
import sys
import types

from vaelint.errors import VaelintError
from vaelint.frontends.keras.loading import forget_tensorflow_uses


def start_target() -> None:
    """Start a target afresh (in one process, an earlier target's tf.* call and
    seed generators are not this one's)."""
    forget_tensorflow_uses()
    _SEED_STATES.clear()


# (seed generator, its state when the model was built): a layer's own
# SeedGenerator (keras.random.normal(..., seed=self.seed_generator)) advances at
# every call, so each run starts it from here again (see reseed)
_SEED_STATES: list = []


def remember_seed_states(model) -> None:
    for layer in [model, *model._flatten_layers()]:
        for generator in getattr(layer, "_seed_generators", ()):
            _SEED_STATES.append((generator, generator.state.value.detach().clone()))


def functional_classes() -> tuple:
    """Keras's model classes that replay a graph of layers themselves (functional
    and Sequential models), when Keras is loaded."""
    keras = sys.modules.get("keras")
    if keras is None:
        return ()
    try:
        from keras.src.models.functional import Functional
    except ImportError:
        return ()
    return (Functional,)


def is_keras_model(model) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.layers.Layer)


def user_defined(cls, name: str) -> bool:
    """Is ``name`` defined on ``cls`` by the user's code (not inherited from Keras)?"""
    from vaelint.source.frames import is_user_file

    for klass in cls.__mro__:
        if name in klass.__dict__:
            fn = klass.__dict__[name]
            code = getattr(fn, "__code__", None)
            return code is not None and is_user_file(code.co_filename)
    return False


def user_call(model):
    """A Keras model's ``call``, bound, when the user wrote it (None otherwise)."""
    if not is_keras_model(model):
        return None
    if user_defined(type(model), "call") or "call" in vars(model):
        return model.call
    return None


def added_losses(model):
    """A loss that sums what ``self.add_loss(...)`` collected in the last call
    (None when the model's code never calls ``add_loss``)."""
    sources = []
    for layer in [model, *getattr(model, "_flatten_layers", lambda: [])()]:
        for klass in type(layer).__mro__:
            if "call" in klass.__dict__ and user_defined(klass, "call"):
                try:
                    sources.append(inspect.getsource(klass.__dict__["call"]))
                except (OSError, TypeError):
                    pass
    if not any("add_loss" in s for s in sources):
        return None

    def added_loss():
        losses = model.losses
        if not losses:
            raise VaelintError("loss", "the model's call() has an add_loss(...) but added no loss on this input")
        total = losses[0]
        for extra in losses[1:]:
            total = total + extra
        return total

    return added_loss


def prepare(loaded, plan, explicit_loss: bool, notes: list) -> object:
    """Ready a Keras model for the pipeline; returns the loss plan to use.

    A forward written in ``train_step`` becomes the model's ``call``; the losses
    added with ``add_loss`` are the loss, or are added to the one given with
    ``--loss`` (or found by name), as Keras trains on the compiled loss plus
    them; a loss that returns one value per sample is averaged, as ``compile()``
    does.
    """
    from vaelint.frontends.lossfind import LossPlan

    model = loaded.model
    name = type(model).__name__
    from vaelint.frontends.keras.train_step import train_step_forward

    own_call = user_defined(type(model), "call")
    step = train_step_forward(model)
    if step is not None:
        lines = step.forward_lines
        object.__setattr__(model, "call", types.MethodType(step.forward, model))
        what = f"{name}.call() is not what trains" if own_call else f"{name} defines no call()"
        notes.append(
            f"{what}: its forward is taken from train_step's sub-model calls "
            f"(line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})"
        )
        if plan is None and step.loss is not None:
            first, last = step.loss_lines[0], step.loss_lines[-1]
            plan = LossPlan(step.loss, f"{name}.train_step's loss (lines {first}-{last})")
        elif plan is None:
            tf_call = step.tensorflow_call
            why = (
                f"and calls TensorFlow ({tf_call}), which cannot run on the torch backend: write keras.ops there, or"
                if tf_call
                else ", which vaelint does not run (it takes gradients with the backend's own machinery):"
            )
            loaded.loss_missing_reason = (
                f"the loss lives in {name}.train_step{' ' if tf_call else ''}{why} write it as a function of the data and the "
                "sub-models' outputs, e.g. def vae_loss(data, reconstruction, z_mean, z_log_var), and pass it "
                "with --loss FILE.py:vae_loss"
            )
    added = added_losses(model)
    if plan is not None:
        plan.fn = _averaged_per_sample(plan.fn)
    if added is not None:
        what = f"the losses {name}.call() adds with self.add_loss(...)"
        if plan is None:
            plan = LossPlan(added, what)
        else:  # Keras trains on the compiled loss plus the added ones: so is it checked
            plan = LossPlan(_plus(plan.fn, added), f"{plan.name} + {what}", plan.kwargs, plan.explicit)
    return plan


def _keeping_signature(fn, wrapper):
    """``wrapper`` with ``fn``'s name and signature: the binder reads its parameters."""
    functools.update_wrapper(wrapper, fn)
    try:
        wrapper.__signature__ = inspect.signature(fn)
    except (TypeError, ValueError):
        pass
    return wrapper


def _plus(loss, added):
    return _keeping_signature(loss, lambda *args, **kwargs: loss(*args, **kwargs) + added())


def _averaged_per_sample(fn):
    """The loss, averaged when it returns one value per sample (Keras's compile() does that)."""

    def loss(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out.mean() if getattr(out, "ndim", 0) else out

    return _keeping_signature(fn, loss)


def build_weights(model, inputs: tuple) -> None:
    """Run a subclassed Keras model once so that its layers create their weights
    (Keras builds them on the first call, drawing from random initializers: a
    capture of that call would take the initializers for noise). A failure is
    left to the capture, which reports it at the user's line."""
    import torch

    if getattr(model, "built", True) and all(getattr(layer, "built", True) for layer in model._flatten_layers()):
        return
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        try:
            model(*inputs)
        except Exception:  # noqa: BLE001 - reported by the capture's own run
            pass


def reseed(seed: int) -> None:
    """Restart Keras's global seed generator with ``seed`` (``keras.random`` calls
    without a seed draw from it, not from torch's generator) and the Python and
    NumPy generators its initializers take seeds from, so every check builds the
    same weights and every run of a target draws the same noise."""
    keras = sys.modules.get("keras")
    if keras is None:
        return
    import random

    import numpy as np

    # an initializer with no seed takes one from Python's generator
    random.seed(seed)
    np.random.seed(seed)
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils

        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    except (ImportError, AttributeError):  # another Keras layout: the public call does the same
        keras.utils.set_random_seed(seed)
    for generator, state in _SEED_STATES:
        generator.state.assign(state)
