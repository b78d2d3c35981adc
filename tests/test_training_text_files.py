"""Text data files parsed by the code's own lines (``open(...).readlines()`` of an ``.amat``, a
CSV walked with ``csv.reader``) that are not here: with --input, the code's open gives lines of
the input's samples and its own parsing and loaders run on them (vaelint/frontends/training/
livetext.py); an open the code guards, a file that is here and a run without --input are as
written. fixtures/training/running/text_rows_by_hand/ is the class (binarised MNIST read by hand,
the loaders returned with the arguments the reading set)."""

from __future__ import annotations

import os
import textwrap

from conftest import FIXTURES
from helpers import check, found

FOLDER = os.path.join(FIXTURES, "training", "running", "text_rows_by_hand")


def test_text_files_read_by_hand_stand_in_with_input(monkeypatch):
    monkeypatch.chdir(FOLDER)  # run in the repository's folder, as its README says
    before = sorted(os.listdir(FOLDER))
    result = check(os.path.join(FOLDER, "train.py"), "-", ["100x784"])
    assert result.error is None, result.error.message
    assert found(result) == {("VAE002", 39)}
    lines = [n for n in result.notes if ".amat" in n]
    assert len(lines) == 2 and all("512 text lines" in n and "whole numbers" in n for n in lines), result.notes
    assert "binarized_mnist_train.amat (open at util/load_data.py:17)" in lines[0]
    # the open the code guards with except FileNotFoundError raised as here: nothing stood in
    assert not any("labels.txt" in n for n in result.notes), result.notes
    assert sorted(os.listdir(FOLDER)) == before, "nothing is written"


def test_without_input_the_missing_text_file_asks_for_it(monkeypatch):
    monkeypatch.chdir(FOLDER)
    result = check(os.path.join(FOLDER, "train.py"), "-", [])
    assert result.error is not None
    message = result.error.message
    assert "binarized_mnist_train.amat" in message and "--input" in message, message


def _script(tmp_path, body: str) -> str:
    path = tmp_path / "train.py"
    path.write_text(
        textwrap.dedent(
            """\
            import csv
            import numpy as np
            import torch
            import torch.nn as nn
            from torch.utils.data import DataLoader, TensorDataset


            class VAE(nn.Module):
                def __init__(self, d, z=4):
                    super().__init__()
                    self.enc = nn.Linear(d, 2 * z)
                    self.dec = nn.Linear(z, d)

                def forward(self, x):
                    mu, logvar = self.enc(x).chunk(2, dim=-1)
                    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                    return self.dec(z), mu, logvar


            def main():
            """
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
        + textwrap.dedent(
            """\
                model = VAE(x.shape[1])
                opt = torch.optim.Adam(model.parameters())
                for (batch,) in DataLoader(TensorDataset(x), batch_size=8):
                    recon, mu, logvar = model(batch)
                    rec = ((recon - batch) ** 2).sum(-1).mean()
                    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)).mean()
                    opt.zero_grad()
                    (rec + kl).backward()
                    opt.step()


            main()
            """
        )
    )
    return str(path)


def test_a_csv_walked_with_csv_reader_gets_comma_separated_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = """\
    with open("data/table.csv", newline="") as f:
        rows = [[float(v) for v in row] for row in csv.reader(f)]
    x = torch.tensor(rows, dtype=torch.float32)
    """
    result = check(_script(tmp_path, body), "-", ["8x12:float32:5"])
    assert result.error is None, result.error.message
    note = next(n for n in result.notes if "table.csv" in n)
    assert "text lines" in note and "','-separated" in note, note
    assert result.input_text.startswith("B x 12"), result.input_text  # the csv's 12 columns
    assert not (tmp_path / "data").exists()


def test_a_file_that_is_here_is_read_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.txt").write_text("".join(" ".join(["1"] * 6) + "\n" for _ in range(20)))
    body = """\
    with open("data/rows.txt") as f:
        x = torch.tensor([[float(v) for v in line.split()] for line in f])
    """
    result = check(_script(tmp_path, body), "-", ["8x6"])
    assert result.error is None, result.error.message
    assert not any("rows.txt" in n for n in result.notes), result.notes  # read, not stood in


def test_a_config_file_that_is_not_here_is_not_stood_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = """\
    with open("config.yaml") as f:
        f.read()
    x = torch.zeros(16, 10)
    """
    result = check(_script(tmp_path, body), "-", ["8x10"])
    # the run stops at the code's open, as python's would (the step is then found by reading the code)
    assert any("stopped at train.py:21: FileNotFoundError" in n and "config.yaml" in n for n in result.notes), result.notes


def test_np_loadtxt_of_a_missing_path_still_gives_the_inputs_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = """\
    x = torch.from_numpy(np.loadtxt("data/rows.txt", dtype="float32"))
    """
    result = check(_script(tmp_path, body), "-", ["8x10"])
    assert result.error is None, result.error.message
    note = next(n for n in result.notes if "rows.txt" in n)
    assert "np.loadtxt" in note and "float32 rows" in note, note  # numpy's own open is not the code's


def test_a_csv_opened_in_binary_mode_for_np_loadtxt_stands_in(tmp_path, monkeypatch):
    # np.loadtxt(open(path, "rb")): the code's own open, in binary mode; before, only text mode stood
    # in, the run stopped at the open, and the step was read instead of run (helper Z, a planar-flow
    # course repo); a binary open of a .dat (raw bytes, maybe) is still as written
    monkeypatch.chdir(tmp_path)
    body = """\
    x = torch.from_numpy(np.loadtxt(open("data/moons.csv", "rb"), delimiter=",", dtype=np.float32))
    """
    result = check(_script(tmp_path, body), "-", ["8x2"])
    assert result.error is None, result.error.message
    note = next(n for n in result.notes if "moons.csv" in n)
    assert "text lines" in note, note
    assert not any("did not reach its step" in n for n in result.notes), result.notes
    body = """\
    x = torch.from_numpy(np.fromfile(open("data/raw.dat", "rb"), dtype=np.float32).reshape(-1, 2))
    """
    result = check(_script(tmp_path, body), "-", ["8x2"])
    assert not any("raw.dat" in n and "text lines" in n for n in result.notes), result.notes


def test_a_missing_configuration_file_is_said_as_one_not_as_data(tmp_path, monkeypatch):
    # yaml/json config read by a relative path before the model is built: the advice was "its data is
    # not here: give the batch with --input", which cannot help (helper V, a dashcam LDM trainer)
    monkeypatch.chdir(tmp_path)
    body = """\
    import json
    with open("vae_config.json") as f:
        cfg = json.load(f)
    x = torch.zeros(16, cfg["features"])
    """
    for given in ([], ["16x10"]):
        result = check(_script(tmp_path, body), "-", given)
        said = result.error.message if result.error is not None else " ".join(result.notes)
        assert "vae_config.json" in said and "configuration file" in said, said
        assert "give the batch with --input" not in said, said
