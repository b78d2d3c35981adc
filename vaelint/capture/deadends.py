"""The nodes of a captured step that reach no output of its loss: another network's code (a
VAE-GAN's discriminator step before the encoder's), which a run at another batch size may pass over
where it raises (vaelint/capture/symbolic.py): in a training step's runs at other batch sizes only.
At the user's batch, and in a model's own forward, code that raises is the code's failure (a
``torch.empty(2**62)`` the forward never uses still runs, and fails, in every real forward)."""

from __future__ import annotations

import torch.fx as fx


def dead_ends(graph: fx.Graph) -> set:
    """The nodes whose value reaches no output and that change nothing another node reads: code
    of the step that is not the VAE's loss (a VAE-GAN's discriminator step before the encoder's,
    whose ``torch.ones(args.batch_size, 1)`` targets raise at every other batch size). Where such
    a node raises, the run goes on without it: before, the run stopped there, so no other batch
    size ran and the VAE's dims were reported as constants (mu ``32 x 16``, "beta_eff ... changes
    with the batch size"). A write in place (``buf[:n] = h``, ``h.add_(x)``) is never passed over:
    its failure is the model's own."""
    reaching = set()
    for node in reversed(graph.nodes):
        if node.op == "output" or any(u in reaching for u in node.users):
            reaching.add(node)
    dead = [n for n in graph.nodes if n not in reaching and n.op in ("call_function", "call_method", "call_module")]
    if any(_writes(n) for n in dead):
        return set()  # a dead end that writes into a tensor: a failure near it may be the model's
    return set(dead)


def _writes(node: fx.Node) -> bool:
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
    return name in ("setitem", "__setitem__", "written") or (name.endswith("_") and not name.endswith("__"))
