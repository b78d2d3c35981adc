"""Two reads of the same part of one tensor are one value in the captured graph
(vaelint/capture/samereads.py); writes in place and random draws keep their nodes."""

import torch
import torch.fx as fx

from vaelint.capture.samereads import merge_same_reads


def _ops(graph):
    return [
        n.target if isinstance(n.target, str) else getattr(n.target, "__name__", "")
        for n in graph.nodes
        if n.op in ("call_function", "call_method")
    ]


def test_the_same_slice_read_twice_is_one_node():
    def f(h):
        std = torch.exp(0.5 * h[:, :4])
        return std, h[:, :4] + 1

    gm = fx.symbolic_trace(f)
    assert _ops(gm.graph).count("getitem") == 2
    assert merge_same_reads(gm.graph) == 1
    gm.recompile()
    assert _ops(gm.graph).count("getitem") == 1
    h = torch.randn(3, 8)
    std, other = gm(h)
    assert torch.equal(other, h[:, :4] + 1) and torch.equal(std, torch.exp(0.5 * h[:, :4]))


def test_different_slices_and_views_stay_apart():
    def f(h):
        return h[:, :4] + h[:, 4:], h.view(-1, 2).sum() + h.view(-1, 2).sum()

    gm = fx.symbolic_trace(f)
    assert merge_same_reads(gm.graph) == 0


def test_a_slice_written_in_place_is_another_value():
    def f(h):
        a = h[:, :4]
        a.mul_(2)
        return h[:, :4] + a

    gm = fx.symbolic_trace(f)
    assert merge_same_reads(gm.graph) == 0
    h = torch.randn(3, 8)
    assert torch.equal(gm(h.clone()), f(h.clone()))


def test_random_draws_and_other_ops_are_never_merged():
    def f(h):
        return torch.randn_like(h) + torch.randn_like(h), h.exp() + h.exp()

    gm = fx.symbolic_trace(f)
    assert merge_same_reads(gm.graph) == 0
    assert _ops(gm.graph).count("randn_like") == 2
