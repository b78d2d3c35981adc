"""What a file holds, read without running it, for a file that yields no target
(vaelint/runtime/runner.py): the first backward its code calls, a training call into a module that is not
installed here, training with TensorFlow's own API. Such a file is never passed over as clean."""

from __future__ import annotations

import os
import re


def backward_in(path: str) -> str:
    """PATH:LINE of the first backward the file's code calls, read without running it; ""."""
    from vaelint.frontends.training.sites import find_sites, parse_file

    file = parse_file(os.path.realpath(path))
    if file is None:
        return ""
    lines = sorted(site.place.line for scope in file.scopes.values() for site in find_sites(scope))
    return f"{path}:{lines[0]}" if lines else ""


ENTRY_WORDS = ("train", "fit", "learn", "run", "main")  # names of a call that trains


def trains_through_an_absent_module(path: str) -> str:
    """``vame.train_model(cfg)`` (a two-line driver of a library's training) where ``vame`` is not
    importable here: "vame.train_model (imported at line 1)"; "" otherwise. Read, not run."""
    import ast
    import importlib.util

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return ""
    from vaelint.frontends.training.syspath import script_roots

    # its folder, and those its lines (or a helper beside it, notebooks/context.py) put on sys.path
    roots = [os.path.dirname(os.path.abspath(path)), *script_roots(tree, path)]
    absent: dict[str, tuple[str, int]] = {}  # name in the file -> (module, line)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [(a.asname or a.name.split(".")[0], a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [(a.asname or a.name, node.module) for a in node.names]
        for name, module in names:
            top = module.split(".")[0]
            local = any(os.path.exists(os.path.join(r, top)) or os.path.exists(os.path.join(r, f"{top}.py")) for r in roots)
            try:
                found = importlib.util.find_spec(top) is not None
            except (ImportError, ValueError):
                found = False
            if not found and not local:
                absent.setdefault(name, (module, node.lineno))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        called = ast.unparse(func)
        if isinstance(root, ast.Name) and root.id in absent and any(w in called.lower() for w in ENTRY_WORDS):
            module, line = absent[root.id]
            return f"{called} (from {module}, imported at line {line})"
    return ""


def tensorflow_training(path: str, torch_too: bool = True) -> str:
    """What says that a file trains with TensorFlow's own API (a ``tf.GradientTape`` loop, TF1's ``tf.Session``,
    ``optimizer.apply_gradients``), read without running it; "" when nothing does (or, with
    ``torch_too`` False, when the file imports torch as well)."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return ""

    def imports(top: str) -> bool:
        return any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == top for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == top)
            for n in ast.walk(tree)
        )

    imports_tf, imports_torch, imports_keras = imports("tensorflow"), imports("torch"), imports("keras")
    if not (imports_tf or imports_keras) or (imports_torch and not torch_too):
        return ""
    # fit_generator is Keras 2's, gone from Keras 3: such a script trains on TensorFlow
    tf_api = ("GradientTape", "apply_gradients", "Session") if imports_tf else ()
    uses = sorted(
        (n.lineno, n.attr if n.attr != "fit_generator" else "Keras 2's fit_generator")
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and n.attr in (*tf_api, "fit_generator")
    )
    return f"{uses[0][1]} at line {uses[0][0]}" if uses else ""


def not_pytorch(path: str) -> str:
    """What says a file named for checking is written for another framework, read before anything
    runs (TensorFlow's training, a tf.keras model it builds, MXNet, JAX, a module of those it trains
    through); "" for any other file. Said as that, never as a package to install."""
    return (
        tensorflow_training(path, torch_too=False)
        or other_framework(path)
        or (path.endswith((".py", ".ipynb")) and numpy_vae(path))
        or (path.endswith((".py", ".ipynb")) and tensorflow_file(path))
        or (path.endswith(".py") and trains_through_another_framework(path))
    )


def tensorflow_file(path: str) -> str:
    """Where a file that imports TensorFlow and not torch builds a tf.keras model (``from tensorflow
    import keras``, ``tf.keras.layers``), read without running it; "" for any other file (one that only
    reads its data with tf.data)."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return ""
    tops = [
        (n.lineno, name)
        for n in ast.walk(tree)
        for name in ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""] if isinstance(n, ast.ImportFrom) else [])
    ]
    if any(name.split(".")[0] == "torch" for _line, name in tops) or not any(name.split(".")[0] == "tensorflow" for _l, name in tops):
        return ""
    # a model it builds: tf.keras (imported from tensorflow, or as tf.keras.*); a file that only uses
    # tf.data for its pipeline builds none
    keras = sorted(
        [line for line, name in tops if name.startswith(("tensorflow.keras", "tensorflow.python.keras")) or name == "keras"]
        + [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "tensorflow" and any(a.name == "keras" for a in n.names)
        ]
        + [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "keras" and isinstance(n.value, ast.Name)]
    )
    return f"it builds a tf.keras model (keras at line {keras[0]})" if keras else ""


# the deep-learning frameworks that are not PyTorch, by the top module a file imports
_FRAMEWORKS = {
    "mxnet": "MXNet",
    "jax": "JAX",
    "flax": "Flax (JAX)",
    "haiku": "Haiku (JAX)",
    "equinox": "Equinox (JAX)",
    "paddle": "PaddlePaddle",
    "chainer": "Chainer",
    "mindspore": "MindSpore",
    "oneflow": "OneFlow",
    "theano": "Theano",
    "cntk": "CNTK",
    "dynet": "DyNet",
    "tinygrad": "tinygrad",
    "mlx": "MLX",
    "autograd": "HIPS autograd (NumPy)",
}


def other_framework(path: str) -> str:
    """Which framework other than PyTorch (and TensorFlow, read apart) a file is written for: it
    imports it and not torch (``MXNet (import mxnet at line 2)``); "" for any other file."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return ""
    tops = _import_tops(tree)
    if any(top == "torch" for _line, top in tops):
        return ""
    found = next(((line, top) for line, top in sorted(tops) if top in _FRAMEWORKS), None)
    return f"{_FRAMEWORKS[found[1]]} (import {found[1]} at line {found[0]})" if found else ""


_KL_NAME = re.compile(r"^(kl|kld|kl_div|kl_loss|kl_term|d_kl|dkl)$", re.I)


def _import_tops(tree) -> list:
    """(line, top-level package) of each absolute import of a parsed file."""
    import ast

    return [
        (n.lineno, name.split(".")[0])
        for n in ast.walk(tree)
        for name in (
            [a.name for a in n.names]
            if isinstance(n, ast.Import)
            else [n.module or ""]
            if isinstance(n, ast.ImportFrom) and not n.level
            else []
        )
    ]


def numpy_vae(path: str) -> str:
    """``NumPy (a VAE's KL at line 21, ...)`` where the file named imports NumPy and no torch, assigns a
    KL term, draws a Gaussian sample with NumPy and updates its weights itself (``W -= LR * grad``): a VAE
    trained in NumPy arrays (a course's assignment), nothing to check. A NumPy helper of a PyTorch
    project (a KL metric) updates no weights; "" for it and any other file."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return ""
    tops = {top for _line, top in _import_tops(tree)}
    trains = any(
        isinstance(n, ast.AugAssign)
        and isinstance(n.op, (ast.Sub, ast.Add))
        and isinstance(n.value, ast.BinOp)
        and isinstance(n.value.op, (ast.Mult, ast.MatMult))
        for n in ast.walk(tree)
    )
    return _numpy_vae(tree) if "numpy" in tops and "torch" not in tops and trains else ""


def _numpy_vae(tree) -> str:
    import ast

    draws = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("standard_normal", "randn", "normal")
        for n in ast.walk(tree)
    )
    kl = next(
        (
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name) and _KL_NAME.match(t.id)
        ),
        None,
    )
    return f"NumPy (a VAE's KL at line {kl}, its sample drawn with NumPy)" if draws and kl is not None else ""


_MODEL_WORDS = ("vae", "autoencoder", "autoencoderkl")


def model_from_a_missing_package(path: str):
    """(the name, its package, the line) of a VAE-named class the file imports from a package not
    installed here and calls (``from hvae_backbone.hvae import hVAE; return hVAE(**params)`` in a
    template's factory): the model the file builds, which nothing here can load. None otherwise."""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return None
    called = {n.func.id: n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        top = node.module.split(".")[0]
        for alias in node.names:
            bound = alias.asname or alias.name
            if bound not in called or not any(w in alias.name.lower() for w in _MODEL_WORDS):
                continue
            if not _importable(top, path):
                return alias.name, top, called[bound]
    return None


def _importable(top: str, path: str) -> bool:
    """Is ``top`` installed, or a module or package of the project beside the file or the folder run from?"""
    import importlib.util

    for folder in {os.path.dirname(os.path.abspath(path)), os.getcwd()}:
        if os.path.exists(os.path.join(folder, top)) or os.path.exists(os.path.join(folder, f"{top}.py")):
            return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def refuse_built_not_trained(path: str) -> None:
    """A script that builds the project's model and never trains it (a train.py whose training is
    still commented out, a sampling script): nothing of it is training code to check, said (exit 2).
    So is a file that builds a VAE from a package not installed here: never passed over as clean."""
    from vaelint.errors import VaelintError

    missing = model_from_a_missing_package(path) if path.endswith(".py") else None
    if missing:
        name, package, line = missing
        raise VaelintError(
            "input",
            f"{path} builds the model {name} (at line {line}) from {package}, which is not installed here, so nothing "
            f"in it was checked: install {package}, then check the model with its input (`vaelint check "
            f"PATH.py:{name} --input SHAPE`, or the function that builds it as the target).",
        )
    from vaelint.frontends.training.repofiles import models_built

    built = models_built(path) if path.endswith(".py") else None
    if built:
        name, file, line = built
        from vaelint.frontends.training.uncalled import trainers_said

        trainers = trainers_said(path)  # def main(): ... train(model) that only a sweep script calls
        raise VaelintError(
            "input",
            f"{path} builds the model {name} (at line {line}) but has no training step"
            + (" that it runs" if trainers else " (no backward)")
            + ", so nothing in it was checked"
            + (trainers or f": check the model with its input: `vaelint check {file}:{name} --input SHAPE`")
            + ".",
        )


def trains_through_another_framework(path: str) -> str:
    """A driver with no torch of its own whose project module trains with TensorFlow or is written
    for another framework (``from model import VAE; VAE(...).fit(data)``, ``model.py`` opening a
    ``tf.Session``; or ``from model import *`` handing the driver ``tf``): "model.py, which trains
    with TensorFlow (Session at line 21)"; "" otherwise. Read, not run."""
    from vaelint.frontends.training.repofiles import project_imports

    if _imports(path, "torch"):
        return ""
    for file in project_imports(path):
        name = os.path.relpath(file)
        tape = tensorflow_training(file, torch_too=False)
        if tape:
            return f"{name}, which trains with TensorFlow ({tape})"
        other = other_framework(file) or tensorflow_file(file)
        if other:
            return (
                f"{name}, which is written for {other}"
                if not other.startswith("it builds")
                else f"{name}, which is TensorFlow code ({other})"
            )
    return ""


def _imports(path: str, top: str) -> bool:
    """Does the file import the module ``top`` (``import torch``, ``from torch import nn``)?"""
    import ast

    from vaelint.source.files import read_source

    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return False
    return any(
        (isinstance(n, ast.Import) and any(a.name.split(".")[0] == top for a in n.names))
        or (isinstance(n, ast.ImportFrom) and not n.level and (n.module or "").split(".")[0] == top)
        for n in ast.walk(tree)
    )
