"""``--loss PATH.py:make_vae_loss`` naming a factory of the loss (a function that defines the loss
inside and returns it, its weights as its parameters: ``make_vae_loss(kld_weight=1.0)``): the loss is
what the factory returns, made with the --loss-kwarg values it takes by name. Before, the factory was
called as the loss, with the forward's outputs, and the check ended in "loss not a scalar"
(helper-found on a hierarchical VAE's ``make_hvae_enc_dec_loss``)."""

from __future__ import annotations

import ast
import inspect
import textwrap

from vaelint.errors import VaelintError


def returns_a_function(fn) -> bool:
    """Does ``fn`` return a function it defines (``def vae_loss(...): ...; return vae_loss``) or a lambda?"""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) else []
    inner = {s.name for s in body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    returned = [s.value for s in body if isinstance(s, ast.Return) and s.value is not None]
    return bool(returned) and all(isinstance(v, ast.Lambda) or isinstance(v, ast.Name) and v.id in inner for v in returned)


def made_by_the_factory(factory, ref: str, kwargs: dict):
    """The loss ``factory`` returns, given the --loss-kwarg values it takes by name (taken out of
    ``kwargs``: the rest go to the loss's call)."""
    params = inspect.signature(factory).parameters
    given = {k: kwargs.pop(k) for k in list(kwargs) if k in params}
    missing = [
        p.name
        for p in params.values()
        if p.default is p.empty and p.name not in given and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if missing:
        raise VaelintError(
            "loss",
            f"--loss {ref!r}: {factory.__name__} makes the loss (it returns the function it defines) and needs "
            f"{', '.join(missing)} to make it: give {' '.join(f'--loss-kwarg {m}=VALUE' for m in missing)}.",
        )
    loss = factory(**given)
    if not callable(loss):
        raise VaelintError("loss", f"--loss {ref!r}: {factory.__name__}(...) returned {type(loss).__name__}, not a loss function.")
    return loss
