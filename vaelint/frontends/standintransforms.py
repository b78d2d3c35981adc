"""torchvision's transforms where torchvision cannot be imported (:mod:`.standins`): transform
classes that remember their arguments (the data set stand-ins read their effect on the shape,
vaelint/frontends/training/datasets.py) and, on a tensor, do what torchvision does to its shape and
values (a model that resizes its batch in forward); ``transforms.functional``'s functions likewise."""

from __future__ import annotations

import enum
import importlib

_TRANSFORM_MODULES = ("transforms", "functional", "v2", "_presets")


class InterpolationMode(str, enum.Enum):
    """torchvision's interpolation modes (``Resize(32, InterpolationMode.BICUBIC)``), as its enum has them."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"

    def __repr__(self) -> str:
        return f"InterpolationMode.{self.name}"


def transform_item(fullname: str):
    """A name of ``torchvision.transforms`` (or of its submodules): the submodules the code names
    in full (``torchvision.transforms.transforms.ToTensor``, ``transforms.functional as TF``), the
    functions of ``functional``, else a transform class."""

    def make(item: str):
        if item in _TRANSFORM_MODULES:
            return importlib.import_module(f"{fullname}.{item}")
        if item == "InterpolationMode":
            return InterpolationMode
        if fullname.endswith(".functional"):
            return _functional(item)
        return _transform_class(item)

    return make


def _transform_class(name: str) -> type:
    def __init__(self, *args, **kwargs):
        self._vaelint_args, self._vaelint_kwargs = args, kwargs
        if name == "Compose":
            self.transforms = list(args[0]) if args else list(kwargs.get("transforms", []))
        if name == "Lambda":  # its function, where torchvision's Lambda keeps it
            self.lambd = args[0] if args else kwargs.get("lambd")

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
        if name in ("ToTensor", "PILToTensor"):
            return to_tensor(x, scale=name == "ToTensor")
        if name == "ToPILImage":
            return to_pil(x)
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


def to_tensor(x, scale: bool = True):
    """What torchvision's ``ToTensor()`` makes of a PIL image or an H x W (x C) array: a C x H x W
    tensor, 8-bit values scaled to [0, 1] (``PILToTensor``: kept as they are). A tensor, or what
    is no image, is given back as it is (a data set of the user's own that converts its images
    itself: iliastk/DD2434IWAE, yoonholee/pytorch-vae)."""
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x
    try:
        array = np.asarray(x)
    except Exception:  # noqa: BLE001 - not an image: as it is
        return x
    if array.dtype == object or array.ndim not in (2, 3):
        return x
    array = array[:, :, None] if array.ndim == 2 else array
    out = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return out.float().div(255) if scale and out.dtype == torch.uint8 else out


def to_pil(x):
    """What torchvision's ``ToPILImage()`` makes of a C x H x W (or H x W) tensor: a PIL image
    (the code reads its ``.width``, crops it with PIL), where PIL is installed; else as it is."""
    import torch

    try:
        from PIL import Image
    except ImportError:
        return x
    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3) or (x.dim() == 3 and x.shape[0] not in (1, 3, 4)):
        return x
    array = x.detach().cpu()
    array = (array.clamp(0, 1) * 255).round().to(torch.uint8) if array.is_floating_point() else array.to(torch.uint8)
    array = array.numpy() if array.dim() == 2 else array.permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array)


def _is_tensor(x) -> bool:
    import torch

    return isinstance(x, torch.Tensor) and x.dim() >= 2


def _functional(item: str):
    """``torchvision.transforms.functional``'s function ``item`` on tensors: resize, center_crop,
    normalize, hflip and vflip as torchvision computes their shapes; the others hand their input back."""
    import torch
    import torch.nn.functional as F

    from vaelint.frontends.training.datasettransforms import pair, resized

    def resize(img, size, *args, **kwargs):
        hw = resized(size, img.shape[-2], img.shape[-1]) if _is_tensor(img) else None
        if hw is None:
            return img
        batched = img if img.dim() >= 4 else img.unsqueeze(0)
        flat = batched.reshape(-1, *batched.shape[-3:]).float()
        out = F.interpolate(flat, size=hw, mode="bilinear", align_corners=False).reshape(*batched.shape[:-2], *hw)
        return out if img.dim() >= 4 else out.squeeze(0)

    def center_crop(img, output_size, *args, **kwargs):
        hw = pair(output_size) if _is_tensor(img) else None
        if hw is None:
            return img
        h, w = img.shape[-2:]
        top, left = max((h - hw[0]) // 2, 0), max((w - hw[1]) // 2, 0)
        return img[..., top : top + hw[0], left : left + hw[1]]

    def normalize(tensor, mean, std, *args, **kwargs):
        if not _is_tensor(tensor):
            return tensor
        if tensor.dim() < 3:
            raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tuple(tensor.size())}")
        shape = (-1, 1, 1)
        # in place on a copy, as torchvision computes it: a mean of 3 channels on a 1-channel
        # image (MNIST normalised as RGB) raises there on every item, so it raises here too
        out = tensor.clone()
        out.sub_(torch.as_tensor(mean, dtype=tensor.dtype).view(shape)).div_(torch.as_tensor(std, dtype=tensor.dtype).view(shape))
        return out

    known = {
        "resize": resize,
        "center_crop": center_crop,
        "normalize": normalize,
        "hflip": lambda img, *a, **k: img.flip(-1) if _is_tensor(img) else img,
        "vflip": lambda img, *a, **k: img.flip(-2) if _is_tensor(img) else img,
        "to_tensor": lambda pic, *a, **k: to_tensor(pic),
        "pil_to_tensor": lambda pic, *a, **k: to_tensor(pic, scale=False),
    }
    return known.get(item, lambda x=None, *args, **kwargs: x)
