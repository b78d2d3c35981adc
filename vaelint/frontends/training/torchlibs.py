"""Which packages a script imports train with torch, told without importing them: a script
that only calls ``TVAE().fit(data)`` of an installed library (CTGAN, pythae) trains a torch
VAE though the script never says ``torch``. Read from the distribution's declared
requirements, or, for a package with no metadata (a folder on PYTHONPATH), from its files."""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import re
import sys

_TORCH_DISTS = {"torch", "pytorch-lightning", "lightning", "keras"}
_TORCH_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:torch|pytorch_lightning|lightning|keras)\b", re.M)
_MAX_FILES = 300  # a package whose first 300 files never import torch is not a torch trainer


def imports_a_torch_library(tree: ast.Module) -> bool:
    """Does the file import (at any depth) a package outside the standard library that
    depends on torch, Lightning or Keras?"""
    return any(_trains_with_torch(name) for name in _imported_packages(tree))


def _imported_packages(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module.split(".")[0])
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    return [n for n in dict.fromkeys(names) if n not in stdlib and n not in _TORCH_DISTS]


@functools.cache
def _trains_with_torch(package: str) -> bool:
    requires = _declared_requirements(package)
    if requires is not None:
        return bool(requires & _TORCH_DISTS)
    return _files_import_torch(package)


def _declared_requirements(package: str) -> set[str] | None:
    """The distribution names the package's distribution requires, or None when it has none
    installed (a folder on the path)."""
    from importlib import metadata

    from vaelint.source.frames import readable_import_path

    with readable_import_path():
        dists = metadata.packages_distributions().get(package)
    if not dists:
        return None
    out: set[str] = set()
    for dist in dists:
        with readable_import_path():
            required = metadata.requires(dist) or ()
        for req in required:
            out.add(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0].lower().replace("_", "-"))
    return out


def _files_import_torch(package: str) -> bool:
    try:
        spec = importlib.util.find_spec(package)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    roots = list(spec.submodule_search_locations or ())
    files = [spec.origin] if spec.origin and spec.origin.endswith(".py") else []
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            files += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
            if len(files) >= _MAX_FILES:
                break
    for path in files[:_MAX_FILES]:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                if _TORCH_IMPORT.search(fh.read(200_000)):
                    return True
        except OSError:
            continue
    return False


# libraries that run the user's own step (their frames are the framework's, never the step's)
# or give data and layers: never the trainer a script hands its training to
_FRAMEWORKS = {
    "accelerate",
    "ignite",
    "lightning_fabric",
    "torchvision",
    "torchaudio",
    "torchtext",
    "torchmetrics",
    "transformers",
    "datasets",
    "timm",
    "einops",
    "hydra",
    "omegaconf",
    "wandb",
    "tensorboard",
}


def trainer_libraries(tree: ast.Module) -> list[str]:
    """The folders of the torch libraries a script imports, whose code holds the training loop
    when the script's own files hold no backward (``TVAE().fit(data)``): they count as the
    user's code for the run, so the step, its batch and the findings are read at their lines."""
    out = []
    for name in _imported_packages(tree):
        if name in _FRAMEWORKS or not _trains_with_torch(name):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            out += [os.path.realpath(p) for p in spec.submodule_search_locations]
        elif spec is not None and spec.origin:
            out.append(os.path.realpath(spec.origin))
    return out


def claim_trainer_libraries(home) -> None:
    """A script whose files hold no backward trains in a torch library it imports (``TVAE().fit``): its code is the user's."""
    from vaelint.frontends.training.repofiles import neighbours
    from vaelint.frontends.training.sites import find_sites
    from vaelint.source.frames import claim

    if any(find_sites(s) for f in [home, *neighbours(home.path)] for s in f.scopes.values()):
        return
    for folder in trainer_libraries(home.tree):
        claim(folder)
