"""What one target's check is asked to do (the command line's options, merged
with the configuration). Kept apart from the pipeline so that reading it (the
result cache's key: vaelint/cache/store.py) imports no torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from vaelint.inputs import InputSpec


@dataclass
class Options:
    inputs: list[InputSpec]
    init: dict = field(default_factory=dict)
    loss: str | None = None
    loss_kwargs: dict = field(default_factory=dict)
    beta: float = 1.0
    device: str = "auto"
    dynamic: bool = True
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    timeout: float | None = 60.0  # seconds per target
    script_args: list[str] = field(default_factory=list)  # --script-args, split as a shell would
    batch_dim: int | None = None  # --batch-dim: given, the batch is there in every input; else found
    # hears each stage as it starts: import, build, forward, loss, rules, confirmation
    progress: Callable[[str], None] | None = None
    # hears the built model (the worker picks torch's thread count by its size)
    on_model: Callable[[object, int], None] | None = None  # (model, elements of the inputs at the batch)
    max_memory: int | None = None  # bytes of resident memory the worker may use (--max-memory)
    # vaelint annotate: also watch the model's unannotated forward/encode/decode/
    # reparameterize and the loss, and propose annotations (result.annotations)
    annotate: bool = False
    # offer fixes: each rule's edit for its findings (vaelint/fixes/)
    fixes: bool = False
    # check each offered edit again before the report (--fix, --diff: what is applied or shown);
    # a plain check offers the rule's edit as it is, at the cost of one check, not one more per fix
    verify_fixes: bool = False
    # path -> edited text standing in for the file (a fix being checked again: vaelint/source/overlay.py)
    sources: dict = field(default_factory=dict)
