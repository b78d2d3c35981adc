"""torchvision's folders of photographs (ImageFolder and its kind: :mod:`.datasets`) whose images
are not here: their items have the shape the code's transform gives an image of any size, and what
code reads of the real one (``imgs``, ``samples``, ``loader``, ``classes``) stands in."""

from __future__ import annotations

from vaelint.frontends.training.datasettransforms import describe_transform, transformed

# torchvision's data sets of photographs, whose images come in any size: name -> (channels, classes).
# An item's shape is what the code's transform makes of them (Resize((64, 64)), Resize(64) then
# CenterCrop(64)); a transform that fixes no size leaves it unknown, and --input gives it
FOLDERS = {
    "ImageFolder": (3, 1),
    "ImageNet": (3, 1000),
    "LSUN": (3, 1),
    "Places365": (3, 365),
    "Flowers102": (3, 102),
    "Food101": (3, 101),
    "OxfordIIITPet": (3, 37),
    "StanfordCars": (3, 196),
    "Caltech101": (3, 101),
    "Caltech256": (3, 257),
}

# where their constructors take what the stand-in reads back (``ImageFolder(root, transform,
# target_transform, loader)``), beside the other data sets' (root, train, transform, ...)
ARGUMENTS = {"root": (0, None), "transform": (1, None), "target_transform": (2, None), "train": (None, True), "download": (None, False)}


def folder_item(name: str, transform):
    """An item of a folder of images: an image of the shape the transform gives, and its class."""
    import torch

    shape = folder_item_shape(name, transform)
    if shape is None:
        from vaelint.errors import VaelintError

        described = describe_transform(transform)
        raise VaelintError(
            "input",
            f"the data set {name}'s images are not here, and their size is not known: "
            + (f"its transform ({described}) fixes none" if described else "it has no transform that fixes one")
            + " (a Resize to a pair, or a crop, would). Give the batch with --input, one per item of the batch "
            "(e.g. --input 64x3x64x64 --input 64:int64:1).",
        )
    return torch.rand(shape), 0


def folder_attribute(name: str, item: str):
    """What code reads of a folder of images besides its items (``self.imgs``, ``self.samples``,
    ``self.loader(path)`` in a subclass's ``__getitem__``, ``len(dataset.classes)``): file names
    that are not here, each of class 0, and a loader that gives a 3 x 256 x 256 image in [0, 1]
    (the code's transform then makes it the size it wants)."""
    from vaelint.frontends.training.datasets import STOOD_IN_LENGTH

    classes = FOLDERS[name][1]
    if item in ("imgs", "samples"):
        return [(f"{name.lower()}/0/{i:06d}.jpg", 0) for i in range(STOOD_IN_LENGTH)]
    if item == "targets":
        return [0] * STOOD_IN_LENGTH
    if item == "classes":
        return [str(i) for i in range(classes)]
    if item == "class_to_idx":
        return {str(i): i for i in range(classes)}
    if item == "loader":
        import torch

        return lambda path: torch.rand(3, 256, 256)
    raise AttributeError(item)


def folder_item_shape(name: str, transform) -> tuple | None:
    """A folder data set's item shape after the code's transform, or None (it fixes no size)."""
    return transformed((FOLDERS[name][0], None, None), transform)
