"""The package's shape, as the README's "How it works" describes it: small modules
and functions, one folder per stage that says what it holds, every folder installed,
and no stage asking which capture route ran."""

from __future__ import annotations

import ast
import os
import re

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "vaelint")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60  # a function's body: its signature (a command's options) not counted


def _modules():
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def test_no_module_is_over_400_lines():
    long = {_rel(p): n for p in _modules() if (n := len(open(p, encoding="utf-8").read().splitlines())) > MAX_MODULE_LINES}
    assert not long


def test_no_function_is_over_60_lines():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.body[0].lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{_rel(path)}:{node.lineno} {node.name}"] = lines
    assert not long


def test_every_folder_says_what_it_holds_and_is_installed():
    import tomllib

    listed = set(tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["tool"]["setuptools"]["packages"])
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if "__init__.py" not in files:
            continue
        dotted = _rel(folder).replace(os.sep, ".")
        assert dotted in listed, f"{dotted} is not in pyproject.toml's packages: a wheel would lack it"
        doc = ast.get_docstring(ast.parse(open(os.path.join(folder, "__init__.py"), encoding="utf-8").read()))
        assert doc and len(doc) > 40, f"{dotted}/__init__.py does not say what the folder holds"


def test_the_stages_ask_a_capture_what_it_can_say_not_which_route_made_it():
    # the route's name is the report's; capabilities (vaelint/capture/routes.py) are for the code
    asks = re.compile(r"\.method\s*[!=]=|==\s*\"torch\.fx\"|==\s*\"recording\"")
    found = []
    for path in [*_modules(), *(os.path.join(ROOT, "rules", f) for f in os.listdir(os.path.join(ROOT, "rules")) if f.endswith(".py"))]:
        for i, line in enumerate(open(path, encoding="utf-8"), 1):
            if asks.search(line):
                found.append(f"{_rel(path)}:{i}")
    assert not found


def test_a_capture_route_is_one_list_entry():
    from vaelint.capture.recording import RecordingRoute
    from vaelint.capture.route import Route
    from vaelint.capture.routes import routes
    from vaelint.capture.symbolic import SymbolicRoute

    assert [type(r) for r in routes()] == [SymbolicRoute, RecordingRoute]
    assert all(isinstance(r, Route) and r.name for r in routes())
    assert SymbolicRoute.ints_are_literals and not RecordingRoute.ints_are_literals


# what each folder may import of the rest of vaelint, as its __init__ says (the top
# level's vocabulary: errors, inputs, vocab, errorkinds, diagnostics, version; and the ground
# floor, vaelint/source: reading the user's code)
VOCABULARY = {"vaelint", "errors", "source", "inputs", "vocab", "errorkinds", "diagnostics", "modes", "version"}
MAY_IMPORT = {
    "frontends": {"contracts", "settings"},  # discover.py only (below)
    "capture": {"frontends", "contracts", "facts", "cache"},
    "contracts": {"frontends"},
    "facts": {"capture", "contracts", "frontends"},
    "confirm": {"capture", "facts", "contracts", "frontends", "catalogue", "concurrency"},
    "fixes": {"frontends", "facts"},
    "report": {"rules", "frontends", "concurrency"},
    "cache": {"fixes", "plugins"},  # fixes in codec.py only (below): the records of an offered edit, rebuilt from a cached entry
    "settings": {"frontends", "rules"},
}
ONLY_FROM = {
    ("frontends", "contracts"): {"discover.py"},
    ("frontends", "settings"): {"discover.py"},
    ("cache", "fixes"): {"codec.py"},
    ("cache", "plugins"): {"store.py"},
}


def test_each_folder_imports_only_what_its_init_says():
    wrong = []
    for folder, allowed in MAY_IMPORT.items():
        for path in sorted(_modules()):
            rel = os.path.relpath(path, PACKAGE).split(os.sep)
            if rel[0] != folder:
                continue
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module
                    else [a.name for a in getattr(node, "names", []) if isinstance(node, ast.Import)]
                )
                for name in (n for n in names if n == "vaelint" or n.startswith("vaelint.")):
                    room = name.split(".")[1] if "." in name else "vaelint"
                    if room == folder or room in VOCABULARY:
                        continue
                    if room not in allowed or rel[-1] not in ONLY_FROM.get((folder, room), {rel[-1]}):
                        wrong.append(f"{'/'.join(rel)} imports {name}")
    assert not wrong


def _vaelint_imports(path: str):
    """Every import of vaelint's own modules in a file, at its top or inside a function."""
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []


def test_the_source_floor_stands_on_nothing_but_the_vocabulary():
    # vaelint/source is read by every stage; an import of a stage from it (even inside a
    # function) would tie the floor to the house above it
    allowed = {"vaelint.errors", "vaelint.vocab"}
    wrong = []
    for path in _modules():
        if os.path.relpath(path, PACKAGE).split(os.sep)[0] != "source":
            continue
        for line, module, names in _vaelint_imports(path):
            if module == "vaelint":
                module = "vaelint." + names[0] if names else module
            if module.startswith("vaelint") and not module.startswith("vaelint.source") and module not in allowed:
                wrong.append(f"{_rel(path)}:{line} imports {module}")
    assert not wrong
