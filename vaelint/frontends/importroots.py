"""Where a file's imports resolve from: the package its ``__init__.py`` files make, the namespace
package the current directory gives a file with relative imports in folders without one (PEP 420),
or a package whose modules' relative imports reach above it (src/utils/ with ``from ..models``
and no src/__init__.py: ``src.utils`` from the project's root), and a src-layout project's
``src/`` folder, which ``pip install -e .`` puts on the path."""

from __future__ import annotations

import os

from vaelint.source.files import PROJECT_MARKERS


def package_context(path: str, relative_depth: int = 0) -> tuple[str, str | None]:
    """(folder to put on sys.path, package name or None) for a model file. ``relative_depth``: how
    far up its relative imports reach (``from ..utils import x``: 2)."""
    folder = os.path.dirname(path)
    parts = []
    d = folder
    while os.path.isfile(os.path.join(d, "__init__.py")):
        parts.append(os.path.basename(d))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    if not parts:
        return _namespace_package(folder, relative_depth) or (folder, None)
    if relative_depth > len(parts):
        # its relative imports reach above the top package (``from ..models import vae`` in
        # src/utils/, no src/__init__.py): the namespace package the project's root gives it
        above = _namespace_root(d, relative_depth - len(parts))
        if above is not None:
            return above[0], ".".join([*above[1], *reversed(parts)])
    return d, ".".join(reversed(parts))


_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def _namespace_root(above: str, levels: int) -> tuple[str, list[str]] | None:
    """(root, names) for the folder ``above`` a top package (one with no ``__init__.py``: src/ of
    src/utils/) whose modules' relative imports reach ``levels`` folders above that package: when
    the folder ``levels`` up is the current directory or a project's root (a pyproject.toml,
    setup.py, setup.cfg or .git), the folders between are namespace packages (PEP 420) from it,
    as ``from src.utils import train`` run there imports them; else None."""
    names: list[str] = []
    d = above
    for _ in range(levels):
        name, parent = os.path.basename(d), os.path.dirname(d)
        if parent == d or not name.isidentifier() or os.path.isfile(os.path.join(d, "__init__.py")):
            return None
        names.insert(0, name)
        d = parent
    return (d, names) if _project_root(d) else None


def _project_root(folder: str) -> bool:
    return os.path.realpath(folder) == os.path.realpath(os.getcwd()) or any(
        os.path.exists(os.path.join(folder, m)) for m in PROJECT_MARKERS
    )


def src_layouts(path: str) -> list[str]:
    """The ``src/`` folder of the project the file or the current directory is in (a folder with a
    pyproject.toml, setup.py or setup.cfg beside it): a src-layout package, importable once the
    project is installed (``pip install -e .``), as its users have it."""
    found = []
    for start in (os.path.dirname(path), os.getcwd()):
        d = start
        for _ in range(8):
            src = os.path.join(d, "src")
            if os.path.isdir(src) and any(os.path.isfile(os.path.join(d, f)) for f in _PROJECT_FILES):
                if src not in found:
                    found.append(src)
                break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    return found


def _namespace_package(folder: str, relative_depth: int) -> tuple[str, str] | None:
    """A file with relative imports in folders with no ``__init__.py`` under the current directory
    (``scripts/cifar/train.py`` with ``from ..utils import parser``): the namespace package
    ``python -m scripts.cifar.train`` run from here gives it (PEP 420)."""
    if not relative_depth:
        return None
    here = os.getcwd()
    rel = os.path.relpath(folder, here)
    parts = rel.split(os.sep)
    if rel == "." or parts[0] == os.pardir or not all(p.isidentifier() for p in parts) or len(parts) < relative_depth:
        return None
    return here, ".".join(parts)


def namespace_roots(path: str, tree) -> list[str]:
    """The folders from which the file's absolute imports of its own folders resolve: a file in
    src/vae/ (no ``__init__.py``: a namespace package) that imports ``vae.base_vae`` is run from
    src/, as its project runs it; so for each folder above it that an import names first."""
    import ast

    tops = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        + ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
    }
    found, d = [], os.path.dirname(path)
    for _ in range(4):
        parent = os.path.dirname(d)
        if parent == d:
            break
        if os.path.basename(d) in tops and parent not in found and not os.path.isfile(os.path.join(d, "__init__.py")):
            found.append(parent)
        d = parent
    return found
