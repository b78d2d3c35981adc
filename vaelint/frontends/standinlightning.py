"""Lightning's stand-in (``pytorch_lightning``, ``lightning``, ``lightning.pytorch``) where it
cannot be imported (:mod:`vaelint.frontends.standins`): a LightningModule base class as far
as a training step reads it, a Trainer whose ``fit`` takes the first batch and trains
nothing, and do-nothing loggers, callbacks and plugins."""

from __future__ import annotations

import importlib
import os
import sys
import types

from vaelint.frontends.standinbase import _Anything, _StandInModule


def _lightning_module_class() -> type:
    import torch.nn as nn

    class LightningModule(nn.Module):
        """Lightning's LightningModule as far as a training step reads it with no Trainer."""

        automatic_optimization = True
        current_epoch = 0
        global_step = 0
        global_rank = local_rank = 0  # the one process there is
        on_gpu = False
        trainer = None
        logger = _Anything()

        def __init__(self, *args, **kwargs):
            super().__init__()
            self.hparams = _AttributeDict()

        def log(self, *args, **kwargs):
            return None

        def log_dict(self, *args, **kwargs):
            return None

        def print(self, *args, **kwargs):
            return None

        def save_hyperparameters(self, *args, ignore=None, frame=None, logger=True):
            self.hparams.update(_init_arguments(frame or sys._getframe(1), args, ignore))
            self._hparams_initial = _AttributeDict(self.hparams)

        @property
        def hparams_initial(self):
            """What ``save_hyperparameters()`` recorded, as first saved (``self.hparams_initial.seq_len``)."""
            return _AttributeDict(getattr(self, "_hparams_initial", None) or self.hparams)

        def optimizers(self, *args, **kwargs):
            return configured_optimizers(self, _Anything)

        def lr_schedulers(self, *args, **kwargs):
            return _Anything()

        def manual_backward(self, loss, *args, **kwargs):
            from vaelint.frontends.training.runtime import StepLoss

            raise StepLoss(loss)

        def toggle_optimizer(self, *args, **kwargs):
            return None

        def untoggle_optimizer(self, *args, **kwargs):
            return None

        @property
        def device(self):
            import torch

            return next((p.device for p in self.parameters()), torch.device("cpu"))

    LightningModule.__module__ = "lightning.pytorch"
    return LightningModule


def configured_optimizers(module, make):
    """What ``self.optimizers()`` hands back with no Trainer: one ``make()`` per optimizer the
    module's ``configure_optimizers`` returns (a single one, or a list: ``opt_vae, opt_d =
    self.optimizers()`` in manual optimisation), none of which steps anything."""
    count = len(module_optimizers(module)) or 1
    return make() if count == 1 else [make() for _ in range(count)]


def module_optimizers(module) -> list:
    """The optimizers ``configure_optimizers`` builds (a single one, a list, ``([optimizers],
    [schedulers])``, dicts with an ``optimizer`` key); [] where it fails. None is ever stepped."""
    try:
        configured = module.configure_optimizers()
    except Exception:  # noqa: BLE001 - the user's code: without its optimizers, one stands in
        return []
    if isinstance(configured, tuple) and len(configured) == 2 and all(isinstance(c, (list, tuple)) for c in configured):
        configured = configured[0]  # ([optimizers], [schedulers])
    items = list(configured) if isinstance(configured, (list, tuple)) else [configured]
    return [c.get("optimizer") if isinstance(c, dict) else c for c in items if c is not None]


def _init_arguments(frame, names: tuple, ignore) -> dict:
    """What Lightning's ``save_hyperparameters()`` keeps: the calling ``__init__``'s arguments, its
    ``**kwargs`` spread out (the Lightning-Hydra template reads ``self.hparams.beta`` given as a
    config key), or only the ``names`` given, or the one dict / Namespace given."""
    import inspect

    if len(names) == 1 and not isinstance(names[0], str):
        given = names[0]
        return dict(given) if isinstance(given, dict) else dict(vars(given))
    code, local = frame.f_code, frame.f_locals
    count = code.co_argcount + code.co_kwonlyargcount
    values = {n: local[n] for n in code.co_varnames[:count] if n in local and n not in ("self", "__class__")}
    if code.co_flags & inspect.CO_VARKEYWORDS:
        spread = local.get(code.co_varnames[count + bool(code.co_flags & inspect.CO_VARARGS)], {})
        values.update(spread if isinstance(spread, dict) else {})
    if names:
        values = {k: v for k, v in values.items() if k in names}
    skip = {ignore} if isinstance(ignore, str) else set(ignore or ())
    return {k: v for k, v in values.items() if k not in skip}


class _AttributeDict(dict):
    def __getattr__(self, item):
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None

    def __setattr__(self, key, value):
        self[key] = value


_LIGHTNING_CACHE: dict = {}


def _lightning_name(item: str):
    if item == "LightningModule":
        if "LightningModule" not in _LIGHTNING_CACHE:
            _LIGHTNING_CACHE["LightningModule"] = _lightning_module_class()
        return _LIGHTNING_CACHE["LightningModule"]
    if item == "seed_everything":
        return lambda seed=None, *a, **k: seed
    if item in ("LightningDataModule",):
        return type(item, (_Anything,), {})
    if item == "Trainer":
        return _Trainer
    if item == "LightningCLI":
        return _CommandLine
    return _Anything


class _CommandLine(_Anything):
    """Lightning's ``LightningCLI`` where Lightning is not installed: it parses the command line
    and its config files with jsonargparse and builds the model and the data from them, which
    no stand-in can do; it stops the run saying so (it did nothing, and the run ended with "no
    batch, no backward", naming nothing missing)."""

    def __init__(self, *args, **kwargs):
        import inspect
        import os

        from vaelint.errors import VaelintError

        model = kwargs.get("model_class", args[0] if args else None)
        name = getattr(model, "__name__", "MODEL")
        try:
            file = os.path.relpath(inspect.getsourcefile(model))
        except (TypeError, ValueError):
            file = "FILE.py"
        raise VaelintError(
            "load",
            "the script trains through LightningCLI, and Lightning (the lightning or pytorch_lightning package, with "
            "jsonargparse) is not installed here, so it cannot run: install it, or check the module's training_step "
            f"with its input: vaelint check {file}:{name} --input SHAPE",
        )


def _flag_value(text: str):
    """A Trainer flag's value as Lightning 1.x's parser gives it: a number where it is one
    (``--gpus 1``: ``args.gpus / 8.`` in SongweiGe/TATS raised on the string), else the text
    (``--gpus 0,``, ``--precision bf16``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return {"true": True, "false": False}.get(text.lower(), text)


class _Trainer(_Anything):
    """Lightning's Trainer where Lightning is not installed: ``fit`` takes the first batch of
    the training data, as the real one would, and trains nothing (vaelint reads the module's
    training_step; the batch tells its shapes)."""

    # Lightning 1.x scripts: parser = Trainer.add_argparse_args(parser); Trainer.from_argparse_args(args)
    _FLAGS = (
        "--gpus",
        "--devices",
        "--accelerator",
        "--strategy",
        "--num_nodes",
        "--precision",
        "--max_epochs",
        "--min_epochs",
        "--max_steps",
        "--limit_train_batches",
        "--limit_val_batches",
        "--val_check_interval",
        "--check_val_every_n_epoch",
        "--log_every_n_steps",
        "--default_root_dir",
        "--accumulate_grad_batches",
        "--gradient_clip_val",
        "--fast_dev_run",
        "--benchmark",
        "--deterministic",
        "--resume_from_checkpoint",
        "--auto_lr_find",
        "--auto_scale_batch_size",
        "--num_sanity_val_steps",
        "--progress_bar_refresh_rate",
    )

    @classmethod
    def add_argparse_args(cls, parent_parser, **kwargs):
        """The parser given, with the Trainer's flags the script may be run with (``--gpus 0,``)."""
        import argparse

        for flag in cls._FLAGS:
            try:
                parent_parser.add_argument(flag, default=None, type=_flag_value)
            except argparse.ArgumentError:  # the script has its own
                pass
        return parent_parser

    @classmethod
    def from_argparse_args(cls, args, **kwargs):
        return cls(**kwargs)

    def fit(self, model=None, train_dataloaders=None, val_dataloaders=None, datamodule=None, **kwargs):
        loader = train_dataloaders if train_dataloaders is not None else kwargs.get("train_dataloader")
        if loader is not None and callable(getattr(loader, "train_dataloader", None)) and not hasattr(loader, "__iter__"):
            datamodule, loader = loader, None  # fit(model, dm): a data module given in the loaders' place, as Lightning takes it
        for source in (datamodule, model):
            if loader is None and callable(getattr(source, "train_dataloader", None)):
                try:
                    if source is datamodule:  # as Lightning prepares a data module before it asks for its loader
                        for step, args in (("prepare_data", ()), ("setup", ("fit",))):
                            if callable(getattr(type(source), step, None)):
                                getattr(source, step)(*args)
                    loader = source.train_dataloader()
                except Exception:  # noqa: BLE001 - its data is not here: the shapes stay unknown
                    return None
        try:
            batch = next(iter(loader)) if loader is not None else None
        except Exception:  # noqa: BLE001 - a loader that cannot be read: nothing is known of it
            return None
        _one_step(model, batch)
        return None


def _one_step(model, batch) -> None:
    """What Lightning's fit does first, with its first batch: the module's ``training_step`` and the
    backward of the loss it returns (the check stops the run at that backward, as at any first VAE
    backward, so nothing after ``fit`` runs: a post-training evaluation ran into the time limit)."""
    import torch

    step = getattr(model, "training_step", None)
    if batch is None or not callable(step):
        return
    try:
        out = step(batch, 0)
    except Exception:  # noqa: BLE001 - a step that needs the real Trainer (self.trainer, self.optimizers()): read as before
        return
    loss = out.get("loss") if isinstance(out, dict) else out
    if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.dim() == 0:
        loss.backward()  # the run stops here (a BaseException of the check's own), as at the user's backward


def _lightning(fullname: str) -> types.ModuleType:
    _rank_zero_set()
    parts = fullname.split(".")
    if fullname in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.pytorch.core", "pytorch_lightning.core"):

        def make(item):
            if item in ("pytorch", "core", "callbacks", "loggers", "utilities", "strategies", "plugins", "trainer"):
                return importlib.import_module(f"{fullname}.{item}")
            return _lightning_name(item)

        return _StandInModule(fullname, make)
    # the names a submodule holds too (``from pytorch_lightning.trainer import Trainer``, Lightning 1.x's
    # ``from pytorch_lightning.core.lightning import LightningModule``): theirs, not an object that does nothing
    named = ("LightningCLI", "Trainer", "LightningModule", "LightningDataModule")
    return _StandInModule(fullname, lambda item: _lightning_name(item) if parts[-1] == "core" or item in named else _Anything)


def _rank_zero_set() -> None:
    """Importing Lightning sets ``rank_zero_only.rank`` of lightning_utilities (installed with
    torchmetrics), and code reads it (the lightning-hydra-template's ``RankedLogger`` raises "The
    `rank_zero_only.rank` needs to be set before use" otherwise): its stand-in sets it so too, to
    the one process's rank, 0."""
    try:
        from lightning_utilities.core.rank_zero import rank_zero_only
    except Exception:  # noqa: BLE001 - not installed (or broken): nothing reads it
        return
    if getattr(rank_zero_only, "rank", None) is None:
        rank_zero_only.rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", 0)) or 0)
