"""An installed Lightning's Trainer on a machine without the accelerator the code asks for
(:mod:`.sandbox`): ``Trainer(accelerator="gpu", devices=[0])``, ``Trainer(gpus=1)``, a DDP
strategy, 16-bit mixed precision. The trainer is built for this machine's CPU instead, as one
process, so that its loop runs the module's training_step on one batch (a data module's own
loader included) and the step is found; the report says what was changed. With the
accelerator present, nothing changes."""

from __future__ import annotations

import os
import sys

_MODULES = ("pytorch_lightning", "lightning", "lightning.pytorch")
_ACCELERATORS = ("gpu", "cuda", "mps", "tpu", "hpu", "ipu")


def lightning_here(sandbox) -> None:
    """An installed Lightning made to run here: its Trainer on the CPU, its trackers' loggers
    logging nothing where their package is not installed, and Lightning 1.x's argparse methods
    where a 2.x is installed."""
    trainer_on_cpu(sandbox)
    tracker_loggers_without_their_package(sandbox)
    argparse_methods_of_1x(sandbox)


def argparse_methods_of_1x(sandbox) -> None:
    """``parser = Trainer.add_argparse_args(parser)``, ``Trainer.from_argparse_args(args)``: code
    written for Lightning 1.x, which 2.0 dropped. With a 2.x installed, the Trainer gets the
    stand-in's two methods (its flags parsed, the trainer built with 2.x's defaults and the
    keywords given: one step needs no more), and the report says so."""
    from vaelint.frontends.standinlightning import _Trainer
    from vaelint.frontends.training.sandboxnative import after_import

    def patch_module(name: str) -> None:
        module = sys.modules.get(name)
        trainer = getattr(module, "Trainer", None) if module is not None else None
        if not isinstance(trainer, type) or hasattr(trainer, "add_argparse_args"):
            return

        def from_argparse_args(cls, args, **kwargs):
            sandbox._note("Trainer.from_argparse_args(...)", sandbox.adapted)
            return cls(**kwargs)

        for method, value in (("add_argparse_args", _Trainer.add_argparse_args), ("from_argparse_args", classmethod(from_argparse_args))):
            setattr(trainer, method, value)
            sandbox._patches.append((trainer, method, None, False))  # taken away again after the run

    after_import(sandbox, _MODULES, patch_module)


def trainer_on_cpu(sandbox) -> None:
    from vaelint.frontends.training.sandboxnative import after_import

    def patch_module(name: str) -> None:
        import torch

        module = sys.modules.get(name)
        trainer = getattr(module, "Trainer", None) if module is not None else None
        if not isinstance(trainer, type) or torch.cuda.is_available() or getattr(trainer.__init__, "__vaelint_cpu__", False):
            return
        sandbox._patch(trainer, "__init__", _on_cpu(trainer.__init__, sandbox))

    after_import(sandbox, _MODULES, patch_module)


def _on_cpu(real_init, sandbox):
    import functools

    @functools.wraps(real_init)  # its signature stays the Trainer's (LightningCLI reads it for its options)
    def __init__(self, *args, **kwargs):
        changed = []
        accelerator = kwargs.get("accelerator")
        if isinstance(accelerator, str) and accelerator.lower() in _ACCELERATORS:
            changed.append(f"accelerator={accelerator!r}")
            kwargs["accelerator"] = "cpu"
        if "gpus" in kwargs:  # Lightning 1.x's flag, gone from 2.x
            changed.append(f"gpus={kwargs.pop('gpus')!r}")
        if kwargs.get("devices") not in (None, "auto", 1) or changed and "devices" in kwargs:
            changed.append(f"devices={kwargs['devices']!r}")
            kwargs["devices"] = 1
        strategy = kwargs.get("strategy")
        if isinstance(strategy, str) and "ddp" in strategy or strategy is not None and "DDP" in type(strategy).__name__:
            changed.append(f"strategy={strategy if isinstance(strategy, str) else type(strategy).__name__!r}")
            kwargs["strategy"] = "auto"
        precision = kwargs.get("precision")
        if str(precision) in ("16", "16-mixed", "16-true"):
            changed.append(f"precision={precision!r}")
            kwargs["precision"] = "32-true"
        if changed:
            sandbox._note(f"Trainer({', '.join(changed)})", sandbox.changed)
        real_init(self, *args, **kwargs)

    __init__.__vaelint_cpu__ = True
    return __init__


# an installed Lightning's loggers of experiment trackers, and the package each needs
# (TensorBoardLogger takes either of two: torch.utils.tensorboard's, whose no-op stand-in hands back
# nothing Lightning can unpack, `exp, ssi, sei = hparams(...)`)
_TRACKER_LOGGERS = {
    "WandbLogger": ("wandb",),
    "CometLogger": ("comet_ml",),
    "NeptuneLogger": ("neptune",),
    "MLFlowLogger": ("mlflow",),
    "TensorBoardLogger": ("tensorboard", "tensorboardX"),
}


def tracker_loggers_without_their_package(sandbox) -> None:
    """``pl.loggers.WandbLogger(project=...)`` where wandb is not installed: Lightning checks the
    package's installed version (its metadata), which the stand-in import of wandb cannot give,
    and the setup stopped there (jonboypy/world-models). Such a logger is Lightning's own
    DummyLogger, which logs nothing, as every tracker does in the check."""
    from vaelint.frontends.training.sandboxnative import after_import

    def patch_module(name: str) -> None:
        module = sys.modules.get(name)
        base = sys.modules.get(name.rsplit(".", 1)[0] + ".loggers.logger")
        dummy = getattr(base, "DummyLogger", None)
        if module is None or not isinstance(dummy, type):
            return
        for cls, packages in _TRACKER_LOGGERS.items():
            original, package = getattr(module, cls, None), packages[0]
            if isinstance(original, type) and not any(map(_installed, packages)) and "__new__" not in vars(original):
                # the class stays itself (its signature, its one name: LightningCLI's `class_path:
                # WandbLogger` finds one class, not two); what it makes is the logger of nothing
                sandbox._patch(original, "__new__", staticmethod(_making(_logging_nothing(dummy, cls, package, sandbox), original)))

    after_import(sandbox, tuple(f"{m}.loggers" for m in _MODULES), patch_module)


def _installed(package: str) -> bool:
    import importlib.metadata

    from vaelint.source.frames import readable_import_path

    try:
        with readable_import_path():
            importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _making(stand_in: type, original: type):
    """A ``__new__`` for ``original`` that makes a ``stand_in`` (so ``original.__init__`` is not
    run), with the signature of ``original``'s own ``__init__`` (what LightningCLI reads of it)."""
    import inspect

    def __new__(klass, *args, **kwargs):
        return stand_in(*args, **kwargs)

    own = list(inspect.signature(original.__init__).parameters.values())[1:]
    __new__.__signature__ = inspect.Signature([inspect.Parameter("klass", inspect.Parameter.POSITIONAL_ONLY), *own])
    return __new__


def _logging_nothing(dummy: type, name: str, package: str, sandbox):
    def __init__(self, *args, **kwargs):
        dummy.__init__(self)
        # where it would log, as the tracker's logger says it (log_dir used as a path: a checkpoint
        # folder under it; the sandbox writes nothing there)
        save = str(kwargs.get("save_dir", args[0] if args else "lightning_logs"))
        root = os.path.join(save, str(kwargs.get("name", args[1] if len(args) > 1 else "lightning_logs") or ""))
        version = kwargs.get("version")
        version = version if isinstance(version, str) else f"version_{version if version is not None else 0}"
        self.__dict__["_vaelint_dirs"] = {"save_dir": save, "root_dir": root, "log_dir": os.path.join(root, version)}
        sandbox._note(f"{name}(...) logs nothing ({package} is not installed)", sandbox.stood_in)

    def dirs(key):
        return property(lambda self: self.__dict__["_vaelint_dirs"][key])

    def __getattr__(self, item):
        # DummyLogger answers every name with a no-op method; a special name answered so made it a
        # structured config to OmegaConf (hydra.utils.instantiate(cfg.trainer, logger=[it]):
        # "'function' object is not subscriptable", IML-DKFZ/m-pax_lib): those it has not
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        return dummy.__getattr__(self, item)

    # named apart from the tracker's class: a class looked up by its name finds that one alone
    body = {"__init__": __init__, "__getattr__": __getattr__, "__module__": dummy.__module__}
    body.update({key: dirs(key) for key in ("save_dir", "root_dir", "log_dir")})
    return type(f"{name}LoggingNothing", (dummy,), body)
