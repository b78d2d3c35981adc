"""Losses the model's folder defines under names the discovery does not take (``class VAELoss(nn.Module)``
beside the model; ``recon_kl_loss`` among several in ``losses.py``): named in the "no loss found" note
with the ``--loss`` that checks one. Before, the note said only "pass one with --loss", and a CI gate went
green with seven rules not checked (helper-found, a Mult-VAE recommender)."""

from __future__ import annotations

import ast
import os

from vaelint.frontends.losssibling import _FILE, parsed

_CLASS_ENDS = ("loss", "elbo", "criterion", "objective")


def losses_named_here(program) -> str:
    """`` The folder defines losses: vae.py:VAELoss; check with one: --loss vae.py:VAELoss.`` or ""."""
    from vaelint.source.frames import display_path

    path = os.path.abspath(getattr(program, "path", "") or "")
    if not path.endswith(".py"):
        return ""
    folder = os.path.dirname(path)
    try:
        files = [os.path.basename(path)] + sorted(f for f in os.listdir(folder) if f.endswith(".py") and _FILE.search(f[:-3]))
    except OSError:
        return ""
    found = []
    for name in dict.fromkeys(files):
        tree = parsed(os.path.join(folder, name))
        for node in tree.body if tree is not None else ():
            named = isinstance(node, ast.ClassDef) and node.name.lower().endswith(_CLASS_ENDS)
            named = named or (isinstance(node, ast.FunctionDef) and name != os.path.basename(path) and "loss" in node.name.lower())
            if named and _reads_a_posterior(node):  # not a perceptual, GAN or classifier loss beside it (reviewer)
                found.append(f"{display_path(os.path.join(folder, name))}:{node.name}")
    if not found:
        return ""
    return f" The folder defines losses not found by name: {', '.join(found[:4])}; check with one: --loss {found[0]}."


_POSTERIOR = ("mu", "kl", "kld", "elbo", "z_mean", "z_log_var")  # names whole
_POSTERIOR_PARTS = ("logvar", "log_var", "posterior", "kl_")  # names holding these


def _reads_a_posterior(node) -> bool:
    """Does the loss name what an ELBO reads of the encoder (a KL, mu/logvar, a posterior) in its
    parameters or its body: a VAE's loss, not a feature-matching one beside it?"""
    names = {n.id.lower() for n in ast.walk(node) if isinstance(n, ast.Name)}
    names |= {a.arg.lower() for n in ast.walk(node) if isinstance(n, ast.arguments) for a in (*n.args, *n.kwonlyargs)}
    names |= {n.attr.lower() for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    return any(n in _POSTERIOR or any(p in n for p in _POSTERIOR_PARTS) for n in names)


def what_to_check(program) -> str:
    """What the "no loss found" note advises: the code that trains the model, and the losses here."""
    from vaelint.frontends.trainingsites import where_it_trains

    return f"{where_it_trains(program)}{losses_named_here(program)}"
