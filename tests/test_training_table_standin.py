"""A data table that is not here (``pd.read_csv``) stands in with string column labels, as a file's
header row gives, named as the reading code picks its columns by name: the integer labels it had
made ``df.columns.str.startswith("gene_")`` raise an error real data never raises, blamed on the
user's line, even after --input was given (helper h33a, hackbio-ca/MeTrO)."""

import textwrap

import numpy as np
import pytest

from vaelint.frontends.training.livetables import _BY_NAME


@pytest.mark.parametrize(
    "line, prefix",
    [
        ('genes = df.columns[df.columns.str.startswith("gene_")]', "gene_"),
        ("mask = df.columns.str.contains(r'^ENSG')", "ENSG"),
        ('x = df.filter(like="expr_").values', "expr_"),
        ("x = df.filter(regex='^cell')", "cell"),
    ],
)
def test_the_name_the_code_picks_columns_by_is_read(line, prefix):
    assert _BY_NAME.search(line).group(1) == prefix


def test_no_pick_by_name_reads_none():
    assert _BY_NAME.search("x = df.values[:, 1:]") is None


def test_the_stood_in_table_has_a_header_rows_labels_and_numbered_columns_without_one(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    from vaelint.frontends.training import livetables

    monkeypatch.setattr(livetables, "_selected_prefix", lambda: "gene_")
    rows = np.zeros((4, 3), dtype=np.float32)
    frame = livetables.stand_in_frame(rows, {})
    assert list(frame.columns) == ["gene_0", "gene_1", "gene_2"]
    assert list(frame.columns[frame.columns.str.startswith("gene_")]) == ["gene_0", "gene_1", "gene_2"]
    assert list(livetables.stand_in_frame(rows, {"header": None}).columns) == [0, 1, 2]
    assert list(livetables.stand_in_frame(rows, {"names": ["a", "b"]}).columns) == ["a", "b"]


def test_a_script_picking_gene_columns_of_a_missing_csv_is_checked(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    from helpers import check

    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import pandas as pd
            import torch
            from torch import nn

            df = pd.read_csv("data/expression.csv")
            genes = df.columns[df.columns.str.startswith("gene_")]
            x_all = torch.tensor(df[genes].values, dtype=torch.float32)
            enc, dec = nn.Linear(len(genes), 8), nn.Linear(4, len(genes))
            opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()])
            for x in x_all.split(16):
                mu, logvar = enc(x).chunk(2, dim=-1)
                recon = dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
                loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
                opt.zero_grad()
                loss.backward()
                opt.step()
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "train.py"), "-", ["16x30"])
    assert result.error is None, result.error.message
