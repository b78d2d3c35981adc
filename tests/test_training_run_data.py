"""Training code run as written whose data or weights are not here, and what it reads of them
(issue "Any training code, found by running it", item 2): an installed torchvision's data sets,
pickled and torch.load data, empty data sets, checkpoints, the splits' real lengths, and the
model's own loss method in full-batch training."""

import os

import pytest
from json_cli import check_json as _json
from training_cli import RUNNING
from training_cli import write_script as _script

_TORCHVISION = {
    "__init__.py": "from . import datasets, transforms\n",
    "transforms.py": (
        "class ToTensor:\n    def __call__(self, image):\n        return image\n\n"
        "class Compose:\n    def __init__(self, transforms):\n        self.transforms = transforms\n"
        "    def __call__(self, image):\n        for t in self.transforms:\n            image = t(image)\n        return image\n"
    ),
    "datasets.py": (
        "import os\nimport urllib.request\nimport torch\nfrom torch.utils.data import Dataset\n\n"
        "class MNIST(Dataset):\n"
        "    def __init__(self, root, train=True, transform=None, download=False):\n"
        "        self.transform = transform\n"
        "        path = os.path.join(root, 'mnist.pt')\n"
        "        if not os.path.exists(path):\n"
        "            if not download:\n                raise RuntimeError('Dataset not found. You can use download=True to download it')\n"
        "            urllib.request.urlopen('https://example.org/mnist.pt')\n"
        "        self.data = torch.load(path)\n\n"
        "    def __len__(self):\n        return len(self.data)\n\n"
        "    def __getitem__(self, i):\n        return self.transform(self.data[i]), 3\n"
    ),
}


def test_an_installed_torchvision_data_set_without_its_data_stands_in(tmp_path):
    """torchvision installed (here a stand-in package of the same layout), its MNIST asked to
    download into a folder that does not hold it: the download is refused, the data set stands
    in with MNIST's known items, and the step is reached with no --input. The near miss: the
    data is in the folder, and the data set gives its own items."""
    from training_cli import check_in

    library = tmp_path / "site-packages" / "torchvision"  # installed: not the user's code
    library.mkdir(parents=True)
    for name, text in _TORCHVISION.items():
        (library / name).write_text(text)
    env = {"PYTHONPATH": str(library.parent)}
    tmp_path = tmp_path / "project"
    tmp_path.mkdir()
    _script(
        tmp_path,
        "import torch",
        "from torchvision import datasets, transforms",
        "from vae_common import VAE, elbo",
        "data = datasets.MNIST('data', train=True, download=True, transform=transforms.ToTensor())",
        "loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)",
        "model = VAE()",
        "for x, _ in loader:",
        "    recon, mu, logvar = model(x.view(x.size(0), -1))",
        "    elbo(recon, x.view(x.size(0), -1), mu, logvar).backward()",
    )
    out = check_in(tmp_path, "train.py", "--format", "json", env_extra=env)
    result = __import__("json").loads(out.stdout)["results"][0]
    assert result["error"] is None, out.stdout + out.stderr
    assert any(
        "torchvision's MNIST data set (root 'data') is not here (it would be downloaded, and vaelint never downloads)" in n
        for n in result["notes"]
    ), result["notes"]
    assert result["flow"][0]["shape"] == ["B", "1", "28", "28"] and not any("did not reach its step" in n for n in result["notes"])
    (tmp_path / "data").mkdir()
    import torch

    torch.save(torch.rand(40, 1, 28, 28), tmp_path / "data" / "mnist.pt")
    out = check_in(tmp_path, "train.py", "--format", "json", env_extra=env)
    result = __import__("json").loads(out.stdout)["results"][0]
    assert result["error"] is None, out.stdout + out.stderr
    assert not any("MNIST data set" in n for n in result["notes"]), result["notes"]


def test_full_batch_training_through_the_models_own_loss_method_is_the_vae_step(tmp_path, monkeypatch):
    """``model.negative_elbo(data).mean().backward()`` with no forward call and no loader: the
    rsample drawn inside the model's method is the step's noise, so the backward is a VAE's (no
    "reaches no random sample" note), and the KL kept per latent dim is VAE002. The near miss
    sums the KL over the latent dims: clean."""
    monkeypatch.chdir(RUNNING)
    r, result = _json("full_batch_loss_method.py")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 28)], r.output
    assert not any("reaches no random sample" in n for n in result["notes"]), result["notes"]
    source = open(os.path.join(RUNNING, "full_batch_loss_method.py")).read()
    summed = source.replace("kl = kl_divergence(q, self.prior)", "kl = kl_divergence(q, self.prior).sum(dim=1, keepdim=True)")
    assert summed != source
    (tmp_path / "train.py").write_text(summed)
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and result["findings"] == [] and result["beta_effective"] == "1", r.output


def test_torch_load_of_a_data_file_that_is_not_here_stands_in_and_a_checkpoint_does_not(tmp_path, monkeypatch):
    """``TensorDataset(torch.load("data/shapes_train.pt"))`` with --input: the read stands in as
    rows of the spec, the loader's batch is the list a TensorDataset gives (``d[0]``), the step is
    reached by running the code. The near miss: ``torch.load("checkpoints/model_best.pth")`` is a
    checkpoint, not data: it never stands in as rows; the weights stay as built, said in a note."""
    monkeypatch.chdir(RUNNING)
    r, result = _json("torch_load_tensor_dataset.py", "--input", "16x1x32x32")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 35)], r.output
    assert any(n.startswith("the data file data/shapes_train.pt (torch.load at torch_load_tensor_dataset.py:26)") for n in result["notes"])
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]
    source = open(os.path.join(RUNNING, "torch_load_tensor_dataset.py")).read()
    (tmp_path / "train.py").write_text(
        source.replace(
            'images = torch.load("data/shapes_train.pt")',
            'images = torch.load("data/shapes_train.pt")\nmodel_state = torch.load("checkpoints/model_best.pth")',
        )
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "16x1x32x32")
    # never stood in as data: a checkpoint that is not here leaves the weights as built
    assert not any(n.startswith("the data file checkpoints/model_best.pth") for n in result["notes"]), r.output
    assert any("checkpoint torch.load('checkpoints/model_best.pth')" in n and "the weights stay as built" in n for n in result["notes"]), (
        result["notes"]
    )
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 36)], r.output
    from vaelint.frontends.training.livepickle import _data_file

    assert _data_file("data/shapes_train.pt") and not _data_file("checkpoints/model_best.pth") and not _data_file("runs/vae_epoch_10.pt")


def test_a_data_set_of_the_users_that_is_empty_here_stands_in_with_input(monkeypatch):
    """A Dataset whose glob finds none of its files is built fine but empty: with --input it
    stands in (the step is reached), without it the run's "num_samples=0" says the data set is
    empty here and what to give."""
    monkeypatch.chdir(RUNNING)
    r, result = _json("empty_glob_dataset.py", "--input", "32x1x28x28")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 46)], r.output
    assert any(n.startswith("the data set DigitFolder (empty_glob_dataset.py:18) holds no items here") for n in result["notes"])
    r, result = _json("empty_glob_dataset.py")
    assert r.exit_code == 2 and "a data set of the code's is empty here" in result["error"]["message"], r.output


def test_an_input_with_channels_the_first_convolution_does_not_take_says_which_to_give():
    """pytorch-generative's VQ-VAE trains on CIFAR (3 channels); given --input 16x1x32x32 its
    first convolution raises, and the message names the --input that fits. The near miss: a
    channel error on a tensor the model made (not the --input's shape) gets no such hint."""
    from vaelint.frontends.training.livehints import channels_hint
    from vaelint.inputs import parse_input_spec

    error = "Given groups=1, weight of size [64, 3, 4, 4], expected input[16, 1, 32, 32] to have 3 channels, but got 1 channels instead"
    hint = channels_hint(error, [parse_input_spec("16x1x32x32")])
    assert "Your --input 16x1x32x32 reaches that layer as given" in hint and hint.endswith("--input 16x3x32x32")
    assert channels_hint(error.replace("[16, 1, 32, 32]", "[16, 1, 16, 16]"), [parse_input_spec("16x1x32x32")]) == ""
    assert channels_hint(error, []) == ""


@pytest.mark.parametrize("catches", ["except:", "except FileNotFoundError:", "except (OSError, KeyError) as e:"])
def test_a_checkpoint_the_code_tries_to_resume_from_is_missing_as_it_is(tmp_path, monkeypatch, catches):
    # try: ck = torch.load(path); start = ck["epoch"] ... except: start fresh. The stand-in
    # checkpoint kept the except from running, and range(ck['epoch'], ...) failed (o-tawab/
    # Variational-Autoencoder-pytorch): the code's own way without a checkpoint runs instead
    _script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        "def main():",  # a line of main() that fails stops the run (a failing top-level line would not)
        "    model = VAE()",
        "    start = 0",
        "    try:",
        "        ck = torch.load('checkpoints/last.pth.tar')",
        "        model.load_state_dict(ck['state_dict'])",
        "        start = int(ck['epoch'])",
        "    " + catches,
        "        print('starting fresh')",
        "    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "    for epoch in range(start, 10):",
        "        for (x,) in loader:",
        "            recon, mu, logvar = model(x)",
        "            elbo(recon, x, mu, logvar).backward()",
        "main()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and not any("did not reach its step" in n for n in result["notes"]), r.output
    assert not any("the weights stay as built" in n for n in result["notes"]), result["notes"]


def test_a_number_read_from_a_checkpoint_that_is_not_here_is_a_fresh_starts(tmp_path, monkeypatch):
    # a resume outside any try: range(ck['epoch'], E) stopped the run with "'MissingCheckpoint'
    # object cannot be interpreted as an integer", vaelint's own class name in the report
    _script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        "def main():",
        "    model = VAE()",
        "    ck = torch.load('checkpoints/last.pth.tar')",
        "    model.load_state_dict(ck['state_dict'])",
        "    best = float(ck['best_loss'])",
        "    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "    for epoch in range(ck['epoch'], 10):",
        "        for (x,) in loader:",
        "            recon, mu, logvar = model(x)",
        "            elbo(recon, x, mu, logvar).backward()",
        "main()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and not any("did not reach its step" in n for n in result["notes"]), r.output
    assert any("checkpoints/last.pth.tar" in n and "the weights stay as built" in n for n in result["notes"]), result["notes"]


def test_a_checkpoint_that_is_not_here_leaves_the_weights_as_built_and_a_gpu_one_loads_on_the_cpu(tmp_path, monkeypatch):
    """``vae.load_state_dict(torch.load("./vae.pth"))`` before training, the file not in the
    checkout (CVAE-GAN-zoos ships one of its three): the weights stay as built, said in a note,
    and the step is reached; an optimiser's state too. A checkpoint saved on a GPU (without
    map_location) loads onto this machine's CPU. The near miss: a checkpoint that is here loads."""
    import torch

    from vaelint.frontends.training.livecuda import _load_on_cpu

    _script(
        tmp_path,
        "import torch",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "model.load_state_dict(torch.load('./vae_discriminator.pth'))",
        "ckpt = torch.load('runs/last.ckpt')",
        "opt.load_state_dict(ckpt['optimizer'])",
        "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(64, 784)), batch_size=16)",
        "for (x,) in loader:",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and not any("did not reach its step" in n for n in result["notes"]), r.output
    said = [n for n in result["notes"] if "the weights stay as built" in n]
    assert len(said) == 2 and "vae_discriminator.pth" in said[0], result["notes"]
    import sys

    sys.path.insert(0, RUNNING)
    try:
        from vae_common import VAE
    finally:
        sys.path.remove(RUNNING)
    torch.save(VAE().state_dict(), tmp_path / "vae_discriminator.pth")
    r, result = _json("train.py")  # here: it loads, and only the other one is said
    said = [n for n in result["notes"] if "the weights stay as built" in n]
    assert result["error"] is None and len(said) == 1 and "runs/last.ckpt" in said[0], result["notes"]
    calls = []

    def gpu_saved(f, map_location=None, **kwargs):
        calls.append(map_location)
        if map_location is None:
            raise RuntimeError("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False.")
        return {"w": 1}

    if not torch.cuda.is_available():
        assert _load_on_cpu(gpu_saved)("vae.pth") == {"w": 1} and calls == [None, "cpu"]


def test_a_stood_in_data_set_has_its_real_length_so_a_split_by_number_works(tmp_path, monkeypatch):
    """``random_split(CIFAR10(train=True), [45000, 5000])`` (vae-intro): the stood-in CIFAR10 has
    its real 50000 items (before: 60000 for every data set, and the split raised); its test split
    has 10000 (the near miss: the length follows the split the code asks for)."""
    from vaelint.frontends.training.datasets import known_length

    assert known_length("CIFAR10", (), {"train": True}) == 50000 and known_length("CIFAR10", ("data", False), {}) == 10000
    assert known_length("CelebA", (), {"split": "valid"}) == 19867 and known_length("ImageFolder") == 60000
    _script(
        tmp_path,
        "import torch",
        "from torch.utils.data import DataLoader, random_split",
        "from torchvision import datasets, transforms",
        "from vae_common import VAE, elbo",
        "full = datasets.CIFAR10('data', train=True, download=True, transform=transforms.ToTensor())",
        "train_set, val_set = random_split(full, [45000, 5000])",
        "model = VAE(3 * 32 * 32)",
        "for x, _ in DataLoader(train_set, batch_size=8, shuffle=True):",
        "    x = x.flatten(1)",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py")
    assert result["error"] is None and not any("did not reach its step" in n for n in result["notes"]), r.output


def test_a_stood_in_data_sets_vocabulary_is_the_size_the_token_ids_give():
    # len(train.w2i), train.w2i["<pad>"], i2w[str(i)] of a text data set whose files are not here
    from vaelint.frontends.training.livevocab import vocab_attribute
    from vaelint.inputs import parse_input_spec

    specs = [parse_input_spec("32x20:int64:1000")]
    w2i, i2w = vocab_attribute("w2i", specs), vocab_attribute("idx2word", specs)
    assert len(w2i) == len(i2w) == 1000 and vocab_attribute("vocab_size", specs) == 1000
    assert [w2i[t] for t in ("<pad>", "<sos>", "<eos>", "<unk>")] == [0, 1, 2, 3]
    assert 4 <= w2i["the"] < 1000 and w2i.get("the") == w2i["the"]
    assert i2w[0] == "<pad>" and i2w["5"] == i2w[5] and i2w[5] != "<unk>"
    assert len(vocab_attribute("vocab", specs).stoi) == 1000  # torchtext's Vocab read through .stoi
    # the near misses: a name that says no vocabulary, and no token ids to size one
    assert vocab_attribute("labels", specs) is None
    assert vocab_attribute("w2i", [parse_input_spec("32x784")]) is None
    assert vocab_attribute("w2i", [parse_input_spec("32:int64:3")]) is None


def test_a_data_folder_the_code_lists_that_is_not_here_lists_stand_in_files_with_input(monkeypatch):
    # data_folder_listed.py trains inside `for file in os.listdir("datasets/train")`: with --input the
    # folder lists stand-in files (the .npy one read as samples); without, the missing folder is said
    monkeypatch.chdir(RUNNING)
    r, result = _json("data_folder_listed.py", "--input", "64x784")
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    assert any(n.startswith("the data folder datasets/train (os.listdir at data_folder_listed.py:") for n in result["notes"]), result[
        "notes"
    ]
    r, result = _json("data_folder_listed.py")
    assert result["error"] is not None and "datasets/train" in result["error"]["message"], r.output
    assert not os.path.exists(os.path.join(RUNNING, "datasets"))  # nothing was made


@pytest.mark.parametrize(
    "guard",
    [
        'assert os.path.exists(os.path.join("datasets", "train")), "data folder not found"',
        'if not os.path.isdir(os.path.join("datasets", "train")):\n        raise SystemExit("no data")',
        # mgp123/nvae: `from os.path import exists`; Szakulli07/coopertunes: all(map(Path.exists, dirs))
        'from os.path import exists\n    if not exists(os.path.join("datasets", "train")):\n        raise SystemExit("no data")',
        'from pathlib import Path\n    assert all(map(Path.exists, [Path("datasets") / "train"]))',
        'from pathlib import Path\n    assert all(d.is_dir() for d in [Path("datasets", "train")]), "no data"',
        'from pathlib import Path\n    if not Path("datasets", "train").exists():\n        raise FileNotFoundError("no data")',
    ],
    ids=["assert-exists", "if-not-isdir", "exists-by-name", "all-map-path-exists", "all-is-dir-genexp", "path-exists"],
)
def test_the_codes_check_that_its_data_folder_exists_is_answered_yes_with_input(tmp_path, monkeypatch, guard):
    # deepakdhull80/vqvae-pytorch asserts its data folder exists before listing it: the run stopped
    # there, though the listing and the readers after it stand in. A check that is no guard (an
    # `if os.path.exists(...)` choosing what to do) is still told the truth
    text = open(os.path.join(RUNNING, "data_folder_listed.py")).read()
    text = text.replace(
        "    files = os.listdir(",
        f"    {guard}\n    if os.path.exists('made'):\n        raise SystemExit('told made exists')\n    files = os.listdir(",
    )
    (tmp_path / "train.py").write_text(text)
    (tmp_path / "vae_common.py").write_text(open(os.path.join(RUNNING, "vae_common.py")).read())
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "64x784")
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    notes = " ".join(result["notes"])
    # the line of the check itself (the guard's first line for an assert, its `if` otherwise)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "datasets" in t and ("exists" in t or "is_dir" in t or "isdir" in t))
    assert f"the code's check that datasets/train exists (train.py:{line}) was answered yes" in notes, notes
    assert "did not reach its step" not in notes and "told made exists" not in r.output, r.output
    assert not os.path.exists(tmp_path / "datasets")


def test_a_data_folder_the_code_lists_through_pathlib_lists_stand_in_files_too(monkeypatch):
    # sorted(Path("datasets/spectrograms").glob("*.npy")): the code runs as written to its step
    # (before: the glob was empty, np.concatenate of nothing stopped it, and the code was read)
    monkeypatch.chdir(RUNNING)
    r, result = _json("data_folder_listed_with_pathlib.py", "--input", "64x784")
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    notes = " ".join(result["notes"])
    assert "the data folder datasets/spectrograms (Path.glob at data_folder_listed_with_pathlib.py:25)" in notes
    assert "did not reach its step" not in notes
    assert not os.path.exists(os.path.join(RUNNING, "datasets"))


def test_only_the_codes_own_listing_of_a_missing_folder_is_answered_with_stand_ins(tmp_path):
    import glob

    from vaelint.frontends.training.livelistings import NAMES, folder_listings
    from vaelint.frontends.training.livepatch import Patches

    patches, said = Patches(), []
    folder_listings(patches, said)
    try:
        missing = str(tmp_path / "nowhere")
        assert glob.glob(missing + "/*.npz") == [os.path.join(missing, "vaelint_stand_in.npz")]  # this test is user code
        assert os.listdir(missing) == list(NAMES)
        assert os.listdir(str(tmp_path)) == []  # a folder that is here: as it is
        import shutil

        with pytest.raises(FileNotFoundError):  # a library's listing keeps its error
            shutil.copytree(missing, str(tmp_path / "copy"))
    finally:
        patches.restore()
    assert any("the data folder" in s for s in said)
    with pytest.raises(FileNotFoundError):
        os.listdir(missing)


def test_a_stood_in_data_set_ends_where_its_split_does(monkeypatch):
    # [img for img, _ in ds] over MNIST's train split that is not here: 60000 items, then IndexError
    monkeypatch.chdir(RUNNING)
    r, result = _json("whole_data_set_stacked.py", "--timeout", "120")
    assert r.exit_code == 0 and result["error"] is None, r.output
    assert any("input 64x784: inferred" in n for n in result["notes"]), result["notes"]
