"""The batch inferred from the code's own data, without --input: a known data set's item shape
through the code's transforms (torchvision's, or functions of the code's run on an image of the
shape so far), and the loader's batch size (one sample a batch is checked at two)."""

import json
import os

import pytest
from training_cli import run


def test_a_pil_round_trip_keeps_the_shape_and_an_unknown_transform_asks_for_the_batch():
    # ToTensor, ToPILImage, Pad(2), ToTensor: MNIST padded to 32 x 32; a Lambda's effect on the
    # shape is not known: dataset[0] says to give the batch, never a 28 x 28 image it does not make
    from vaelint.errors import VaelintError
    from vaelint.frontends import standins
    from vaelint.frontends.training.datasets import infer_inputs, stand_in

    with standins.installed():
        import torchvision.datasets as datasets
        import torchvision.transforms as T

        padded = stand_in(datasets.MNIST, ("data",), {"transform": T.Compose([T.ToTensor(), T.ToPILImage(), T.Pad(2), T.ToTensor()])})
        loader = stand_in(__import__("torch").utils.data.DataLoader, (padded,), {"batch_size": 8})
        assert infer_inputs(loader).specs == ["8x1x32x32", "8:int64:10"]
        assert tuple(padded[0][0].shape) == (1, 32, 32)
        # a Lambda that flattens the image is run on one (tests/test_training_transform_values.py)
        flat = stand_in(datasets.MNIST, ("data",), {"transform": T.Compose([T.ToTensor(), T.Lambda(lambda t: t.view(-1))])})
        assert infer_inputs(stand_in(__import__("torch").utils.data.DataLoader, (flat,), {"batch_size": 8})).specs == [
            "8x784",
            "8:int64:10",
        ]
        # one whose result is no image (a NumPy array for a library of its own) is not known
        lam = stand_in(datasets.MNIST, ("data",), {"transform": T.Compose([T.ToTensor(), T.Lambda(lambda t: t.numpy())])})
        assert infer_inputs(stand_in(__import__("torch").utils.data.DataLoader, (lam,), {"batch_size": 8})) is None
        with pytest.raises(VaelintError, match="transformed by Lambda, whose effect on the shape of its items vaelint cannot tell"):
            lam[0]


def test_a_loader_of_one_sample_a_batch_is_checked_at_one_not_eight(tmp_path):
    # a big VAE's loader (batch_size=1) read from the code: it was taken for a batch of 8, eight
    # times the activations of the code's own step (a video VAE ran out of GPU memory so); then
    # checked at two, which still ran a Wan video VAE out of an H200's memory (its step took 39 of
    # 140 GiB). It is checked at one, its batch dim read from the other batch sizes, said in a note
    path = tmp_path / "train.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "from torch.utils.data import DataLoader, TensorDataset\n\n\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.enc, self.dec = nn.Conv2d(3, 8, 4, 2, 1), nn.ConvTranspose2d(4, 3, 4, 2, 1)\n\n"
        "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
        "        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)\n        return self.dec(z), mu, logvar\n\n\n"
        "model = VAE()\nopt = torch.optim.Adam(model.parameters())\n"
        "loader = DataLoader(TensorDataset(torch.rand(4, 3, 32, 32)), batch_size=1)\n"
        "for (x,) in loader:\n    recon, mu, logvar = model(x)\n"
        "    loss = F.mse_loss(recon, x, reduction='sum') - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
        "    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
    )
    import torch

    from vaelint.frontends.training.datasets import infer_inputs

    with_one = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(4, 3, 32, 32)), batch_size=1)
    assert infer_inputs(with_one).specs == ["1x3x32x32"]
    os.environ["VAELINT_TRAINING"] = "read"  # the step found by reading the code, where the batch is inferred
    try:
        r = run(str(path), "--format", "json", "--no-cache")
    finally:
        del os.environ["VAELINT_TRAINING"]
    result = json.loads(r.output)["results"][0]
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert result["flow"][0]["sizes"] == {"B": 1} and result["flow"][0]["shape"] == ["B", "3", "32", "32"]
    assert any("a batch of one sample, checked at B=1 as it trains" in n for n in result["notes"])


def test_a_function_of_the_pil_image_is_run_on_a_blank_image_of_the_shape_so_far(monkeypatch):
    # a crop written as a function of the PIL image (xyfJASON/vqvae-pytorch's CelebA: a Lambda that
    # crops, then Resize((64, 64))), or a convert("RGB") of MNIST's grey images: run on a blank PIL
    # image of the shape so far, it gives the item's shape (it was "transformed by Lambda ... cannot
    # tell", exit 2); without PIL the shape stays unknown and --input is asked for, as before
    import sys

    from vaelint.frontends import standins
    from vaelint.frontends.training.datasets import infer_inputs, stand_in

    crop = lambda image: image.crop((15, 40, 163, 188))  # noqa: E731 - as the code writes it: 148 x 148
    with standins.installed():
        import torchvision.datasets as datasets
        import torchvision.transforms as T

        def specs(data_set, transform):
            dataset = stand_in(data_set, ("data",), {"transform": transform})
            inferred = infer_inputs(stand_in(__import__("torch").utils.data.DataLoader, (dataset,), {"batch_size": 8}))
            return inferred and inferred.specs[0]

        assert specs(datasets.CelebA, T.Compose([T.Lambda(crop), T.Resize((64, 64)), T.ToTensor()])) == "8x3x64x64"
        assert specs(datasets.CelebA, T.Compose([crop, T.Resize(64), T.CenterCrop(64), T.ToTensor()])) == "8x3x64x64"
        assert specs(datasets.CelebA, T.Compose([T.Lambda(crop), T.Resize(32), T.ToTensor()])) == "8x3x32x32"
        rgb = T.Compose([T.Lambda(lambda image: image.convert("RGB")), T.Resize((32, 32)), T.ToTensor()])
        assert specs(datasets.MNIST, rgb) == "8x3x32x32"  # the channels it gives, not MNIST's one
        # a function of the tensor is run on an image of the shape so far (the stood-in Lambda keeps it)
        assert specs(datasets.CelebA, T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2 - 1)])) == "8x3x218x178"
        monkeypatch.setitem(sys.modules, "PIL", None)  # no PIL here: the shape after the crop is unknown
        assert specs(datasets.CelebA, T.Compose([T.Lambda(crop), T.Resize((64, 64)), T.ToTensor()])) is None


def test_a_transform_given_by_position_is_read_as_by_keyword():
    # MNIST(root, train, transform, target_transform, download): the third argument is the transform
    # (the fourth, the labels' transform, was read: MNIST("data", True, Resize-and-ToTensor) gave 28x28)
    from vaelint.frontends import standins
    from vaelint.frontends.training.datasets import infer_inputs, stand_in

    with standins.installed():
        import torchvision.datasets as datasets
        import torchvision.transforms as T

        dataset = stand_in(datasets.MNIST, ("data", True, T.Compose([T.Resize(32), T.ToTensor()])), {})
        loader = stand_in(__import__("torch").utils.data.DataLoader, (dataset,), {"batch_size": 8})
        assert infer_inputs(loader).specs == ["8x1x32x32", "8:int64:10"]


def test_a_target_transform_gives_the_labels_of_a_stood_in_data_set():
    # a one-hot target_transform, by keyword or by position (MNIST(root, train, transform,
    # target_transform)): the items' labels and the inferred label spec are its (an int had no
    # .shape: fixtures/training/running/one_hot_labels_by_target_transform.py)
    import torch

    from vaelint.frontends import standins
    from vaelint.frontends.training.datasets import infer_inputs, stand_in

    def one_hot(y):
        return torch.nn.functional.one_hot(torch.tensor(y), 10).float()

    with standins.installed():
        import torchvision.datasets as datasets
        import torchvision.transforms as T

        for args, kwargs in (
            (("data",), {"transform": T.ToTensor(), "target_transform": one_hot}),
            (("data", True, T.ToTensor(), one_hot), {}),
        ):
            ds = stand_in(datasets.MNIST, args, kwargs)
            assert ds[0][1].shape == (10,) and ds[0][1].dtype == torch.float32
            loader = stand_in(torch.utils.data.DataLoader, (ds,), {"batch_size": 8})
            assert infer_inputs(loader).specs == ["8x1x28x28", "8x10"]
            real = datasets.MNIST(*args, **kwargs)  # the stood-in class the code builds
            assert real[0][1].shape == (10,)
        named = stand_in(datasets.MNIST, ("data",), {"transform": T.ToTensor(), "target_transform": lambda y: f"digit {y}"})
        assert infer_inputs(stand_in(torch.utils.data.DataLoader, (named,), {"batch_size": 8})) is None  # no tensor: not known
