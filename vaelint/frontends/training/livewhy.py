"""What a training run that reached no VAE backward says (:mod:`.liverun`): what ran, where it
stopped, and what to give; vaelint's own part in a stop (a loop whose data it ended) said too."""

from __future__ import annotations

import re

from vaelint.errors import VaelintError, error_text
from vaelint.frontends.placeholders import config_hint
from vaelint.frontends.training import livehints
from vaelint.frontends.training.hydramissing import hydra_config_missing
from vaelint.frontends.training.livecaught import caught_said, missed_first
from vaelint.frontends.training.livehints import channels_hint, file_hint, in_a_module, list_hint, objects_hint, range_hint, rows_hint
from vaelint.frontends.training.runtime import stand_in_said
from vaelint.source.frames import display_path


def _said_of(error, text: str) -> str:
    """An error's first line (torch appends the offending tensor's values), with what to do
    where vaelint knows it (a distribution's parameter outside its constraint)."""
    from vaelint.errorkinds import CONSTRAINT_HINT, kind_of
    from vaelint.vocab import ErrorKind

    first = text.strip().splitlines()[0].rstrip(":") if text.strip() else text
    return f"{first}. {CONSTRAINT_HINT}" if kind_of(error) is ErrorKind.CONSTRAINT else first


def _needs_cuda(error, text: str) -> bool:
    """``assert torch.cuda.is_available()``, a GPU library's call: code that runs only with CUDA."""
    from vaelint.source.frames import raising_line

    low = text.lower()
    # torch's words for CUDA missing: a CPU build, no driver, a CUDA generator or stream asked of a CPU build
    if any(w in low for w in ("compiled with cuda", "nvidia driver", "without aten_cuda", "no cuda gpus are available")):
        return True
    return isinstance(error, AssertionError) and "cuda" in raising_line(error)


NO_DATA = "its data is not here"  # what a run that stopped at a missing data file says
NEEDS_CUDA = "the code needs CUDA"  # what a run that stopped at code that runs only on a GPU says
_CUDA_HINT = (
    f" ({NEEDS_CUDA}, which this machine does not have: check it where a GPU is, or give the "
    "script's option that runs it on the CPU with --script-args, such as --no-cuda or --device cpu)"
)


def _in_the_step(error, text: str, where: str, watch, runtime) -> str:
    """Past the batch and the model: the step's own code raised (a loss that does not run). Its
    batch is the one taken before that stop (the run may go on to a later loop's, an eval's)."""
    from vaelint.source.cells import where as at

    taken = runtime.at_the_stop(watch)[0]
    came = f" (its batch taken at {at(taken.frame.f_code.co_filename, taken.line[0])})" if taken and taken.frame else ""
    when = "while its model ran" if in_a_module(error) else "after the model ran"
    hints = f"{file_hint(error)}{list_hint(error, taken)}{channels_hint(text, watch.specs)}{range_hint(error)}{rows_hint(text)}"
    hints += objects_hint(text) + _argv_hint(error)
    return f"the training step{came} raised at {where}, {when}: {_said_of(error, text)}{hints}"


def why_not(runtime, watch, home, sandbox=None) -> str:
    """What ran and where it stopped, for a run (a :class:`.liverun.LiveRuntime`, its :class:`.live.Watch`)
    that reached no backward; a module of the repository's own that is not here first: the user's
    run stops at its import, before anything vaelint's run went past it to."""
    from vaelint.frontends.placeholders import LEFT_OUT

    said = _why_stopped(runtime, watch, home) + _programs_not_run(runtime, sandbox)
    if LEFT_OUT and "left out of its checkout" not in said:
        return f"{LEFT_OUT[0]}. Past that import, {said}"
    return said


def _went_past(runtime, watch, home) -> str:
    """A line that failed (a notebook's download cell through a package not installed) and a run that
    went on to train with no backward of a VAE loss (a VQ-VAE, a VAE decoding mu): that, said first,
    with the failed line on the way; "" for any other run."""
    if not (runtime.stops and watch.passed and watch.batches > runtime.taken_before_the_stop(watch)):
        return ""
    where, first = runtime.stops[0]
    said = first.message if isinstance(first, VaelintError) else error_text(first)
    head = runtime.stops[-1][1].message if runtime.stopped_here and len(runtime.stops) > 1 else _ran_through(runtime, watch, home)
    return f"{head.rstrip('.')} (on the way{f', at {where}' if where else ''}, {said.rstrip('.')}: the run went on past it)"


def _why_stopped(runtime, watch, home) -> str:
    if went_past := _went_past(runtime, watch, home):
        return went_past
    if runtime.stops:
        where, error = runtime.stops[0]
        text = error.message if isinstance(error, VaelintError) else (stand_in_said(error) or error_text(error))
        # vaelint ended a loop's data (it came round with no VAE backward): code that counts on a batch
        # each pass (sum(losses) / len(losses)) then fails where `python` would not
        ended = (
            " (after vaelint had ended the data of a loop that came round with no backward of a VAE loss)"
            if runtime.at_the_stop(watch)[1] and not runtime.stopped_here and not stopped_at_a_missing_package(runtime)
            else ""
        )
        if (
            watch.model_calls
            and where
            and not getattr(error, "refused", False)
            and not stopped_at_a_missing_package(runtime)
            and not _a_setup_line(error, home)
        ):
            return _in_the_step(error, text, where, watch, runtime) + ended
        hint, taken = "", runtime.taken_before_the_stop(watch)
        if isinstance(error, FileNotFoundError) and watch.specs:
            hint = file_hint(error)
        elif isinstance(error, ModuleNotFoundError) and error.name and not taken and not watch.specs:
            hint = (
                f" (the code needs {error.name}, which is not installed here: install it, or give the batch with "
                "--input, one per item of the batch, e.g. --input 64x784, so that the data code around the step "
                "stands in where it can)"
            )
        elif livehints.star_hint(error, home.path, bool(watch.specs)):
            hint = livehints.star_hint(error, home.path, bool(watch.specs))  # a name a star import of a package not here gives
        elif "num_samples=0" in text and not watch.specs:
            hint = (
                " (a data set of the code's is empty here: its files are not here. Give the batch with --input, one "
                "per item of the batch, e.g. --input 64x1x28x28; an empty data set of yours then stands in)"
            )
        elif hydra_config_missing(text):
            hint, text = hydra_config_missing(text), text.strip().splitlines()[0]  # its options and search path: in the hint
        elif _hydra_group_unchosen(text, home):
            hint, text = _hydra_group_unchosen(text, home), text.strip().splitlines()[0]
        elif _weights_hint(error, taken):
            hint = _weights_hint(error, taken)
        elif _data_hint(error, text, watch, taken):
            hint = _data_hint(error, text, watch, taken)
        elif objects_hint(text):
            hint = objects_hint(text, display_path(home.path))
        elif _argv_hint(error):
            hint = _argv_hint(error)
        elif _needs_cuda(error, text):
            text = text.split(". ")[0].rstrip(".") + "." if len(text) > 200 else text  # torch's linker advice: not the cause here
            hint = _CUDA_HINT
        elif livehints.stand_in_misfit(error, watch, _a_setup_line(error, home)):  # the last: a stand-in read otherwise
            hint = livehints.stand_in_misfit(error, watch, True)
        if where and text.startswith(f"{where}: "):
            text = text[len(where) + 2 :]  # the error names its own place already: said once
        hint += ended + _caught_first(runtime, text, hint)
        return f"running it stopped at {where}: {text}{hint}" if where else f"running it stopped: {text}{hint}"
    return _ran_through(runtime, watch, home)


def _programs_not_run(runtime, sandbox) -> str:
    """A program the code started and vaelint did not run (os.popen('nvidia-smi -L')), its empty output the stop."""
    unrun = list(getattr(sandbox, "unrun", None) or [])
    if not unrun or not runtime.stops:
        return ""
    where, error = runtime.stops[0]
    same = [u for u in unrun if where and u.endswith(f" at {where}")]
    if not same and not isinstance(error, (IndexError, KeyError, ValueError, StopIteration)):
        return ""
    return (
        f" (vaelint starts no program: the code's {(same or unrun)[0]} gave what a machine without that program gives, no "
        "output and exit status 127, and the code's use of its output is what failed there)"
    )


def _caught_first(runtime, text: str, hint: str = "") -> str:
    """A package not installed that the code used before it stopped, whose error did not stop the
    run (the code's own ``except Exception as e: print(e)``, or a module-level line of an imported
    module the run went past): the cause, said, without claiming which."""
    used = _used_in_the_run(runtime)
    if not used or stopped_at_a_missing_package(runtime) or used[0] in text:
        return missed_first(runtime, text + hint)
    return f" (before that, a package that is not installed was used, and the run went on past that use: {used[0]})"


def _used_in_the_run(runtime) -> list:
    """The uses of names whose import failed that the run as written made (not a later reading's)."""
    from vaelint.frontends.placeholders import MISSING_USED

    kept = getattr(runtime, "missing_used", None)
    used = kept if kept is not None else MISSING_USED
    # a use that failed its own line, which the run passed over as `python` would have stopped there
    # (a line after the stop: `train_test_split(data)` below a missing file), was caught by no code
    failed = [text for _line, text in getattr(runtime, "failures", [])]
    failed += [getattr(error, "message", str(error)) for _where, error in getattr(runtime, "stops", [])]
    return [u for u in used if not any(u in text for text in failed)]


def _ran_through(runtime, watch, home) -> str:
    """What a run that ended without an error of the code's, and without a VAE backward, did."""
    failed = [f"{display_path(home.path)}:{line}: {text}" for line, text in runtime.failures]
    if failed:
        return f"running it reached no backward; lines that failed: {'; '.join(failed[:3])}"
    if watch.passed:
        from vaelint.source.cells import where

        frame, line, _ = watch.passed[0].frames[-1] if watch.passed[0].frames else (None, (0, 0), None)
        at = f" (at {where(frame.f_code.co_filename, line[0])})" if frame is not None else ""
        return (
            f"running it took {watch.batches} batch(es) and passed over {len(watch.passed)} backward(s){at} whose "
            "loss reaches no random sample (a pretraining phase, another network); no backward of a VAE loss came"
        )
    used = _used_in_the_run(runtime)
    caught = f" (on the way, a package that is not installed was used, and the run went on past that use: {used[0]})" if used else ""
    caught += caught_said(runtime)  # try: main() except Exception: log.error(..., exc_info=True)
    if watch.batches == 0:
        return f"running it took no batch from a data loader and reached no backward{caught}{livehints.built_hint(home.path)}"
    return f"running it took {watch.batches} batch(es) and reached no backward{caught}"


MISSING_DATA = re.compile(
    r"not an? (valid )?(dir|directory|folder|file|path)|(does|do|did)( not|n't) exist|no such file|not found|"
    r"no (images|files|data|datasets?|data sets?|samples)( were)? (found|loaded)|is empty|"
    r"need at least one array to (concatenate|stack)",  # np.concatenate of what a glob of no files read
    re.I,
)


def _says_data_is_missing(error, text: str) -> bool:
    """The code's own check of its data's files (``assert os.path.isdir(root), "... is not a valid
    directory"``, ``raise ValueError("No images loaded")``, a bare ``assert os.path.exists(folder)``),
    or the first of a listing of a folder that is not here (``list(os.walk(root))[0]``): its data is
    not here, as an OSError says."""
    if isinstance(error, (AssertionError, ValueError, RuntimeError)) and bool(MISSING_DATA.search(text)):
        return True
    return (isinstance(error, AssertionError) and _asserts_a_path(error)) or (
        isinstance(error, (IndexError, StopIteration)) and _lists_a_folder(error)
    )


def _a_setup_line(error, home) -> bool:
    """Was the error raised by a top-level statement the run went past (settings = json.load(...)), not in the step?"""
    import ast
    import os

    tb, frame = error.__traceback__, None
    while tb is not None:
        if os.path.realpath(tb.tb_frame.f_code.co_filename) == os.path.realpath(home.path):
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None or frame.f_code.co_name != "<module>":
        return False
    stmt = next((s for s in home.tree.body if s.lineno <= line <= (s.end_lineno or s.lineno)), None)
    return stmt is not None and not isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.If, ast.Try))


def _argv_hint(error) -> str:
    """json.load(open(sys.argv[1])) run with no arguments: an IndexError that is the command line missing."""
    from vaelint.source.frames import raising_line

    if not isinstance(error, IndexError) or "sys.argv" not in raising_line(error):
        return ""
    return (
        " (the script reads its command line, sys.argv, for an argument it was not given: give the script's "
        'arguments as `python script.py ARGS` would take them, with --script-args "ARGS")'
    )


def _asserts_a_path(error) -> bool:
    import ast

    from vaelint.frontends.training.livelistings import _asks_path
    from vaelint.source.frames import raising_line

    try:
        stmt = ast.parse(raising_line(error).strip()).body[0]
    except (SyntaxError, IndexError):
        return False
    names = ("exists", "isdir", "is_dir", "isfile", "is_file")
    return isinstance(stmt, ast.Assert) and any(_asks_path(stmt.test, name) for name in names)


def _data_hint(error, text: str, watch, taken: int) -> str:
    """Where the run stopped at its data before any batch: that it is not here (an OSError, the code's
    own check of its files), or where the code looked for it (a folder listed that is not here)."""
    if taken or watch.specs or getattr(error, "says_all", False):
        return ""
    if config_hint(error):
        return config_hint(error)  # yaml.safe_load(open("vae_config.yaml")): a configuration, not data (helper V)
    if isinstance(error, OSError) or _says_data_is_missing(error, text):
        return f" ({NO_DATA}: give the batch with --input, one per item of the batch, e.g. --input 64x784; the code's loaders then give it)"
    folder = _listed_a_missing_folder(error)
    if folder:
        return (
            f" ({NO_DATA}: the code looked for its files in {folder}, which is not here, and found none. Give the batch "
            "with --input, one per item of the batch, e.g. --input 64x784; the code's loaders then give it)"
        )
    return ""


_WEIGHT_LOADERS = ("from_pretrained(", "load_from_checkpoint(", "torch.load(", "load_state_dict(", "load_checkpoint(", "load_file(")


def _weights_hint(error, taken: int) -> str:
    """Where the run stopped loading weights before any batch (``AutoencoderKL.from_pretrained(
    args.weights)`` with the path left at its default, ``torch.load(ckpt)``): they are what is
    missing, not its data (--input would not bring them)."""
    from vaelint.source.facts import line_text
    from vaelint.source.frames import is_user_file

    if taken or not isinstance(error, (OSError, ValueError, TypeError, RuntimeError)):
        return ""
    lines, tb = [], error.__traceback__  # the user's lines on the way (its call, not the library's raise)
    while tb is not None:
        if is_user_file(tb.tb_frame.f_code.co_filename):
            lines.append(line_text(tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    line = next((t for t in lines if any(c in t for c in _WEIGHT_LOADERS)), "")
    call = next((c for c in _WEIGHT_LOADERS if c in line), None)
    # torch.load reads data too (torch.load("data/train.pt")): weights where the line says so
    if call is None or (
        call == "torch.load(" and not re.search(r"ckpt|checkpoint|weight|pretrain|\.pth|model|state_dict|resume", line, re.I)
    ):
        return ""
    return (
        f" (the weights it loads with {call}...) are not here, or their path is not given: give it with --script-args "
        "as the script takes it, or check the model alone with PATH.py:MODEL --input SPEC)"
    )


def _listed_a_missing_folder(error) -> str:
    """The folder the code listed in this run that is not here (os.walk, glob of no files), where the
    run then stopped at what an empty list of files does to the data code: "" otherwise."""
    from vaelint.frontends.training.livelistings import LISTED_MISSING

    if not LISTED_MISSING or not isinstance(error, (ZeroDivisionError, IndexError, StopIteration, ValueError, KeyError, AssertionError)):
        return ""
    return LISTED_MISSING[0] if len(LISTED_MISSING) == 1 else f"{LISTED_MISSING[0]} (and {len(LISTED_MISSING) - 1} more)"


def _lists_a_folder(error) -> bool:
    from vaelint.source.frames import raising_line

    line = raising_line(error)
    return any(f"{call}(" in line for call in ("walk", "listdir", "glob", "scandir", "iterdir"))


def _hydra_group_unchosen(text: str, home) -> str:
    """OmegaConf's "Key 'dataset' is not in struct" in a Hydra main whose config folder holds a
    group of that name (configs/dataset/mnist.yaml): the group is chosen on the command line
    (``+dataset=mnist``), as the repository's README says; say which options it has."""
    import ast
    import os

    found = re.search(r"Key '(\w+)' is not in struct", text)
    if found is None:
        return ""
    group = found.group(1)
    folder = os.path.dirname(home.path)
    paths = [
        k.value.value
        for node in ast.walk(home.tree)
        if isinstance(node, ast.Call) and "main" in ast.unparse(node.func)
        for k in node.keywords
        if k.arg == "config_path" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
    ]
    for path in [*paths, "configs", "config", "conf"]:
        where = os.path.join(folder, path, group)
        if os.path.isdir(where):
            options = sorted(os.path.splitext(f)[0] for f in os.listdir(where) if f.endswith((".yaml", ".yml")))
            if options:
                return (
                    f" (Hydra's config has no {group!r}: it is a config group the command line chooses, "
                    f'--script-args "+{group}={options[0]}"; {os.path.join(path, group)} holds {", ".join(options)})'
                )
    return ""


def stopped_at_a_missing_package(runtime) -> bool:
    """Did the run stop where the code used a package that is not installed (a placeholder's use)?"""
    from vaelint.frontends.placeholders import MISSING_USED

    return bool(runtime.stops) and isinstance(runtime.stops[0][1], VaelintError) and runtime.stops[0][1].message in MISSING_USED


def stopped_by_a_transform(runtime) -> bool:
    """Did the run stop where a known data set's transform raised on its images (a Normalize of 3
    channels on MNIST)? Every item of the real run raises so: the stop is the answer, not a step
    found by reading the code."""
    from vaelint.frontends.training.livebatch import TransformError

    return bool(runtime.stops) and isinstance(runtime.stops[0][1], TransformError)
