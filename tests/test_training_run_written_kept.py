"""What the code writes while vaelint runs it goes nowhere on disk, but is kept in memory for the
code's own reads in the same run (vaelint/frontends/training/sandboxoverlay.py, sandboxfolders.py):
a cache written then read back, a folder made then listed, what was written into it."""

import os

import pytest
from training_cli import check_in
from training_cli import write_script as _script


def test_an_hdf5_file_opened_to_write_is_kept_in_memory(tmp_path):
    """``h5py.File(path, "w")`` (h5py opens its files in C) becomes the same file in memory
    (driver="core", no backing store), noted; a file opened to read is opened as written."""
    from vaelint.frontends.training.sandbox import Sandbox
    from vaelint.frontends.training.sandboxnative import _h5_file

    calls = []
    sandbox = Sandbox(str(tmp_path / "train.py"))
    sandbox._free_roots = []
    h5 = _h5_file(sandbox, lambda name, mode, *a, **k: calls.append((name, mode, k)))
    h5(str(tmp_path / "cache.h5"), "w")
    h5(str(tmp_path / "data.h5"), "r")
    assert calls[0][2] == {"driver": "core", "backing_store": False} and calls[1] == (str(tmp_path / "data.h5"), "r", {})
    assert any("h5py.File(" in b and "cache.h5" in b for b in sandbox.blocked), sandbox.blocked


def test_a_folder_the_code_made_answers_as_the_empty_folder_it_would_be(tmp_path):
    """vaelint makes no folder, so code that makes one and looks into it (vae-lab's
    ``os.mkdir(save_dir)`` then ``os.listdir(save_dir)``) sees the empty folder it would have
    made; a folder nobody made is still missing, and a real one lists what it holds."""
    import pathlib

    from vaelint.frontends.training.sandbox import Sandbox

    real = tmp_path / "real"
    real.mkdir()
    (real / "weights.pt").write_text("")
    made, never = tmp_path / "project" / "runs" / "exp1", tmp_path / "project" / "other"
    sandbox = Sandbox(str(tmp_path / "project" / "train.py"))
    with sandbox.active():
        os.makedirs(made)
        pathlib.Path(str(made) + "_p").mkdir(parents=True)
        assert os.listdir(made) == [] and os.path.isdir(made) and os.path.exists(made)
        assert pathlib.Path(made).exists() and pathlib.Path(made).is_dir() and list(pathlib.Path(made).iterdir()) == []
        assert os.path.isdir(str(made) + "_p")
        # writable, as it would be (LightningCLI saves its config only into a folder it may write)
        assert os.access(made, os.W_OK) and not os.access(never, os.F_OK)
        assert not os.path.exists(never) and not pathlib.Path(never).exists()
        with pytest.raises(FileNotFoundError):
            os.listdir(never)
        assert os.listdir(real) == ["weights.pt"]
    assert not made.exists() and not os.path.exists(made)  # nothing was made, and the answers end with the run


@pytest.mark.parametrize(
    "write, read",
    [
        ("torch.save(torch.rand(64, 784), CACHE)", "data = torch.load(CACHE)"),
        (
            "import pickle\n    with open(CACHE, 'wb') as f:\n        pickle.dump(torch.rand(64, 784).numpy(), f)",
            "import pickle\ndata = torch.as_tensor(pickle.load(open(CACHE, 'rb')))",
        ),
        ("np.save(CACHE, np.random.rand(64, 784).astype('float32'))", "data = torch.as_tensor(np.load(CACHE))"),
    ],
    ids=["torch", "pickle", "numpy"],
)
def test_a_cache_the_code_writes_and_reads_back_is_read_from_memory(tmp_path, write, read):
    """A processed cache made on the first run and loaded two lines later (PyG's
    InMemoryDataset.process() then torch.load): the write is not performed, but the run's own
    read gets what it wrote. Before: 'its data is not here', the file vaelint had kept from being
    written (helper B, TeoReu/vgae_rewiring)."""
    cache = "processed.npy" if "np.save" in write else "processed.bin"
    _script(
        tmp_path,
        "import os",
        "import numpy as np",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        f"CACHE = {cache!r}",
        "if not os.path.exists(CACHE):",
        f"    {write}",
        *read.split("\n"),
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for (x,) in DataLoader(TensorDataset(data), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    done = check_in(tmp_path, "train.py")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"the code read back '{cache}', which it wrote in this run: from memory" in text, text
    assert not (tmp_path / cache).exists()  # nothing reached the disk


@pytest.mark.parametrize(
    "listing",
    [
        "sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith('.npy'))",
        "sorted(str(p) for p in pathlib.Path(root).glob('*.npy'))",
    ],
    ids=["listdir", "pathlib-glob"],
)
def test_a_feature_cache_written_into_a_folder_then_listed_is_read_from_memory(tmp_path, listing):
    """A script that precomputes its features into a folder on the first run (os.makedirs, np.save
    of one file per clip) and builds its data set by listing that folder: the run lists and reads
    what it wrote, nothing reaches the disk. Before: an empty data set, 'its files are not here'
    (helper O: audio and 3D VAEs' caches, a train/test split copied into folders)."""
    _script(
        tmp_path,
        "import os",
        "import pathlib",
        "import numpy as np",
        "import torch",
        "from torch.utils.data import DataLoader, Dataset",
        "from vae_common import VAE, elbo",
        "CACHE = 'features'",
        "if not os.path.isdir(CACHE):",
        "    os.makedirs(CACHE, exist_ok=True)",
        "    for i in range(40):",
        "        np.save(os.path.join(CACHE, f'clip{i:02d}.npy'), np.random.rand(784).astype('float32'))",
        "class Clips(Dataset):",
        "    def __init__(self, root):",
        f"        self.files = {listing}",
        "    def __len__(self):",
        "        return len(self.files)",
        "    def __getitem__(self, i):",
        "        return torch.from_numpy(np.load(self.files[i]))",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for x in DataLoader(Clips(CACHE), batch_size=8):",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    done = check_in(tmp_path, "train.py")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "input B x 784 (B=8)" in text, text
    assert not (tmp_path / "features").exists()  # nothing reached the disk


def test_a_folder_made_inside_a_made_folder_is_listed_in_it(tmp_path):
    """A split made as folders (os.makedirs('cache/train'), then os.listdir('cache')): the made
    subfolder is listed, nothing is made on disk (review of the feature cache's listing)."""
    from vaelint.frontends.training.sandbox import Sandbox

    cache = tmp_path / "project" / "cache"
    sandbox = Sandbox(str(tmp_path / "project" / "train.py"))
    with sandbox.active():
        os.makedirs(cache / "train")
        os.makedirs(cache / "test")
        assert os.listdir(cache) == ["test", "train"] and os.listdir(cache / "train") == []
    assert not cache.exists()
