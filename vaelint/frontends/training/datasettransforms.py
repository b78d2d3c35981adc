"""What a torchvision transform does to the shape of a known data set's images (:mod:`.datasets`):
read from the transforms the code built, never run on data."""

from __future__ import annotations

SHAPE_KEEPING = {
    "ToTensor",
    "PILToTensor",
    "Normalize",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "ColorJitter",
    "RandomRotation",
    "ConvertImageDtype",
    "RandomAffine",
    "GaussianBlur",
    "RandomGrayscale",
    "ToDtype",
    "RandomErasing",
    "RandomApply",
    "RandomInvert",
    "AutoAugment",
    "RandAugment",
    "TrivialAugmentWide",
    # a PIL round trip (ToTensor, ToPILImage, Pad, ToTensor) and v2's image types keep the shape
    "ToPILImage",
    "ToImage",
    "ToPureTensor",
    "RandomAutocontrast",
    "RandomEqualize",
    "RandomPosterize",
    "RandomSolarize",
    "RandomAdjustSharpness",
    "RandomPerspective",
    "ElasticTransform",
}


RESHAPING = {"Resize", "Scale", "CenterCrop", "RandomCrop", "RandomResizedCrop", "Grayscale", "Pad"}  # read by _transformed


def transforms_of(transform) -> list:
    if transform is None:
        return []
    inner = getattr(transform, "transforms", None)
    if isinstance(inner, (list, tuple)):
        out = []
        for t in inner:
            out += transforms_of(t)
        return out
    return [transform]


def describe_transform(transform) -> str:
    return ", ".join(f"{type(t).__name__}{_args_text(t)}" for t in transforms_of(transform))


def _args_text(t) -> str:
    fn = getattr(t, "lambd", None)
    if callable(fn):  # Lambda(shift), Lambda(lambda at train.py:12): no address, which changes each run
        return f"({_function_name(fn)})"
    args = getattr(t, "_vaelint_args", None)
    if args is not None:
        return "(" + ", ".join(map(repr, args)) + ")"
    size = getattr(t, "size", None)
    return f"({size})" if size is not None and type(t).__name__ != "ToTensor" else "()"


def _function_name(fn) -> str:
    from vaelint.source.frames import display_path

    name = getattr(fn, "__name__", type(fn).__name__)
    code = getattr(fn, "__code__", None)
    if name == "<lambda>" and code is not None:
        return f"lambda at {display_path(code.co_filename)}:{code.co_firstlineno}"
    return name


def _size_arg(t, attr: str = "size"):
    args = getattr(t, "_vaelint_args", None)
    kwargs = getattr(t, "_vaelint_kwargs", {}) or {}
    if args is not None:
        return args[0] if args else kwargs.get(attr)
    return getattr(t, attr, None)


def pair(size) -> tuple[int, int] | None:
    """``64``, ``(64,)`` or ``(64, 48)`` as (height, width)."""
    if isinstance(size, int):
        return size, size
    if isinstance(size, (list, tuple)) and len(size) in (1, 2) and all(isinstance(s, int) for s in size):
        return (size[0], size[-1])
    return None


def resized(size, h: int, w: int) -> tuple[int, int] | None:
    """(height, width) after torchvision's Resize(size): an int makes the shorter side that size,
    the aspect ratio kept; a pair is the size itself."""
    if isinstance(size, int):
        if h is None or w is None:  # an image of any size (a folder's photograph): its aspect is not known
            return None, None
        return (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    return pair(size)


def transformed(shape: tuple, transform) -> tuple | None:
    """The item's shape after the transform; ``shape`` may leave height and width None (a folder of
    photographs of any size), which a Resize to a pair or a crop then fixes (None: not known)."""
    c, h, w = shape
    tensor = False  # past ToTensor: the image is a tensor
    steps = transforms_of(transform)
    for i, t in enumerate(steps):
        name = type(t).__name__
        if name in ("ToTensor", "PILToTensor", "ToImage"):
            tensor = True
        if name in SHAPE_KEEPING:
            continue
        if name in ("Resize", "Scale"):  # Scale: torchvision's old name of Resize
            hw = resized(_size_arg(t), h, w)
            if hw is None:
                return None
            h, w = hw
        elif name in ("CenterCrop", "RandomCrop", "RandomResizedCrop"):
            size = _size_arg(t)
            if pair(size) is None:
                return None
            h, w = pair(size)
        elif name == "Grayscale":
            n = _size_arg(t, "num_output_channels")
            c = n if isinstance(n, int) else 1
        elif name == "Pad":
            p = _size_arg(t, "padding")
            if not isinstance(p, int):
                return None
            h, w = (h + 2 * p, w + 2 * p) if h is not None and w is not None else (None, None)
        else:
            # a function of the code's (a lambda in the Compose, transforms.Lambda): run on an image
            # of the shape so far, a PIL image's before ToTensor (a crop, im.convert("RGB")), a
            # tensor after; one it cannot take leaves the shape unknown
            fn = getattr(t, "lambd", None) if name == "Lambda" else t
            if h is None or w is None:
                return None  # nothing to run it on: an image of a size not known
            applied = (None if tensor else _applied_to_pil(fn, (c, h, w))) or _applied(fn, (c, h, w))
            if applied is None:
                return None  # its effect on the shape is unknown: say so, ask for --input
            if len(applied) != 3:
                # flattened for an MLP (Lambda(lambda x: x.view(-1))): the item's shape, where no
                # step after it changes the shape
                rest = [type(r).__name__ for r in steps[i + 1 :]]
                return applied if all(r in SHAPE_KEEPING for r in rest) else None
            c, h, w = applied
    return (c, h, w) if h is not None and w is not None else None


_TO_TENSOR = ("ToTensor", "PILToTensor", "ToImage", "ToDtype", "ConvertImageDtype")


def value_steps(transforms: list) -> list:
    """The functions of a transform that change a tensor image's values after its ToTensor: its
    Normalize, its Lambdas and the code's own functions (as callables of one image); the random
    augmentations and the steps before the image is a tensor are left out."""
    import inspect

    from vaelint.source.frames import is_user_file

    last = max((i for i, t in enumerate(transforms) if type(t).__name__ in _TO_TENSOR), default=None)
    out = []
    for t in transforms[last + 1 :] if last is not None else []:
        name = type(t).__name__
        fn = getattr(t, "lambd", None) if name == "Lambda" else t
        code = getattr(fn, "__code__", None) or getattr(vars(type(fn)).get("__call__"), "__code__", None)
        if name == "Normalize":
            out.append(t)
        elif name in SHAPE_KEEPING or name in RESHAPING:
            continue  # torchvision's own steps: augmentations, casts, shapes (read elsewhere)
        elif callable(fn) and (name == "Lambda" or inspect.isfunction(fn) or (code is not None and is_user_file(code.co_filename))):
            out.append(fn)
    return out


def _runnable(fn) -> bool:
    """A function, a method, or an object of the code's own class with ``__call__`` (a transform
    written as a class: ``class CenterSquare: def __call__(self, img)``)."""
    import inspect

    from vaelint.source.frames import is_user_file

    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return True
    call = vars(type(fn)).get("__call__")
    return call is not None and is_user_file(getattr(getattr(call, "__code__", None), "co_filename", ""))


def _applied_to_pil(fn, shape: tuple) -> tuple | None:
    """The shape (C x H x W) ``fn`` gives a blank PIL image of ``shape``, or None (no PIL here, a
    function of something else)."""

    if not _runnable(fn):
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    c, h, w = shape
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        return None
    try:
        out = fn(Image.new(mode, (w, h)))
    except Exception:  # noqa: BLE001 - the code's function, for another kind of item
        return None
    if not isinstance(out, Image.Image):
        return None
    return (len(out.getbands()), out.size[1], out.size[0])


def _applied(fn, shape: tuple) -> tuple | None:
    """The shape ``fn`` gives a float image of ``shape`` (C x H x W), or None."""

    import torch

    if not _runnable(fn):
        return None
    try:
        with torch.no_grad():
            out = fn(torch.rand(shape))
    except Exception:  # noqa: BLE001 - the code's function, for another kind of item
        return None
    return tuple(out.shape) if isinstance(out, torch.Tensor) and 1 <= out.dim() <= 3 else None
