"""A training step the run saw reach a random sample, whose captured graph reads none of its
batch and has no reparameterisation, is vaelint's misreading of the step: exit 2 saying so,
never "no findings" with nine rules not checked (jxhe/vae-lagging-encoder's inner loop, before
the alias of its batch was followed: fixtures/training/running/encoder_inner_loop_on_an_alias.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch.fx as fx

from vaelint.errors import VaelintError
from vaelint.facts.unread import no_sample_read as _no_sample_read


def _ctx(read_the_batch: bool, reparam=None):
    graph = fx.Graph()
    x = graph.placeholder("x")
    const = graph.get_attr("held")
    out = graph.call_function(abs, (x if read_the_batch else const,))
    graph.output(out)
    return SimpleNamespace(roles=SimpleNamespace(reparam=reparam), failure=None, view=SimpleNamespace(graph=graph))


def _program(sampled_at: str):
    return SimpleNamespace(sampled_at=sampled_at, step=SimpleNamespace(description="the training step of train.py (lines 3-8)"))


def test_a_sampled_step_whose_graph_reads_no_batch_is_a_misreading():
    with pytest.raises(VaelintError) as e:
        _no_sample_read(_program("train.py:8"), _ctx(read_the_batch=False), [])
    assert e.value.kind == "trace"
    assert "the loss backpropagated at train.py:8 reaches a random sample when the code runs" in e.value.message
    assert "reads none of its batch and has no reparameterisation" in e.value.message


def test_what_is_no_misreading_passes():
    _no_sample_read(_program("train.py:8"), _ctx(read_the_batch=True), [])  # a Laplace posterior: reads its batch
    _no_sample_read(_program(""), _ctx(read_the_batch=False), [])  # no sample seen by a run (a model checked)
    _no_sample_read(_program("train.py:8"), _ctx(read_the_batch=False, reparam=object()), [])  # a sampler found
    _no_sample_read(_program("train.py:8"), _ctx(read_the_batch=False), ["a finding"])  # findings say enough
