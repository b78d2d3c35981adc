"""The run configuration of an experiment tracker that is not installed (``wandb``): what
``wandb.init(config=vars(args))`` was given reads back from ``wandb.config`` and ``run.config``,
by attribute or key, as the real one does in a disabled run. Code that trains from it
(``args = wandb.config; np.load(args.train_data)``) got a no-op stand-in for every value."""

from __future__ import annotations

from vaelint.frontends.standinbase import _Anything


class TrackerConfig:
    """The values given to ``init(config=...)`` and ``config.update(...)``."""

    def __init__(self, tracker: str):
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_tracker", tracker)

    def __getattr__(self, item):
        values = object.__getattribute__(self, "_values")
        if item in values:
            return values[item]
        raise AttributeError(
            f"{object.__getattribute__(self, '_tracker')}.config has no {item!r}: it holds what the code gave "
            f"{object.__getattribute__(self, '_tracker')}.init(config=...) and config.update(...) "
            "(the tracker is not installed; a sweep's values are not known here)"
        )

    def __setattr__(self, item, value):
        self._values[item] = value

    def __getitem__(self, key):
        return self._values[key]

    def __setitem__(self, key, value):
        self._values[key] = value

    def __contains__(self, key):
        return key in self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def keys(self):
        return self._values.keys()

    def items(self):
        return self._values.items()

    def values(self):
        return self._values.values()

    def get(self, key, default=None):
        return self._values.get(key, default)

    def update(self, values=None, allow_val_change=None, **more):
        self._values.update(_as_dict(values), **more)

    def setdefaults(self, values):
        for key, value in _as_dict(values).items():
            self._values.setdefault(key, value)

    def as_dict(self):
        return dict(self._values)

    def __repr__(self):
        return f"{object.__getattribute__(self, '_tracker')}.config({self._values!r})"


def _as_dict(values) -> dict:
    """A dict of what ``config=`` was given: a dict, an argparse Namespace or another object's
    attributes; nothing for a file name or None."""
    if values is None or isinstance(values, (str, bytes)):
        return {}
    if isinstance(values, TrackerConfig):
        return values.as_dict()
    if hasattr(values, "keys"):
        return {k: values[k] for k in values.keys()}
    return dict(getattr(values, "__dict__", {}))


class _Run(_Anything):
    """A run that records nothing, with the configuration it was given."""


def tracker_names(tracker: str):
    """``make(item)`` for a tracker's stand-in module: ``config`` and ``init`` as above; a sweep's
    agent (``wandb.agent(sweep_id, function=train)``) runs its function once, with the first value
    of each of the sweep's parameters in ``config``, as a sweep's first run has; the rest no-ops."""
    config = TrackerConfig(tracker)
    sweeps: dict = {}

    def init(*args, **kwargs):
        config.update(kwargs.pop("config", None))
        run = _Run(*args, **kwargs)
        run.config = config
        return run

    def sweep(sweep=None, *args, **kwargs):
        key = f"stand-in-sweep-{len(sweeps) + 1}"
        sweeps[key] = sweep if isinstance(sweep, dict) else {}
        return key

    def agent(sweep_id=None, function=None, *args, **kwargs):
        if not callable(function):
            return None
        from vaelint.frontends.placeholders import note

        config.setdefaults(first_values(sweeps.get(sweep_id, {})))
        name = getattr(function, "__qualname__", "the function")
        note(f"{tracker}.agent (stood in: {tracker} is not installed) ran {name} once, with the first value of each sweep parameter")
        return function()

    named = {"config": config, "init": init, "sweep": sweep, "agent": agent}
    return lambda item: named.get(item, _Anything)


def first_values(sweep: dict) -> dict:
    """Each parameter of a sweep's configuration at its first value (``values``' first, ``value``,
    a range's ``min``); parameters nested under ``parameters`` as a sweep gives them."""
    out = {}
    for name, spec in (sweep.get("parameters") or {}).items():
        if not isinstance(spec, dict):
            continue
        if "value" in spec:
            out[name] = spec["value"]
        elif isinstance(spec.get("values"), (list, tuple)) and spec["values"]:
            out[name] = spec["values"][0]
        elif "min" in spec:
            out[name] = spec["min"]
        elif "parameters" in spec:
            out[name] = first_values(spec)
    return out
