"""The typed vocabularies the stages share (as mypy's ``ErrorCode`` objects): a
rule's severity, what it needs of a target, what its confirmation needs beyond the
run at the user's batch, and what a run's error is about.

Each member is also its string ("error" == Severity.ERROR), so the JSON report and
configuration files keep their words; a misspelt word fails when it is written,
not by silently never matching.
"""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A member that prints, formats and serialises as its value."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Severity(Word):
    ERROR = "error"
    WARNING = "warning"


class FixAvailability(Word):
    """Whether a rule offers an edit for its findings (ruff's FixAvailability)."""

    ALWAYS = "always"  # every finding comes with one
    SOMETIMES = "sometimes"  # where the user's source can be edited safely
    NEVER = "never"

    @property
    def words(self) -> str:
        """As a rule's page says it."""
        return {
            "always": "always",
            "sometimes": "sometimes, where the source can be edited as the fix says",
            "never": "never; the fix above is written by hand",
        }[self.value]


class Maturity(Word):
    """A rule's standing (ruff's stable and preview rules): a preview rule runs only where
    --select (or the configuration's select) names its code."""

    STABLE = "stable"
    PREVIEW = "preview"


class Need(Word):
    """What a rule reads; the engine skips it, saying why, when the target lacks
    one (vaelint/facts/context.py, ``Context.unmet``)."""

    LOSS = "loss"  # a loss function, a step's loss, or the forward's own out['loss']
    REPARAM = "reparam"  # mu + eps * std with eps drawn in forward
    POSTERIOR = "posterior"  # such a sampler, or a categorical one (F.gumbel_softmax of the encoder's logits)
    RECON = "recon"  # a forward output that depends on the sample
    KL_TERM = "kl_term"  # a loss term on the mean or scale head alone
    REC_TERM = "rec_term"  # a loss term on the reconstruction
    CLEAN_RUN = "clean_run"  # the model ran at the user's batch without raising
    OWN_DEVICES = "own_devices"  # the model's code, not a framework, places its tensors


class ConfirmNeed(Word):
    """What a rule's ``confirm`` reads beyond the run at the user's batch, so the
    pass pays for it only when some finding asks."""

    DOUBLED_BATCH = "doubled_batch"  # a second forward at 2*B, the same samples twice
    GRAPH = "graph"  # the autograd graph kept after the backward (gradients between nodes)
    CONTRACT_RUN = "contract_run"  # the annotated calls replayed under jaxtyping + beartype


class ErrorKind(Word):
    """What a run's error is about (vaelint/errorkinds.py decides it)."""

    RANGE = "range"  # binary_cross_entropy on values outside [0, 1]
    SUPPORT = "support"  # outside a distribution's support
    CONSTRAINT = "constraint"  # a distribution's parameter outside what it allows (probs outside [0, 1])
    MEMORY = "memory"
    DEVICE = "device"
    DTYPE = "dtype"
    SHAPE = "shape"
    OTHER = "other"
