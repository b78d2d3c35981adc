"""What an fx node does, in one vocabulary for both capture routes.

torch.fx's symbolic trace yields ``call_function operator.mul``, ``call_method
view`` and ``call_module fc`` nodes; the recording route yields the torch API
functions it saw (``TensorBase.mul``, ``F.linear``). Rules speak of ops by the
plain names below ("mul", "view", "linear", "mse_loss").
"""

from __future__ import annotations

import operator

import torch.fx as fx

# Ops that draw random numbers: the noise sources of a reparameterization.
RANDOM_OPS = {
    "randn",
    "randn_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "normal",
    "normal_",
    "uniform_",
    "bernoulli",
    "bernoulli_",
    "multinomial",
    "exponential_",
    "standard_normal",
    "random_",
    # torch.distributions' non-Gaussian rsample: Dirichlet (a topic model's theta), Gamma and Beta
    "_sample_dirichlet",
    "_standard_gamma",
}

# draws made from parameters the graph computes (a Dirichlet's alpha, a Gamma's shape): replayed as
# noise is, but never the eps of a Gaussian sampler (a Student-t's Gamma scale drawn before eps)
PARAMETRIC_DRAWS = {"_sample_dirichlet", "_standard_gamma"}

# Ops that create a tensor from sizes alone (no tensor input).
CREATION_OPS = RANDOM_OPS | {
    "zeros",
    "ones",
    "empty",
    "full",
    "tensor",
    "as_tensor",
    "arange",
    "linspace",
    "eye",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "from_numpy",
}

# Ops that move or reshape values without mixing samples' contents numerically.
RESHAPE_OPS = {
    "view",
    "reshape",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "permute",
    "transpose",
    "contiguous",
    "view_as",
    "reshape_as",
    "expand",
    "expand_as",
    "t",
    "movedim",
    "swapaxes",
}
CAST_OPS = {"float", "double", "half", "to", "type", "type_as", "detach", "clone", "data", "long", "int", "cpu", "cuda", "bfloat16"}

ELEMENTWISE_UNARY = {
    "exp",
    "sqrt",
    "rsqrt",
    "log",
    "sigmoid",
    "tanh",
    "relu",
    "softplus",
    "clamp",
    "clip",
    "abs",
    "neg",
    "square",
    "exp_",
    "sigmoid_",
    "clamp_",
    "elu",
    "leaky_relu",
    "gelu",
    "silu",
}

ARITH_OPS = {"add", "sub", "mul", "div", "truediv", "pow", "rsub", "radd", "rmul", "rdiv", "rtruediv"}

# Ops that compare a prediction with a target.
RECON_LOSS_OPS = {
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "gaussian_nll_loss",
    "poisson_nll_loss",
    "kl_div",
}
CLASS_INDEX_LOSSES = {"cross_entropy", "nll_loss"}

# nn.Module classes that fx keeps as leaves -> the functional op they apply.
MODULE_OPS = {
    "MSELoss": "mse_loss",
    "L1Loss": "l1_loss",
    "SmoothL1Loss": "smooth_l1_loss",
    "HuberLoss": "huber_loss",
    "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll_loss",
    "GaussianNLLLoss": "gaussian_nll_loss",
    "KLDivLoss": "kl_div",
    "Flatten": "flatten",
    "Unflatten": "unflatten",
    "Identity": "identity",
}

_OPERATORS = {
    operator.add: "add",
    operator.iadd: "add",
    operator.sub: "sub",
    operator.isub: "sub",
    operator.mul: "mul",
    operator.imul: "mul",
    operator.truediv: "div",
    operator.itruediv: "div",
    operator.floordiv: "floordiv",
    operator.pow: "pow",
    operator.neg: "neg",
    operator.getitem: "getitem",
    operator.matmul: "matmul",
}


_DUNDERS = {
    "__add__": "add",
    "__radd__": "add",
    "__iadd__": "add",
    "__sub__": "sub",
    "__rsub__": "rsub",
    "__isub__": "sub",
    "__mul__": "mul",
    "__rmul__": "mul",
    "__imul__": "mul",
    "__truediv__": "div",
    "__rtruediv__": "rdiv",
    "__itruediv__": "div",
    "__div__": "div",
    "__floordiv__": "floordiv",
    "__pow__": "pow",
    "__rpow__": "rpow",
    "__ipow__": "pow",
    "__matmul__": "matmul",
    "__rmatmul__": "rmatmul",
    "__neg__": "neg",
    "__getitem__": "getitem",
    "__setitem__": "setitem",
}


# torch's other names for the same ops (NumPy's spellings): ``mu + torch.multiply(std, eps)`` is the
# sampler all the same (it was "no reparameterisation found", nine rules off)
_ALIASES = {
    "multiply": "mul",
    "subtract": "sub",
    "divide": "div",
    "true_divide": "div",
    "negative": "neg",
    "absolute": "abs",
    "clip": "clamp",
    "concat": "cat",
    "concatenate": "cat",
    "arctan": "atan",
    "greater": "gt",
    "less": "lt",
}


def _plain(name: str) -> str:
    """``__rmul__`` -> ``mul``; ``add_`` -> ``add`` (but ``normal_`` stays: it draws noise);
    ``multiply`` -> ``mul`` (torch's aliases)."""
    if name in _DUNDERS:
        return _DUNDERS[name]
    if name.startswith("__") and name.endswith("__"):
        return name[2:-2]
    if name.endswith("_") and name not in RANDOM_OPS:
        name = name[:-1]
    return _ALIASES.get(name, name)


def function_name(func) -> str:
    """The plain name of a torch API callable seen by the recording route."""
    if func in _OPERATORS:
        return _OPERATORS[func]
    name = getattr(func, "__name__", None) or type(func).__name__
    if name == "__get__":  # a property getter such as Tensor.data
        owner = getattr(func, "__self__", None)
        name = getattr(owner, "__name__", name)
    return _plain(name)


def op_name(node: fx.Node, modules: dict | None = None) -> str:
    """The plain op name of an fx node ("placeholder", "output", "mul", "linear", ...)."""
    if node.op in ("placeholder", "output", "get_attr"):
        return node.op
    if node.op == "call_method":
        return _plain(node.target)
    if node.op == "call_module":
        mod = (modules or {}).get(node.target)
        cls = type(mod).__name__ if mod is not None else str(node.target)
        return MODULE_OPS.get(cls, cls.lower())
    return function_name(node.target)


def flat_args(args) -> list:
    """An op's arguments with nested tuples and lists spread out."""
    out = []
    for a in args if isinstance(args, (tuple, list)) else [args]:
        if isinstance(a, (tuple, list)):
            out.extend(flat_args(a))
        else:
            out.append(a)
    return out


def adds_dims_only(node: fx.Node) -> bool:
    """``t[:, None]``, ``t[None]``, ``t[..., None]``: an index that adds dims of 1 and keeps every value."""
    index = node.args[1] if len(node.args) > 1 else None
    index = index if isinstance(index, tuple) else (index,)
    return any(i is None for i in index) and all(i is None or i is Ellipsis or i == slice(None) for i in index)


def one_tensor_listed(node: fx.Node) -> bool:
    """``torch.stack([t])``, ``torch.cat([t])``: the values of one tensor, a dim of 1 added at most."""
    listed = node.args[0] if node.args else None
    return isinstance(listed, (list, tuple)) and len(listed) == 1 and isinstance(listed[0], fx.Node)


def text_of_arg(a) -> str:
    """What an object fx nodes cannot hold is written as: its repr, or its type's name where the
    repr raises (torch's Distribution.__repr__ reads arg_constraints, which a user's parameter-free
    distribution leaves to the base class, and that raises NotImplementedError)."""
    try:
        return repr(a)
    except Exception:  # noqa: BLE001 - any user __repr__ may raise; the name is enough here
        return f"<{type(a).__name__}>"


_IN_PLACE_OPERATORS = frozenset({operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ipow, operator.ifloordiv})


def changes_its_input(func) -> bool:
    """Does the call write its result into its first argument (``x.sub_(y)``, ``x -= y``)?"""
    if func in _IN_PLACE_OPERATORS:
        return True
    name = getattr(func, "__name__", "")
    if name.startswith("__i") and name.endswith("__"):
        return name[3:-2] in ("add", "sub", "mul", "truediv", "pow", "floordiv", "and", "or")
    return name.endswith("_") and not name.startswith("_")


def returns_its_input(func, out, args) -> bool:
    """Did a call that is not in-place hand back its own tensor argument?"""
    if getattr(func, "__name__", "").endswith("_"):
        return False  # in place (eps.normal_()): a new value in the same tensor, keep it
    return any(a is out for a in args)
