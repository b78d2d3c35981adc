"""A batch the step reads by key (``batch["image"]``, ``batch[model.image_key]``) of a data set of
the user's whose folder is not here takes the --input specs by the keys the step reads, in the
order it reads them (or as ``--input batch.KEY=SPEC`` names them), run as written or read off the code
(moved out of tests/test_training_run_standins.py, which holds the data files that stand in)."""

from json_cli import check_json as _json
from training_cli import RUNNING


def test_a_dict_batch_takes_the_specs_in_the_order_the_step_reads_its_keys(monkeypatch):
    # batch["image"], batch["label"] of a data set of the user's own whose folder is not here
    monkeypatch.chdir(RUNNING)
    found = [("VAE002", 48)]
    r, result = _json("dict_batch_dataset.py", "--input", "16x784", "--input", "16:int64:10")
    assert [(f["code"], f["line"]) for f in result["findings"]] == found, r.output
    assert result["loss"] == "the training step of dict_batch_dataset.py (lines 43-51, backward at line 51)"
    assert (
        "the batch is a dict the step reads by key: ['image'] = --input 16x784, ['label'] = --input 16:int64:10 "
        "(the keys in the order the step reads them, or its data set's __getitem__ writes them)" in result["notes"]
    )
    assert any(n.startswith("the data set Digits (dict_batch_dataset.py:17)") for n in result["notes"]), result["notes"]
    # a key named by --input batch.KEY=SPEC takes that spec; the others take the unnamed ones
    for inputs in (["batch.image=16x784", "batch.label=16:int64:10"], ["batch.label=16:int64:10", "16x784"]):
        r, result = _json("dict_batch_dataset.py", *[a for spec in inputs for a in ("--input", spec)])
        assert [(f["code"], f["line"]) for f in result["findings"]] == found, (inputs, r.output)
    # a key no --input gives is named, with the --input that would give it
    r, result = _json("dict_batch_dataset.py", "--input", "16x784")
    assert r.exit_code == 2, r.output
    assert "the step uses batch['label']" in result["error"]["message"]
    assert "--input batch.label=SPEC" in result["error"]["message"]


def test_a_dict_batch_read_off_the_code_takes_the_specs_by_key_too(monkeypatch):
    monkeypatch.chdir(RUNNING)
    monkeypatch.setenv("VAELINT_TRAINING", "read")
    r, result = _json("dict_batch_dataset.py", "--input", "16x784", "--input", "16:int64:10")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 48)], r.output


def test_a_dict_batch_read_through_a_variable_key_takes_the_data_sets_keys(monkeypatch):
    # model.get_input(batch, model.image_key), the keys from the dict __getitem__ returns
    monkeypatch.chdir(RUNNING)
    r, result = _json("dict_batch_key_in_variable.py", "--input", "8x32x32x3")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE004", 48)], r.output
    assert any(n.startswith("the batch is a dict the step reads by key: ['image'] = --input 8x32x32x3") for n in result["notes"])


INDEXED_DICT_ITEMS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class Clips(Dataset):
    # (index, {"images": ..., "aug": ...}) items of files that are not here
    def __init__(self, root="data/clips"):
        self.files = sorted(__import__("os").listdir(root))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        clip = torch.load(self.files[i])
        return i, {"images": clip["images"], "aug": clip["aug"]}


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(64, 16), nn.Linear(8, 64)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        return torch.sigmoid(self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters())
for index, data in DataLoader(Clips(), batch_size=16):
    x = data["images"]
    recon, mu, logvar = model(x)
    loss = (F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_dict_item_of_a_tuple_batch_asks_for_its_keys_by_name(tmp_path, monkeypatch):
    # (index, {"images": ...}) items: the message asked for "one more --input or --input data=SPEC",
    # and no plain SPEC describes a dict (helper-found: tomoya-yamanokuchi/C-DSVAE); the dotted
    # --input data.images=SPEC it takes is what it says now
    (tmp_path / "train.py").write_text(INDEXED_DICT_ITEMS)
    monkeypatch.chdir(tmp_path)
    r, result = _json("train.py", "--input", "16:int64:1000")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "the step reads data['images']" in message and "the item is a dict" in message, message
    assert "--input data.KEY=SPEC, e.g. --input data.images=" in message, message
    r, result = _json("train.py", "--input", "16:int64:1000", "--input", "data.images=16x64")
    assert r.exit_code == 0 and result["error"] is None, r.output


def test_a_key_named_by_itself_gives_that_key(monkeypatch):
    # --input image=SPEC for a step that reads batch["image"] (the key, not batch.image=): it was
    # refused with a message naming a key the step does not read ('image' for any key: helper-found,
    # yizhouzhao/MusicVAE's sample_batched['piano_rolls']); the key the code reads is the key meant
    monkeypatch.chdir(RUNNING)
    r, result = _json("dict_batch_dataset.py", "--input", "image=16x784", "--input", "label=16:int64:10")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 48)], r.output
    # the near miss: a name that is no key the step reads is still asked about, by the key it reads
    r, result = _json("dict_batch_dataset.py", "--input", "pixels=16x784")
    assert r.exit_code == 2 and "batch['image']" in result["error"]["message"], r.output


def test_array_files_not_here_stand_in_when_every_input_names_a_key(monkeypatch):
    # np.load of files not here, served as dict items: with every --input named by key, the reads
    # stood in with nothing (the run stopped at the np.load while its note said np.load stands in)
    monkeypatch.chdir(RUNNING)
    r, result = _json("array_files_dict_items.py", "--input", "data.x=8x7", "--input", "data.y=8x20x3")
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 40)], r.output
    assert result["loss"].startswith("the training step of array_files_dict_items.py:main"), result["loss"]
    said = [n for n in result["notes"] if "stands in as" in n]
    assert len(said) == 2 and "data/params.npy (np.load at array_files_dict_items.py:44)" in said[0], result["notes"]
    assert not any("did not reach its step" in n for n in result["notes"]), result["notes"]
