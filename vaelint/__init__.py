"""vaelint: a shape-debugging analyzer for PyTorch variational autoencoders.

The pipeline, one module per stage:
load -> capture -> shapes -> roles -> (loss binding) -> rules -> report.
"""

__version__ = "0.1.0"
