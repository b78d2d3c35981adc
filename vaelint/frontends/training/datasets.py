"""Data sets and loaders in the setup of a training step: never built, never
loaded, never downloaded; a stand-in takes their place, with what is known of
the shapes they would give.

torchvision's image data sets have known item shapes (MNIST 1x28x28, CIFAR10
3x32x32, CelebA 3x218x178, ...) and their transforms change them in known ways
(``Resize``, ``CenterCrop``, ``Grayscale``, ``Pad``); with the loader's batch
size, that is the step's input, so ``--input`` may be left out
(:func:`infer_inputs`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from vaelint.frontends.training.datasettransforms import RESHAPING, SHAPE_KEEPING, describe_transform, transformed, transforms_of
from vaelint.frontends.training.folders import FOLDERS, folder_attribute, folder_item, folder_item_shape
from vaelint.source.frames import SourceLoc, user_frame

# name -> (item shape C x H x W, number of classes or None); CelebA's labels are 40 binary attributes
KNOWN = {
    "MNIST": ((1, 28, 28), 10),
    "FashionMNIST": ((1, 28, 28), 10),
    "KMNIST": ((1, 28, 28), 10),
    "QMNIST": ((1, 28, 28), 10),
    "EMNIST": ((1, 28, 28), 47),
    "CIFAR10": ((3, 32, 32), 10),
    "CIFAR100": ((3, 32, 32), 100),
    "SVHN": ((3, 32, 32), 10),
    "STL10": ((3, 96, 96), 10),
    "CelebA": ((3, 218, 178), "attr"),
    "Omniglot": ((1, 105, 105), 964),
}
STOOD_IN_LENGTH = 60000  # some number: len(dataset) in the setup (a progress message, a sampler) must not fail

# the real sizes of the known data sets' splits: code splits them by number (random_split(cifar, [45000, 5000]))
_SIZES = {
    "MNIST": {True: 60000, False: 10000},
    "FashionMNIST": {True: 60000, False: 10000},
    "KMNIST": {True: 60000, False: 10000},
    "QMNIST": {True: 60000, False: 60000},
    "CIFAR10": {True: 50000, False: 10000},
    "CIFAR100": {True: 50000, False: 10000},
    "SVHN": {"train": 73257, "test": 26032, "extra": 531131},
    "STL10": {"train": 5000, "test": 8000, "unlabeled": 100000},
    "CelebA": {"train": 162770, "valid": 19867, "test": 19962, "all": 202599},
    "Omniglot": {True: 19280, False: 13180},
}


def known_length(name: str, args: tuple = (), kwargs: dict | None = None) -> int:
    """The length of a known data set's split, as the code builds it (``train=False``,
    ``split="test"``, ``background=False``); STOOD_IN_LENGTH for any other."""
    kwargs = kwargs or {}
    sizes = _SIZES.get(name)
    if sizes is None:
        return STOOD_IN_LENGTH
    if "split" in kwargs or name in ("SVHN", "STL10", "CelebA"):
        split = kwargs.get("split", args[1] if len(args) > 1 and isinstance(args[1], str) else "train")
        return sizes.get(split, STOOD_IN_LENGTH)
    flag = kwargs.get("background" if name == "Omniglot" else "train", args[1] if len(args) > 1 and isinstance(args[1], bool) else True)
    return sizes.get(bool(flag), STOOD_IN_LENGTH)


@dataclass
class DataSetStandIn:
    """A data set the setup would build: its name, transform and where."""

    name: str
    transform: object = None
    loc: SourceLoc | None = None
    kwargs: dict = field(default_factory=dict)

    def __len__(self):
        return known_length(self.name, (), self.kwargs)

    def __getitem__(self, i):
        return self.with_target(known_item(self.name, i, self.transform, len(self)))

    def with_target(self, item):
        """The item with its label as the code's target_transform gives it (a one-hot)."""
        target = self.kwargs.get("target_transform")
        if callable(target) and isinstance(item, tuple) and len(item) == 2:
            return item[0], target(item[1])
        return item

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return known_attribute(self.name, item, len(self))

    def __repr__(self):
        return f"<data set {self.name} (stood in for by vaelint)>"


# what code reads of a torchvision data set besides its items: how each stores its images
_NUMPY_DATA = {"CIFAR10", "CIFAR100", "SVHN", "STL10"}  # numpy uint8 arrays; MNIST's kind: torch uint8 tensors
_CACHE: dict = {}


def known_attribute(name: str, item: str, length: int | None = None):
    """``.data``, ``.targets`` (``.labels``), ``.classes`` of a known data set, made up with its
    real shapes and dtypes (``np.var(train_set.data / 255)``, ``len(dataset.classes)``) and, where
    ``length`` is given, as many rows as the split has items (``n = ds.data.shape[0]`` then
    ``random_split(ds, [...])``: CIFAR10's test split is 10000 rows, not the train split's 50000); an
    attribute of anything else raises AttributeError, as a missing attribute does."""
    if name in FOLDERS:
        return folder_attribute(name, item)
    if name not in KNOWN or item not in (
        "data",
        "targets",
        "labels",
        "classes",
        "class_to_idx",
        "train_data",
        "train_labels",
        "test_data",
        "test_labels",
    ):
        raise AttributeError(item)
    key = (name, item, length)
    if key not in _CACHE:
        _CACHE[key] = _make_attribute(name, item, length or STOOD_IN_LENGTH)
    return _CACHE[key]


def _make_attribute(name: str, item: str, n: int):
    import torch

    (c, h, w), classes = KNOWN[name]
    k = 2 if classes == "attr" else classes
    gen = torch.Generator().manual_seed(0)
    if item in ("data", "train_data", "test_data"):
        if name in _NUMPY_DATA:
            layout = (n, c, h, w) if name in ("SVHN", "STL10") else (n, h, w, c)
            return torch.randint(0, 256, layout, dtype=torch.uint8, generator=gen).numpy()
        return torch.randint(0, 256, (n, h, w) if c == 1 else (n, h, w, c), dtype=torch.uint8, generator=gen)
    if item == "classes":
        return [str(i) for i in range(k)]
    if item == "class_to_idx":
        return {str(i): i for i in range(k)}
    labels = torch.randint(0, k, (n, 40), generator=gen) if classes == "attr" else _labels(name, k, n, gen)
    return labels.numpy().tolist() if name in _NUMPY_DATA and item == "targets" else (labels.numpy() if name == "SVHN" else labels)


# each class's count in the real splits, where they are not all equal (MNIST's train and test)
_CLASS_COUNTS = {
    "MNIST": {
        60000: (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
        10000: (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    }
}


def _labels(name: str, k: int, n: int, gen):
    """A split's labels, shuffled, each class as many times as in the real split (MNIST's test has
    1135 ones: code picking ``X[y == 1][1094]`` works on it), in proportion for another length, and
    equally often where the real classes are balanced (CIFAR10, FashionMNIST): never a class short
    of what code reads of the real data, as draws at random made it."""
    import torch

    counts = _CLASS_COUNTS.get(name, {}).get(n) or _CLASS_COUNTS.get(name, {}).get(60000)
    if counts is None or len(counts) != k:
        counts = [n // k + (c < n % k) for c in range(k)]
    else:
        counts = [round(c * n / sum(counts)) for c in counts]
        counts[-1] += n - sum(counts)
    labels = torch.repeat_interleave(torch.arange(k), torch.tensor(counts))
    return labels[torch.randperm(n, generator=gen)]


GIVEN: list = []  # the --input specs of a training run (vaelint/frontends/training/liverun.py), while it runs


def known_item(name: str, i, transform=None, length: int | None = None):
    """``dataset[i]`` of a known data set: an image as ToTensor gives it and its label; of
    another data set (an ImageFolder whose folder is not here), one sample of each --input
    (``dataset[0][0].size()`` in the setup); else a stand-in that says it is one if used. An index
    past ``length`` is an IndexError, as a real data set's: ``[x for x, _ in dataset]`` ends."""
    import torch

    i = _as_index(i)  # a NumPy integer (Subset(ds, np.random.choice(...))) indexes as an int does
    if length is not None and isinstance(i, int) and not -length <= i < length:
        raise IndexError(f"index {i} is out of range for the data set {name} of {length} items")
    unknown = name in KNOWN and transform is not None and transforms_of(transform) and transformed(KNOWN[name][0], transform) is None
    if (name not in KNOWN or unknown) and GIVEN and isinstance(i, int):
        items = tuple(spec.make(1)[0] for spec in GIVEN if not spec.name)
        if not items:  # --input batch.image=SPEC: a dict of each key's sample
            return {s.name.split(".", 1)[1]: s.make(1)[0] for s in GIVEN if "." in (s.name or "")}
        return items if len(items) > 1 else (items[0], 0)
    if name in FOLDERS and isinstance(i, int):
        return folder_item(name, transform)
    if name not in KNOWN or not isinstance(i, int):
        from vaelint.frontends.training.runtime import StandIn

        fix = "Give one batch with --input, one spec per item of the batch (e.g. --input 64x3x64x64 for images alone)"
        return StandIn(f"an item of the data set {name}", fix if not GIVEN else "")
    shape, classes = KNOWN[name]
    known = transformed(shape, transform)  # Resize(32) gives 32 x 32, as the real one would
    if unknown:
        from vaelint.errors import VaelintError

        names = [type(t).__name__ for t in transforms_of(transform) if type(t).__name__ not in SHAPE_KEEPING | RESHAPING]
        raise VaelintError(
            "input",
            f"the data set {name} is transformed by {', '.join(names) or 'a transform'}, whose effect on the shape of its "
            "items vaelint cannot tell without its data: give the batch with --input, one per item of the batch "
            f"(e.g. --input 64x{'x'.join(str(d) for d in shape)} --input 64:int64:{classes if isinstance(classes, int) else 2}).",
        )
    shape = known or shape
    label = torch.randint(0, 2, (40,)) if classes == "attr" else int(torch.randint(0, classes, ()).item())
    return torch.rand(shape), label


def _as_index(i):
    import operator

    try:
        return operator.index(i) if not isinstance(i, (bool, int)) else i
    except TypeError:
        return i


@dataclass
class LoaderStandIn:
    """A data loader the setup would build; vaelint never iterates it."""

    dataset: object
    batch_size: int | None
    loc: SourceLoc | None = None

    def __iter__(self):
        from vaelint.errors import VaelintError

        raise VaelintError(
            "trace",
            "the code iterates a data loader outside the step; vaelint never loads data. Name the function that "
            "holds the training step (PATH.py:FUNCTION), or give the inputs with --input.",
        )

    def __len__(self):
        return 100

    def __repr__(self):
        return f"<data loader over {self.dataset!r}, batch size {self.batch_size}>"


def _is_data_class(func) -> str | None:
    """ "loader", "dataset", "datamodule", or None for a callable that builds neither."""
    if not inspect.isclass(func):
        module = getattr(func, "__module__", "") or ""
        if module.split(".")[0] == "datasets" and getattr(func, "__name__", "") == "load_dataset":
            return "dataset"  # Hugging Face's load_dataset downloads
        return None
    try:
        from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
    except ImportError:  # pragma: no cover
        return None
    if issubclass(func, DataLoader):
        return "loader"
    if issubclass(func, TensorDataset):
        return None  # tensors the code made itself: harmless, and their shapes are known
    module = getattr(func, "__module__", "") or ""
    if module.startswith(("torchvision.datasets", "vaelint.frontends.training.standins")) and func.__name__ in KNOWN:
        return "dataset"
    if issubclass(func, (Dataset, IterableDataset)):
        return "dataset"
    if any(k.__name__ == "LightningDataModule" for k in func.__mro__):
        return "datamodule"
    return None


def stand_in(func, args: tuple, kwargs: dict):
    """The stand-in for ``func(*args, **kwargs)`` when it builds data, else None."""
    kind = _is_data_class(func)
    if kind is None:
        return None
    loc = user_frame()
    if kind == "loader":
        dataset = args[0] if args else kwargs.get("dataset")
        batch = kwargs.get("batch_size", args[1] if len(args) > 1 else 1)
        return LoaderStandIn(dataset, batch if isinstance(batch, int) else None, loc)
    name = getattr(func, "__name__", "data")
    transform = kwargs.get("transform")
    if transform is None and name in FOLDERS and name != "ImageNet":
        transform = args[1] if len(args) > 1 else None  # ImageFolder(root, transform, target_transform, ...)
    if transform is None and name in ("MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "EMNIST", "QMNIST"):
        transform = args[2] if len(args) > 2 else None  # (root, train, transform, target_transform, download)
        if "target_transform" not in kwargs and len(args) > 3:
            kwargs = {**kwargs, "target_transform": args[3]}
    return DataSetStandIn(name, transform, loc, dict(kwargs))


# --------------------------------------------------------------------------- inference


@dataclass
class Inferred:
    specs: list[str]  # --input specs, batch first
    origin: str  # "datasets.MNIST (1x28x28 after ToTensor()) and batch_size=128 at train.py:37"


def infer_inputs(loader) -> Inferred | None:
    """The batch a loader over a known data set gives, or None."""
    batch = getattr(loader, "batch_size", None)
    dataset = getattr(loader, "dataset", loader)
    if not isinstance(batch, int) or batch < 1:
        return None
    # a loader of one sample a batch (a big VAE's) is that: the capture checks it at a batch of 2,
    # said in a note, never at 8 (8 times the activations of the code's own step)
    item = _item_specs(dataset)
    if item is None:
        return None
    shapes, what = item
    specs = ["x".join(str(s) for s in (batch, *shape)) + (f":{dtype}" if dtype else "") for shape, dtype in shapes]
    loc = getattr(loader, "loc", None)
    where = f" at {loc.where()}" if loc else ""  # nb.ipynb:cell 2:5 in a notebook
    return Inferred(specs, f"{what} and batch_size={batch}{where}")


def _item_specs(dataset):
    try:
        from torch.utils.data import TensorDataset
    except ImportError:  # pragma: no cover
        TensorDataset = ()
    if isinstance(dataset, TensorDataset):
        shapes = []
        for t in dataset.tensors:
            dtype = str(t.dtype).replace("torch.", "")
            high = ""
            if not t.is_floating_point() and t.numel() and dtype != "bool":  # a mask has no bound to give
                high = f":{int(t.max()) + 1}"
            shapes.append((tuple(t.shape[1:]), "" if dtype == "float32" else f"{dtype}{high}"))
        return shapes, f"TensorDataset of {len(dataset.tensors)} tensor(s)"
    if isinstance(dataset, DataSetStandIn) and dataset.name in FOLDERS:
        shape = folder_item_shape(dataset.name, dataset.transform)
        label = _label_spec(dataset.kwargs.get("target_transform"), FOLDERS[dataset.name][1])
        if shape is None or label is None:
            return None
        return [(shape, ""), label], f"datasets.{dataset.name} ({'x'.join(map(str, shape))} after {describe_transform(dataset.transform)})"
    if not isinstance(dataset, DataSetStandIn) or dataset.name not in KNOWN:
        return None
    shape, labels = KNOWN[dataset.name]
    shape = transformed(shape, dataset.transform)
    if shape is None:
        return None
    label = ((40,), "int64:2") if labels == "attr" else _label_spec(dataset.kwargs.get("target_transform"), labels)
    if label is None:
        return None
    described = describe_transform(dataset.transform)
    return [(shape, ""), label], f"datasets.{dataset.name} ({'x'.join(map(str, shape))}{' after ' + described if described else ''})"


def _label_spec(target_transform, classes: int):
    """(shape, dtype) of a sample's label, through the code's target_transform (a one-hot: (10,)
    floats); None where what it gives is no tensor or number."""
    import torch

    if not callable(target_transform):
        return (), f"int64:{classes}"
    try:
        out = target_transform(0)
    except Exception:  # noqa: BLE001 - the code's function, for labels of another kind
        return None
    if isinstance(out, int) and not isinstance(out, bool):
        return (), f"int64:{classes}"
    if not isinstance(out, torch.Tensor):
        return None
    dtype = str(out.dtype).replace("torch.", "")
    return tuple(out.shape), ("" if dtype == "float32" else f"{dtype}:{classes}" if not out.is_floating_point() else dtype)
