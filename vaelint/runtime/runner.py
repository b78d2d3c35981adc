"""Running the targets a command line names: which they are (configured, or found in the files
given), each answered from the result cache or checked in its worker, several side by side, its
fixes checked again, suppressions applied; and ``--diff``/``--fix``'s rounds. The command line
(vaelint/cli.py) only reads options and writes reports.

Imports no torch until a target misses the cache, nor then when it is the only one: the worker
started with the process takes the first (vaelint/runtime/spare.py)."""

from __future__ import annotations

import os

from vaelint.errors import VaelintError
from vaelint.vocab import Severity

untargeted: list[str] = []  # files with a training step but no input shape (said on stderr)


def resolve_jobs(targets: list[str], settings, have_inputs: bool = False, inputs_text: str = "", as_script: bool = False) -> list:
    """(target spec, its configuration or None, the configuration governing it) per target.
    ``inputs_text``: the --input options as given, for the messages. Fills ``untargeted``
    anew with what this command line's files say beside their targets."""
    untargeted.clear()
    if not targets:
        config = settings.base()
        if not config.targets:
            where = config.path or "no pyproject.toml was found"
            raise VaelintError(
                "input",
                f"no target given and no [[tool.vaelint.targets]] configured ({where}): name one as "
                "PATH.py:NAME, e.g. vaelint check models/vae.py:VAE --input 32x784",
            )
        return [(t.target, t, config) for t in config.targets]
    jobs, unconfigured = [], []
    for t in targets:
        from vaelint.frontends.base import parse_ref

        ref = parse_ref(t)
        t, ref = _import_path(t, ref)
        if ref.name and ref.path.endswith((".py", ".ipynb")):
            config = settings.for_file(ref.path)
            jobs.append((t, config.target_named(t), config))
        elif t.endswith((".py", ".ipynb")):
            config = settings.for_file(t)
            jobs += [(c.target, c, config) for c in _file_targets(t, config, have_inputs, unconfigured, inputs_text, as_script)]
        else:
            raise _not_a_target(t, targets)
    if unconfigured:
        untargeted.append(
            f"{len(unconfigured)} file{'s' * (len(unconfigured) != 1)} define{'s' * (len(unconfigured) == 1)} a model "
            f"with no target configured, not checked: {'; '.join(unconfigured)} (add each to [[tool.vaelint.targets]] "
            "with its input, or annotate its forward's input with a jaxtyping shape)"
        )
    return jobs


def _file_targets(t: str, config, have_inputs: bool, unconfigured: list, inputs_text: str, as_script: bool) -> list:
    """File mode (pre-commit passes every changed file): the file's configured targets, else the
    models whose forward annotates its input shape, else its training step (when its input is
    known), and nothing for a file that has none of these (said, or refused, by _no_target_in)."""
    if not os.path.exists(t):
        from vaelint.source.files import missing_file

        raise VaelintError("input", f"{t}: {missing_file(t)}")
    _parses(t)
    configured = config.targets_in(t)
    if not configured and t.endswith(".py"):
        from vaelint.frontends.discover import annotated_targets

        configured = annotated_targets(t)
    from vaelint.fileclues import not_pytorch

    other = not_pytorch(t)
    if not configured and t.endswith((".py", ".ipynb")) and other:
        # TensorFlow's training, its own or its module's: said before anything runs (not "install tensorflow")
        _no_target_in(t, have_inputs, unconfigured, inputs_text, as_script)
        return []
    if not configured:
        from vaelint.frontends.discover import training_target

        found, note = training_target(t, have_inputs)
        configured = [found] if found else []
        if note:
            untargeted.append(note)
    if not configured:
        _no_target_in(t, have_inputs, unconfigured, inputs_text, as_script)
    return configured


def _not_a_target(t: str, targets: list[str]) -> VaelintError:
    if t.startswith("-"):  # `vaelint check train.py -- --epochs 1`: the script's own options
        return VaelintError(
            "input",
            f"{t!r} is not a target: the script's own arguments go in one option, "
            f'--script-args "{" ".join(targets[targets.index(t) :])}" '
            '(vaelint check train.py --script-args "--epochs 1 --lr 1e-3").',
        )
    module = t.replace(".", os.sep) + ".py"
    found = next(
        (p for p in (module, os.path.join("src", module)) if all(w.isidentifier() for w in t.split(".")) and os.path.isfile(p)), None
    )
    if found:  # `python -m vaepkg.train`'s form: the file it runs
        return VaelintError("input", f"{t!r} is not a target: name its file, `vaelint check {found}` (the file `python -m {t}` runs).")
    return VaelintError("input", f"{t!r} is not a target: write PATH.py:NAME or PATH.py.")


def _import_path(t: str, ref):
    """``pkg.module:Class`` (an import path, as uvicorn and pytest take them): the module's
    file in its installed package (vaelint/frontends/load.py imports it whole)."""
    from vaelint.frontends.base import parse_ref
    from vaelint.frontends.installed import module_file

    module, sep, name = t.rpartition(":")
    if ref.name or not sep or not name.isidentifier() or "/" in module or os.sep in module or module.endswith((".py", ".ipynb")):
        return t, ref
    path = module_file(module)
    if path is None:
        raise VaelintError(
            "input",
            f"{t!r}: no module {module!r} is installed here, and it is not a file: write PATH.py:NAME, or "
            "the import path of an installed module (diffusers.models:AutoencoderKL).",
        )
    return f"{path}:{name}", parse_ref(f"{path}:{name}")


def _training_not_run_here(path: str, models: list, backward: str) -> str:
    """Why a file trains with code vaelint cannot run here: TensorFlow's own API, or a training
    call into a module that is not installed (a two-line driver of a library); "" otherwise."""
    from vaelint.fileclues import (
        numpy_vae,
        other_framework,
        tensorflow_file,
        tensorflow_training,
        trains_through_an_absent_module,
        trains_through_another_framework,
    )

    other = other_framework(path) or numpy_vae(path) if path.endswith((".py", ".ipynb")) else ""
    if other:
        return f"{path} is written for {other}: vaelint checks PyTorch code (and Keras 3 models, run on its torch backend), so nothing in it was checked"
    tape = tensorflow_training(path) if path.endswith((".py", ".ipynb")) else ""
    if tape and path.endswith(".ipynb"):  # a notebook's place as its cell and line
        import re

        from vaelint.source.cells import where

        tape = re.sub(r"at line (\d+)", lambda m: f"at {where(path, int(m.group(1)))}", tape)
    if tape:
        return (
            f"{path} trains with TensorFlow ({tape}): vaelint checks PyTorch code (and Keras 3 models, run on "
            "its torch backend), so nothing in it was checked"
        )
    keras = tensorflow_file(path) if path.endswith((".py", ".ipynb")) else ""
    if keras:  # a tf.keras model with no training of its own
        return f"{path} is TensorFlow code ({keras}): vaelint checks PyTorch code (and Keras 3 models, run on its torch backend), so nothing in it was checked"
    through = trains_through_another_framework(path) if path.endswith(".py") and not models and not backward else ""
    if through:  # a thin driver of the project's TensorFlow (or other framework's) training
        return f"{path} trains through {through}: vaelint checks PyTorch code (and Keras 3 models), so nothing in it was checked"
    absent = trains_through_an_absent_module(path) if path.endswith(".py") and not models and not backward else ""
    if absent:
        return (
            f"{path} trains through {absent}, which is not installed here (it could not be imported), so nothing "
            "it trains was checked: install it, or run the check from the folder it imports from"
        )
    return ""


def _no_target_in(path: str, have_inputs: bool, unconfigured: list[str], inputs_text: str = "", as_script: bool = False) -> None:
    """A file that yields no target. Named on the command line, a file that defines or builds a model (or is
    given an ``--input``) is a usage error naming what to write: it is never passed over as clean. Passed
    by pre-commit (which hands every changed file, utilities too), a model file is listed in one note and
    the rest stay quiet."""
    from vaelint.fileclues import backward_in, refuse_built_not_trained
    from vaelint.frontends.discover import models_defined

    models = models_defined(path) if path.endswith(".py") else []
    backward = backward_in(path) if path.endswith(".py") and not models else ""
    said = _training_not_run_here(path, models, backward)
    if said:
        if os.environ.get("PRE_COMMIT"):
            untargeted.append(said)
            return
        raise VaelintError("input", said + ".")
    if os.environ.get("PRE_COMMIT") and not have_inputs:
        if models:
            unconfigured.append(f"{path} ({', '.join(models)})")
        elif backward:
            untargeted.append(
                f"{path} holds training code (the backward at {backward}) that no script among these files runs: "
                "not checked (check the script that calls it, or configure it in [[tool.vaelint.targets]])"
            )
        return
    if backward:
        # training code that no script of its own runs (a library of train functions, a step
        # behind an entry point vaelint does not know, a trainer class's train()): never passed over as
        # clean, with or without --input (which then goes to the function named)
        fn = _function_at(path, backward)
        script = "" if os.path.basename(path) == "train.py" else " (`vaelint check train.py`)"
        raise VaelintError(
            "input",
            f"{path} holds training code (the backward at {backward}) that vaelint found no way to run, so nothing "
            f"in it was checked: check the script that calls it{script}, or name the function that trains with the "
            f"model's input: `vaelint check {path}:{fn or 'FUNCTION'} {inputs_text or '--input SHAPE'}`.",
        )
    if not models and not have_inputs:
        refuse_built_not_trained(path)  # a script that builds the project's model and trains none
        if as_script and not os.environ.get("PRE_COMMIT"):
            # --script-args: the user runs it as a script that trains; finding nothing is no clean pass
            raise VaelintError(
                "input",
                f"{path} was given --script-args, but vaelint found no training step in it nor in the files it "
                "imports that resolve from here (a script run from its own folder that imports `from src.utils ...`, "
                "say): run the check from the folder the script's imports resolve from (the repository's top, as "
                "PYTHONPATH=.. does), or name the function that trains as PATH.py:NAME.",
            )
        return
    if not models:
        raise VaelintError(
            "input",
            f"{path} defines no nn.Module and has no training step, so --input has nothing to go to: name the "
            "model as PATH.py:NAME (`vaelint check models/vae.py:VAE --input 32x784`), or the training script.",
        )
    names = f"the model{'s' * (len(models) != 1)} {', '.join(models)}"
    example = f"vaelint check {path}:{models[0]} " + (inputs_text or "--input SHAPE")
    from vaelint.frontends.training.uncalled import trainers_said

    said = trainers_said(path) or f": name the model as PATH.py:NAME (`{example}`), or configure it in [[tool.vaelint.targets]]"
    raise VaelintError("input", f"{path} defines {names} but names no target, so nothing in it was checked{said}.")


def _function_at(path: str, where: str) -> str | None:
    """The function (``Class.method``) whose body holds ``where`` (``train.py:42``), read without running it."""
    import ast

    from vaelint.source.files import read_source

    try:
        line = int(where.rsplit(":", 1)[1])
        tree = ast.parse(read_source(path))
    except (ValueError, IndexError, OSError, SyntaxError):
        return None
    found = None

    def visit(node, prefix: str) -> None:
        nonlocal found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child.lineno <= line <= (child.end_lineno or 0):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found = name
                visit(child, f"{name}.")

    visit(tree, "")
    return found


def _parses(path: str) -> None:
    """A file named for checking that is not Python cannot be passed over as holding no
    model: exit 2 with where it stops parsing (as ruff's E999)."""
    import ast

    from vaelint.source.files import newer_python, read_source, undecodable

    try:
        undecodable(path)
        ast.parse(read_source(path), filename=path)
    except SyntaxError as e:
        from vaelint.source.cells import cell_of

        # a notebook's line is its cell's (the cells are read joined): nb.ipynb:cell 10:33:9
        cell = cell_of(os.path.realpath(path), e.lineno or 1) if path.endswith(".ipynb") else None
        at = f"{path}:cell {cell[0]}:{cell[1]}" if cell else f"{path}:{e.lineno or 1}"
        compile_ = (
            "`python -m py_compile FILE` shows the same" if cell is None else "`python -m py_compile` shows the same for the cell's code"
        )
        newer = newer_python(path, e.msg)
        said = newer if newer else f"vaelint checks only code Python can run ({compile_})"
        raise VaelintError("input", f"{at}:{(e.offset or 1)}: the file does not parse: {e.msg}; {said}.") from None
    except (OSError, ValueError) as e:
        raise VaelintError("input", f"{path}: the file cannot be read: {e}") from None


def shown_target(spec: str) -> str:
    """A configured target (absolute) as the user sees it: relative to the current directory."""
    from vaelint.frontends.base import parse_ref
    from vaelint.source.frames import display_path

    ref = parse_ref(spec)
    return f"{display_path(ref.path)}:{ref.name}" if ref.name else display_path(ref.path)


def check_jobs(jobs, options_for, settings, fresh: bool, shown=None, use_cache: bool = False, parallel: int = 1) -> tuple[list, list]:
    """Each target answered from the result cache or checked in its worker (its
    fixes checked again; ``parallel`` workers side by side), suppressions applied:
    (results in the targets' order, the findings at or above fail-on). ``shown``: a
    progress line. Nothing imports torch until a target misses."""
    from vaelint.cache import store as result_cache
    from vaelint.settings.suppress import apply

    use_cache = use_cache and not result_cache.disabled()
    planned = []  # (spec, config, options, its cache or None, the cached result or None)
    for spec, tc, config in jobs:
        options = options_for(tc, config)
        store = result_cache.Cache(result_cache.folder_for(config.root)) if use_cache and not options.sources else None
        planned.append((spec, config, options, store, store.get(shown_target(spec), options) if store is not None else None))
    todo = [i for i, entry in enumerate(planned, 1) if entry[4] is None]  # the targets the cache missed
    # one worker at a time: the first target goes to the worker started with the
    # process (vaelint/runtime/spare.py) now, and runs while this process imports torch for
    # the rest. Side by side, it is let go: its run beside the parent's import made 4
    # targets at --jobs 2 slower (1.77 s against 1.68 s), not faster.
    one_at_a_time = parallel <= 1 or len(todo) == 1
    handed = bool(todo) and fresh and one_at_a_time and _hand_first(planned[todo[0] - 1])
    if len(todo) > int(handed):  # the parent's one-time imports and warm-up, for the targets it forks
        from vaelint.runtime import spare

        spare.discard(handed=False)  # a waiting one: it would only compete with this import
        from vaelint.frontends.load import split_target
        from vaelint.runtime.worker import prepare

        prepare(len(todo), [split_target(planned[i - 1][0])[0] for i in todo], fresh=fresh)

    def run(i: int):
        spec, _config, options, store, _cached = planned[i - 1]
        if shown is not None:
            shown.begin(i, shown_target(spec))
        result = run_and_verify(shown_target(spec), options, fresh, shown, i)
        if store is not None and not store.put(shown_target(spec), options, result) and store.problem:
            result.notes.append(store.problem)  # checked all the same; said once, on this target
        return result

    ran = side_by_side(run, todo, parallel)
    results, failing = [], []
    for i, (_spec, config, _options, _store, result) in enumerate(planned, 1):
        result = ran.get(i, result)
        result.findings, result.suppressed = apply(result.findings, config.per_file_ignores, config.root)
        results.append(result)
        severities = {Severity.ERROR} if settings.fail_on(config) == Severity.ERROR else set(Severity)
        failing += [f for f in result.findings if f.severity in severities]
    return results, failing


def _hand_first(entry) -> bool:
    from vaelint.runtime import spare

    spec, _config, options, _store, _cached = entry
    return spare.hand(shown_target(spec), options, None)  # alone, it has every core


def side_by_side(run, todo: list[int], parallel: int) -> dict:
    """index -> run(index), ``parallel`` at a time (each in a thread that forks its
    worker and waits on it: vaelint/runtime/concurrency.py)."""
    if parallel <= 1 or len(todo) <= 1:
        return {i: run(i) for i in todo}
    from concurrent.futures import ThreadPoolExecutor

    from vaelint.runtime import worker
    from vaelint.runtime.concurrency import threads_per_worker

    worker.THREADS_PER_WORKER = threads_per_worker(min(parallel, len(todo)))
    try:
        with ThreadPoolExecutor(min(parallel, len(todo))) as pool:
            return dict(zip(todo, pool.map(run, todo)))
    finally:
        worker.THREADS_PER_WORKER = None


def run_and_verify(target: str, options, fresh: bool, shown, index: int):
    """One target in its worker, then its fixes checked again (vaelint/fixes/verify.py)."""
    from vaelint.fixes.verify import verify
    from vaelint.runtime.worker import run_target

    result = run_target(target, options, fresh=fresh, listener=shown)
    if options.fixes and options.verify_fixes and any(f.autofix is not None for f in result.findings):
        if shown is not None:
            shown.begin(index, target, "checking its fixes again")
        verify(target, options, result, lambda t, again: run_target(t, again, fresh=fresh, listener=shown))
    return result


def fix_rounds(results, failing, jobs, options_for, settings, fresh, shown, unsafe: bool, parallel: int):
    """``--diff``/``--fix``: round after round in memory, each round's verified fixes
    applied, then the targets checked on the edited text (what remains, and the
    fixes a crash hid before). (results, failing, the edited sources, findings
    fixed, the last round's plan)."""
    from vaelint.fixes import apply as fixes

    sources, count, last = {}, 0, None
    for _round in range(fixes.MAX_ROUNDS):
        last = fixes.plan(results, unsafe, sources)
        if not last.fixes:
            break
        sources, count = last.sources, count + last.findings
        edited = dict(sources)
        results, failing = check_jobs(
            jobs, lambda tc, config, edited=edited: options_for(tc, config, edited), settings, fresh, shown, parallel=parallel
        )
        if shown is not None:
            shown.close()
    return results, failing, sources, count, last
