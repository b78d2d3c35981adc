"""The device switches of the model's code, decided on this CPU machine, decided again as a GPU
machine decides them, while the simulated GPU (:mod:`.simdevice`) runs.

Code of the ``args.cuda = not args.no_cuda and torch.cuda.is_available()`` era chooses its
device once, when it starts, and then branches on the choice: ``if self.args.cuda: eps =
torch.cuda.FloatTensor(...)``, ``self.FloatTensor = torch.cuda.FloatTensor if cuda else
torch.FloatTensor``. On this machine every such choice was the CPU's; on a GPU machine each is
the GPU's. Run with the CPU's choices, the simulated GPU met the CPU branch's tensors and
VAE012 reported a device mismatch a GPU run never has."""

from __future__ import annotations

import ast
import contextlib
import os
import sys

import torch.nn as nn

from vaelint.source.modulefiles import file_of


@contextlib.contextmanager
def switches_on(module: nn.Module, move=None):
    """Inside, the model files' switches (module-level ``cuda = torch.cuda.is_available()``,
    ``args.cuda``, an instance's ``self.args.cuda`` / ``self.use_cuda`` tested by an ``if`` whose
    branch goes to CUDA, ``self.FloatTensor`` chosen between a CUDA and a CPU type) hold what a
    GPU machine gives them; a tensor attribute the constructor moves under such a switch
    (``if self.args.cuda: self.idle = self.idle.cuda()``) is where ``move`` puts it; put back after."""
    saved: list = []
    try:
        files = list(_user_files(module))
        built_by = _built_by([tree for _space, _path, tree in files])
        for space, path, tree in files:
            _module_level(space, path, tree, saved)
            guards = _guards(tree)
            for chain in guards:
                if chain[0] != "self":
                    _turn_on(space.get(chain[0]), chain[1:], saved)
            classes = {c.name: c for c in ast.walk(tree) if isinstance(c, ast.ClassDef)}
            for sub, names in _classes_of(module, path).items():
                for name in (n for n in names if n in classes):
                    for chain in guards:
                        if chain[0] == "self":
                            _turn_on(sub, chain[1:], saved)
                    _chosen_attributes(sub, classes[name], space, path, saved)
                    if move is not None:
                        _moved_when_built(sub, classes[name], guards, saved, move, built_by)
                        _made_on_a_chosen_device(sub, classes[name], saved, move, built_by)
        yield
    finally:
        for owner, key, value, is_dict in reversed(saved):
            if is_dict:
                owner[key] = value
            elif isinstance(owner, nn.Module):
                object.__setattr__(owner, key, value)
            else:
                setattr(owner, key, value)


def _user_files(module: nn.Module):
    """(globals, path, tree) of each of the user's files that defines a class of the model's
    modules, read from the classes' own functions: a training script runs as a namespace of its
    own, which ``sys.modules[cls.__module__]`` is not."""
    from vaelint.frontends.training.repofiles import project_imports
    from vaelint.source.files import read_source
    from vaelint.source.frames import is_user_file

    seen = {}
    # the classes of the model's modules and their bases: a base's __init__ (reached by
    # super().__init__(args)) may choose self.FloatTensor (robert-giaquinto/gradient-boosted-normalizing-flows)
    for cls in {c for m in module.modules() for c in type(m).__mro__}:
        fn = next((f for f in vars(cls).values() if hasattr(f, "__code__") and hasattr(f, "__globals__")), None)
        path = fn.__code__.co_filename if fn is not None else None
        if path and path not in seen and is_user_file(path):
            seen[path] = fn.__globals__
    # and the project's helper modules the code imported (lib/targets.py: USE_CUDA =
    # torch.cuda.is_available() at its top, read by a function the step calls)
    by_file = {os.path.realpath(file_of(m)): m for m in list(sys.modules.values()) if file_of(m)}
    for anchor in list(seen):
        for path in project_imports(anchor):
            if path not in seen and by_file.get(path) is not None:
                seen[path] = vars(by_file[path])
    for path, space in sorted(seen.items()):
        try:
            yield space, path, ast.parse(read_source(path))
        except (OSError, SyntaxError, ValueError):
            continue


def _classes_of(module: nn.Module, path: str) -> dict:
    """Instance -> the definition names of its class and bases that ``path`` defines, for the
    model's modules."""
    out: dict = {}
    for sub in module.modules():
        for cls in type(sub).__mro__:
            fn = next((f for f in vars(cls).values() if hasattr(f, "__code__")), None)
            if fn is not None and fn.__code__.co_filename == path:
                out.setdefault(sub, []).append(cls.__name__)
    return out


def _module_level(space: dict, path: str, tree: ast.Module, saved: list) -> None:
    """``cuda = torch.cuda.is_available()``, ``device = "cuda" if ... else "cpu"`` worked out
    again; ``cuda = False`` by hand, gating ``.cuda()`` calls, set; and what the module's top
    level chose from such a switch towards CUDA (``Tensor = torch.cuda.FloatTensor if cuda else
    torch.FloatTensor``, PyTorch-GAN's alias) chosen again from its new value."""
    moves = {chain[0] for chain in _guards(tree) if len(chain) == 1}
    turned: set = set()
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        key = stmt.targets[0].id
        reads = {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
        if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, bool) and key in moves:
            value = True
        elif any(isinstance(n, ast.Attribute) and n.attr == "is_available" for n in ast.walk(stmt.value)) or (
            reads & turned and _names_cuda(stmt.value)
        ):
            try:
                value = eval(compile(ast.Expression(stmt.value), path, "eval"), space)  # noqa: S307 - the user's own line
            except Exception:  # noqa: BLE001 - a switch that cannot be worked out again stays as it loaded
                continue
        else:
            continue
        saved.append((space, key, space.get(key), True))
        space[key] = value
        turned.add(key)


def _names_cuda(node: ast.AST) -> bool:
    """Does the code go to CUDA: ``.cuda()``, ``torch.cuda.FloatTensor``, ``device="cuda"``?"""
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and n.attr == "cuda":
            return True
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("cuda"):
            return True
    return False


def _chain(node: ast.expr) -> tuple | None:
    """``self.args.cuda`` -> ("self", "args", "cuda"); None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return (node.id, *reversed(parts))


def _guards(tree: ast.Module) -> set:
    """The switches an ``if`` tests whose true branch goes to CUDA (``if self.args.cuda:
    eps = eps.cuda()``, ``x.cuda() if use_cuda else x``): names and attribute chains."""
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.If, ast.IfExp)):
            continue
        body = node.body if isinstance(node.body, list) else [node.body]
        if not any(_names_cuda(b) for b in body):
            continue
        orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
        if orelse and any(_names_cuda(b) for b in orelse):
            # both branches go to CUDA (`if self.use_cond: self.enc = ...cuda() else: self.enc = ...cuda()`):
            # an option of the model's, not a CUDA switch (turned on, it took the other branch)
            continue
        tests = node.test.values if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And) else [node.test]
        out.update(c for c in map(_chain, tests) if c is not None)
    return out


def _turn_on(owner, path: tuple, saved: list) -> None:
    """Set the switch at ``owner.path`` to True where it is False (the CPU's choice)."""
    if owner is None or not path:
        return
    for key in path[:-1]:
        owner = getattr(owner, key, None)
        if owner is None or isinstance(owner, (int, float, str)):
            return
    key = path[-1]
    if isinstance(owner, dict):
        if owner.get(key) is False:
            saved.append((owner, key, False, True))
            owner[key] = True
        return
    if getattr(owner, key, None) is False:
        saved.append((owner, key, False, False))
        try:
            setattr(owner, key, True)
        except (AttributeError, TypeError):
            saved.pop()


def _chosen_attributes(sub: nn.Module, cls: ast.ClassDef, space: dict, path: str, saved: list) -> None:
    """``self.FloatTensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor`` (or the same
    as an if/else): the instance holds the CPU branch's value; the GPU branch's is set."""
    for node in ast.walk(cls):
        pairs = []
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.IfExp):
            pairs = [(t, node.value.body, node.value.orelse) for t in node.targets]
        elif isinstance(node, ast.If):
            on, off = _self_assignments(node.body), _self_assignments(node.orelse)
            pairs = [(target, value, off[name][1]) for name, (target, value) in on.items() if name in off]
        for target, gpu, cpu in pairs:
            name = target.attr if isinstance(target, ast.Attribute) and _chain(target) == ("self", target.attr) else None
            if name is None or not _names_cuda(gpu) or _names_cuda(cpu):
                continue
            try:
                gpu_value, cpu_value = (
                    eval(compile(ast.Expression(e), path, "eval"), space)  # noqa: S307
                    for e in (gpu, cpu)
                )
            except Exception:  # noqa: BLE001 - a branch that needs the constructor's locals stays as it is
                continue
            if getattr(sub, name, None) is cpu_value:
                saved.append((sub, name, cpu_value, False))
                object.__setattr__(sub, name, gpu_value)


def _self_assignments(body: list) -> dict:
    out = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Attribute):
            target = stmt.targets[0]
            if _chain(target) == ("self", target.attr):
                out[target.attr] = (target, stmt.value)
    return out


def _built_by(trees: list) -> set:
    """The names of the methods a constructor runs: ``__init__`` and what it calls on ``self``
    (``self.add_pseudo_inputs(k)``), on and on, over the classes of these files (a base's helper
    called from a subclass's ``__init__`` too)."""
    calls: dict = {}
    for tree in trees:
        for fn in (f for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body if isinstance(f, ast.FunctionDef)):
            called = {
                n.func.attr for n in ast.walk(fn) if isinstance(n, ast.Call) and _chain(n.func) == ("self", getattr(n.func, "attr", None))
            }
            calls.setdefault(fn.name, set()).update(called)
    reached, todo = {"__init__"}, ["__init__"]
    while todo:
        for name in calls.get(todo.pop(), ()):
            if name not in reached:
                reached.add(name)
                todo.append(name)
    return reached


def _moved_when_built(sub: nn.Module, cls: ast.ClassDef, guards: set, saved: list, move, built_by: set) -> None:
    """``if self.args.cuda: self.idle = self.idle.cuda()`` in the class's constructor or a helper it
    calls (``built_by``): on this machine the switch was off when the model was built, so the tensor
    stayed on the CPU; a GPU machine moved it then. It is put where ``move`` puts it. A method the
    constructor never calls (``prior_to_gpu()``, called by nothing) moved nothing."""
    import torch

    built = [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name in built_by]
    for node in (n for f in built for n in ast.walk(f)):
        if not isinstance(node, ast.If) or node.orelse or _chain(node.test) not in guards:
            continue
        for name, (_target, value) in _self_assignments(node.body).items():
            held = sub.__dict__.get(name)  # a plain attribute (a parameter or buffer moves with the model)
            if _names_cuda(value) and isinstance(held, torch.Tensor) and not isinstance(held, nn.Parameter) and held.device.type == "cpu":
                saved.append((sub, name, held, False))
                object.__setattr__(sub, name, move(held))


def _made_on_a_chosen_device(sub: nn.Module, cls: ast.ClassDef, saved: list, move, built_by: set) -> None:
    """``self.h0 = torch.zeros(T, B, 1, device=device)`` in the constructor, ``device`` the device the
    code chose (``DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")``, a parameter
    defaulting to it, ``args.device``): a GPU machine makes it there, as the simulated run makes a
    tensor given such a device in forward; here it was made on the CPU when the model was built (a
    false VAE012 [confirmed] on it before). A device written as the CPU stays the CPU."""

    built = [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name in built_by]
    for fn in built:
        # a parameter whose default is written down (device="cpu"): its value at build time is the
        # caller's to say, which the run saw (held_on_the_constructors_default_device.py): left as built
        written = {a.arg for a, d in zip(fn.args.args[::-1], fn.args.defaults[::-1]) if isinstance(d, ast.Constant)}
        written |= {a.arg for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if isinstance(d, ast.Constant)}
        _made_in(sub, fn, written, saved, move)


def _made_in(sub: nn.Module, fn: ast.FunctionDef, written: set, saved: list, move) -> None:
    import torch

    for node in ast.walk(fn):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Attribute) and _chain(target) == ("self", target.attr)):
            continue
        if not _placed_on_a_device(node.value, written):
            continue
        held = sub.__dict__.get(target.attr)
        if isinstance(held, torch.Tensor) and not isinstance(held, nn.Parameter) and held.device.type == "cpu":
            saved.append((sub, target.attr, held, False))
            object.__setattr__(sub, target.attr, move(held))


_NOT_A_DEVICE = ("cpu", "float", "int", "dtype", "bool", "half", "double", "long")


def _placed_on_a_device(value: ast.expr, written: set) -> bool:
    """Does the value's own expression place it on a device the code names by a variable
    (``device=device``, ``.to(self.device)``, ``.to(args.device)``), not the CPU written down, a
    dtype, or a parameter whose default is written down (``written``)?"""
    for call in (n for n in ast.walk(value) if isinstance(n, ast.Call)):
        given = [k.value for k in call.keywords if k.arg == "device"]
        if isinstance(call.func, ast.Attribute) and call.func.attr == "to" and call.args:
            given.append(call.args[0])
        for g in given:
            if isinstance(g, ast.Constant) or (isinstance(g, ast.Name) and g.id in written):
                continue
            said = ast.unparse(g).lower()
            # torch.device("cuda" if torch.cuda.is_available() else "cpu") written in place: a choice, as a variable
            # is (a string naming cuda in it; torch.float16 if torch.cuda.is_available() else ... is a dtype's)
            names_cuda = any(isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value.startswith("cuda") for c in ast.walk(g))
            if names_cuda or not any(w in said for w in _NOT_A_DEVICE):
                return True
    return False
