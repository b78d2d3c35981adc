"""Libraries training code imports, while it runs (vaelint/frontends/standins.py,
standintransforms.py): an installed one imported once, as Python imports it; a missing logger or
torchvision standing in, doing to tensors what the real one does to their shapes (make_grid's
grid too); an installed tracker that is not logged in runs in its no-op mode."""

import os

import pytest
from json_cli import check_json as _json
from training_cli import RUNNING
from training_cli import write_script as _script


def test_an_installed_package_vaelint_may_stand_in_for_is_imported_once(tmp_path):
    # accelerate installed: vaelint tried the real package while the import looked for it, so the
    # import system ran its __init__ a second time into a new module lacking `utils` ("module
    # 'accelerate' has no attribute 'utils'" at the script's accelerate.utils.set_seed)
    from training_cli import check_in

    package = tmp_path / "env" / "site-packages" / "accelerate"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os\nos.environ['ACCELERATE_INITS'] = os.environ.get('ACCELERATE_INITS', '') + 'x'\n"
        "from .utils import set_seed\n\nclass Accelerator:\n    def prepare(self, *a):\n        return a\n\n"
        "    def backward(self, loss):\n        loss.backward()\n"
    )
    (package / "utils.py").write_text("import torch\n\ndef set_seed(seed):\n    torch.manual_seed(seed)\n")
    _script(
        tmp_path,
        "import os",
        "import torch",
        "import accelerate",
        "from vae_common import VAE, elbo",
        "print('inits', os.environ.get('ACCELERATE_INITS'), hasattr(accelerate, 'utils'))",
        "accelerator = accelerate.Accelerator()",
        "accelerate.utils.set_seed(0)",
        "model, = accelerator.prepare(VAE())",
        "for x in [torch.rand(8, 784)]:",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    accelerator.backward(loss)",
    )
    r = check_in(tmp_path, "train.py", env_extra={"PYTHONPATH": str(package.parent)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| inits x True\n" in r.stdout and "no findings" in r.stdout, r.stdout  # one run of its __init__


def test_a_dashboard_imported_inside_a_function_without_tensorboard_stands_in(monkeypatch):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here: torch.utils.tensorboard imports as it is")
    monkeypatch.chdir(RUNNING)
    before = set(os.listdir(RUNNING))
    r, result = _json("tensorboard_in_a_function.py")
    assert result["error"] is None and not result["findings"], r.output
    assert any(
        "tensorboard is not installed, so torch.utils.tensorboard cannot be imported; it stands in as a no-op" in n for n in result["notes"]
    ), result["notes"]
    assert set(os.listdir(RUNNING)) == before  # no runs/ folder: the writer is a no-op


def test_torchvision_stand_in_to_pil_image_makes_a_pil_image():
    # transforms.ToPILImage()(img) then img.width: the stand-in handed the tensor back, and the code
    # stopped at "'Tensor' object has no attribute 'width'", torchvision named nowhere (helper-found:
    # dman14/Super-Resolution-using-Hierarchical-VAEs)
    import importlib.util

    import torch

    from vaelint.frontends import standins

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here: the real one serves")
    pytest.importorskip("PIL")
    with standins.installed():
        import torchvision.transforms as T

        picture = T.ToPILImage()(torch.rand(3, 20, 30))
        assert (picture.width, picture.height, picture.mode) == (30, 20, "RGB")
        assert T.ToTensor()(picture.resize((15, 10))).shape == (3, 10, 15)
        assert T.ToPILImage()(torch.rand(1, 8, 8)).mode == "L"


def test_torchvision_stand_in_transforms_act_on_tensors_as_torchvision_does():
    # a model resizing its batch in forward failed with a size error blamed on the user's code
    # where torchvision cannot be imported; transforms.transforms / functional were missing too
    import importlib.util
    import sys

    import numpy as np
    import torch

    from vaelint.frontends import standins

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here: the real one serves")
    with standins.installed():
        import torchvision
        import torchvision.transforms as T
        import torchvision.transforms.functional as TF

        prepare = T.Compose([T.Resize(64), T.CenterCrop(48), T.Normalize((0.5,) * 3, (0.5,) * 3)])
        assert prepare(torch.rand(3, 150, 200)).shape == (3, 48, 48)
        assert prepare(torch.rand(8, 3, 150, 150)).shape == (8, 3, 48, 48)
        assert TF.resize(torch.rand(2, 3, 10, 20), [5, 7]).shape == (2, 3, 5, 7)
        assert TF.center_crop(torch.rand(3, 10, 10), 4).shape == (3, 4, 4)
        assert T.Lambda(lambda x: x.view(-1))(torch.rand(2, 3)).shape == (6,)
        assert torchvision.transforms.transforms.ToTensor()(torch.ones(1, 2, 2)).shape == (1, 2, 2)

        # a PIL image or an H x W (x C) array, as a data set of the user's own converts it in its
        # __getitem__ (iliastk/DD2434IWAE: the image came back unchanged)
        class Picture:  # what np.asarray reads of a PIL image (its __array_interface__), without PIL
            def __init__(self, array):
                self.array = array

            def __array__(self, dtype=None, copy=None):
                return self.array

        gray = np.full((28, 28), 255, dtype=np.uint8)
        for made in (T.ToTensor()(Picture(gray)), TF.to_tensor(gray)):
            assert made.shape == (1, 28, 28) and made.dtype == torch.float32 and made.max() == 1.0
        rgb = T.PILToTensor()(Picture(np.zeros((4, 6, 3), dtype=np.uint8)))
        assert rgb.shape == (3, 4, 6) and rgb.dtype == torch.uint8
        assert T.ToTensor()("not an image") == "not an image"
    assert "torchvision" not in sys.modules or not standins.is_stand_in(sys.modules["torchvision"])


def test_a_stood_in_torchvision_data_set_has_what_its_constructor_was_given():
    # `if train_set.train:` stopped the run with "AttributeError: train" (an M2 semi-supervised VAE)
    import importlib.util

    from vaelint.frontends import standins

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here: the real one serves")
    with standins.installed():
        from torchvision import datasets

        test_set = datasets.MNIST("./data", train=False, download=True)
        train_set = datasets.MNIST("./data", True)
        assert (test_set.train, test_set.root, test_set.transform, test_set.download) == (False, "./data", None, True)
        assert train_set.train is True and train_set.target_transform is None
        with pytest.raises(AttributeError):
            test_set.not_an_attribute_of_mnist  # noqa: B018 - the read is the test
        # a data set looked up by name in the module's namespace, and an item of it taken by a
        # NumPy integer (Subset(ds, np.random.choice(...))): KeyError, and a stand-in item that
        # default_collate refused (NickHoernle/semantic_loss)
        import numpy as np

        assert datasets.__dict__["CIFAR10"] is datasets.CIFAR10
        image, label = datasets.__dict__["MNIST"]("data", train=True)[np.int64(3)]
        assert image.shape == (1, 28, 28) and isinstance(label, int)


def test_torchvision_dataset_utils_download_nothing_and_answer_from_the_disk(tmp_path):
    # a data set's own download code, `if not check_integrity(p): download_and_extract_archive(url,
    # root)`: "the code uses torchvision.datasets.utils.check_integrity, and torchvision is not
    # installed here" stopped the run before its data was read
    import importlib.util

    from vaelint.frontends import standins

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here: the real one serves")
    (tmp_path / "kept.bin").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    with standins.installed():
        import torchvision
        from torchvision.datasets import utils

        assert torchvision.datasets.utils is utils  # reached as an attribute too, not a data set class
        assert utils.download_and_extract_archive("https://example.org/a.tar.gz", str(tmp_path / "dl")) is None
        assert utils.download_url("https://example.org/a.bin", str(tmp_path / "dl")) is None
        assert not (tmp_path / "dl").exists()  # nothing fetched, made or written
        assert utils.check_integrity(str(tmp_path / "kept.bin"), "md5") and not utils.check_integrity(str(tmp_path / "gone.bin"))
        assert utils.verify_str_arg("train", "split", ("train", "test")) == "train"
        with pytest.raises(ValueError):
            utils.verify_str_arg("val", "split", ("train", "test"))
        assert utils.list_dir(str(tmp_path)) == ["sub"] and utils.list_files(str(tmp_path), ".bin") == ["kept.bin"]


def test_torchvision_interpolation_modes_stand_in_as_its_enum():
    # transforms.Resize(32, transforms.InterpolationMode.BICUBIC): "type object 'InterpolationMode'
    # has no attribute 'BICUBIC'" stopped a notebook's setup (aisven/beta-vae-oxford-flowers)
    import importlib.util

    from vaelint.frontends import standins

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here: the real one serves")
    with standins.installed():
        from torchvision import transforms
        from torchvision.transforms import InterpolationMode

        assert InterpolationMode is transforms.InterpolationMode
        assert InterpolationMode.BICUBIC.value == "bicubic" and InterpolationMode("nearest-exact") is InterpolationMode.NEAREST_EXACT
        assert repr(InterpolationMode.BILINEAR) == "InterpolationMode.BILINEAR"


def test_a_stood_in_trackers_run_is_written_and_read_like_a_dict():
    # neptune's run["parameters"] = params; run["train/loss"].log(v): "'_Anything' object does not
    # support item assignment" stopped a beta sweep before its step (CJ-Griffin/beta-vae-group2)
    from vaelint.frontends.standinbase import _Anything

    run = _Anything()
    run["parameters"] = {"beta": 4.0}
    run["train/loss"].log(0.5)
    run["a"]["b"] = 1


def test_a_stand_in_class_answers_isinstance_by_its_bases():
    # isinstance(trainer_or_dataset, L.Trainer) with Lightning 2.x stood in (nmichlo/disent): ABCMeta
    # called the instances' __subclasscheck__ on the class, "missing 1 required positional argument",
    # and the run stopped inside vaelint's stand-in, said as "no input shape"
    from vaelint.frontends.standinbase import _Anything

    class Trainer(_Anything):
        pass

    class LitTrainer(Trainer):
        pass

    assert not isinstance(object(), Trainer) and not isinstance(_Anything(), Trainer)
    assert isinstance(LitTrainer(), Trainer) and isinstance(Trainer(), _Anything)
    assert issubclass(LitTrainer, Trainer) and not issubclass(Trainer, LitTrainer) and not issubclass(int, Trainer)
    assert not isinstance(3, _Anything())  # a stand-in object used as a class: nothing is one


FAKE_WANDB = """import os


class UsageError(Exception):
    pass


class _Run:
    def log(self, *args, **kwargs):
        pass


def init(**kwargs):
    # as wandb does: with no API key configured it refuses, unless told to do nothing
    if os.environ.get("WANDB_MODE") != "disabled":
        raise UsageError("No API key configured. Use `wandb login` to log in.")
    return _Run()
"""


def test_an_installed_tracker_that_is_not_logged_in_runs_in_its_no_op_mode(tmp_path, monkeypatch):
    """wandb.init(project=...) at the top of a script, wandb installed but not logged in
    (an-seunghwan/DistVAE): the setup ran into 'No API key configured'. The check runs the
    trackers in their own no-op modes (WANDB_MODE=disabled, ...), and leaves the environment
    as it found it."""
    monkeypatch.delenv("WANDB_MODE", raising=False)
    (tmp_path / "wandb").mkdir()
    (tmp_path / "wandb" / "__init__.py").write_text(FAKE_WANDB)
    _script(
        tmp_path,
        "import torch",
        "import wandb",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "run = wandb.init(project='vae', entity='someone')",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for (x,) in DataLoader(TensorDataset(torch.rand(256, 784)), batch_size=64):",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    run.log({'loss': loss.item()})",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert "No API key" not in r.output


def test_the_trackers_modes_are_set_only_while_the_code_runs(monkeypatch):
    from vaelint.frontends.training.sandbox import TRACKERS_OFF, Sandbox

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NEPTUNE_MODE", "async")  # the user's own setting is theirs
    with Sandbox(os.path.join(RUNNING, "train.py")).active():
        assert os.environ["WANDB_MODE"] == "disabled" and os.environ["NEPTUNE_MODE"] == "async"
        assert all(os.environ.get(k) for k in TRACKERS_OFF)
    assert "WANDB_MODE" not in os.environ and os.environ["NEPTUNE_MODE"] == "async"


def test_the_stand_in_make_grid_makes_the_grid_code_plots_before_its_step(tmp_path, monkeypatch):
    # an ignite STARTED handler (pytorch/ignite's VAE notebook) shows a grid of the first batch
    # before training: torchvision.utils.make_grid stood in as "anything", and the plot of it
    # stopped the run before the step; it is now the tensor torchvision makes (3 x 62 x 242 for
    # 16 MNIST images at nrow 8, padding 2)
    _script(
        tmp_path,
        "import torch",
        "from torchvision import datasets, transforms",
        "from torchvision.utils import make_grid",
        "from vae_common import VAE, elbo",
        "def main():",
        "    data = datasets.MNIST('data', train=True, download=False, transform=transforms.ToTensor())",
        "    loader = torch.utils.data.DataLoader(data, batch_size=16)",
        "    grid = make_grid(next(iter(loader))[0], nrow=8, padding=2)",
        "    picture = grid.permute(1, 2, 0).numpy()",
        "    assert picture.shape == (62, 242, 3), picture.shape",
        "    model = VAE()",
        "    opt = torch.optim.Adam(model.parameters())",
        "    for x, _ in loader:",
        "        x = x.view(-1, 784)",
        "        recon, mu, logvar = model(x)",
        "        loss = elbo(recon, x, mu, logvar)",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
        "if __name__ == '__main__':",
        "    main()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert result["loss"] == "the training step of train.py:main (lines 13-18, backward at line 18)", r.output
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]  # run as written


def test_notebook_progress_bars_run_as_text_bars_without_ipywidgets(tmp_path, monkeypatch):
    # from tqdm.notebook import tnrange, tqdm: outside Jupyter, without ipywidgets, the first bar
    # raised "IProgress not found" before the step (nitarshan/variational-autoencoder's notebook)
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        pytest.skip("ipywidgets is installed: the notebook bars work as they are")
    pytest.importorskip("tqdm")
    _script(
        tmp_path,
        "import torch",
        "from tqdm import tnrange as top_level_tnrange",
        "from tqdm.notebook import tnrange, tqdm",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "for _ in top_level_tnrange(1):",
        "    pass",
        "for epoch in tnrange(5, desc='epochs'):",
        "    for (x,) in tqdm(loader, leave=False):",
        "        recon, mu, logvar = model(x)",
        "        elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None, r.output
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]


def test_a_missing_trackers_config_holds_what_the_code_gave_it(monkeypatch):
    """``wandb.init(config=vars(args)); args = wandb.config``: the settings the setup sizes its data
    and model from read back by attribute and key (before: no-ops, the setup failed, exit 2); a
    key never given is an AttributeError that says why."""
    import importlib.util

    from vaelint.frontends.trackerconfig import tracker_names

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed: its config is the real one")
    monkeypatch.chdir(RUNNING)
    r, result = _json("tracker_config_as_args.py")
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert result["loss"].startswith("the training step of tracker_config_as_args.py")
    names = tracker_names("wandb")
    run = names("init")(project="p", config={"lr": 0.1})
    assert names("config").lr == 0.1 and run.config["lr"] == 0.1 and dict(run.config.items()) == {"lr": 0.1}
    with pytest.raises(AttributeError, match="wandb.config has no 'epochs'"):
        assert names("config").epochs is None


def test_a_stood_in_package_has_a_version_the_code_can_compare(tmp_path, monkeypatch):
    # `if version.parse(accelerate.__version__) >= version.parse("0.16.0")` in a diffusers-style
    # training script with accelerate not installed: the stand-in had no __version__, and the run
    # stopped at "AttributeError: __version__" (rteehas/diffusion-exploration, found by a helper)
    from vaelint.frontends import standins

    with standins.installed():
        import accelerate

        assert getattr(accelerate, "__vaelint_stand_in__", False)
        assert accelerate.__version__ == "0.0.0"
        from packaging import version

        assert version.parse(accelerate.__version__) < version.parse("0.16.0")


def test_a_run_log_folder_named_like_a_missing_package_does_not_hide_its_stand_in(tmp_path, monkeypatch):
    # ./wandb/run-*/ (the run logs wandb writes, committed with the code: Eggngineer/CVAE): with wandb
    # not installed, Python imported that folder as an empty namespace package, and wandb.init()
    # stopped the run ("module 'wandb' has no attribute 'init'")
    import importlib.util

    from vaelint.frontends.standinbase import real_spec

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    (tmp_path / "wandb" / "run-20240101_000000-abc" / "files").mkdir(parents=True)
    (tmp_path / "wandb" / "run-20240101_000000-abc" / "files" / "output.log").write_text("epoch 1\n")
    _script(
        tmp_path,
        "import torch",
        "import torch.nn.functional as F",
        "import wandb",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE",
        "wandb.init(project='vae', config={'lr': 1e-3})",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters(), lr=wandb.config.lr)",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    loss = F.binary_cross_entropy(recon, x, reduction='sum') - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    wandb.log({'loss': loss.item()})",
        "    opt.step()",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert real_spec("wandb") is None  # a folder holding no Python is no package
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and result["findings"] == [], r.output
