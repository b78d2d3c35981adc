"""Keras 3 models, checked on the torch backend.

With ``KERAS_BACKEND=torch`` every Keras layer and model is a ``torch.nn.Module``
and ``keras.ops`` / ``keras.random`` call torch functions, so the rest of the
pipeline sees a Keras VAE as it sees a PyTorch one. This module holds what is
Keras's own:

* the backend: a file that imports Keras gets the torch backend before the
  import (exit 2 when another backend is already fixed in this process);
* TensorFlow in the model's code: ``from tensorflow import keras`` and
  ``tensorflow.keras.*`` read as Keras 3 (what TensorFlow 2.16+ itself does),
  and a direct ``tf.*`` call stops the check naming the line and the
  ``keras.ops`` / ``keras.random`` call to write instead;
* where a node was written: a functional or ``Sequential`` model's layers run
  inside Keras, with no frame of the user's on the stack, so a node takes the
  line that built the innermost running layer;
* the loss: a loss added with ``self.add_loss(...)`` inside ``call``, and the
  keras.io pattern of a model whose forward and loss live in ``train_step``.
"""

from __future__ import annotations

import ast
import os
import sys
import textwrap
from dataclasses import dataclass

from vaelint.errors import VaelintError
from vaelint.frames import display_path, user_frame

# tf.* calls a Keras VAE makes, and what to write on the torch backend.
_KERAS_EQUIVALENT = {
    "random.normal": "keras.random.normal",
    "random.uniform": "keras.random.uniform",
    "reduce_mean": "keras.ops.mean",
    "reduce_sum": "keras.ops.sum",
    "reduce_max": "keras.ops.max",
    "math.reduce_mean": "keras.ops.mean",
    "math.reduce_sum": "keras.ops.sum",
    "square": "keras.ops.square",
    "math.square": "keras.ops.square",
    "exp": "keras.ops.exp",
    "math.exp": "keras.ops.exp",
    "log": "keras.ops.log",
    "math.log": "keras.ops.log",
    "sqrt": "keras.ops.sqrt",
    "shape": "keras.ops.shape",
    "reshape": "keras.ops.reshape",
    "concat": "keras.ops.concatenate",
    "stack": "keras.ops.stack",
    "keras.losses.mse": "keras.losses.mean_squared_error",
    "keras.losses.binary_crossentropy": "keras.losses.binary_crossentropy",
    "keras.backend.random_normal": "keras.random.normal",
}


def imports_keras(tree: ast.Module) -> bool:
    """Does the file import Keras (``keras`` or ``tensorflow.keras``)?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name == "keras" or a.name.startswith(("keras.", "tensorflow.keras")) for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "keras" or node.module.startswith(("keras.", "tensorflow.keras")):
                return True
            if node.module == "tensorflow" and any(a.name == "keras" for a in node.names):
                return True
    return False


def use_torch_backend(path: str) -> None:
    """Make the coming ``import keras`` pick the torch backend."""
    loaded = sys.modules.get("keras")
    if loaded is not None and hasattr(loaded, "backend"):
        backend = loaded.backend.backend()
        if backend != "torch":
            raise VaelintError(
                "load",
                f"{display_path(path)} imports Keras, and Keras is already loaded in this process with "
                f"the {backend!r} backend: vaelint checks Keras models on the torch backend only. Run "
                "vaelint in its own process (the command line does), with KERAS_BACKEND unset or set to torch.",
            )
    else:
        os.environ["KERAS_BACKEND"] = "torch"
        try:
            import keras
        except ImportError:
            return  # not installed: the file's own import stands in, and says so if the model uses it
        loaded = keras
    # Keras re-raises a layer's error as a new one of the same class with the
    # layer's arguments in the message; vaelint's own errors must pass unchanged
    loaded.config.disable_traceback_filtering()


def rewrite_import(stmt: ast.stmt) -> ast.stmt:
    """``tensorflow.keras`` imports as Keras 3's own (TensorFlow 2.16+ does the same)."""
    if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
        if stmt.module == "tensorflow" and all(a.name == "keras" for a in stmt.names):
            return ast.copy_location(ast.Import(names=stmt.names), stmt)
        if stmt.module == "tensorflow.keras" or stmt.module.startswith("tensorflow.keras."):
            return ast.copy_location(
                ast.ImportFrom(module=stmt.module[len("tensorflow."):], names=stmt.names, level=0), stmt
            )
    if isinstance(stmt, ast.Import) and any(a.name.startswith("tensorflow.keras") for a in stmt.names):
        names = [ast.alias(a.name[len("tensorflow."):] if a.name.startswith("tensorflow.keras") else a.name, a.asname) for a in stmt.names]
        return ast.copy_location(ast.Import(names=names), stmt)
    return stmt


def tensorflow_names(stmt: ast.stmt) -> list[tuple[str, str]]:
    """(name, what it stands for) for each name an import of TensorFlow itself
    binds: ``import tensorflow as tf`` -> [("tf", "")]."""
    if isinstance(stmt, ast.Import):
        return [((a.asname or a.name).split(".")[0], "") for a in stmt.names if a.name.split(".")[0] == "tensorflow"]
    if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level and stmt.module.split(".")[0] == "tensorflow":
        prefix = stmt.module[len("tensorflow"):].lstrip(".")
        return [(a.asname or a.name, f"{prefix}.{a.name}" if prefix else a.name) for a in stmt.names]
    return []


_TENSORFLOW_USES: list = []


def forget_tensorflow_uses() -> None:
    """Start a target afresh (in one process, an earlier target's tf.* call is not
    this one's, nor are its layers' seed generators)."""
    _TENSORFLOW_USES.clear()
    _SEED_STATES.clear()


# (seed generator, its state when the model was built): a layer's own
# SeedGenerator (keras.random.normal(..., seed=self.seed_generator)) advances at
# every call, so each run starts it from here again (see reseed)
_SEED_STATES: list = []


def remember_seed_states(model) -> None:
    for layer in [model, *model._flatten_layers()]:
        for generator in getattr(layer, "_seed_generators", ()):
            _SEED_STATES.append((generator, generator.state.value.detach().clone()))


def raise_tensorflow_use() -> None:
    """Raise the error of the model's first direct TensorFlow call, if it made one
    (called where a failure of the user's code is turned into a report)."""
    if _TENSORFLOW_USES:
        raise _TENSORFLOW_USES[0]


class TensorFlowCall:
    """Stands for ``tf`` (and ``tf.random``, ``tf.random.normal``...): any use
    stops the check, naming the line and the Keras 3 call to write instead."""

    def __init__(self, dotted: str = ""):
        object.__setattr__(self, "_dotted", dotted)  # the name under tensorflow: "random.normal"

    def __getattr__(self, item):
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        dotted = object.__getattribute__(self, "_dotted")
        return TensorFlowCall(f"{dotted}.{item}" if dotted else item)

    def _fail(self, *_a, **_k):
        dotted = object.__getattribute__(self, "_dotted")
        loc = user_frame()
        where = f"{loc.display_path()}:{loc.line}: " if loc else ""
        instead = _KERAS_EQUIVALENT.get(dotted)
        if instead is None:
            last = dotted.rsplit(".", 1)[-1]
            instead = f"keras.ops.{last} (or the keras.ops / keras.random function that does the same)"
        error = VaelintError(
            "load",
            f"{where}the model calls TensorFlow directly (tf.{dotted}); vaelint checks Keras models "
            f"on the torch backend, where TensorFlow calls cannot run. Write {instead} instead: Keras 3's "
            "ops run on every backend.",
        )
        # Keras rebuilds a layer's exception with its own message (type(e)(text)), which
        # a VaelintError cannot take: the first use is kept here for raise_tensorflow_use
        _TENSORFLOW_USES.append(error)
        raise error

    __call__ = _fail

    def __repr__(self):
        return f"<TensorFlow tf.{object.__getattribute__(self, '_dotted')}>"


for _op in ("add", "sub", "mul", "truediv", "pow", "matmul"):
    setattr(TensorFlowCall, f"__{_op}__", lambda self, *a: self._fail())
    setattr(TensorFlowCall, f"__r{_op}__", lambda self, *a: self._fail())
for _name in ("__getitem__", "__iter__", "__len__", "__index__", "__int__", "__float__", "__bool__", "__neg__"):
    setattr(TensorFlowCall, _name, lambda self, *a: self._fail())


# --------------------------------------------------------------------------- models


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


def _user_defined(cls, name: str) -> bool:
    """Is ``name`` defined on ``cls`` by the user's code (not inherited from Keras)?"""
    from vaelint.frames import is_user_file

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
    if _user_defined(type(model), "call") or "call" in vars(model):
        return model.call
    return None


def added_losses(model):
    """A loss that sums what ``self.add_loss(...)`` collected in the last call
    (None when the model's code never calls ``add_loss``)."""
    import inspect

    sources = []
    for layer in [model, *getattr(model, "_flatten_layers", lambda: [])()]:
        for klass in type(layer).__mro__:
            if "call" in klass.__dict__ and _user_defined(klass, "call"):
                try:
                    sources.append(inspect.getsource(klass.__dict__["call"]))
                except (OSError, TypeError):
                    pass
    if not any("add_loss" in s for s in sources):
        return None

    def added_loss():
        losses = model.losses
        if not losses:
            raise VaelintError(
                "loss", "the model's call() has an add_loss(...) but added no loss on this input"
            )
        total = losses[0]
        for extra in losses[1:]:
            total = total + extra
        return total

    return added_loss


def train_step_forward(model):
    """For a model with no ``call`` of its own whose forward is written in
    ``train_step`` (the keras.io VAE example): a forward made of train_step's
    statements that call the model's sub-models, returning what they assign.
    None when there is no such train_step."""
    import inspect

    cls = type(model)
    if _user_defined(cls, "call") or not _user_defined(cls, "train_step"):
        return None
    fn = next(k.__dict__["train_step"] for k in cls.__mro__ if "train_step" in k.__dict__)
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    tree = ast.parse(source)
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef) or len(func.args.args) < 2:
        return None
    params = [func.args.args[1].arg]
    body_in = list(func.body)
    # `noisy, clean = data` (a denoising VAE fit on (x, y) pairs): the forward
    # takes the unpacked names as its inputs (--input for each)
    first = body_in[0] if body_in else None
    if (
        isinstance(first, ast.Assign) and len(first.targets) == 1 and isinstance(first.targets[0], ast.Tuple)
        and isinstance(first.value, ast.Name) and first.value.id == params[0]
        and all(isinstance(e, ast.Name) for e in first.targets[0].elts)
    ):
        params = [e.id for e in first.targets[0].elts]
        body_in = body_in[1:]
    flat: list[ast.stmt] = []  # the body's statements, `with` blocks opened

    def flatten(body):
        for stmt in body:
            if isinstance(stmt, ast.With):
                flatten(stmt.body)
            else:
                flat.append(stmt)

    flatten(body_in)

    def calls_submodel(value) -> bool:
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id == "self"
            and is_keras_model(getattr(model, value.func.attr, None))
        )

    def names_in(value) -> set:
        return {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}

    # the forward: sub-model calls, and plain readings of the inputs before them (x = data[0])
    statements, assigned, known = [], [], set(params)
    for stmt in flat:
        if not isinstance(stmt, ast.Assign):
            continue
        plain = names_in(stmt.value) <= known and not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value))
        if calls_submodel(stmt.value) or plain:
            statements.append(stmt)
            for n in (n for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                known.add(n.id)
                if calls_submodel(stmt.value) and n.id not in assigned:
                    assigned.append(n.id)
    while statements and not calls_submodel(statements[-1].value):
        statements.pop()  # only what leads to the last sub-model call
    if not statements:
        return None
    forward_fn = _compiled("forward", params, statements, _returning_dict(assigned, statements[-1]), func, fn)

    # the loss: the assignments after the last sub-model call that read only what is
    # known and Keras's own functions (keras.ops, keras.losses), up to the total the
    # gradient is taken of; a tf.* call or anything else ends it (then --loss is needed)
    after = flat[flat.index(statements[-1]) + 1:]
    loss_statements, loss_known = [], set(known)
    for stmt in after:
        if not isinstance(stmt, ast.Assign) or not names_in(stmt.value) <= loss_known | _KERAS_NAMES:
            break
        loss_statements.append(stmt)
        loss_known |= {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    total = _gradient_target(after) or next(
        (t.id for st in reversed(loss_statements) for t in st.targets if isinstance(t, ast.Name)), None
    )
    loss_fn = None
    if loss_statements and total in loss_known - known:
        upto = max(i for i, st in enumerate(loss_statements) if any(
            isinstance(t, ast.Name) and t.id == total for t in st.targets))
        loss_statements = loss_statements[: upto + 1]
        result = ast.copy_location(ast.Return(ast.Name(total, ast.Load())), loss_statements[-1])
        loss_fn = _compiled("train_step_loss", params + assigned, loss_statements, result, func, fn, method=False)
    return TrainStep(
        forward_fn,
        [st.lineno for st in statements if calls_submodel(st.value)],
        loss_fn,
        [st.lineno for st in loss_statements] if loss_fn else [],
    )


# names a loss written in train_step may read besides the data and the outputs
_KERAS_NAMES = {"ops", "keras", "K", "math"}


@dataclass
class TrainStep:
    forward: object
    forward_lines: list
    loss: object | None
    loss_lines: list


def _returning_dict(names: list, last: ast.stmt) -> ast.stmt:
    value = ast.Dict(keys=[ast.Constant(n) for n in names], values=[ast.Name(n, ast.Load()) for n in names])
    return ast.copy_location(ast.Return(value), last)


def _gradient_target(statements: list) -> str | None:
    """X in `grads = tape.gradient(X, ...)`."""
    for stmt in statements:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "gradient"
                    and node.args and isinstance(node.args[0], ast.Name)):
                return node.args[0].id
    return None


def _compiled(name: str, params: list, statements: list, result: ast.stmt, func, fn, method: bool = True):
    """A function of the user's own statements, keeping their line numbers."""
    args = ([ast.arg("self")] if method else []) + [ast.arg(p) for p in params]
    made = ast.FunctionDef(
        name=name, args=ast.arguments(posonlyargs=[], args=args, kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*statements, result], decorator_list=[], returns=None, type_params=[],
    )
    ast.copy_location(made, func)
    module = ast.Module(body=[made], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, fn.__code__.co_firstlineno - 1)
    namespace = dict(fn.__globals__)
    exec(compile(module, fn.__code__.co_filename, "exec"), namespace)  # noqa: S102 - the user's own statements
    return namespace[name]


def prepare(loaded, plan, explicit_loss: bool, notes: list) -> object:
    """Ready a Keras model for the pipeline; returns the loss plan to use.

    A forward written in ``train_step`` becomes the model's ``call``; the losses
    added with ``add_loss`` are the loss, or are added to the one given with
    ``--loss`` (or found by name), as Keras trains on the compiled loss plus
    them; a loss that returns one value per sample is averaged, as ``compile()``
    does.
    """
    import types

    from vaelint.lossbind import LossPlan

    model = loaded.model
    name = type(model).__name__
    step = train_step_forward(model)
    if step is not None:
        lines = step.forward_lines
        object.__setattr__(model, "call", types.MethodType(step.forward, model))
        notes.append(
            f"{name} defines no call(): its forward is taken from train_step's sub-model calls "
            f"(line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})"
        )
        if plan is None and step.loss is not None:
            first, last = step.loss_lines[0], step.loss_lines[-1]
            plan = LossPlan(step.loss, f"{name}.train_step's loss (lines {first}-{last})")
        elif plan is None:
            notes.append(
                f"the loss lives in {name}.train_step, which vaelint does not run (it takes gradients with "
                "the backend's own machinery): write it as a function of the data and the sub-models' "
                "outputs, e.g. def vae_loss(data, reconstruction, z_mean, z_log_var), and pass it with "
                "--loss FILE.py:vae_loss"
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


def _plus(loss, added):
    import functools
    import inspect

    @functools.wraps(loss)
    def total(*args, **kwargs):
        return loss(*args, **kwargs) + added()

    try:
        total.__signature__ = inspect.signature(loss)
    except (TypeError, ValueError):
        pass
    return total


def _averaged_per_sample(fn):
    """The loss, averaged when it returns one value per sample (Keras's compile() does that)."""
    import functools
    import inspect

    @functools.wraps(fn)
    def loss(*args, **kwargs):
        out = fn(*args, **kwargs)
        if getattr(out, "ndim", 0):
            return out.mean()
        return out

    try:
        loss.__signature__ = inspect.signature(fn)
    except (TypeError, ValueError):
        pass
    return loss


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
