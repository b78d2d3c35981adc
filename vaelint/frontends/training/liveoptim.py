"""Parameters another optimiser of the code trains: a VAE-GAN's discriminator, stepped by its
own optimiser after a backward that comes after the VAE's (the run stops at the VAE's, so that
backward is never seen). Its parameters get no gradient from the VAE loss by design: VAE011
does not call them dead."""

from __future__ import annotations


def optimisers_in(values: dict, module_globals: dict) -> list:
    """The optimisers the step's frame can reach: its variables, the module's names, and the
    attributes of the objects among them (``self.optim_D`` of a trainer object)."""
    import torch

    found, seen = [], set()

    def look(value, depth: int) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, torch.optim.Optimizer):
            found.append(value)
        elif isinstance(value, (list, tuple)) and depth < 2:
            for v in value[:16]:
                look(v, depth + 1)
        elif isinstance(value, dict) and depth < 2:
            for v in list(value.values())[:64]:
                look(v, depth + 1)
        elif depth < 1 and hasattr(value, "__dict__") and not isinstance(value, (type, torch.nn.Module, torch.Tensor)) \
                and not type(value).__module__.startswith(("builtins", "torch")):
            for v in list(vars(value).values())[:64]:
                look(v, depth + 1)

    for value in [*values.values(), *module_globals.values()]:
        look(value, 0)
    return found


def trained_by_other_optimisers(optimisers: list, reached: set) -> set:
    """id()s of the parameters of the optimisers that hold none of the parameters the VAE loss
    reaches: their own losses train them."""
    out = set()
    for opt in optimisers:
        params = {id(p) for group in opt.param_groups for p in group.get("params", ())}
        if params and not params & reached:
            out |= params
    return out
