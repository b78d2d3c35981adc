"""Where two per-sample tensors meet with their batch dims on different axes: a ``B`` vector
against a ``B x 1`` column (``rec.sum(1) * weights`` with ``weights = w[:, :1]``) broadcasts to
``B x B``, pairing each sample's term with every sample's value. Pairs made on purpose (an MMD
kernel's ``x.unsqueeze(1) - y.unsqueeze(0)``) unsqueeze both sides and are left alone: only the
vector-against-column case is read here (VAE006)."""

from __future__ import annotations

from dataclasses import dataclass

from vaelint.capture.ops import ARITH_OPS


@dataclass(frozen=True)
class Pairing:
    node: object  # the op whose output is B x B
    vector: object  # the B operand
    column: object  # the B x 1 operand


def batch_pairings(ctx) -> list[Pairing]:
    out = []
    for node in ctx.nodes_by_op(*ARITH_OPS):
        if ctx.symbols(node) != ["B", "B"]:
            continue
        operands = [a for a in node.all_input_nodes if ctx.shape(a) is not None]
        vector = next((a for a in operands if ctx.symbols(a) == ["B"]), None)
        column = next((a for a in operands if ctx.symbols(a) == ["B", "1"]), None)
        if vector is not None and column is not None:
            out.append(Pairing(node, vector, column))
    return out
