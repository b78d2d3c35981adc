"""What a statement backpropagates: ``loss.backward()``, an accelerator's ``backward(loss)``
whatever it is called, ``scaler.scale(loss).backward()``, Lightning's ``manual_backward``."""

from __future__ import annotations

import ast

from vaelint.source.astutil import dotted

# what a backpropagation is called on, when it takes the loss as its argument
_BACKWARD_OWNERS = ("accelerator", "fabric", "engine", "amp", "autograd", "trainer", "model", "self")


def backward_of(stmt: ast.stmt) -> ast.expr | None:
    """The loss a statement backpropagates, if it does."""
    if not isinstance(stmt, ast.Expr) or not isinstance(stmt.value, ast.Call):
        return None
    call = stmt.value
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr == "manual_backward" and call.args:
        return call.args[0]  # Lightning's manual optimisation
    if func.attr != "backward":
        return None
    owner = func.value
    if call.args and _takes_the_loss(owner, call.args[0]):
        return call.args[0]  # accelerator.backward(loss), acc.backward(loss), torch.autograd.backward(loss)
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Attribute) and owner.func.attr == "scale" and owner.args:
        return owner.args[0]  # scaler.scale(loss).backward(): the loss before AMP scales it
    return owner


_LOSS_WORDS = ("loss", "elbo", "obj", "cost", "nll", "kl", "total")
_GRADIENT_MAKERS = ("ones", "ones_like", "full", "full_like", "tensor", "randn_like")


def _takes_the_loss(owner: ast.expr, arg: ast.expr) -> bool:
    """``X.backward(Y)``: is ``Y`` the loss (an accelerator's, ``acc.backward(loss)``), not the
    gradient a tensor ``X`` is given (``loss.backward(torch.ones_like(loss))``)?"""
    name = dotted(owner).split(".")[-1].lower()
    if name in _BACKWARD_OWNERS or dotted(owner) == "torch.autograd":
        return True
    if isinstance(arg, ast.Call) and dotted(arg.func).split(".")[-1] in _GRADIENT_MAKERS:
        return False
    said = (dotted(arg) or "").split(".")[-1].lower()
    if "grad" in said or any(w in name for w in _LOSS_WORDS):
        return False
    return any(w in said for w in _LOSS_WORDS) or any(w in name for w in ("acc", "fabric", "engine", "booster", "runner"))
