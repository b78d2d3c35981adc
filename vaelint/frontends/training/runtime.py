"""What the transformed training code calls at run time.

The rewritten user code (:mod:`.rewrite`) names one object, ``__vaelint__`` (a
:class:`Runtime`), bound in each transformed module. Through it:

* the setup hands back the step it reached (``ready``: a :class:`StepReady`
  unwinds whatever loops and calls led there) and the step hands back its loss
  (``loss``: a :class:`StepLoss` from the backward's place, caught by the step);
* the batch variables get the synthetic inputs (``batch``), a variable no
  input covers gets a :class:`StandIn` that explains itself if it is used;
* the setup's calls go through ``call``, which never builds a data set or a
  data loader (they stand in, with what is known of their shapes) and never
  calls what an import failed to define;
* a setup statement that fails binds placeholders (``failed``) instead of
  ending the run: the error is told if, and where, the step uses the name.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass, field

from vaelint.errors import VaelintError, error_text
from vaelint.frontends.placeholders import SETUP, MissingImport, Unavailable, also_missing_beside, cause_among, install_advice
from vaelint.frontends.starimports import star_cause
from vaelint.frontends.training.batchuse import BatchUse
from vaelint.frontends.training.standinvalue import StandIn, stand_in_said  # noqa: F401 - the runtime hands them out
from vaelint.source.cells import where
from vaelint.source.frames import display_path


class StepReady(BaseException):
    """The setup reached the step: ``fn`` runs it on a batch."""

    def __init__(self, fn, boundary: int, loader, values: dict | None = None):
        super().__init__("step ready")
        self.fn, self.boundary, self.loader = fn, boundary, loader
        self.values = values or {}  # the variables of the frame that reached the step (``args`` of ``train(args)``)


class Found(BaseException):
    """The setup reached the statement whose value was asked for."""

    def __init__(self, value):
        super().__init__("found")
        self.value = value


class StepLoss(BaseException):
    """The step reached its backward: ``value`` is what it backpropagates."""

    def __init__(self, value):
        super().__init__("step loss")
        self.value = value


SIGNALS = (StepReady, StepLoss, Found)


class PaddedBatch(list):
    """A batch read by index (``batch[0]``): an index past the inputs given reads a stand-in."""

    def __init__(self, items, stand_in):
        super().__init__(items)
        self._stand_in = stand_in

    def __getitem__(self, i):
        if isinstance(i, int) and not -len(self) <= i < len(self):
            return self._stand_in(i)
        return super().__getitem__(i)

    def __getattr__(self, name):
        """A batch of one tensor that the code uses as the tensor (``x.cuda()``, ``x.to(device)``,
        ``x.size(0)``): its index sat in a branch this run does not take (``if args.dataset ==
        'mnist': x = x[0]``), so the loader gives the tensor itself. Before: "'PaddedBatch' object
        has no attribute 'cuda'", said as the user's failure."""
        import torch

        if name.startswith("_") or len(self) != 1 or not isinstance(list.__getitem__(self, 0), torch.Tensor):
            raise AttributeError(name)
        return getattr(list.__getitem__(self, 0), name)


# --------------------------------------------------------------------------- the runtime


@dataclass
class Runtime:
    path: str  # the file the step is in
    failures: list = field(default_factory=list)  # (line, error text) of setup lines that failed
    data_objects: list = field(default_factory=list)  # data sets and loaders the setup stood in for
    kept_on_cpu: list = field(default_factory=list)  # "model.to(DEVICE)": moves to a CUDA this machine lacks
    # the program's notes, once it is built: a step's own move to CUDA is said there (``moved``)
    notes: list | None = None
    zipped: tuple = ()  # ``for pairs in zip(a, b)``: each loader's item count in the run's batch (-1: a tensor)
    # {(id(module namespace), name): value}: globals the step's callees move each call (global beta), at the batch
    globals_then: dict = field(default_factory=dict)

    StepLoss = StepLoss
    signals = SIGNALS

    # ---- the step's two exits
    def ready(self, fn, boundary: int, loader=None):
        import sys

        raise StepReady(fn, boundary, loader, dict(sys._getframe(1).f_locals))

    def loss(self, value):
        raise StepLoss(value)

    def found(self, value):
        raise Found(value)

    def not_reached(self, line: int):
        raise VaelintError(
            "trace",
            f"{display_path(self.path)}: the step ran to its end without reaching the backward at line "
            f"{line} (a condition on the way was false for these inputs or arguments). Check --script-args, "
            "or name the function to check with PATH.py:FUNCTION.",
        )

    # ---- the batch
    def batch(self, items: tuple, named: dict, names: tuple, use: BatchUse | None, line: int, zipped: bool = False):
        """Values for a data source's variables: a pattern (``use`` None:
        ``for x, y in loader``, ``for (x,) in loader``) takes the batch's items in
        order; a single name (``for batch in loader``) gets them as ``use`` says the
        step reads it; one name over ``zip(a, b)`` (``for pairs in zip(a, b): pairs[1][0]``)
        gets each loader's batch in turn."""
        if zipped and len(self.zipped) > 1 and use is not None and names[0] not in named:
            return self._pairs(items, names[0], line)
        if zipped and use is None and len(self.zipped) == len(names) > 1:
            # for (xa, ya), pb in zip(a, b): each loader's part fills its own pattern; a name takes the part whole
            parts = self._pairs(items, "batch", line)
            return tuple(
                tuple(part[k] for k in range(len(p))) if isinstance(p, tuple) and isinstance(part, PaddedBatch) else part
                for p, part in zip(names, parts)
            )
        if use is None:
            taken = itertools.count()

            def fill(pattern):  # nested patterns take the items in order: (x, y), (u, _)
                if isinstance(pattern, tuple):
                    return tuple(fill(p) for p in pattern)
                return self._item(items, named, pattern, next(taken), line)

            return fill(tuple(names))
        name = names[0]
        kind = use.kind if use else "tensor"
        keyed = _keyed_specs(named, name)  # --input batch.label=SPEC
        if kind == "keyed" and use.keys and not keyed:
            # --input rolls=SPEC for a step that reads sample["rolls"]: the key the code reads, named
            keyed = {k: named[k] for k in use.keys if k in named and not isinstance(named[k], dict)}
        if kind == "keyed" and use.keys and (items or keyed):
            # batch["image"], batch["label"]: the keys no --input names take the --input values
            # in the order the step reads them, as a pattern's names do
            # a key the step tests for first (``batch["t"] if "t" in batch else x``) is there only where an
            # --input is left for it: the data set's items need not have it
            rest = [k for k in use.keys if k not in keyed and k not in use.optional]
            rest += [k for k in use.keys if k not in keyed and k in use.optional][: max(0, len(items) - len(rest))]
            given = {k: self._item(items, {}, f"{name}[{k!r}]", i, line) for i, k in enumerate(rest)}
            # batch["img"][0]: the tensor given is the item the step takes out of the key's list
            given = {k: [v] if k in use.listed and not isinstance(v, StandIn) else v for k, v in given.items()}
            return {**given, **keyed}
        if name in named:
            return named[name]
        if kind == "unpacked":
            return tuple(self._item(items, named, f"{name}[{k}]", k, line) for k in range(use.arity))
        if kind == "indexed" and use.type_tested and len(items) == 1 and not named:
            # batch[0] if type(batch) is list else batch: one item given, the tensor a loader of single
            # tensors gives (vaelint's list wrapper failed the code's own type test: JohanYe/Beta-VAE)
            return items[0]
        if kind == "indexed":
            return PaddedBatch(items, lambda k: self._missing(f"{name}[{k}]", k, line))
        if kind == "keyed":
            key = use.key or (use.keys[0] if use.keys else None) or "image"
            raise VaelintError(
                "input",
                f"{display_path(self.path)}:{line}: the step reads {name}[{key!r}], a dict batch: give each key it "
                f"reads with --input {name}.KEY=SPEC (e.g. --input {name}.{key}=8x3x64x64).",
            )
        if not items:
            return self._missing(name, 0, line)
        return items[0]  # read as a tensor: the batch's first item, the data

    def _pairs(self, items, name: str, line: int) -> tuple:
        out, start = [], 0
        for k, count in enumerate(self.zipped):
            part = items[start : start + max(count, 1)]
            if count < 0:
                out.append(part[0] if part else self._missing(f"{name}[{k}]", start, line))
            else:
                out.append(PaddedBatch(part, lambda j, k=k, at=start: self._missing(f"{name}[{k}][{j}]", at + j, line)))
            start += max(count, 1)
        return tuple(out)

    def _item(self, items, named, name, k, line):
        if name in named:
            return named[name]
        return items[k] if k < len(items) else self._missing(name, k, line)

    def _missing(self, name: str, k: int, line: int) -> StandIn:
        nth = {0: "1st", 1: "2nd", 2: "3rd"}.get(k, f"{k + 1}th")
        base, _, key = name.partition("[")
        key = key.rstrip("]").strip("'\"")
        named = f"{base}.{key}" if key and not key.lstrip("-").isdigit() else base  # batch['label'] -> batch.label
        return StandIn(
            f"{name}, the {nth} item of the batch ({display_path(self.path)}:{line})",
            f"Give it a value with one more --input (in the batch's order) or --input {named}=SPEC, "
            "e.g. --input 8:int64:10 for class labels.",
        )

    def unused(self, name: str):
        return StandIn(f"the argument {name!r}, which vaelint does not pass (the step does not read it)")

    def no_value(self, name: str, function: str, called: bool = False):
        if called:  # the code calls it, and that call did not get there: vaelint called it itself
            return StandIn(
                f"the parameter {name!r} of {function} (vaelint called {function} itself: the code's own call of it was not reached)",
                f"Give {name} with --init {name}=VALUE, or check the script that calls {function} once what stopped it is fixed.",
            )
        return StandIn(
            f"the parameter {name!r} of {function} (nothing in the files beside it passes it)",
            f"Name the script that calls {function} as the target, or give {name} with --init {name}=VALUE "
            "(data: give one batch's shape with --input, and it stands in as rows of it).",
        )

    def snapshot(self, read, name: str):
        """The value a step variable has before the step starts (``step += 1`` reads it)."""
        try:
            return read()
        except NameError:
            return StandIn(f"{name} before the step sets it")

    # ---- the step's moves to the GPU
    def moved(self, obj, method: str, line: int, *args, **kwargs):
        """``x.cuda()`` / ``x.to(device)`` as the step writes them (vaelint/frontends/training/rewrite.py,
        ``DeviceMoves``): as written where CUDA is (a GPU machine, and VAE012's simulated GPU, where
        the move is what it checks); on a machine without CUDA a move there keeps the object where it
        is, on the CPU the check runs on, and the report says so."""
        real = getattr(obj, method)
        kept = _without_cuda(obj, real, method, args, kwargs)
        if kept is None:
            return real(*args, **kwargs)
        value, what = kept
        note = f"the step's {what} at {where(self.path, line)} left its tensor on the CPU: this machine has no {lacking([what])} (the check runs on the CPU)"
        if self.notes is not None and note not in self.notes:
            self.notes.append(note)
        return value

    # ---- the setup
    def failed(self, error: BaseException, name: str | None, line: int, read: tuple = (), scopes: tuple = (), path: str | None = None):
        """A setup line failed: remember it, and stand in for the name it binds. ``read``:
        the names the line reads, looked up in ``scopes`` (its locals, its globals); a
        placeholder among their values is the cause. ``path``: the line's file."""
        values = [next((s[n] for s in scopes if n in s), None) for n in read]
        error = star_cause(cause_among(error, values), scopes)
        text = getattr(error, "short", None) or (error.message if isinstance(error, VaelintError) else error_text(error))
        path = path or self.path
        text += _raised_deeper(error, path, line)
        self.failures.append((path, line, text))
        if name is None:
            return None
        return Unavailable(name, SETUP, path, line, error if isinstance(error, VaelintError) else text)

    def call(self, func, *args, **kwargs):
        """A call of the setup: data sets and loaders stand in, a failed import's
        name stands in; anything else runs."""
        from vaelint.frontends.training import datasets

        if isinstance(func, Unavailable):
            # a class whose definition failed (an annotation of a missing import's): its own reason
            name = object.__getattribute__(func, "_info")[0]
            return StandIn(f"what {name}(...) returns", func.explanation().message)
        if isinstance(func, MissingImport):
            name, module, path, line, error = object.__getattribute__(func, "_info")
            return StandIn(
                f"what {name}(...) returns ({module} could not be imported: {error})",
                f"{install_advice(module, error)}{also_missing_beside(module, path, error)}, or check the model with PATH:MODEL --init ... --loss PATH:LOSS.",
            )
        stood = datasets.stand_in(func, args, kwargs)
        if stood is not None:
            self.data_objects.append(stood)
            return stood
        kept = _kept_on_cpu(func, args, kwargs)
        if kept is not None:
            self.kept_on_cpu.append(kept[1])
            return kept[0]
        return func(*args, **kwargs)


def _kept_on_cpu(func, args, kwargs):
    """(the module or tensor itself, what was asked) for a setup's move to CUDA on a
    machine without one (``model = Model().to(torch.device("cuda"))`` in a notebook
    written for a GPU): the setup's objects stay on the CPU, where the check runs,
    instead of the setup failing; the report says so. None for any other call."""
    import torch

    if func is torch.device and args and isinstance(args[0], str) and accelerator_missing(args[0].split(":")[0]):
        # device = torch.device("cuda"), written for a GPU with no fallback: the step's
        # .to(device) would fail here. It stands for the CPU; VAE012's simulated GPU still
        # reads .to(device) as a move to the GPU
        return torch.device("cpu"), f"torch.device({args[0]!r})"
    owner, name = getattr(func, "__self__", None), getattr(func, "__name__", "")
    if name not in ("to", "cuda") or not isinstance(owner, (torch.nn.Module, torch.Tensor)):
        return None
    kept = _without_cuda(owner, func, name, args, kwargs)
    return None if kept is None else (kept[0], f"{type(owner).__name__}{kept[1]}")


def _without_cuda(owner, func, name: str, args, kwargs):
    """(what stays, ``.cuda()`` or ``.to('cuda')``) for ``owner.cuda()`` or a ``.to(...)`` that
    names CUDA, on a machine without it: the owner itself, or only the rest of the move
    (``.to(device, dtype)``: the dtype still applies). None for a move that does not name CUDA."""
    import torch

    if name == "cuda":
        return None if torch.cuda.is_available() else (owner, ".cuda()")
    target = given = kwargs.get("device", args[0] if args else None)
    if isinstance(target, int) and not isinstance(target, bool):
        # .to(gpu_ids[0]): a device ordinal is the accelerator's, CUDA's; .to(mu.get_device()) of a
        # tensor kept on the CPU here (-1) is the GPU it was placed on: the first (rasbt's notebooks)
        target = f"cuda:{max(target, 0)}"
    try:
        if not isinstance(target, (str, torch.device)) or not accelerator_missing(torch.device(target).type):
            return None
    except (RuntimeError, TypeError):  # .to("float16") and the like: a string that names no device
        return None
    rest = args[1:] if args and args[0] is given else args
    others = {k: v for k, v in kwargs.items() if k != "device"}
    return (func(*rest, **others) if rest or others else owner), f".to({str(target)!r})"


def lacking(moves) -> str:
    """What the machine lacks for the moves said: CUDA, unless none of them names it (``.to('mps')``)."""
    said = " ".join(str(m) for m in moves).lower()
    return "CUDA" if "cuda" in said or "mps" not in said and "xpu" not in said else "such accelerator"


def accelerator_missing(kind: str) -> bool:
    """An accelerator the code moves to that this machine lacks: CUDA, Apple silicon's mps (a model
    written on a Mac: ``torch.device("mps")``), Intel's xpu; kept on the CPU as CUDA's is."""
    import torch

    if kind == "cuda":
        return not torch.cuda.is_available()
    if kind == "mps":
        return not torch.backends.mps.is_available()
    if kind == "xpu":
        return not (hasattr(torch, "xpu") and torch.xpu.is_available())
    return False


def signature_params(fn) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def _keyed_specs(named: dict, name: str) -> dict:
    """The tensors ``--input NAME.KEY=SPEC`` gives under the keys of the dict batch ``name``; the
    batch's own dict under whatever name the specs use where they use one name only (the keys of
    the batch vaelint read off a run are ``batch.KEY``, whatever the loop calls it)."""
    if isinstance(named.get(name), dict):
        return named[name]
    dicts = [v for v in named.values() if isinstance(v, dict)]
    return dicts[0] if len(dicts) == 1 and len(named) == 1 else {}


def _raised_deeper(error: BaseException, path: str, line: int) -> str:
    """Where in the user's code a failing setup line's error was raised, when that is another line
    (a helper in another module: the fix goes there, not at the line calling it)."""
    import os

    from vaelint.source.frames import user_frame_of_traceback

    if isinstance(error, VaelintError):
        return ""
    loc = user_frame_of_traceback(error.__traceback__)
    if loc is None or (os.path.realpath(loc.path) == os.path.realpath(path) and loc.line == line):
        return ""
    return f" (raised at {loc.where()})"
