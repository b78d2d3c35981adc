"""Loading a Keras file for the torch backend.

With ``KERAS_BACKEND=torch`` every Keras layer and model is a ``torch.nn.Module``
and ``keras.ops`` / ``keras.random`` call torch functions. Here, what the loader
does differently for a file that imports Keras:

* the backend: the file gets the torch backend before its import (exit 2 when
  another backend is already fixed in this process);
* TensorFlow in the model's code: ``from tensorflow import keras`` and
  ``tensorflow.keras.*`` read as Keras 3 (what TensorFlow 2.16+ itself does),
  and a direct ``tf.*`` call stops the check naming the line and the
  ``keras.ops`` / ``keras.random`` call to write instead.

The model itself (its loss, seeds, layers) is :mod:`vaelint.frontends.keras.model_facts`'s.
"""

from __future__ import annotations

import ast
import os
import sys

from vaelint.errors import VaelintError
from vaelint.source.frames import display_path, user_frame

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
            return ast.copy_location(ast.ImportFrom(module=stmt.module[len("tensorflow.") :], names=stmt.names, level=0), stmt)
    if isinstance(stmt, ast.Import) and any(a.name.startswith("tensorflow.keras") for a in stmt.names):
        names = [
            ast.copy_location(ast.alias(a.name[len("tensorflow.") :] if a.name.startswith("tensorflow.keras") else a.name, a.asname), a)
            for a in stmt.names
        ]  # each alias keeps its place: compile() asks an alias for its lineno (was an internal error)
        return ast.copy_location(ast.Import(names=names), stmt)
    return stmt


def tensorflow_names(stmt: ast.stmt) -> list[tuple[str, str]]:
    """(name, what it stands for) for each name an import of TensorFlow itself
    binds: ``import tensorflow as tf`` -> [("tf", "")]."""
    if isinstance(stmt, ast.Import):
        return [((a.asname or a.name).split(".")[0], "") for a in stmt.names if a.name.split(".")[0] == "tensorflow"]
    if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level and stmt.module.split(".")[0] == "tensorflow":
        prefix = stmt.module[len("tensorflow") :].lstrip(".")
        return [(a.asname or a.name, f"{prefix}.{a.name}" if prefix else a.name) for a in stmt.names]
    return []


_TENSORFLOW_USES: list = []


def forget_tensorflow_uses() -> None:
    """Start a target afresh: in one process, an earlier target's tf.* call is not this one's."""
    _TENSORFLOW_USES.clear()


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
        where = f"{loc.where()}: " if loc else ""
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


class KerasImports:
    """The import policy of a file that imports Keras (see vaelint/frontends/load.py,
    ImportPolicy): the torch backend before the file's ``import keras``,
    ``tensorflow.keras`` read as Keras 3, and a stand-in for TensorFlow itself
    whose every use says what to write instead."""

    def prepare(self, path: str, tree: ast.Module) -> None:
        if imports_keras(tree):
            use_torch_backend(path)

    def run_import(self, stmt: ast.stmt, module) -> ast.stmt | None:
        stmt = rewrite_import(stmt)  # tensorflow.keras reads as Keras 3
        tf_names = tensorflow_names(stmt)
        if tf_names:  # TensorFlow itself cannot run beside torch: any use says what to write instead
            for name, dotted in tf_names:
                module.__dict__[name] = TensorFlowCall(dotted)
            return None
        return stmt
