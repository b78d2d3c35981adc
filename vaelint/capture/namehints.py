"""The names a loss's parameters go by, and the role each suggests (``recon_x``: the
reconstruction, ``log_var``: the log-variance), for binding a loss to the forward's
outputs by name (vaelint/capture/binding.py)."""

from __future__ import annotations

HINTS = {
    "recon": {
        "recon",
        "recon_x",
        "x_recon",
        "x_hat",
        "xhat",
        "x_rec",
        "recons",
        "reconstruction",
        "reconstructed",
        "rec",
        "x_reconst",
        "x_tilde",
        "x_prime",
        "pred",
        "prediction",
        "preds",
        "y_pred",
        "y_hat",
        "decoded",
        "logits",
        "x_logits",
        "x_out",
        "recon_batch",
        "recon_logits",
        "x_mean",
        "output",
        "out",
        "x_reconstructed",
    },
    "input": {
        "x",
        "inp",
        "input",
        "inputs",
        "target",
        "targets",
        "data",
        "x_true",
        "orig",
        "original",
        "batch",
        "images",
        "image",
        "img",
        "imgs",
        "x_in",
        "y",
        "real",
        "tokens",
        "x_orig",
        "gt",
        "x_input",
        "ground_truth",
        "y_true",
        "x_target",
        "x_gt",
    },
    "mu": {"mu", "mean", "means", "z_mean", "z_mu", "mu_z", "loc", "m", "q_mu", "mu_q", "latent_mean", "posterior_mean"},
    "logvar": {
        "logvar",
        "log_var",
        "z_log_var",
        "log_variance",
        "lv",
        "log_sigma2",
        "log_sigma_sq",
        "logsigma",
        "log_sigma",
        "z_logvar",
        "logvar_z",
        "log_var_z",
        "q_logvar",
        "log_std",
        "logstd",
    },
    "z": {"z", "sample", "z_sample", "latent", "latents", "code"},
    "outputs": {"outputs", "output_dict", "results", "result", "forward_output", "model_output", "outs", "fwd"},
}


# Parameter names that mean "the forward's result" when that result is a
# record (dict, dataclass) rather than a tuple of tensors.
CONTAINER_NAMES = {"out", "output", "outputs", "outs", "results", "result", "fwd", "model_output", "forward_output", "output_dict"}


ROLE_WORDS = {"recon": "reconstruction", "mu": "mean", "logvar": "log-variance", "z": "sample", "input": "input"}


CONVENTIONAL_ORDER = ("recon", "input", "mu", "logvar")


# words of a name that says it holds a loss term, not a tensor the loss is computed from
_TERM_WORDS = {"loss", "term", "kl", "kld", "kldiv", "nll", "elbo", "bce", "mse", "divergence", "penalty"}


def role_of_name(name: str) -> str | None:
    """The role a parameter's name suggests; ``"term"``: a loss term the forward computed
    (``recon_loss``, ``kld_loss``, ``nll``), bound only to what the forward returns."""
    import re

    low = name.lower()
    for role, names in HINTS.items():
        if low in names:
            return role
    if any(part in _TERM_WORDS for part in re.split(r"[_\d]+", low)) or low.endswith("loss"):
        return "term"
    if any(w in low for w in ("recon", "hat", "decod", "pred", "logit", "output", "rec_")):
        return "recon"
    if "logvar" in low or "log_var" in low or "log_sigma" in low:
        return "logvar"
    if "mu" in low or "mean" in low:
        return "mu"
    return None
