"""Stand-in packages for what training code imports and this environment lacks
(or cannot load): ``torchvision`` (torch 2.13's CPU wheel has no matching
build), Lightning (``pytorch_lightning``, ``lightning``, ``lightning.pytorch``)
and Hugging Face ``accelerate``.

A model file's missing import already stands in (:mod:`vaelint.frontends.placeholders`)
and fails only if the model uses it. Training code uses these packages for
the step's surroundings: data sets and transforms (whose shapes are known:
:mod:`vaelint.frontends.training.datasets`), ``save_image``, a
``LightningModule`` base class, a ``Trainer``, loggers and callbacks. Those
stand in here; what a model itself would need from them (``torchvision.models``)
fails when used, saying the package is missing.

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
from vaelint.frontends.standinbase import _Anything, _StandInModule
from vaelint.frontends.standinlightning import _lightning


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


_TRANSFORM_MODULES = ("transforms", "functional", "v2", "_presets")


def _transform_item(fullname: str):
    """A name of ``torchvision.transforms`` (or of its submodules): the submodules the code names
    in full (``torchvision.transforms.transforms.ToTensor``, ``transforms.functional as TF``), the
    functions of ``functional``, else a transform class."""
    def make(item: str):
        if item in _TRANSFORM_MODULES:
            return importlib.import_module(f"{fullname}.{item}")
        if fullname.endswith(".functional"):
            return _functional(item)
        return _transform_class(item)

    return make


def _transform_class(name: str) -> type:
    def __init__(self, *args, **kwargs):
        self._vaelint_args, self._vaelint_kwargs = args, kwargs
        if name == "Compose":
            self.transforms = list(args[0]) if args else list(kwargs.get("transforms", []))

    def __call__(self, x):
        """On a tensor (a transform applied in the model's forward, or after ToTensor), what the
        real one does to its shape and values where that is known; anything else as it is."""
        if name == "Compose":
            for t in self.transforms:
                x = t(x)
            return x
        if name == "Lambda":
            fn = self._vaelint_args[0] if self._vaelint_args else self._vaelint_kwargs.get("lambd")
            return fn(x) if callable(fn) else x
        if not _is_tensor(x):
            return x
        size = self._vaelint_args[0] if self._vaelint_args else self._vaelint_kwargs.get("size")
        if name in ("Resize", "Scale", "RandomResizedCrop"):
            return _functional("resize")(x, size)
        if name in ("CenterCrop", "RandomCrop"):
            return _functional("center_crop")(x, size)
        if name == "Normalize":
            mean = self._vaelint_args[0] if self._vaelint_args else self._vaelint_kwargs.get("mean")
            std = self._vaelint_args[1] if len(self._vaelint_args) > 1 else self._vaelint_kwargs.get("std")
            return _functional("normalize")(x, mean, std)
        return x

    return type(name, (), {"__init__": __init__, "__call__": __call__, "__module__": "torchvision.transforms"})


def _is_tensor(x) -> bool:
    import torch

    return isinstance(x, torch.Tensor) and x.dim() >= 2


def _hw(size, h: int, w: int) -> tuple[int, int] | None:
    if isinstance(size, int):  # the shorter side becomes size, the aspect ratio kept
        return (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    if isinstance(size, (list, tuple)) and len(size) in (1, 2) and all(isinstance(v, int) for v in size):
        return size[0], size[-1]
    return None


def _functional(item: str):
    """``torchvision.transforms.functional``'s function ``item`` on tensors: resize, center_crop,
    normalize, hflip and vflip as torchvision computes their shapes; the others hand their input back."""
    import torch
    import torch.nn.functional as F

    def resize(img, size, *args, **kwargs):
        hw = _hw(size, img.shape[-2], img.shape[-1]) if _is_tensor(img) else None
        if hw is None:
            return img
        batched = img if img.dim() >= 4 else img.unsqueeze(0)
        flat = batched.reshape(-1, *batched.shape[-3:]).float()
        out = F.interpolate(flat, size=hw, mode="bilinear", align_corners=False).reshape(*batched.shape[:-2], *hw)
        return out if img.dim() >= 4 else out.squeeze(0)

    def center_crop(img, output_size, *args, **kwargs):
        hw = _hw(output_size if not isinstance(output_size, int) else (output_size, output_size), 1, 1) if _is_tensor(img) else None
        if hw is None:
            return img
        h, w = img.shape[-2:]
        top, left = max((h - hw[0]) // 2, 0), max((w - hw[1]) // 2, 0)
        return img[..., top:top + hw[0], left:left + hw[1]]

    def normalize(tensor, mean, std, *args, **kwargs):
        if not _is_tensor(tensor):
            return tensor
        shape = (-1, 1, 1)
        return (tensor - torch.as_tensor(mean, dtype=tensor.dtype).view(shape)) / torch.as_tensor(std, dtype=tensor.dtype).view(shape)

    known = {"resize": resize, "center_crop": center_crop, "normalize": normalize,
             "hflip": lambda img, *a, **k: img.flip(-1) if _is_tensor(img) else img,
             "vflip": lambda img, *a, **k: img.flip(-2) if _is_tensor(img) else img}
    return known.get(item, lambda x=None, *args, **kwargs: x)


def _dataset_class(name: str) -> type:
    from torch.utils.data import Dataset

    def __init__(self, *args, **kwargs):
        self._vaelint_args, self._vaelint_kwargs = args, kwargs

    def __len__(self):  # a DataLoader over a user's subclass (CustomImageFolder(ImageFolder)) asks
        from vaelint.frontends.training.datasets import known_length

        return known_length(name, self._vaelint_args, self._vaelint_kwargs)

    def __getitem__(self, i):
        from vaelint.frontends.training.datasets import known_item, stand_in

        known = stand_in(type(self), self._vaelint_args, self._vaelint_kwargs)  # its transform, read as given
        return known_item(name, i, getattr(known, "transform", None))

    def __getattr__(self, item):
        from vaelint.frontends.training.datasets import known_attribute

        if item.startswith("_"):
            raise AttributeError(item)
        return known_attribute(name, item)

    body = {
        "__init__": __init__, "__len__": __len__, "__getitem__": __getitem__, "__getattr__": __getattr__,
        "__module__": "torchvision.datasets",
    }
    return type(name, (Dataset,), body)


def _torchvision(fullname: str) -> types.ModuleType:
    sub = fullname.split(".", 1)[1] if "." in fullname else ""
    if sub == "":
        return _StandInModule(fullname, lambda item: importlib.import_module(f"torchvision.{item}"))
    if sub.startswith("transforms"):
        return _StandInModule(fullname, _transform_item(fullname))
    if sub == "datasets":
        return _StandInModule(fullname, _dataset_class)
    if sub == "utils":
        return _StandInModule(fullname, lambda item: (lambda *a, **k: None) if item.startswith("save") else _Anything())
    return _StandInModule(fullname, lambda item: _placeholder("torchvision", f"{fullname}.{item}"))


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


def _accelerate(fullname: str) -> types.ModuleType:
    return _StandInModule(fullname, lambda item: _Accelerator if item == "Accelerator" else _Anything)


def _logger(fullname: str) -> types.ModuleType:
    """A logger or visualiser the code imports where it uses it (``import visdom`` in a
    Visualizer's __init__) and this environment lacks: a no-op, as a missing logger imported at a
    file's top is (:class:`vaelint.frontends.placeholders.LoggerStandIn`)."""
    from vaelint.frontends.placeholders import note

    if fullname in _NESTED_LOGGERS:
        note(f"{_NESTED_LOGGERS[fullname]} is not installed, so {fullname} cannot be imported; it stands in as a no-op "
             "(a logger: nothing it returns reaches the model or the loss)")
    elif "." not in fullname:
        note(f"{fullname} is not installed; it stands in as a no-op (a logger: nothing it returns reaches the model or the loss)")
    return _StandInModule(fullname, lambda item: _Anything)


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
_FACTORIES.update({name: _logger for name in ("visdom", "wandb", "tensorboardX", "mlflow", "comet_ml", "neptune", "clearml", "swanlab", "dvclive")})


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a stand-in for a package in ``_FACTORIES`` whose real import fails."""

    def __init__(self):
        self.real_ok: dict[str, bool] = {}
        self.patches = None  # the real torchvision's data sets, made to stand in without their data

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top not in _FACTORIES:
            if top == "torch" and _nested_logger(fullname) is not None:
                return importlib.util.spec_from_loader(fullname, self, is_package=True)
            return None
        if fullname == top and top not in self.real_ok and sys.modules.get(top) is None \
                and importlib.machinery.PathFinder.find_spec(top) is not None:
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
            elif importlib.machinery.PathFinder.find_spec(top) is None:
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
