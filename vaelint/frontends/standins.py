"""Stand-in packages for what training code imports and this environment lacks (or cannot
load): torchvision, Lightning, accelerate, loggers, plotting, console and download packages,
Colab's own module. A model file's missing import already stands in
(:mod:`vaelint.frontends.placeholders`) and fails only if the model uses it; training code uses
these for the step's surroundings (data sets and transforms, whose shapes are known:
:mod:`vaelint.frontends.training.datasets`; a Trainer, loggers, callbacks). What a model itself
would need from them (``torchvision.models``) fails when used, saying the package is missing.
The stand-ins serve only when the real package cannot be imported.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

from vaelint.errors import VaelintError
from vaelint.frontends.standinbase import _Anything, _StandInModule, real_spec
from vaelint.frontends.standincolab import colab, colab_spec, is_colab
from vaelint.frontends.standinconsole import CONSOLE, console, imported_by_the_code
from vaelint.frontends.standindownloads import DOWNLOADERS, downloader
from vaelint.frontends.standinlightning import _lightning
from vaelint.frontends.standinplots import PLOTTING, plotting
from vaelint.frontends.standintqdm import PROGRESS, progress


def _missing(package: str, what: str):
    raise VaelintError(
        "load",
        f"the code uses {what}, and {package} is not installed here (or does not load with this torch): "
        f"install a {package} that matches torch {_torch_version()}, or check a target that does not need it.",
    )


def _placeholder(package: str, what: str):
    """A name that imports fine and fails when used (a model built on
    ``torchvision.models.vgg19_bn`` says torchvision is missing)."""
    from vaelint.frontends.placeholders import MissingImport

    class Missing(MissingImport):
        def _fail(self, *_a, **_k):
            _missing(package, what)

        __call__ = _fail

    return Missing(what.rsplit(".", 1)[-1], package, "", 0, "")


def _torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


# --------------------------------------------------------------------------- torchvision


# a torchvision data set's attributes set from its constructor: (position, default)
_DATASET_ARGUMENTS = {
    "root": (0, None),
    "train": (1, True),
    "transform": (2, None),
    "target_transform": (3, None),
    "download": (4, False),
    "split": (None, None),
}


def _argument(args: tuple, kwargs: dict, item: str, name: str = ""):
    from vaelint.frontends.training.folders import ARGUMENTS, FOLDERS

    position, default = ({**_DATASET_ARGUMENTS, **ARGUMENTS} if name in FOLDERS else _DATASET_ARGUMENTS)[item]
    if item in kwargs:
        return kwargs[item]
    if position is not None and len(args) > position and (item != "train" or isinstance(args[position], bool)):
        return args[position]
    return default


def _dataset_class(name: str) -> type:
    from torch.utils.data import Dataset

    def __init__(self, *args, **kwargs):
        self._vaelint_args, self._vaelint_kwargs = args, kwargs

    def __len__(self):  # a DataLoader over a user's subclass (CustomImageFolder(ImageFolder)) asks
        from vaelint.frontends.training.datasets import known_length

        return known_length(name, self._vaelint_args, self._vaelint_kwargs)

    def __getitem__(self, i):
        from vaelint.frontends.training.datasets import known_item, stand_in

        known = stand_in(type(self), self._vaelint_args, self._vaelint_kwargs)  # its transforms, read as given
        item = known_item(name, i, getattr(known, "transform", None), len(self))
        return known.with_target(item) if known is not None else item

    def __getattr__(self, item):
        from vaelint.frontends.training.datasets import known_attribute

        if item.startswith("_"):
            raise AttributeError(item)
        if item in _DATASET_ARGUMENTS:  # what the constructor was given: `if dataset.train:`, `dataset.root`
            return _argument(self._vaelint_args, self._vaelint_kwargs, item, name)
        # the stand-in's own length, not len(self): a subclass's __len__ that reads self.data
        # (``return len(self.data)``) came back here without end (a RecursionError blamed on its line)
        return known_attribute(name, item, __len__(self))

    body = {
        "__init__": __init__,
        "__len__": __len__,
        "__getitem__": __getitem__,
        "__getattr__": __getattr__,
        "__module__": "torchvision.datasets",
    }
    return type(name, (Dataset,), body)


def _torchvision(fullname: str) -> types.ModuleType:
    sub = fullname.split(".", 1)[1] if "." in fullname else ""
    if sub == "":
        return _StandInModule(fullname, lambda item: importlib.import_module(f"torchvision.{item}"))
    if sub.startswith("transforms"):
        from vaelint.frontends.standintransforms import transform_item

        return _StandInModule(fullname, transform_item(fullname))
    if sub == "datasets":
        from vaelint.frontends.training.datasets import KNOWN

        module = _StandInModule(
            fullname, lambda item: importlib.import_module(f"{fullname}.utils") if item == "utils" else _dataset_class(item)
        )
        for name in KNOWN:  # datasets.__dict__[args.dataset.upper()], as the real module has them
            vars(module)[name] = getattr(module, name)
        return module
    if sub == "utils":
        return _StandInModule(fullname, _utils_item)
    if sub == "datasets.utils":
        from vaelint.frontends.standinvisionutils import vision_utils_item

        return _StandInModule(fullname, vision_utils_item)
    return _StandInModule(fullname, lambda item: _placeholder("torchvision", f"{fullname}.{item}"))


def _utils_item(item: str):
    """torchvision.utils: ``save_image`` writes nothing, ``make_grid`` makes the grid (code plots
    it: plt.imshow(grid.permute(1, 2, 0))), the rest take anything."""
    if item.startswith("save"):
        return lambda *a, **k: None
    if item == "make_grid":
        return _make_grid
    return _Anything()


def _make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, pad_value: float = 0.0, **_kwargs):
    """torchvision.utils.make_grid's tensor: the images side by side, ``nrow`` to a row, 3 channels."""
    import torch

    images = torch.stack(list(tensor)) if isinstance(tensor, (list, tuple)) else tensor
    images = images.detach()
    if images.dim() == 2:
        images = images.unsqueeze(0)
    if images.dim() == 3:
        images = images.unsqueeze(0) if images.shape[0] in (1, 3) else images.unsqueeze(1)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    if normalize:
        images = (images - images.min()) / (images.max() - images.min()).clamp_min(1e-5)
    count, channels, height, width = images.shape
    cols = min(nrow, count)
    rows = -(-count // cols)
    h, w = height + padding, width + padding
    grid = images.new_full((channels, rows * h + padding, cols * w + padding), pad_value)
    for k in range(count):
        r, c = divmod(k, cols)
        grid[:, r * h + padding : r * h + padding + height, c * w + padding : c * w + padding + width] = images[k]
    return grid


# --------------------------------------------------------------------------- accelerate


class _Accelerator:
    """Hugging Face accelerate's Accelerator on one process and the CPU, as far as a
    training step reads it: prepare() hands its arguments back, backward() is the
    step's own (vaelint reads the loss there), contexts do nothing."""

    def __init__(self, *args, **kwargs):
        import torch

        self.device = torch.device("cpu")
        self.is_main_process = self.is_local_main_process = True
        self.num_processes, self.process_index = 1, 0
        self.sync_gradients = True

    def prepare(self, *objects, **kwargs):
        return objects[0] if len(objects) == 1 else objects

    def backward(self, loss, **kwargs):
        loss.backward(**kwargs)

    def accumulate(self, *models):
        import contextlib

        return contextlib.nullcontext()

    def autocast(self, *args, **kwargs):
        import contextlib

        return contextlib.nullcontext()

    def unwrap_model(self, model, *args, **kwargs):
        return model

    def gather(self, tensor):
        return tensor

    gather_for_metrics = reduce = gather

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return lambda *a, **k: None  # print, log, wait_for_everyone, save_state, clip_grad_norm_...


# accelerate.utils' collectives, on one process: what they are given comes back as it is (a VQ-VAE's
# codebook usage reduced across processes, then compared with 0: an _Anything there stopped the run)
_ONE_PROCESS = frozenset(
    {"reduce", "gather", "gather_object", "broadcast", "broadcast_object_list", "pad_across_processes", "send_to_device", "concatenate"}
)


def _given_back(value=None, *args, **kwargs):
    return value


def _accelerate(fullname: str) -> types.ModuleType:
    return _StandInModule(
        fullname, lambda item: _Accelerator if item == "Accelerator" else _given_back if item in _ONE_PROCESS else _Anything
    )


def _logger(fullname: str) -> types.ModuleType:
    """A logger or visualiser the code imports where it uses it (``import visdom`` in a
    Visualizer's __init__) and this environment lacks: a no-op, as a missing logger imported at a
    file's top is (:class:`vaelint.frontends.placeholders.LoggerStandIn`)."""
    from vaelint.frontends.placeholders import note

    if fullname in _NESTED_LOGGERS:
        note(
            f"{_NESTED_LOGGERS[fullname]} is not installed, so {fullname} cannot be imported; it stands in as a no-op "
            "(a logger: nothing it returns reaches the model or the loss)"
        )
    elif "." not in fullname:
        note(
            f"{fullname} is not installed; it stands in as a no-op (a logger: it records nothing, and its config "
            "holds what the code gives it)"
        )
    from vaelint.frontends.trackerconfig import tracker_names

    return _StandInModule(fullname, tracker_names(fullname))


# loggers that live inside another package and import a package of their own:
# ``from torch.utils.tensorboard import SummaryWriter`` inside a function, without tensorboard
_NESTED_LOGGERS = {"torch.utils.tensorboard": "tensorboard"}


def _nested_logger(fullname: str) -> str | None:
    """The nested logger ``fullname`` is (or is inside) when the package it needs is missing."""
    for name, needs in _NESTED_LOGGERS.items():
        if fullname == name or fullname.startswith(name + "."):
            return name if importlib.machinery.PathFinder.find_spec(needs) is None else None
    return None


_FACTORIES = {"torchvision": _torchvision, "pytorch_lightning": _lightning, "lightning": _lightning, "accelerate": _accelerate}
_FACTORIES.update(
    {name: _logger for name in ("visdom", "wandb", "tensorboardX", "mlflow", "comet_ml", "neptune", "clearml", "swanlab", "dvclive")}
)
_FACTORIES.update(dict.fromkeys(PLOTTING, plotting))
_FACTORIES.update(dict.fromkeys(CONSOLE, console) | dict.fromkeys(PROGRESS, progress))
_FACTORIES.update(dict.fromkeys(DOWNLOADERS, downloader))


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a stand-in for a package in ``_FACTORIES`` whose real import fails."""

    def __init__(self):
        self.real_ok: dict[str, bool] = {}
        self.patches = None  # the real torchvision's data sets, made to stand in without their data

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if is_colab(fullname) or fullname == "google":
            return colab_spec(self, fullname, path)
        if top not in _FACTORIES:
            if top == "torch" and _nested_logger(fullname) is not None:
                return importlib.util.spec_from_loader(fullname, self, is_package=True)
            return None
        if top in CONSOLE + PROGRESS and not imported_by_the_code():
            return None  # a library's optional import (tqdm's `import colorama`) fails as it expects
        if fullname == top and top not in self.real_ok and sys.modules.get(top) is None and real_spec(top) is not None:
            # the real package is tried when this import loads it, not now: a module imported
            # while its spec is found is imported again by the import system, a second module
            # without the submodules the first one imported (`accelerate.utils` missing)
            return importlib.util.spec_from_loader(fullname, _TriedWhenLoaded(self), is_package=True)
        if not self._stands_in(top):
            # Lightning moves its modules between versions (pytorch_lightning.utilities.apply_func
            # is gone from 2.x): a submodule the installed version lacks stands in
            if top != "torchvision" and "." in fullname and importlib.machinery.PathFinder.find_spec(fullname, path) is None:
                return importlib.util.spec_from_loader(fullname, self, is_package=True)
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def _stands_in(self, top: str) -> bool:
        if top not in self.real_ok:
            module = sys.modules.get(top)
            if module is not None:
                self.real_ok[top] = not getattr(module, "__vaelint_stand_in__", False)
            elif real_spec(top) is None:
                self.real_ok[top] = False
            else:
                self.real_ok[top] = True  # while the real one is tried, it is not stood in for ...
                self.real_ok[top] = _imports(top)  # ... but the others are (Lightning importing torchvision)
            if top == "torchvision" and self.real_ok[top] and self.patches is None:
                from vaelint.frontends.knownsets import without_their_data

                self.patches = without_their_data()
        return not self.real_ok[top]

    def create_module(self, spec):
        if _nested_logger(spec.name) is not None:
            return _logger(spec.name)
        if is_colab(spec.name) or spec.name == "google":
            return colab(spec.name)
        return _FACTORIES[spec.name.split(".")[0]](spec.name)

    def exec_module(self, module):
        return None


class _TriedWhenLoaded(importlib.abc.Loader):
    """Loads a package of ``_FACTORIES`` seen for the first time: the real one where it imports
    (that very module, imported once), else its stand-in."""

    def __init__(self, finder: StandInFinder):
        self.finder = finder
        self.real_spec = None

    def create_module(self, spec):
        if self.finder._stands_in(spec.name):
            return _FACTORIES[spec.name](spec.name)
        module = sys.modules[spec.name]
        self.real_spec = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module):
        if self.real_spec is not None:
            module.__spec__ = self.real_spec  # the import set this loader's spec: it keeps its own


def _imports(top: str) -> bool:
    """Does the real package import here? (torchvision built for another torch raises at import.)
    The other stand-ins still serve while it is tried: Lightning imported after the code's own
    ``import torchvision`` (a stand-in here) finds torchvision's stand-in modules, not a failure."""
    try:
        importlib.import_module(top)
        return True
    except Exception:  # noqa: BLE001 - any failure: the stand-in serves
        for key in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
            del sys.modules[key]
        return False


@contextlib.contextmanager
def installed():
    """While inside, a package of ``_FACTORIES`` that cannot be imported stands in;
    afterwards later imports find the packages as they are (the stand-in
    modules stay with the code that imported them)."""
    finder = StandInFinder()
    sys.meta_path.insert(0, finder)
    if "torchvision" in sys.modules:  # imported before: no import of it reaches the finder
        finder._stands_in("torchvision")
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        if finder.patches is not None:
            finder.patches.restore()
        for key in [k for k, m in list(sys.modules.items()) if is_stand_in(m)]:
            del sys.modules[key]


def is_stand_in(module) -> bool:
    return isinstance(module, _StandInModule)
