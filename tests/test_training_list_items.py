"""A batch that holds Python lists of one whole number a sample (``lens = [len(x) for x in xs]``
from a collate function that pads sentences for an LSTM to pack): with the data here and no
--input, the run's batch gives a spec for each list too (B:int64:HIGH) and the step gets it as a
list at every batch size the check runs (vaelint/frontends/training/batchspecs.py); it was "no
input shape", exit 2 (suzyahyah/rnn-vae). fixtures/training/running/text_lengths_as_lists/ is the
class, with the KL of an LSTM state's (1, B, Z) heads squeezed to B x Z (rules/vae007 has the
same layout's examples)."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import FIXTURES
from helpers import check, found

from vaelint.frontends.training.batchspecs import as_listed, specs_of

FOLDER = os.path.join(FIXTURES, "training", "running", "text_lengths_as_lists")


@pytest.mark.parametrize(("script", "expected"), [("train.py", {("VAE002", 64)}), ("train_clean.py", set())])
def test_lengths_as_lists_reach_the_step(monkeypatch, script, expected):
    monkeypatch.chdir(FOLDER)  # its sentences are here: the run's own first batch
    result = check(os.path.join(FOLDER, script), "-", [])
    assert result.error is None, result.error.message
    assert found(result) == expected
    assert result.input_text.startswith("B x 12 (B=8)"), result.input_text
    assert any("8:int64:13 a Python list in the code's batch, given to its step as one" in n for n in result.notes), result.notes
    # the squeezed heads' KL is read: every KL rule ran
    assert not any(code in ("VAE002", "VAE004", "VAE007", "VAE008") for code, _why in result.skipped), result.skipped


def test_a_list_of_one_whole_number_a_sample_is_a_listed_spec():
    batch = (torch.zeros(4, 7, dtype=torch.int64), [3, 7, 2, 5], torch.ones(4, 7))
    x, lens, y = specs_of(batch, 4)
    assert (x.listed, lens.listed, y.listed) == (False, True, False)
    assert lens.text() == "4:int64:8" and lens.real.tolist() == [3, 7, 2, 5]


def test_a_bool_mask_in_a_batch_is_a_bool_spec_with_no_bound():
    # the check wrote 8x5:bool:2 and then refused it as an upper bound to a bool input
    x, mask = specs_of((torch.rand(8, 5), torch.rand(8, 5) > 0.5), 8)
    assert mask.text() == "8x5:bool" and mask.real.dtype == torch.bool


@pytest.mark.parametrize(
    "odd",
    [
        [3, 7, 2],  # not one a sample
        [3.0, 7.0, 2.0, 5.0],  # not whole numbers
        [True, False, True, False],
    ],
)
def test_other_lists_give_no_spec(odd):
    assert specs_of((torch.zeros(4, 7), odd), 4) == []


def test_the_step_gets_its_list_at_every_batch_size():
    seen = []
    x, lens = specs_of((torch.zeros(4, 7), [3, 7, 2, 5]), 4)
    step = as_listed(lambda a, b: seen.append((a.shape[0], b)), [x, lens])
    step(x.make(4), lens.make(4))
    step(x.make(6), lens.make(6))
    assert seen == [(4, [3, 7, 2, 5]), (6, [3, 7, 2, 5, 3, 7])]


def test_a_list_of_strings_is_given_to_the_step_as_its_strings_at_every_batch_size():
    # SMILES or sentences the step encodes itself (fixtures/training/smiles_strings_encoded_in_step.py),
    # file names beside the images: the code's own strings, their rows repeating past their number
    seen = []
    x, names = specs_of((torch.zeros(4, 7), ["a.png", "b.png", "c.png", "d.png"]), 4)
    assert names.listed and names.texts == ("a.png", "b.png", "c.png", "d.png") and names.shown() == "4 strings"
    step = as_listed(lambda a, b: seen.append((a.shape[0], b)), [x, names])
    step(x.make(4), names.make(4))
    step(x.make(6), names.make(6))
    assert seen == [(4, ["a.png", "b.png", "c.png", "d.png"]), (6, ["a.png", "b.png", "c.png", "d.png", "a.png", "b.png"])]
    (alone,) = specs_of(["CCO", "C#N", "OCC"])  # a batch that is itself the list of strings: one input
    assert alone.texts == ("CCO", "C#N", "OCC") and alone.batch == 3


def test_a_symbolic_trace_of_a_listed_input_says_why_it_cannot_hold_it():
    x, lens = specs_of((torch.zeros(4, 7), [3, 7, 2, 5]), 4)

    class Step(torch.nn.Module):
        def forward(self, a, b):
            return as_listed(lambda a, b: a.sum() * len(b), [x, lens])(a, b)

    with pytest.raises(torch.fx.proxy.TraceError, match="Python list"):
        torch.fx.symbolic_trace(Step())


def test_a_division_by_a_length_is_told_from_a_number_written_down(tmp_path):
    # loss / len(batch) over a hand-made batcher's list: the run sees 16 at every batch size it
    # replays (the list is not redrawn), so it was "the batch size 16 written down" (VAE005); the
    # source says it is a length, which follows the batch it counts
    from vaelint.source.facts import divides_by_a_length

    path = tmp_path / "step.py"
    path.write_text("loss = rec / len(batch)\nloss = rec / 16\nloss /= len(xs)\nloss = len(xs) / rec\n")
    assert [divides_by_a_length(str(path), line) for line in (1, 2, 3, 4)] == [True, False, True, False]
