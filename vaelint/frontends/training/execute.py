"""Running the rewritten code (:mod:`.rewrite`) up to the point it stops at.

The entry file runs as ``python FILE ARGS`` would start it (its main guard
taken, ``sys.argv`` set), the files it imports on the way run their rewritten
statements, the stand-in packages serve what cannot be imported, and the
sandbox keeps the code from writing, downloading or stepping. The run ends
with the step handed over (:class:`~.runtime.StepReady`), a value found
(:class:`~.runtime.Found`), or not at all: then the error says why.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.frontends.build import OPTIMIZER_NAMES, record_module_sites
from vaelint.frontends.training.batchuse import BatchUse
from vaelint.frontends.training.ipython import INJECTED
from vaelint.frontends.training.rewrite import RT, Plan, build_plan
from vaelint.frontends.training.runtime import Found, Runtime, StepReady
from vaelint.frontends.training.sandbox import Sandbox
from vaelint.frontends.training.scriptargv import script_argv
from vaelint.frontends.training.sites import Frame, Site, SourceFile, chains_to
from vaelint.source.astutil import Place
from vaelint.source.frames import boundary, display_path


@dataclass
class Execution:
    plan: Plan
    runtime: Runtime
    sandbox: Sandbox
    reached: StepReady | Found | None = None
    sites: dict = field(default_factory=dict)  # id(module) -> the user's line that built it
    failures: list = field(default_factory=list)  # (line, error) of the entry's top-level lines that failed


@boundary
def execute(plan: Plan, script_args: list[str], inputs_given: bool = False) -> Execution:
    """Run the setup up to the step; ``inputs_given``: the batch came with --input (what to advise
    where the setup stops for want of its data)."""
    from vaelint.frontends import standins
    from vaelint.frontends.load import load_module
    from vaelint.frontends.training.livecuda import one_process

    runtime = Runtime(plan.site.place.scope.path)
    runtime.BatchUse = BatchUse
    run = Execution(plan, runtime, Sandbox(plan.entry.path))
    overrides = {p: st for p, st in plan.statements.items() if p != plan.entry.path}
    # distributed code as one process, a DataParallel model as the model itself, as in a run of the
    # code as written (vaelint/frontends/training/livecuda.py)
    with (
        standins.installed(),
        run.sandbox.active(),
        script_argv(plan.entry.path, script_args, run),
        record_module_sites(run.sites),
        one_process(),
    ):
        try:
            load_module(
                plan.entry.path,
                statements=plan.statements[plan.entry.path],
                overrides=overrides,
                argv=script_args,
                inject={RT: runtime, **INJECTED},
                failures=run.failures,
            )
        except (StepReady, Found) as e:
            run.reached = e
    if getattr(run, "argv_error", None) is not None:
        raise run.argv_error  # the script's own arguments did not parse: nothing it builds is as it would run
    if run.reached is None:
        why = failed_lines(run)
        raise NotReached(_not_reached(plan, run, inputs_given), why[0] if why else "")
    return run


class NotReached(VaelintError):
    """The setup ran without reaching the step; ``first_failure``: the first line that
    failed on the way (``path:line: error``), or ""."""

    def __init__(self, message: str, first_failure: str = ""):
        super().__init__("load", message)
        self.first_failure = first_failure


def failed_lines(run: Execution) -> list[str]:
    """The setup's lines that failed on the way, as ``path:line: error``."""
    why = [_placed(f"{display_path(path)}:{line}", text) for path, line, text in run.runtime.failures]
    return why + [_placed(f"{display_path(run.plan.entry.path)}:{line}", text) for line, text in run.failures]


def _placed(place: str, text: str) -> str:
    """``place: text``, the place said once where the error already starts with it."""
    return text if text.startswith(f"{place}:") else f"{place}: {text}"


def _grouped(failed: list[str]) -> list[str]:
    """Lines of one file that failed for the same reason, said once with their lines
    (``main.py:135, 150, 151: ... imports 'easydict' ...``), in order of the first."""
    import re

    groups: dict = {}
    for text in failed:
        m = re.match(r"(.+?):(\d+): (.*)$", text, re.S)
        inner = re.match(r"([^\s:]+):(\d+): (.*)$", m.group(3), re.S) if m else None
        m = inner or m  # a failure that says its own line (a stand-in used at recvae.py:29) is said there, once
        key = (m.group(1), m.group(3)) if m else (text, "")
        groups.setdefault(key, []).append(m.group(2) if m else "")
    out = []
    for (path, reason), lines in groups.items():
        numbers = sorted(set(lines), key=lambda n: int(n) if n.isdigit() else 0)
        shown = ", ".join(numbers[:4]) + (f" and {len(numbers) - 4} more" if len(numbers) > 4 else "")
        out.append(f"{path}:{shown}: {reason}" if reason else path)
    return out


def _conditions_said(plan: Plan) -> str:
    """The ``if`` tests on the way from the script's top to the step (``if args.train:`` of a CLI
    whose training runs under a mode flag), as the step needs them: " It runs only where ..."."""
    import ast

    from vaelint.source.astutil import block_of, is_main_guard

    said = []
    for frame in plan.frames:
        place, block = frame.place, frame.scope.body
        for index, into in place.steps:
            stmt = block[index]
            if isinstance(stmt, ast.If) and into is not None and not is_main_guard(stmt):
                test = ast.unparse(stmt.test)
                said.append(f"`{test}` is {'true' if into[0] == 'body' else 'false'} ({display_path(frame.scope.path)}:{stmt.lineno})")
            if into is not None:
                block = block_of(stmt, into)
    return f" The step runs only where {' and '.join(said[:3])}: give the arguments that make it so." if said else ""


_CONFIG_FILE = re.compile(r"[\w./-]+\.(ya?ml|json|toml|cfg|ini|conf)\b")


def _not_reached(plan: Plan, run: Execution, inputs_given: bool = False) -> str:
    site = plan.site
    why = _grouped(list(dict.fromkeys(text.rstrip(". ") for text in failed_lines(run))))  # a line that failed twice, said once
    because = (
        f" Lines that failed on the way: {'; '.join(why[:3])}."
        if why
        else (" A condition on the way was false, or a loop did not run, with these arguments." + _conditions_said(plan))
    )
    what = "the training step (the backward at" if site.kind == "loss" else "the line it needs ("
    from vaelint.frontends.training.livelistings import HELD_EMPTY

    if not why and HELD_EMPTY and not inputs_given:
        # for f in os.listdir("data/train") of a folder committed with only its .gitkeep: no file, no pass
        return (
            f"{display_path(plan.entry.path)}: running the script's setup never reached {what} "
            f"{display_path(site.place.scope.path)}:{site.place.line}): the code lists {HELD_EMPTY[0]}, which holds only "
            "the placeholder that keeps it in the repository (its data is made elsewhere), so the loop over its files did not run. Give the batch "
            "with --input, one per item of the batch (e.g. --input 64x784): the listing then gives stand-in files of it."
        )
    what = "the training step (the backward at" if site.kind == "loss" else "the line it needs ("
    advice = _setup_advice(why, inputs_given)
    return (
        f"{display_path(plan.entry.path)}: running the script's setup never reached {what} "
        f"{display_path(site.place.scope.path)}:{site.place.line}).{because}{advice}"
    )


# constructor parameters that hold objects, not literals (Trainer(model, optimizer)): no --init gives them
_OBJECTS = re.compile(r"^(model|net|network|module|vae|encoder|decoder|optim|optimizer|opt|scheduler|\w*loader|dataset|criterion)$")
_MISSING_ARGS = re.compile(r"(\w+)\.__init__\(\) missing \d+ required positional arguments?: (.+?)(?:$|\.$)")


def _constructor_needs(why: list) -> tuple[str, str] | None:
    """(the class, "'data_dir'") where a line failed building an object without its constructor's arguments."""
    for text in why:
        found = _MISSING_ARGS.search(text)
        if found:
            return found.group(1), found.group(2).replace(", and ", ", ").replace(" and ", ", ")  # 'a', 'b', and 'c'
    return None


def _the_codes_own_call(why: list, cls: str) -> str | None:
    """Where the code itself calls ``cls(...)`` without the arguments its constructor needs (``cfg =
    Config(lr=1e-3)`` after a field was added to Config): ``python`` stops there too, and no --init
    reaches that call (vaelint builds only a method target's class itself). None: vaelint's own call."""
    from vaelint.source.files import read_source

    for text in why:
        found = re.match(r"(.+?):(\d+): ", text)
        if not found or f"{cls}.__init__()" not in text:
            continue
        try:
            line = read_source(found.group(1)).splitlines()[int(found.group(2)) - 1]
        except (OSError, IndexError, ValueError):
            continue
        if re.search(rf"\b{re.escape(cls)}\s*\(", line):
            return f"{found.group(1)}:{found.group(2)}"
    return None


def reach_value(
    files: list[SourceFile], home: SourceFile, place: Place, expr: ast.expr, script_args: list[str], file_of, after: bool = False
):
    """Run the code up to the statement at ``place`` (in ``home``) and hand back
    what ``expr`` there evaluates to (``after``: once the statement has run):
    (value, the execution)."""
    site = Site(place, expr, "", kind="value", after=after)
    scope = place.scope
    chains = chains_to(files, home, scope) if not scope.is_module else [[]]
    if not chains:
        raise VaelintError(
            "load",
            f"{display_path(home.path)}:{place.line}: nothing in the files beside it reaches this line from a "
            "script's top level, so vaelint cannot build what it needs.",
        )
    frames = chains[0] + [Frame(scope, place)]
    plan = build_plan(files, file_of(frames[0].scope), frames, site, None, file_of)
    run = execute(plan, script_args)
    if not isinstance(run.reached, Found):
        raise VaelintError("load", _not_reached(plan, run))
    return run.reached.value, run


def _stood_in_misread(why: list) -> str:
    """The data file that stood in for one that is not here, where a setup line failed reading its
    values (ValueError, IndexError, KeyError; not a call's wrong arguments); "" otherwise."""
    from vaelint.frontends.training.livehints import _SIGNATURE, stood_in_file

    made = stood_in_file()
    misread = any(re.search(r"\b(ValueError|IndexError|KeyError|TypeError)\b", t) and not _SIGNATURE.search(t) for t in why)
    return made if misread else ""


def _setup_advice(why: list, inputs_given: bool) -> str:
    """What to do about the setup lines that failed on the way to the step."""
    # a package that is not installed is what to fix; arguments would not bring it
    missing = any("could not be imported (ModuleNotFoundError" in text for text in why)
    advice = "" if missing else " Give the script's arguments with --script-args, or name the function to check with PATH.py:FUNCTION."
    from vaelint.frontends.training.livehints import misread_text
    from vaelint.frontends.training.livewhy import MISSING_DATA

    config = next((m.group(0) for text in why for m in [_CONFIG_FILE.search(text)] if m and "No such file" in text), None)
    if not missing and config:
        # a configuration file named by the arguments (--config nf10.yaml): not data, a wrong argument
        advice = f" The configuration file {config} is not there: give the script's arguments that name one that is with --script-args."
    elif not missing and _constructor_needs(why) and _the_codes_own_call(why, _constructor_needs(why)[0]):
        cls, names = _constructor_needs(why)
        advice = (
            f" The code's own call of {cls}(...) at {_the_codes_own_call(why, cls)} leaves out {names}, which its "
            f"constructor needs: `python` stops there too. Give them in that call (or the script's arguments that set "
            "them, with --script-args)."
        )
    elif not missing and _constructor_needs(why):
        # Trainer.__init__() missing 'data_dir' for a method named as the target (trainer.py:Trainer.train):
        # there is no script whose arguments would give it; --init gives the constructor's and the method's
        cls, names = _constructor_needs(why)
        objects = [n for n in re.findall(r"'(\w+)'", names) if _OBJECTS.search(n) and n not in OPTIMIZER_NAMES]  # stood in
        first = names.split(",")[0].strip(chr(39))
        example = (
            "'data'" if re.search(r"dir|path|file|name|root", first) else "{}" if re.search(r"conf|cfg|args|opt|param", first) else "64"
        )
        advice = (
            f" {cls}'s constructor takes {', '.join(map(repr, objects))}, objects no literal gives: give a model as the "
            f"class that makes it, --init {objects[0]}=PATH.py:CLASS (built with its defaults), the other values as "
            f"literals (--init NAME=VALUE); or check the model as PATH.py:MODEL --input SPEC with its loss, or the script "
            f"that builds {cls} and calls it."
            if objects
            else f" {cls}'s constructor needs {names}: give {'them' if ',' in names else 'it'} with --init NAME=VALUE, a "
            f"Python literal (e.g. --init {first}={example}), as the method's own parameters are given."
        )
    elif not missing and _stood_in_misread(why):
        # the code's own reading of a data file made of --input failed (a keyed .npz read by a helper)
        text = misread_text(_stood_in_misread(why))
        advice = f" {text[0].upper()}{text[1:]}."
    elif not missing and any(MISSING_DATA.search(text) and "MissingConfigException" not in text for text in why):
        # the code's own check of its data's files (assert os.path.exists(root)): the data is not here
        advice = (
            " Its data is not here, and the setup reads it in a way the --input given does not stand in for (the "
            "lines above): put the files where the code reads them, or name the function that holds the training "
            "step with PATH.py:FUNCTION (its batch then comes from --input)."
            if inputs_given
            else " Its data is not here: give the batch with --input, one per item of the batch (e.g. --input 64x784), "
            "and the code's loaders give it; or give the script's arguments with --script-args."
        )
    return advice
