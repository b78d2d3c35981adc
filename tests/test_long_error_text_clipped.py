"""An error of the user's code whose text is enormous (a library that prints the stand-in batch as
a list of its numbers: an 8.2 MB report, helper-found on a graph VAE) is cut in its middle: its start
and end stay, the report stays readable. And ``import tensorflow.keras.backend as K`` left in a
PyTorch file loads (was an internal error: 'required field "lineno" missing from alias')."""

from __future__ import annotations

from json_cli import check_json

from vaelint.errors import VaelintError, clipped, error_text

HUGE = """import torch
import torch.nn as nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(8, 4)

    def forward(self, x):
        raise ValueError("cannot read the panel " + str(x.flatten().tolist() * 400) + " end of the values")
"""

TF_IMPORT = """import torch
import torch.nn as nn
IMPORT


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 4)
        self.dec = nn.Linear(2, 4)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(z), mu, logvar
"""


def test_a_huge_error_text_is_cut_in_its_middle(tmp_path):
    path = tmp_path / "huge.py"
    path.write_text(HUGE)
    r, result = check_json(f"{path}:VAE", "--input", "16x8")
    assert r.exit_code == 2, r.output[:2000]
    message = result["error"]["message"]
    assert len(r.output) < 10_000 and "characters cut" in message, len(r.output)
    assert "cannot read the panel" in message and "end of the values" in message, message


def test_clipping_keeps_short_texts_and_both_ends():
    assert clipped("short") == "short"
    cut = clipped("a" * 5000 + "END", 300)
    assert cut.startswith("a" * 200) and cut.endswith("END") and "characters cut" in cut and len(cut) < 400
    assert len(VaelintError("load", "x" * 50_000).message) < 4000
    assert len(error_text(ValueError("y" * 50_000))) < 2000


def test_a_leftover_tf_keras_module_import_loads(tmp_path):
    path = tmp_path / "tfimport.py"
    path.write_text(TF_IMPORT.replace("IMPORT", "import tensorflow.keras.backend as K"))
    r, result = check_json(f"{path}:VAE", "--input", "8x4")
    assert "required field" not in r.output and (result["error"] is None or result["error"]["kind"] != "internal"), r.output
