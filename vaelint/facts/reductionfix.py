"""What VAE002 tells the user to change, term by term, toward the ELBO's per-sample sums averaged
over the batch (its findings' fix text)."""

from __future__ import annotations

import math
import re


def reductions_fix(rec_own: tuple, kl_own: tuple, kl_said: str, kl_dims: int, size: str, rec_term) -> str:
    """``rec_own``/``kl_own``: each term's (batch power, sizes its means divide by, sizes it is divided
    by otherwise); ``kl_said``: how the KL is reduced, as the message says it; ``size``: the batch
    size as the code writes it (``x.size(0)``)."""
    (rec_b, rec_d, rec_n), (kl_b, kl_d, kl_n) = rec_own, kl_own
    # a mean its own size undoes (784 * F.binary_cross_entropy(recon, x): Keras' original_dim, JointVAE) is
    # a per-sample sum already: nothing to tell of it (not "sum it" and "average its samples of z" at once)
    if rec_d > 1.5 and math.isclose(rec_d * rec_n, 1.0, rel_tol=1e-6):
        rec_d = rec_n = 1.0
    if kl_d > 1.5 and math.isclose(kl_d * kl_n, 1.0, rel_tol=1e-6):
        kl_d = kl_n = 1.0
    steps, n = [], size
    if rec_d > 1.5:
        call = _loss_call(rec_term)  # the code's own loss: F.cross_entropy(..., reduction='sum') for a text VAE
        steps.append(f"sum the reconstruction over each sample's values instead of averaging them ({call} / {n})")
    if rec_n > 1.5:
        steps.append(f"divide the reconstruction by the batch size, not by a count of its values ({n}, not x.numel())")
    if 0 < rec_n < 0.67:  # a sum over the L samples of z: L times the Monte Carlo estimate
        steps.append(f"average the reconstruction over its {round(1 / rec_n)} samples of z instead of summing them (.mean(dim=0))")
    folded = re.search(r"mean over (\d+)\*B\b", kl_said)  # latent groups folded into the rows: (B*L) x D
    if kl_d > 1.5 and folded:
        steps.append(
            f"average the KL over the samples, not the {folded.group(1)}*B rows their latents fill (kl.view({n}, -1).sum(1).mean())"
        )
    elif kl_d > 1.5:
        per_sample = (
            f"kl.sum(dim={tuple(range(1, kl_dims + 1))}).mean()" if kl_dims > 1 and size.endswith("size(0)") else "kl.sum(dim=-1).mean()"
        )
        steps.append(f"sum the KL over the latent dims instead of averaging them ({per_sample})")
    if kl_n > 1.5:
        steps.append(f"divide the KL by the batch size only ({n}), not by a count of values")
    # batch powers: -1 averaged over the batch, 0 summed over it
    if kl_b > rec_b:
        steps.append(f"average the KL over the batch as the reconstruction is (kl.sum() / {n})")
    elif kl_b < rec_b:
        steps.append(f"average the reconstruction over the batch as the KL is (divide its sum by {n})")
    if not steps:
        return (
            "reduce both terms the same way: per-sample sums averaged over the batch, "
            f"e.g. F.mse_loss(recon, x, reduction='sum') / {n} and kl.sum() / {n}"
        )
    return "reduce both terms as per-sample sums averaged over the batch: " + "; ".join(steps)


def _loss_call(term) -> str:
    """How the reconstruction's own loss function is written summed: ``F.cross_entropy(...,
    reduction='sum')`` where the term is a cross-entropy (MSE's form where none is seen)."""
    from vaelint.capture.ops import RECON_LOSS_OPS, op_name

    seen, frontier = set(), [term]
    while frontier and len(seen) < 40:
        node = frontier.pop(0)
        if node is None or node in seen:
            continue
        seen.add(node)
        name = op_name(node)
        if node.op == "call_function" and name in RECON_LOSS_OPS:
            return "F.mse_loss(recon, x, reduction='sum')" if name == "mse_loss" else f"F.{name}(..., reduction='sum')"
        module = _loss_module(node)
        if module is not None:  # criterion = nn.BCELoss(): the module built summed
            return f"nn.{type(module).__name__}(reduction='sum')(recon, x)"
        frontier.extend(node.all_input_nodes)
    return "F.mse_loss(recon, x, reduction='sum')"


def _loss_module(node):
    """The torch.nn loss module a ``call_module`` node calls (``nn.BCELoss``), or None."""
    from torch.nn.modules.loss import _Loss

    owner = getattr(node.graph, "owning_module", None)
    if node.op != "call_module" or owner is None:
        return None
    try:
        module = owner.get_submodule(str(node.target))
    except (AttributeError, TypeError):
        return None
    return module if isinstance(module, _Loss) and type(module).__module__.startswith("torch.nn") else None
