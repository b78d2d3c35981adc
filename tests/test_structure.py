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
    "confirm": {"capture", "facts", "contracts", "frontends", "catalogue", "runtime"},
    "fixes": {"frontends", "facts"},
    "report": {"rules", "frontends", "runtime"},
    "cache": {"fixes", "plugins"},  # fixes in codec.py only (below): the records of an offered edit, rebuilt from a cached entry
    "settings": {"frontends", "rules"},
}
ONLY_FROM = {
    ("frontends", "contracts"): {"discover.py"},
    ("frontends", "settings"): {"discover.py"},
    ("cache", "fixes"): {"codec.py"},
    ("cache", "plugins"): {"store.py"},
    ("confirm", "runtime"): {"forward_backward.py"},  # the memory available (runtime/concurrency.py)
    ("report", "runtime"): {"progress.py"},  # drawing and forking take turns (runtime/concurrency.py)
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


def _import_graph() -> dict:
    """Every import between vaelint's own modules (rules/ as vaelint.rules), at a module's top or
    inside a function (not one under ``if TYPE_CHECKING:``): module -> the modules it imports."""
    modules = {}
    for path in _modules():
        name = _rel(path)[:-3].replace(os.sep, ".")
        modules[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    rules = os.path.join(ROOT, "rules")
    for file in os.listdir(rules):
        if file.endswith(".py"):
            modules["vaelint.rules" if file == "__init__.py" else f"vaelint.rules.{file[:-3]}"] = os.path.join(rules, file)
    graph = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        edges = set()
        tree = ast.parse(open(path, encoding="utf-8").read())
        # imports for type checkers only (if TYPE_CHECKING:) are never run: no edge
        typing_only = {
            id(n) for g in ast.walk(tree) if isinstance(g, ast.If) and "TYPE_CHECKING" in ast.unparse(g.test) for n in ast.walk(g)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict) -> list[set]:
    """The strongly connected parts of more than one module (Tarjan's, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = set()
                    while True:
                        member = stack.pop()
                        on.discard(member)
                        part.add(member)
                        if member == node:
                            break
                    if len(part) > 1:
                        out.append(part)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on:
                low[node] = min(low[node], index[child])
    return out


def test_no_import_cycle_outside_the_front_ends():
    # issue 37: no module imports, even inside a function, one that imports it back. The source
    # floor, the stages, the rules, the reports, the cache and the runtime hold to it; the cycles
    # left are inside vaelint/frontends (the training front end's run and its stand-ins), the next
    # to untangle: none may reach beyond it, and none may be added elsewhere
    outside = [sorted(part) for part in _cycles(_import_graph()) if not all(m.startswith("vaelint.frontends") for m in part)]
    assert not outside
