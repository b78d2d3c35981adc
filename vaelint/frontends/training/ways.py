"""The training front end's two ways to a step (running the code, reading it): which files
train, and which way's error to tell when neither gets there."""

from __future__ import annotations

import ast

from vaelint.errors import VaelintError
from vaelint.frontends.training.sites import SourceFile
from vaelint.source.astutil import dotted

_TRAINING_CALLS = (
    "fit",
    "fit_generator",  # Keras 2
    "train_on_batch",
    "train",
    "train_model",
    "fit_model",
    "Trainer",
    "TrainingPipeline",
    "pipeline",
    "run_training",
    "LightningCLI",
    "CLI",
    "SVI",
)  # LightningCLI() runs the subcommand its arguments name (fit); Pyro's SVI(model, guide, ...).step() backpropagates


def trains_through_a_library(file: SourceFile, others: list[SourceFile] = ()) -> bool:
    """A script of a torch repository (it or the repository's files it sits with import torch,
    or a package it imports depends on torch: ``from ctgan import TVAE``) that calls what trains: a trainer's ``fit``/``train``, a pipeline, ``Trainer(...).run()``.
    Its backward is in the library, not in the repository."""
    from vaelint.frontends.training.torchlibs import imports_a_torch_library

    if not any(word in f.text for f in (file, *others) for word in ("torch", "lightning", "keras")) and not imports_a_torch_library(
        file.tree
    ):
        return False
    for node in ast.walk(file.tree):
        if isinstance(node, ast.Call):
            # the method's name whatever it is called on (``build_vae().fit(x, x)``)
            name = node.func.attr if isinstance(node.func, ast.Attribute) else (dotted(node.func) or "").rpartition(".")[2]
            if name in _TRAINING_CALLS:
                return True
            if name == "run" and isinstance(node.func, ast.Attribute) and _trainer_like(node.func.value):
                return True
    return False


def _trainer_like(expr: ast.expr) -> bool:
    """``Trainer(exp)``, ``trainer``, ``self.experiment_manager``: what a ``.run()`` trains."""
    text = (dotted(expr.func) if isinstance(expr, ast.Call) else dotted(expr)) or ""
    return any(word in text.lower() for word in ("trainer", "experiment", "runner", "solver"))


def is_module_class(file: SourceFile, name: str) -> bool:
    """``VAE.forward``: a method of a class that subclasses a Module is the model's, not a trainer's."""
    head = name.split(".")[0]
    for stmt in file.tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == head:
            return any((dotted(b) or "").split(".")[-1] in ("Module", "LightningModule") for b in stmt.bases)
    return False


def plain(error: VaelintError) -> VaelintError:
    """The error as the report carries it: its kind and message only (what a way attached to
    it, such as a step to build, stays in this process)."""
    out = VaelintError(error.kind, error.message)
    if getattr(error, "argv", False):
        out.argv = True
    return out


def why(error: VaelintError) -> str:
    text = error.message
    head = "no training step to check: "
    return text.split(head, 1)[1].rstrip(".") if head in text else text.rstrip(".")


def worth_telling(read_error: VaelintError, run_error: VaelintError) -> VaelintError:
    """Of the two ways' errors, the one that says more: the run's, unless reading the code
    got further (it found the step, and the step's own setup failed) and the run did not stop
    only for want of the data."""
    from vaelint.frontends.training.livewhy import NEEDS_CUDA, NO_DATA
    from vaelint.frontends.training.sandbox import NO_DOWNLOADS

    said = read_error.message
    if getattr(run_error, "definition_failed", False):
        return run_error  # the code's own class or function could not be defined: python stops there too
    if getattr(run_error, "step_raised", False) and ("which the setup could not build" in said or "setup never reached" in said):
        return run_error  # the run got past the model into its step; reading the code did not build it, or not reach it
    if "the training code asks for input(" in run_error.message:
        return run_error  # it stopped at a prompt (a weight typed in): what read lines past it met follows from it
    if "no training step to check" in said or "no batch found" in said or NO_DATA in run_error.message:
        return run_error  # the run stopped at the data, which --input gives: that is what to do
    hydra = ("Hydra has no config", "Hydra's config has no")
    if NEEDS_CUDA in run_error.message or NO_DOWNLOADS in run_error.message or any(h in run_error.message for h in hydra):
        # the read code stops at the same line, without saying it needs a GPU or a download
        return run_error
    if getattr(read_error, "argv", False) and not getattr(run_error, "argv", False):
        # the script's own parser took these arguments when it ran; the read code's slice of it
        # did not (an argument group it lost): the run's error is the user's
        return run_error
    if run_error.kind == "load" and "no training step to check" in run_error.message:
        return _with_the_runs_stop(read_error, run_error)
    return run_error


_PLACEHOLDERS = ("MissingImport", "StandIn", "Unavailable", "_Anything")


def _with_the_runs_stop(read_error: VaelintError, run_error: VaelintError) -> VaelintError:
    """The read code's error, which says more, with where running the code as written stopped
    first (an error of the user's code there is often the real cause: an API the installed
    library lacks)."""
    import re

    stop = re.search(r"running it stopped at (.+)", run_error.message, re.S)
    if stop is None or stop.group(1).rstrip(".") in read_error.message:
        return read_error
    said = stop.group(1).split(": ", 1)[-1][:40]  # the error itself, without its place
    if said and said in read_error.message:
        return read_error  # the read code met the same error, and says so
    if any(name in stop.group(1) for name in _PLACEHOLDERS) or "could not be imported" in read_error.message:
        return read_error  # the run stopped at what the read code explains already (a missing import's placeholder)
    where = stop.group(1).rstrip(".")
    removed = re.search(r": AttributeError: .*(was removed|has been removed|is deprecated)", where) is not None  # np.Inf in NumPy 2
    if removed or ("which the setup could not build" in read_error.message and re.search(r": (AttributeError|NameError): ", where)):
        # the code's own call of what is installed fails (iter(loader).next() on Python 3's torch):
        # the user's run stops there too, and no advice about the step helps until that line is fixed
        text = (
            f"running the code as written stops at {where}, before the training step: the user's own run stops "
            f"there too, so nothing after it was checked. Fix that line, or check the model alone: {_model_alone(where)}."
        )
    elif "could not be imported (ModuleNotFoundError" in where and "calls no nn.Module" in read_error.message:
        # the model came from the module that could not be imported: that is the cause, said first
        text = f"running it as written stopped at {where}. Reading the code then found no model it could see: {read_error.message}"
    else:
        text = f"{read_error.message.rstrip()} Running it as written stopped first, at {where}."
    error = VaelintError(read_error.kind, text)
    error.__dict__.update({k: v for k, v in read_error.__dict__.items() if k not in ("kind", "message")})
    return error


def _model_alone(where: str) -> str:
    """The command that checks a model the stopped file defines (``vaelint check train.py:VAE
    --input SHAPE``), read from the place the run stopped at."""
    from vaelint.frontends.discover import models_defined

    path = where.split(":", 1)[0]
    try:
        models = models_defined(path) if path.endswith(".py") else []
    except (OSError, SyntaxError, ValueError):
        models = []
    return f"`vaelint check {path}:{models[0] if models else 'CLASS'} --input SHAPE`"


def read_or_run(program, run_error: VaelintError, request):
    """The step reading the code found (``program``), or what the run that reached no VAE backward
    says (``run_error``): the backward it passed over (``run_error.build``), or why it stopped."""
    if "the training code asks for input(" in run_error.message:
        raise plain(run_error) from None  # a value typed at a prompt (a KL weight): read lines past it lack it too
    if getattr(program, "passed_by_the_run", False) and getattr(run_error, "missing_package", False):
        # the step read is the one the run passed over as no VAE's, and the run stopped at a
        # package that is not here before any other: what stopped it is the answer
        raise plain(run_error) from None
    if (
        getattr(program, "passed_by_the_run", False)
        and getattr(run_error, "build", None) is not None
        and not getattr(run_error, "noise_elsewhere", False)
    ):
        # reading the code found no step but the one the run went past, batch after batch (a
        # VQ-VAE's, behind accelerator.backward in a nested function): the run's, on its batch
        return run_error.build()
    if not request.inputs and not program.inputs:
        if getattr(run_error, "build", None) is not None:
            # the run took its batches (a loader cycled for ever) and passed over backwards
            # that reach no sample: the first is the step, on the batch the code gave it
            return run_error.build()
        raise plain(run_error) from None  # nothing gives the batch: the run says what stopped it
    program.notes.insert(
        0, f"running the code as written did not reach its step ({why(run_error)}): the step was found by reading the code"
    )
    program.batch_whole = getattr(run_error, "batch_whole", None)  # the run's model given a list batch: VAE013 says it
    program.shape_stop = getattr(run_error, "shape_stop", None)  # the run's step raised a shape error: VAE013 too
    return program


_RAN = "running the code as written did not reach its step ("


def after_the_run(error: VaelintError, notes: list) -> VaelintError:
    """A check that failed on the step reading the code found, where running the code as written
    had got past the model into its step and raised there (a shape mismatch in the loss, the
    code's own bug): that stop first, then what reading the code met. Before, only the read
    step's failure was said ("the step ran to its end without reaching the backward"), and the
    run's error was left in the JSON notes."""
    note = next((n for n in notes if n.startswith(_RAN) and ("after the model ran" in n or "while its model ran" in n)), None)
    if note is None or error.kind in ("load", "input", "timeout", "internal") or "): the step was found" not in note:
        return error
    stop = note[len(_RAN) : note.rindex("): the step was found")]
    return VaelintError(
        error.kind,
        f"running the code as written, {stop}. Reading the code found a step, but: {error.message[:1].lower()}{error.message[1:]}",
    )
