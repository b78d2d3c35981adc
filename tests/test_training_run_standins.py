"""Data the setup reads that is not here stands in as the step reads it (issue "Any training code,
found by running it", item 2): a data set's attributes and the data set itself, given rows of
--input; a package missing in the data code, an LFS pointer, a batch item no --input gives, said.
Data files (arrays, HDF5, pickles, npz, text): test_training_run_data_files.py; dict batches read
by key: tests/test_training_run_dict_batches.py."""

import os
import shutil
import textwrap

from json_cli import check_json as _json
from training_cli import RUNNING, run
from training_cli import write_script as _script


def test_what_the_setup_reads_of_a_data_set_is_there(monkeypatch):
    # np.var(train_set.data / 255), len(train_set.classes), train_set.targets, a model sized from
    # next(iter(test_loader)): a torchvision data set that is not here answers as MNIST would
    monkeypatch.chdir(RUNNING)
    r, result = _json("dataset_attributes.py")
    assert result["error"] is None, r.output
    assert any("inferred from datasets.MNIST" in n for n in result["notes"]), result["notes"]


def test_a_data_set_of_the_users_whose_data_is_not_here_stands_in_when_input_is_given(monkeypatch):
    # its constructor runs curl for the missing file (refused: no program is started); with
    # --input the batches are of the spec, so the data set stands in and the step is reached
    from torch.utils.data import Dataset

    monkeypatch.chdir(RUNNING)
    before = Dataset.__dict__.get("__init_subclass__")
    r, result = _json("dataset_without_its_data.py", "--input", "32x784")
    assert result["error"] is None and r.exit_code == 0, r.output
    assert result["loss"] == "the training step of dataset_without_its_data.py (lines 36-40, backward at line 40)"
    note = next(n for n in result["notes"] if "the data set Shapes" in n)
    assert "dataset_without_its_data.py:17" in note and "curl" in note and "stands in" in note
    assert Dataset.__dict__.get("__init_subclass__") is before  # the hook is gone with the run
    # without --input nothing stands in: the user hears what the code tried to do
    r, result = _json("dataset_without_its_data.py")
    assert r.exit_code == 2 and "tried to run a program (curl" in result["error"]["message"], r.output
    assert ".." not in result["error"]["message"]


def test_a_missing_package_in_the_data_code_says_install_or_give_the_batch(tmp_path, monkeypatch):
    # the data helper imports a package that is not installed (openpyxl for an Excel report): without
    # --input the run stops there, and the message says both ways on
    (tmp_path / "data_utils.py").write_text(
        "import torch\n\ndef load():\n    import not_installed_excel_writer\n    return torch.rand(64, 784)\n"
    )
    _script(
        tmp_path,
        *textwrap.dedent("""
        import torch
        from data_utils import load
        from vae_common import VAE, elbo
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(load()), batch_size=16)
        model = VAE()
        opt = torch.optim.Adam(model.parameters())
        for (x,) in loader:
            recon, mu, logvar = model(x)
            loss = elbo(recon, x, mu, logvar)
            opt.zero_grad(); loss.backward(); opt.step()
    """).splitlines(),
    )
    monkeypatch.chdir(tmp_path)
    r = run("train.py", "--no-cache")
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "the code needs not_installed_excel_writer, which is not installed here: install it, or give the batch with --input" in text, (
        text
    )
    # as said: with the batch given, the step is found by reading the code and checked
    r = run("train.py", "--input", "16x784", "--no-cache")
    assert r.exit_code == 0 and "no findings" in r.output, r.output


def test_a_git_lfs_pointer_in_place_of_a_data_file_stands_in_and_says_git_lfs_pull(monkeypatch):
    # a clone made without git lfs: np.load read the pointer's text as the array and failed in numpy
    monkeypatch.chdir(os.path.join(RUNNING, "lfs_pointer_data"))
    r, result = _json("train.py", "--input", "64x784")
    assert result["error"] is None and r.exit_code == 0, r.output
    assert any(
        "data/train.npy (np.load at train.py:13) is a Git LFS pointer, not its data (`git lfs pull` fetches it)" in n
        for n in result["notes"]
    ), result["notes"]


def test_a_data_set_that_breaks_on_the_data_standing_in_for_its_file_stands_in(tmp_path, monkeypatch):
    """npz_pickled_metadata.py: the constructor reads a pickled dict from an archive that is not
    here; made-up rows hold none, so it breaks, and the data set stands in. The near miss: a
    constructor that breaks before it reads any data does not stand in: the run stops at the
    user's error, and the report says so."""
    shutil.copy(os.path.join(RUNNING, "npz_pickled_metadata.py"), tmp_path / "train.py")
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "64x4096")
    assert [f["code"] for f in result["findings"]] == ["VAE002"], r.output
    assert any("DSprites" in n and "could not be built on the data standing in for its files (IndexError" in n for n in result["notes"]), (
        result["notes"]
    )
    text = (tmp_path / "train.py").read_text()
    (tmp_path / "train.py").write_text(
        text.replace("        self.files = np.load(", '        raise ValueError("unknown split")\n        self.files = np.load(')
    )
    r, result = _json("train.py", "--input", "64x4096")  # the run stops at the user's error, and says so
    assert not any("standing in for its files" in n for n in result["notes"]), result["notes"]
    assert any("running it stopped at train.py" in n and "ValueError: unknown split" in n for n in result["notes"]), r.output


def test_a_batch_item_no_input_gives_handed_to_variable_asks_for_one_more_input(tmp_path, monkeypatch):
    """`x, y = Variable(x), Variable(y)` with one --input for a two-item batch: torch's own type
    check ('Variable data has to be a tensor, but got StandIn') named vaelint's stand-in and told the
    user to fix their code (elias-ramzi's CF VAE); it now says which item has no value and what to give."""
    _script(
        tmp_path,
        "import torch",
        "from torch.autograd import Variable",
        "from torch.utils.data import DataLoader, Dataset",
        "from vae_common import VAE, elbo",
        "class Ratings(Dataset):",
        "    def __init__(self, path):",
        "        self.rows = torch.load(path)",
        "    def __len__(self):",
        "        return len(self.rows)",
        "    def __getitem__(self, i):",
        "        return self.rows[i][0], self.rows[i][1]",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for x, y in DataLoader(Ratings('data/ratings.pt'), batch_size=64):",
        "    x, y = Variable(x), Variable(y)",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "64x784")
    said = result["error"]["message"]
    assert "The step uses y, the 2nd item of the batch" in said and "one more --input" in said, said
    assert "fix it so the model runs" not in said
    r, result = _json("train.py", "--input", "64x784", "--input", "64:int64:10")
    assert result["error"] is None, r.output


def test_a_stand_in_file_a_reader_could_not_open_is_said_as_its_missing_folder():
    # gzip.open of a file of the stand-in listing of ../Data/Pickle_binarized_mnist (Deligiorgis/
    # HVAE_VampPrior): the user was told to put a file named vaelint_stand_in.npy in place
    from vaelint.frontends.placeholders import missing_file_fix

    said = missing_file_fix("FileNotFoundError: [Errno 2] No such file or directory: '../Data/mnist/vaelint_stand_in.npy'")
    assert said.startswith("The data folder ../Data/mnist is not here"), said
    assert "vaelint_stand_in" not in said and "gzip.open" in said


def test_a_data_set_class_whose_import_failed_stands_in_when_input_is_given(monkeypatch):
    # from pairs_left_out import PairDataset, the module not in the checkout: with --input the class
    # stands in as a data set of the code's own without its files does, and the import is named
    monkeypatch.chdir(RUNNING)
    r, result = _json("data_set_module_left_out.py", "--input", "64x96", "--input", "64")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 35)], r.output
    assert result["loss"].startswith("the training step of data_set_module_left_out.py:main"), result["loss"]
    note = next(n for n in result["notes"] if "the data set PairDataset" in n)
    assert "data_set_module_left_out.py:11 imports it from 'pairs_left_out'" in note and "stands in" in note, note
    # without --input nothing stands in: the import that failed is what the user hears
    r, result = _json("data_set_module_left_out.py")
    assert r.exit_code == 2 and "imports 'PairDataset' from 'pairs_left_out'" in result["error"]["message"], r.output


def test_a_name_whose_import_failed_says_so_when_next_is_taken_of_it(tmp_path, monkeypatch):
    # bg_it = iter(bg) failed for want of the missing import; next(bg_it) looked __next__ up on the
    # placeholder's type: "'Unavailable' object is not an iterator", the import never named
    from vaelint.frontends.placeholders import MissingImport

    missing = MissingImport("make_pairs", "pairs_left_out", str(tmp_path / "train.py"), 3, "No module named 'pairs_left_out'")
    for use in (next, lambda m: m.__enter__()):
        try:
            use(missing)
        except Exception as e:  # noqa: BLE001 - which one is the test
            assert "imports 'make_pairs' from 'pairs_left_out'" in str(e), e
        else:
            raise AssertionError("a use of a name whose import failed went through")


def test_a_data_sets_count_of_classes_is_the_bound_of_the_labels_given(monkeypatch):
    # CVAE(num_classes=ds.num_classes), the data set's files not here: the labels' --input gives it
    monkeypatch.chdir(RUNNING)
    r, result = _json("classes_counted_by_the_data_set.py", "--input", "32x784", "--input", "32:int64:10")
    assert result["error"] is None and r.exit_code == 0, r.output
    assert "the data set FolderDigits's num_classes is 10, the bound of the --input's labels" in result["notes"], result["notes"]
    # without the labels, the stop says which --input would give it
    r, result = _json("classes_counted_by_the_data_set.py", "--input", "32x784")
    said = result["error"]["message"]
    assert r.exit_code == 2 and "FolderDigits.num_classes" in said and "Give the labels with one more --input" in said, said


def test_a_text_table_not_here_stands_in_as_a_table(tmp_path, monkeypatch):
    """np.loadtxt never gives more than 2-D: a UCR-style setup (``np.expand_dims(np.loadtxt(f), -1)``,
    ``N, D, _ = data.shape``) failed on a stand-in shaped like the --input's 3-D samples (helper X)."""
    _script(
        tmp_path,
        "import numpy as np",
        "import torch",
        "from vae_common import VAE, elbo",
        "data = np.expand_dims(np.loadtxt('data/ECG5000_TRAIN', delimiter=','), -1)",
        "N, D, _ = data.shape",
        "X = torch.tensor(data, dtype=torch.float32).clamp(0, 1)",
        "model = VAE(x_dim=D)",
        "opt = torch.optim.Adam(model.parameters())",
        "for i in range(0, N, 32):",
        "    x = X[i : i + 32]",
        "    recon, mu, logvar = model(x.squeeze(-1))",
        "    loss = elbo(recon, x.squeeze(-1), mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "32x140x1")
    assert result["error"] is None and r.exit_code == 0, r.output
    assert any("np.loadtxt at train.py:4" in n and "512 x 140 float32 rows" in n for n in result["notes"]), result["notes"]


def test_a_stood_in_data_sets_arrays_have_as_many_rows_as_its_split():
    """``n = ds.data.shape[0]`` then ``random_split(ds, [...])``: the arrays of CIFAR10's test split
    have its 10000 rows (they had 60000 whatever the split, and the user's split line was blamed)."""
    from vaelint.frontends.training.datasets import DataSetStandIn

    for name, kwargs, rows in [("CIFAR10", {"train": False}, 10000), ("CIFAR10", {}, 50000), ("MNIST", {"train": False}, 10000)]:
        ds = DataSetStandIn(name, kwargs=kwargs)
        assert len(ds) == rows and ds.data.shape[0] == rows and len(ds.targets) == rows, (name, kwargs)


def test_a_stood_in_data_sets_labels_have_the_real_splits_class_counts():
    # code picking fixed positions inside each class (`X[y == 1][1094]`, a course's evaluation subset)
    # works on MNIST's test split (1135 ones); labels drawn at random left class 1 at 1087 (helper U)
    import torch

    from vaelint.frontends.training.datasets import known_attribute

    mnist_test = known_attribute("MNIST", "targets", 10000)
    assert torch.bincount(mnist_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    mnist_other = known_attribute("MNIST", "targets", 512)
    assert len(mnist_other) == 512 and torch.bincount(mnist_other, minlength=10).min() > 40
    cifar = known_attribute("CIFAR10", "targets", 10000)
    assert sorted(set(torch.bincount(torch.tensor(cifar)).tolist())) == [1000]  # balanced, exactly
