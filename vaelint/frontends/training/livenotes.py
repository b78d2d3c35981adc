"""What the report says of a run of training code (:mod:`.liveprogram`): the backwards it passed
over before the VAE's, the moves to CUDA kept on the CPU, and whether the code names a device."""

from __future__ import annotations

import ast
import linecache
import os
import re

from vaelint.errors import VaelintError
from vaelint.frontends.training.runtime import lacking
from vaelint.source.files import read_source
from vaelint.source.frames import display_path

_IMPORT = re.compile(r"\s*(from\s+[\w.]+\s+)?import\b")


def passed_over(watch, split: list[str] = ()) -> list[str]:
    """The note for the backwards the run passed over before the VAE's (a classifier or a
    pretraining phase trained first, a discriminator's step): where, and that nothing trained.
    One that backpropagates part of the VAE's own loss (``split``, :func:`split_backwards`) is said so."""
    from vaelint.source.cells import where

    places: dict = {False: [], True: []}  # by whether its optimiser said it is another network's
    for c in watch.passed:
        if c.frames and where(c.frames[-1][0].f_code.co_filename, c.frames[-1][1][0]) in split:
            continue
        if c.frames:
            frame, (line, _col), _values = c.frames[-1]
            place = where(frame.f_code.co_filename, line)
            if place not in places[bool(c.stepper)]:
                places[bool(c.stepper)].append(place)
    why = {
        False: "its loss reaches no random sample (another network's, a pretraining phase's)",
        True: "the optimiser stepped right after it trains none of the encoder, or the encoder's optimiser clears "
        "what it gave the encoder before the encoder's own backward (another network's, a VAE-GAN's discriminator or "
        "decoder step)",
    }
    said = [
        f"running it passed over the backward{'s' * (len(at) > 1)} at {', '.join(at[:3])} before the VAE's: "
        f"{why[stepper]}; no gradient was computed for it and no optimiser stepped"
        for stepper, at in places.items()
        if at
    ]
    if split:
        said.append(
            f"the backward{'s' * (len(split) > 1)} at {', '.join(split[:3])} backpropagate{'s' * (len(split) == 1)} part of the VAE's "
            "loss (its loss reaches the VAE's parameters, in the same step and optimiser step): the run passed over it, "
            "and the backward read is the VAE's loss in part"
        )
    return said


def moves(runtime, watch) -> list[str]:
    """The moves to CUDA the run kept on the CPU, said as the rest of the training front end
    says them: the setup's at once, the step's each with its line."""
    from vaelint.frontends.training.program import step_move_note

    moves = list(dict.fromkeys(getattr(watch, "moves", [])))
    setup = list(dict.fromkeys(what for phase, what, _p, _l in moves if phase == "setup"))
    notes = (
        [f"the setup's {', '.join(setup[:3])} stayed on the CPU: this machine has no {lacking(setup)} (the check runs on the CPU)"]
        if setup
        else []
    )
    notes += [step_move_note(what, path, line) for phase, what, path, line in moves if phase == "step"]
    return list(dict.fromkeys(notes))


_DEVICE_WORDS = ("cuda", "device", "Fabric", "Accelerator", "accelerate", "set_default_device", "xla", "mps")


def mentions_a_device(program, home, step_paths=()) -> bool:
    """Do the files of the step (``step_paths``, else the run's step), the script, the model's
    classes and the user's modules the run imported place a tensor on a device (``.cuda()``,
    ``.to(...)``, ``device=``) or use a library that does? A device only chosen (``device =
    torch.device("cuda" if ... else "cpu")``) and never used places nothing: a GPU machine runs
    that code on the CPU too (a false VAE012 [confirmed] before)."""
    return any(_places(text) for text in _code_texts(program, home, step_paths))


def names_no_accelerator(program, home, step_paths=()) -> bool:
    """Do the same files name no accelerator at all (no cuda, mps, xpu, gpu, a placing library)?
    Then every device they place tensors on is the CPU (``device = "cpu"; x.to(device)``): the code
    runs on the CPU on any machine (a false VAE012 [confirmed] on a simulated GPU before, helper Z)."""
    texts = [_without_comments(text) for text in _code_texts(program, home, step_paths)]
    return not any(_ACCELERATOR.search(text) or _DEVICE_GIVEN.search(text) for text in texts)


# any word of one (use_gpu, n_gpu, CUDA_VISIBLE_DEVICES, cuda:0 in a docstring: the check stays)
_ACCELERATOR = re.compile(
    r"(cuda|gpu|mps|xpu|xla|tpu|hpu|accelerat|Fabric|device_count|set_default_device|DataParallel|DistributedDataParallel)", re.IGNORECASE
)
# a device the user gives (--device, a config's device): "cpu" is its default, not the only one
_DEVICE_GIVEN = re.compile(
    r"""add_argument\s*\([^)]*device|\[\s*["']device["']\s*\]|\b(args|opt|opts|cfg|config|conf|hparams|params|FLAGS)\s*\.\s*device\b"""
)


def _code_texts(program, home, step_paths=()):
    """The sources of the step's files, the script, the model's classes and the user's modules the
    run imported."""
    import inspect

    from vaelint.frontends.training.repofiles import project_imports
    from vaelint.source.frames import is_user_file

    paths = {home.path, *step_paths} | ({program.live_step.scope.path} if getattr(program, "live_step", None) else set())
    paths.update(project_imports(home.path))  # the project's modules it imports (a helper that moves what it makes)
    for module in program.model.modules():
        for cls in type(module).__mro__:
            try:
                path = inspect.getsourcefile(cls) if cls.__module__ != "__main__" else None
            except (TypeError, OSError):
                path = None
            path = path or next((f.__code__.co_filename for f in vars(cls).values() if inspect.isfunction(f)), None)
            if path and is_user_file(path):
                paths.add(path)
    for path in paths:
        try:
            yield read_source(path)  # a notebook's code cells: never its outputs (an image's base64 has "mps" in it)
        except OSError:
            continue


_DEVICE_NAMED = re.compile(r"\b(" + "|".join(_DEVICE_WORDS) + r")\b")
_PLACING_LIBRARIES = re.compile(r"\b(Fabric|Accelerator|accelerate|set_default_device|xla|mps|DataParallel|DistributedDataParallel)\b")


def _places(text: str) -> bool:
    """Does the code place something on a device: a call of ``.cuda()``/``.to()``/``.type()``,
    a ``device=`` (or ``map_location=``) argument, a ``torch.cuda`` tensor type, or a library that
    places tensors? Code that does not parse: whether it names a device at all, as before."""
    import ast

    code = _without_comments(text)
    if _PLACING_LIBRARIES.search(code):
        return True
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return bool(_DEVICE_NAMED.search(code))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            # (not .cpu(): a move to the CPU, for plotting or saving, places nothing on another device)
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("cuda", "to", "type"):
                return True
            if any(k.arg in ("device", "map_location") for k in node.keywords):
                return True
        elif isinstance(node, ast.Attribute) and node.attr.endswith("Tensor") and "cuda" in ast.unparse(node.value):
            return True
    return False


def _without_comments(text: str) -> str:
    """The code less its comments: a word of it is code or a string it uses (``device="cuda"``),
    never a word inside another (``json.dumps``)."""
    import io
    import tokenize

    try:
        return " ".join(t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type != tokenize.COMMENT)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text


def split_backwards(watch, capture) -> list[str]:
    """Where the run passed over a backward in the VAE's own step (the same batch) whose loss
    reaches parameters the VAE's loss reaches, its optimiser not another network's: its gradients
    add to the VAE's before the step (``kl.backward(retain_graph=True)`` then ``rec.backward()``),
    so the loss is backpropagated in parts and the one backward read is not the whole loss (a part
    reaches the encoder's parameters, where they can be told); and the backward that follows the
    VAE's own before any optimiser steps (``rec.backward(retain_graph=True); kl.backward()``). Only
    where another backward follows it before any optimiser steps or clears gradients (a
    discriminator's ``d_loss.backward(); opt_d.step()`` on the decoder's prior samples is not)."""
    from vaelint.frontends.training.live import storage_of
    from vaelint.frontends.training.liveinner import parameters_reached
    from vaelint.frontends.training.livestepper import backward_follows, encoder_parameters, following_backward
    from vaelint.source.cells import where

    if capture is None or capture.taken is None:
        return []
    # the encoder's parameters where they can be told (a VAE-GAN's discriminator, which the VAE's
    # loss reaches through its adversarial term, is no part of it: ``d_real.backward()`` on real data)
    vae = encoder_parameters(capture.loss, lambda t: storage_of(t) in watch.noise_ptrs) or parameters_reached([capture.loss])
    places = []
    for c in watch.passed:
        if c.taken is capture.taken and not c.stepper and c.frames and backward_follows(c) and parameters_reached([c.loss]) & vae:
            frame, (line, _col), _values = c.frames[-1]
            place = where(frame.f_code.co_filename, line)
            if place not in places:
                places.append(place)
    later = following_backward(capture) if capture.frames and _retains_its_graph(capture) else None
    if later is not None:  # rec.backward(retain_graph=True); kl.backward(): the part after the one read
        places.append(where(capture.frames[-1][0].f_code.co_filename, later))
    return places


def _retains_its_graph(capture) -> bool:
    """Is the VAE's own backward written ``retain_graph=True``: the graph kept for a later backward through
    it (``kl.backward()`` after it)? A critic's loss on the detached reconstruction needs no such graph."""
    frame, (line, _col), _values = capture.frames[-1]
    text = linecache.getline(frame.f_code.co_filename, line)
    return re.search(r"retain_graph\s*=\s*True", text) is not None


def imported_step(capture) -> tuple[str, str] | None:
    """(where the backward is, the statement importing its module) for a backward run at the top
    level of a module the program imports (a notebook-style file that trains when imported, no main
    guard): the top level of a module run from another user frame's import statement. None otherwise."""
    from vaelint.source.cells import where

    frames = capture.frames or []
    for k in range(len(frames) - 1, 0, -1):
        frame, (line, _col), _values = frames[k]
        outer, (at, _c), _v = frames[k - 1]
        if frame.f_code.co_name == "<module>" and _IMPORT.match(linecache.getline(outer.f_code.co_filename, at)):
            last, (end, _c2), _v2 = frames[-1]
            return where(last.f_code.co_filename, end), where(outer.f_code.co_filename, at)
    return None


def outside(ref, capture, imported) -> VaelintError:
    """The run's first VAE backward is not in the named function: where it is, and what to do."""
    if imported is not None:
        return VaelintError(
            "load",
            f"{ref.spec}: importing a module trains a VAE before {ref.name} runs (the backward at {imported[0]}, "
            f"reached from the import at {imported[1]}), and vaelint stops at a program's first VAE backward. "
            f'Put that module\'s training under `if __name__ == "__main__":`, or check the model alone '
            "(`vaelint check FILE.py:ModelClass --input SPEC`).",
        )
    return VaelintError(
        "load",
        f"{ref.spec}: running it reached a backward outside {ref.name} "
        f"({display_path(capture.frames[-1][0].f_code.co_filename)}:{capture.frames[-1][1][0]}): name that "
        "function, or the script, as the target.",
    )


def reaches(capture, name: str) -> bool:
    """Is a frame of the named function on the way to the backward?"""
    last = name.split(".")[-1]
    return any(frame.f_code.co_name == last for frame, _line, _values in capture.frames)


_BACKWARDS = ("backward", "manual_backward")


def later_loops(home, capture) -> list[str]:
    """The note for the training loops of the checked file that come after the step's own loop (a
    notebook's second model trained in a later cell, a fine-tuning phase): the run stops at its first
    VAE backward and takes no second batch, so those loops were never run nor checked. Said with
    where, so a check that passes is not read as theirs."""
    from vaelint.frontends.training.livestep import scope_of
    from vaelint.source.astutil import walk_statements
    from vaelint.source.cells import where

    if not capture.frames or home is None or not getattr(home, "scopes", None):
        return []
    frame, (line, _col), _values = capture.frames[-1]
    if os.path.realpath(frame.f_code.co_filename) != os.path.realpath(home.path):
        return []
    # the loops of the scope that holds the step (a function's body, or the module's: a notebook's
    # cells), not those of a function it calls (a probe run on every batch) or defines
    scope = scope_of(home, frame)
    if scope is None:
        return []
    loops = [s for s in walk_statements(scope.node.body) if isinstance(s, (ast.For, ast.While, ast.AsyncFor))]
    own = [s for s in loops if s.lineno <= line <= (s.end_lineno or s.lineno)]
    after = max((s.end_lineno or s.lineno for s in own), default=line)
    later = sorted(
        {
            n.lineno
            for s in loops
            if s.lineno > after
            for n in ast.walk(s)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _BACKWARDS
        }
        | set(_later_trainings(home, capture))
    )
    if not later:
        return []
    places = ", ".join(where(home.path, n) for n in later[:3]) + (f" and {len(later) - 3} more" if len(later) > 3 else "")
    return [
        f"not checked: the training loop{'s' * (len(later) > 1)} with the backward{'s' * (len(later) > 1)} at {places}, after "
        "the step checked: the run stops at its first VAE backward and takes no second batch, so later loops never run. "
        "Check each in a function of its own (`vaelint check FILE:FUNCTION`), or in a file of its own"
    ]


def _later_trainings(home, capture) -> list[int]:
    """The lines of the checked file's top level, after the statement the step was reached from,
    that call a function of the file holding a backward (a notebook's second model trained by a
    ``train()`` defined again in a later cell): they never run either."""
    from vaelint.source.astutil import walk_statements

    path = os.path.realpath(home.path)
    tops = [(f, at[0]) for f, at, _v in capture.frames if f.f_code.co_name == "<module>" and os.path.realpath(f.f_code.co_filename) == path]
    module = home.scopes.get("") if tops else None
    if module is None:
        return []
    line = tops[-1][1]
    body = module.node.body
    after = next((s.end_lineno or s.lineno for s in body if s.lineno <= line <= (s.end_lineno or s.lineno)), line)
    trains = {
        d.name
        for d in ast.walk(module.node)
        if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _BACKWARDS for n in ast.walk(d))
    }
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    defined = [(d.lineno, d.end_lineno or d.lineno) for d in body if isinstance(d, kinds)]  # bodies that run only when called
    runs = [s for s in walk_statements(body) if s.lineno > after and not any(a <= s.lineno <= b for a, b in defined)]
    return [
        n.lineno
        for s in runs
        for n in ast.iter_child_nodes(s)
        for n in ast.walk(n)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in trains
    ]


def stopped_after(runtime, watch) -> list[str]:
    """The run's own stop after the backward passed over (a crash in a helper before the VAE's method
    is called): said, as nothing after it ran. Before, the report was silent about it and exited 0 on a
    classifier's step (helper-found)."""
    from vaelint.frontends.training.liveafterpass import stopped_later_in_its_loop

    if not runtime.stops or runtime.stopped_here or stopped_later_in_its_loop(runtime, watch):
        return []  # vaelint's stop, or one later in the step's own loop
    where, error = runtime.stops[0]
    codes = {site[0] for site in getattr(watch, "sites", ()) if site}
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        if watch.rounds and tb.tb_frame.f_code in codes:
            return []  # in the function whose loop vaelint ended (an epoch's mean over no losses): vaelint's
        tb = tb.tb_next
    text = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    at = f" at {where}" if where else ""
    return [
        f"running the code as written stopped after this step{at} ({type(error).__name__}: {text}): nothing after "
        "that line ran, so a VAE step it would have reached was not checked; fix that line, or name the step to check (PATH.py:FUNCTION)"
    ]
