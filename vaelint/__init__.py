"""vaelint: a shape-debugging analyzer for PyTorch variational autoencoders.

The pipeline, one module per stage:
load -> capture -> shapes -> roles -> (loss binding) -> rules -> report.
"""

from vaelint.version import __version__

__all__ = ["Finding", "Report", "UsageError", "__version__", "check"]


def __getattr__(name: str):
    # the Python API (vaelint/api.py), imported on first use: the command line never pays for it
    if name in __all__:
        from vaelint import api

        return getattr(api, name)
    raise AttributeError(f"module 'vaelint' has no attribute {name!r}")
