"""The noise a training run draws (:mod:`.live`): torch's random draws, and what is computed
from them without a gradient, remembered by their storage, so that a backward whose loss
multiplies one in is told for a VAE's (a reparameterised sample)."""

from __future__ import annotations

# ops through which noise enters a layer as its input (a GAN's decoder(torch.randn(B, nz))): a
# generator's latent, not a reparameterised sample, which meets the encoder's heads elementwise
LAYER_OPS = frozenset(
    {
        "linear",
        "matmul",
        "mm",
        "addmm",
        "bmm",
        "baddbmm",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "embedding",
        "bilinear",
    }
)
LAYER_NODES = frozenset(
    {
        "AddmmBackward0",
        "MmBackward0",
        "BmmBackward0",
        "BaddbmmBackward0",
        "ConvolutionBackward0",
        "LinearBackward0",
        "EmbeddingBackward0",
        "MkldnnConvolutionBackward0",
        "CudnnConvolutionBackward0",
    }
)


def noise_flow(watch):
    """A torch function mode under which what is computed from noise without a gradient is noise
    too: ``1e-2 * torch.randn_like(std)``, Laplace's rsample (``u.sign() * log1p(-u.abs())``)
    before it meets the scale head."""
    import torch
    from torch.overrides import TorchFunctionMode
    from torch.utils._pytree import tree_leaves

    class NoiseFlow(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            drawn = len(watch.noise)
            out = func(*args, **(kwargs or {}))
            if len(watch.noise) > drawn and isinstance(out, torch.Tensor) and out.grad_fn is not None:
                # a function that draws its own noise inside (F.gumbel_softmax): its output carries it
                watch.noisy_nodes[id(out.grad_fn)] = out.grad_fn
                return out
            if watch.noise_ptrs and isinstance(out, torch.Tensor) and not _a_layer(func, args, kwargs):
                for a in tree_leaves((args, kwargs or {})):
                    if not isinstance(a, torch.Tensor):
                        continue
                    if storage_of(a) in watch.noise_ptrs:
                        if not out.requires_grad:
                            if not _frozen_sample(func, args, kwargs, watch):
                                watch._record_noise(out)
                        elif out.grad_fn is not None:
                            # noise entering the graph (logits + gumbel noise, mu + eps): no node need
                            # save it, so the node it entered at is remembered; a loss that reaches it
                            # reaches the noise (a detached reconstruction, a discriminator's input,
                            # does not)
                            watch.noisy_nodes[id(out.grad_fn)] = out.grad_fn
                        break
            return out

    return NoiseFlow()


def _frozen_sample(func, args, kwargs, watch) -> bool:
    """Noise met by a tensor of values under ``torch.no_grad()`` (``mu + eps * std`` of a frozen
    encoder, a world model's latents for its dynamics net): a sample with no gradient, not noise;
    a loss it reaches trains no posterior. Scaling noise by a number or a one-element tensor
    (``0.1 * eps``), or transforming it by itself (Laplace's ``u.sign() * log1p(-u.abs())``), keeps it noise."""
    import torch
    from torch.utils._pytree import tree_leaves

    if torch.is_grad_enabled():
        return False
    tensors = [a for a in tree_leaves((args, kwargs or {})) if isinstance(a, torch.Tensor)]
    noise = max((a.numel() for a in tensors if storage_of(a) in watch.noise_ptrs), default=0)
    # a head's values, one per element of the noise (not a per-dim scale vector broadcast over it), that a
    # model made under no_grad: drawn inside its forward, or from what it returned (not the data: a
    # denoising autoencoder's x + 0.2 * randn_like(x) is noise)
    met = any(
        a.numel() > 1
        and a.numel() >= noise
        and storage_of(a) not in watch.noise_ptrs
        and (watch.depth > 0 or storage_of(a) in watch.frozen_heads)
        and not (_a_constant(a) and _in_a_distribution())
        for a in tensors
    )
    if met:
        held = [watch.frozen_heads.get(storage_of(a)) for a in tensors]
        model = watch.model_calls[-1][0] if watch.depth > 0 and watch.model_calls else next((m for m in held if m is not None), None)
        watch.frozen_models.append(model)
    if met and not watch.frozen:
        from vaelint.source.frames import user_frame

        watch.frozen.append(user_frame())  # where: said when no backward of a VAE follows
    return met


def _in_a_distribution() -> bool:
    """Is a torch.distributions object drawing (its ``sample()``, under its own no_grad)?"""
    import sys

    frame = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return False
        if "torch/distributions/" in frame.f_code.co_filename.replace("\\", "/"):
            return True
        frame = frame.f_back
    return False


def _a_constant(t) -> bool:
    """A tensor of one value throughout, or an identity: drawn from by a distribution's own sample()
    (``MultivariateNormal(torch.zeros(k), torch.eye(k)).sample()``), a standard prior's parameters,
    not a frozen head's values (a frozen encoder's mu + eps * std, written out, stays one even where
    a zero-initialised layer makes its values all one)."""
    import torch

    try:
        flat = t.detach().reshape(-1)
        if bool((flat == flat[0]).all()):
            return True
        return (
            t.dim() >= 2
            and t.shape[-1] == t.shape[-2]
            and bool(torch.equal(t.detach(), torch.eye(t.shape[-1], dtype=t.dtype, device=t.device).expand_as(t)))
        )
    except (RuntimeError, TypeError, NotImplementedError):
        return False


def _a_layer(func, args, kwargs) -> bool:
    """Does ``func`` apply a layer's weights to its input (a GAN's ``decoder(torch.randn(B, nz))``:
    noise as a generator's latent)? A product of the noise with a matrix the code computed, no
    parameter of a layer (``mu + L @ eps`` of a full-covariance posterior, MultivariateNormal's
    rsample through its scale_tril), is a reparameterised sample as ``mu + std * eps`` is."""
    import torch
    from torch.utils._pytree import tree_leaves

    if getattr(func, "__name__", "") not in LAYER_OPS:
        return False
    if func.__name__ not in ("matmul", "mm", "bmm"):
        return True
    return any(
        isinstance(a, torch.nn.Parameter) or (isinstance(a, torch.Tensor) and a.requires_grad and a.grad_fn is None)
        for a in tree_leaves((args, kwargs or {}))
    )


def watch_noise(patch, watch) -> None:
    """torch's random draws (and torch.distributions' rsample) remember what they drew."""
    import sys

    import torch
    import torch.distributions.utils as dist_utils

    def noisy(real):
        def fn(*a, **k):
            return watch._record_noise(real(*a, **k))

        return fn

    for name in ("randn", "randn_like", "rand", "rand_like", "normal"):
        patch(torch, name, noisy(getattr(torch, name)))
    patch(torch.Tensor, "normal_", noisy(torch.Tensor.normal_))
    patch(torch.Tensor, "uniform_", noisy(torch.Tensor.uniform_))
    patch(torch.Tensor, "exponential_", noisy(torch.Tensor.exponential_))  # F.gumbel_softmax
    patch(torch, "_standard_gamma", noisy(torch._standard_gamma))  # Gamma, Beta rsample
    patch(torch, "_sample_dirichlet", noisy(torch._sample_dirichlet))  # Dirichlet rsample (topic models)
    real_standard = dist_utils._standard_normal
    drawn = noisy(real_standard)
    patch(dist_utils, "_standard_normal", drawn)
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("torch.distributions.") and m is not None]:
        if getattr(module, "_standard_normal", None) is real_standard:
            # bound by name where it is imported (MultivariateNormal's, LowRankMultivariateNormal's rsample)
            patch(module, "_standard_normal", drawn)

    numpy = sys.modules.get("numpy")
    if numpy is not None:
        for name in ("normal", "randn", "standard_normal"):
            real = getattr(numpy.random, name)
            patch(numpy.random, name, lambda *a, _real=real, **k: watch._record_numpy_noise(_real(*a, **k)))


def in_a_model_method() -> bool:
    """Is a method of the user's own module running (not its constructor)? Full-batch training
    calls the model's loss method itself (``model.loss(x)``: no forward call, no batch taken), and
    the rsample drawn there is the step's noise."""
    import sys

    import torch

    from vaelint.source.frames import is_user_file

    frame = sys._getframe(2)
    for _ in range(40):
        if frame is None:
            return False
        own = frame.f_locals.get("self") if frame.f_code.co_name != "__init__" else None
        if isinstance(own, torch.nn.Module) and is_user_file(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


def saved_tensors(node) -> list:
    """The tensors an autograd node saved for its backward (``_saved_self``, ``_saved_other``...);
    none for a layer's node: noise a layer takes as its input (a GAN's ``decoder(torch.randn(B,
    nz))``) is a generator's latent, not a reparameterised sample."""
    import torch

    if type(node).__name__ in LAYER_NODES:
        return []
    out = []
    for name in dir(node):
        if not name.startswith("_saved_"):
            continue
        try:
            value = getattr(node, name)
        except Exception:  # noqa: BLE001 - a freed or unreadable saved value
            continue
        out += [v for v in (value if isinstance(value, (tuple, list)) else (value,)) if isinstance(v, torch.Tensor)]
    if not out and hasattr(node, "saved_tensors"):
        # an autograd Function's node (torch.distributions' _Dirichlet: ctx.save_for_backward(x, ...))
        try:
            out = [v for v in node.saved_tensors if isinstance(v, torch.Tensor)]
        except Exception:  # noqa: BLE001 - freed after a backward, or unreadable
            out = []
    return out


def storage_of(t) -> int | None:
    """Where a tensor's memory is: how a drawn noise is known again in the graph."""
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


def frozen_only(watch) -> str | None:
    """Why a run whose only backwards train another network from a frozen VAE's samples has no
    VAE step (a world model's dynamics net on latents drawn under ``torch.no_grad()``); None where
    there is no such sample, or where a backward passed over trains the model that drew it (a
    latent-diffusion VAE's decoder fine-tuned on its frozen encoder's samples: the VAE's own step)."""
    from vaelint.frontends.training.liveinner import parameters_reached
    from vaelint.source.cells import where

    if not watch.frozen or watch.frozen[0] is None:
        return None
    for c in (c for c in watch.passed if c.loss is not None):
        # the models that drew it, or a model of the step's that holds one (vae.encode(x) runs vae.encoder)
        owners = [m for m in watch.frozen_models if m is not None] + _holding(c, watch.frozen_models)
        if {id(p) for m in owners for p in m.parameters()} & parameters_reached([c.loss]):
            return None
    drawn, first = watch.frozen[0], watch.passed[0]
    trained = f" at {where(first.frames[-1][0].f_code.co_filename, first.frames[-1][1][0])}" if first.frames else ""
    return (
        f"the sample drawn at {where(drawn.path, drawn.line)} is drawn under torch.no_grad(), so the VAE is frozen "
        f"in this run, and the backward{trained} trains another network from it. Nothing here trains the VAE: "
        "check the script that trains it, or the model alone (PATH.py:CLASS --input SHAPE)."
    )


def note_frozen_heads(watch, output) -> None:
    """What a model call returned under ``torch.no_grad()`` (a frozen VAE's mean and log-variance):
    a sample drawn from these is no noise (:func:`_frozen_sample`)."""
    import torch
    from torch.utils._pytree import tree_leaves

    if not torch.is_grad_enabled() and watch.model_calls:
        model = watch.model_calls[-1][0]
        watch.frozen_heads.update({storage_of(t): model for t in tree_leaves(output) if isinstance(t, torch.Tensor)})


def _holding(capture, models: list) -> list:
    """The modules among the step's variables that hold one of ``models`` as a part."""
    import torch.nn as nn

    parts = {id(m) for m in models if m is not None}
    found = []
    for _frame, _where, values in capture.frames:
        for value in (values or {}).values():
            if isinstance(value, nn.Module) and any(id(m) in parts for m in value.modules()):
                found.append(value)
    return found
