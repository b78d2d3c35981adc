"""A module whose training runs from a console-script entry point: ``myvae-train = myvae.train:main``
in ``[project.scripts]`` (or Poetry's ``[tool.poetry.scripts]``, setup.cfg's or setup.py's
``console_scripts``). The file has no main guard, so read as a file it defines a ``main()`` nobody
calls; the installed command calls it. ``vaelint check src/myvae/train.py`` checks it as that
command runs it: ``train.py:main``. Before, such a file was refused ("found no way to run")."""

from __future__ import annotations

import ast
import configparser
import os

_CONFIGS = ("pyproject.toml", "setup.cfg", "setup.py")
_UP = 6  # folders above the file where the project's configuration may sit


def entry_function(path: str) -> tuple[str, str] | None:
    """(the function a console-script entry point calls in ``path``, "NAME = module:function in CONFIG")."""
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    for _ in range(_UP):
        for config in _CONFIGS:
            file = os.path.join(folder, config)
            if not os.path.isfile(file):
                continue
            for name, value in _entries(file):
                module, _, attr = value.partition(":")
                function = attr.strip().split(".")[0]
                if function.isidentifier() and _module_file(folder, module.strip()) == path:
                    return function, f"{name} = {value} in {os.path.relpath(file)}"
        if os.path.isdir(os.path.join(folder, ".git")) or os.path.dirname(folder) == folder:
            break
        folder = os.path.dirname(folder)
    return None


def _module_file(root: str, module: str) -> str | None:
    parts = module.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for base in (root, os.path.join(root, "src")):
        for candidate in (os.path.join(base, *parts) + ".py", os.path.join(base, *parts, "__main__.py")):
            if os.path.isfile(candidate):
                return os.path.realpath(candidate)
    return None


def _entries(file: str) -> list[tuple[str, str]]:
    """("name", "module:function") of each console script the configuration declares."""
    try:
        if file.endswith(".toml"):
            return _from_pyproject(file)
        if file.endswith(".cfg"):
            parser = configparser.ConfigParser()
            parser.read(file, encoding="utf-8")
            return _lines(parser.get("options.entry_points", "console_scripts", fallback=""))
        return _from_setup_py(file)
    except (OSError, ValueError, SyntaxError, configparser.Error, UnicodeDecodeError):
        return []


def _from_pyproject(file: str) -> list[tuple[str, str]]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    with open(file, "rb") as fh:
        data = tomllib.load(fh)
    found = []
    for table in (data.get("project", {}).get("scripts", {}), data.get("tool", {}).get("poetry", {}).get("scripts", {})):
        found += [(k, v) for k, v in table.items() if isinstance(v, str)]
    return found


def _from_setup_py(file: str) -> list[tuple[str, str]]:
    """``setup(entry_points={"console_scripts": ["name = module:function"]})``, read as written."""
    with open(file, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    try:
                        items = ast.literal_eval(value)
                    except ValueError:
                        continue
                    found += _lines("\n".join(items) if isinstance(items, (list, tuple)) else str(items))
    return found


def _lines(text: str) -> list[tuple[str, str]]:
    found = []
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and ":" in value:
            found.append((name.strip(), value.strip()))
    return found
