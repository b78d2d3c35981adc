"""--input specs whose batch sits at a dim of its own in each (sequence-first tokens, a (B, S) padding
mask, an (S, S) causal mask): the batch is the one size each spec has at most once; each spec's batch
dim is where it has it, and one without it is the same at every batch size (was exit 2, 'the specs
disagree on the batch size', with no --batch-dim that could serve)."""

from helpers import check

from vaelint.inputs import batch_dims_placed, parse_input_spec

MODEL = """
import torch
import torch.nn as nn


class Tokens(nn.Module):
    def __init__(self, vocab=50, width=16, latent=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        layer = nn.TransformerEncoderLayer(width, 2, 32)
        self.encoder = nn.TransformerEncoder(layer, 1)
        self.heads = nn.Linear(width, 2 * latent)
        self.out = nn.Linear(latent + width, vocab)

    def forward(self, src, pad_mask, causal):
        h = self.encoder(self.embed(src), mask=causal, src_key_padding_mask=pad_mask)
        mu, logvar = self.heads(h.mean(0)).chunk(2, -1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        steps = torch.cat([h, z.unsqueeze(0).expand(h.size(0), -1, -1)], -1)
        return self.out(steps), mu, logvar
"""


def _specs(*texts):
    return [parse_input_spec(t) for t in texts]


def test_each_spec_has_the_batch_where_it_has_the_one_size_it_has_once():
    placed, said = batch_dims_placed(_specs("12x6:int64:50", "6x12:bool", "12x12"))
    assert [(s.batch_dim, s.unbatched) for s in placed] == [(1, None), (0, None), (0, 6)]
    assert {s.batch for s in placed} == {6}
    assert [s.sized(9) for s in placed] == [(12, 9), (9, 12), (12, 12)]
    assert "the batch is 6" in said and "12x12 has none" in said


def test_no_size_each_has_once_leaves_them_as_given():
    specs = _specs("12x6", "6x12", "6x6", "12x12")  # each size twice in one: none tells the batch
    assert batch_dims_placed(specs) == (specs, "")
    agreeing = _specs("6x12", "6x3")
    assert batch_dims_placed(agreeing) == (agreeing, "")


def test_a_sequence_first_transformer_with_its_masks_is_checked(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    result = check(str(tmp_path / "model.py"), "Tokens", ["12x6:int64:50", "6x12:bool", "12x12"])
    assert result.error is None, result.error.message
    shapes = {row.name: row.shape for row in result.flow if row.stage == "input"}
    assert shapes == {"src": ["12", "B"], "pad_mask": ["B", "12"], "causal": ["12", "12"]}, shapes
    assert any("the batch is 6" in n for n in result.notes), result.notes


def test_specs_no_one_batch_layout_explains_stay_as_given():
    # a per-pixel mask beside the images, and a typo in a batch size (review: 784 and 10 were taken
    # for the batch): a size no other spec shares is left, and the specs disagree as before
    for texts in (("32x784", "784"), ("32x10", "64x10")):
        specs = _specs(*texts)
        assert batch_dims_placed(specs) == (specs, ""), texts
