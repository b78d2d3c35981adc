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
    """``make(item)`` for a tracker's stand-in module: ``config`` and ``init`` as above, the rest no-ops."""
    config = TrackerConfig(tracker)

    def init(*args, **kwargs):
        config.update(kwargs.pop("config", None))
        run = _Run(*args, **kwargs)
        run.config = config
        return run

    return lambda item: config if item == "config" else init if item == "init" else _Anything
