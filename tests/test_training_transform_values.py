"""A stood-in data set's images go through the functions of its transform after ToTensor (a
``Lambda(shift)`` centring them on 0, the code's own ``def``), one image at a time, and the
check's batches keep those values: a Categorical over ((x + 0.5) * 255).long() met targets past
255 (exit 2, bshall/VectorQuantizedVAE). A Lambda that flattens the image (``x.view(-1) - 0.5``)
gives the item's shape (it was "cannot tell", exit 2, parneyw/vae-tutorial).
fixtures/training/running/lambda_shifted_images.py and lambda_flattened_images.py are the class."""

from __future__ import annotations

import os

import torch
from conftest import FIXTURES
from helpers import check, found

from vaelint.frontends.training.datasettransforms import describe_transform, transformed, value_steps

RUNNING = os.path.join(FIXTURES, "training", "running")


class _Named:
    """A transform of the given class name (the stand-in's and torchvision's are read by name)."""

    def __init__(self, name, fn=None):
        self.__class__ = type(name, (_Named,), {"__call__": lambda self, x: fn(x) if fn else x})
        self.lambd = fn


def _shift(x):
    return x - 0.5


def test_the_shifted_images_keep_their_values_in_the_check():
    result = check(os.path.join(RUNNING, "lambda_shifted_images.py"), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 34)}
    assert any("after ToTensor(), Lambda(shift)" in n for n in result.notes), result.notes


def test_a_flattening_lambda_gives_the_items_shape():
    result = check(os.path.join(RUNNING, "lambda_flattened_images.py"), "-", [])
    assert result.error is None, result.error.message
    assert not result.findings
    assert result.input_text.startswith("B x 784 (B=32)"), result.input_text


def test_value_steps_are_the_functions_after_to_tensor():
    steps = [_Named("Lambda", _shift), _Named("ToTensor"), _Named("RandomHorizontalFlip"), _Named("Lambda", _shift), _shift]
    got = value_steps(steps)
    assert got == [_shift, _shift]  # the Lambda before ToTensor (on the PIL image) and the flip are left out
    assert value_steps([_Named("Lambda", _shift)]) == []  # no ToTensor: nothing is known to be a tensor


def test_a_flattening_step_ends_the_shape_unless_a_step_after_it_changes_it():
    from types import SimpleNamespace

    def compose(*steps):
        return SimpleNamespace(transforms=list(steps))

    flat = _Named("Lambda", lambda x: x.view(-1))
    assert transformed((1, 28, 28), compose(_Named("ToTensor"), flat)) == (784,)
    assert transformed((1, 28, 28), compose(_Named("ToTensor"), flat, _Named("Normalize"))) == (784,)
    assert transformed((1, 28, 28), compose(_Named("ToTensor"), flat, _Named("Resize"))) is None


def test_a_lambda_is_named_by_its_function_not_its_address():
    assert describe_transform(_Named("Lambda", _shift)) == "Lambda(_shift)"
    said = describe_transform(_Named("Lambda", lambda x: x))
    assert said.startswith("Lambda(lambda at ") and "0x" not in said, said


def test_without_value_steps_the_images_are_drawn_as_before():
    from types import SimpleNamespace

    from vaelint.frontends.training.livebatch import as_normalised

    batch = [torch.rand(4, 1, 8, 8), torch.zeros(4)]
    loader = SimpleNamespace(dataset=SimpleNamespace(transform=_Named("ToTensor")))
    assert as_normalised(batch, loader) is batch
    loader.dataset.transform = SimpleNamespace(transforms=[_Named("ToTensor"), _Named("Lambda", _shift)])
    out = as_normalised(batch, loader)
    assert torch.equal(out[0], batch[0] - 0.5) and out[1] is batch[1]


class _CentreCrop:
    """A transform of the code's written as a class (helper-found: seungjunlee96's CenterCropMinXY)."""

    def __init__(self, size):
        self.size = size

    def __call__(self, img):
        _, h, w = img.shape
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return img[:, top : top + self.size, left : left + self.size]


def test_a_transform_written_as_a_class_is_run_for_the_shape():
    from types import SimpleNamespace

    compose = SimpleNamespace(transforms=[_Named("ToTensor"), _CentreCrop(24)])
    assert transformed((3, 32, 32), compose) == (3, 24, 24)
    # an object of a library's class is not the code's to run: its effect stays unknown
    assert transformed((3, 32, 32), SimpleNamespace(transforms=[_Named("ToTensor"), torch.nn.Identity()])) is None
