"""A progress line on stderr while targets are checked: ``target 2 of 5
models/vae.py:VAE  forward``. Only for people: the text report on a terminal,
with several targets or once a check has run for a second; never in machine
formats or when stderr is piped (a CI log, pre-commit's captured output).
The line is transient: it is gone before the report is written."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from vaelint.runtime.concurrency import FORK_LOCK  # drawing and forking take turns

DELAY = 1.0  # seconds a single target runs before its line appears

# the worker's stage names as a person reads them (vaelint/analyze.py, vaelint/runtime/worker.py)
_STAGES = {
    "import": "importing the model's file",
    "build": "building the model",
    "forward": "running the forward",
    "loss": "running the loss",
    "rules": "applying the rules",
    "confirmation": "confirmation run",
}


def wanted(text_report: bool, stderr_is_terminal: bool) -> bool:
    """Whether a run shows progress at all."""
    return text_report and stderr_is_terminal


class Progress:
    def __init__(self, total: int, console: Console | None = None, clock=time.monotonic):
        self.total, self.clock = total, clock
        self.console = console or Console(stderr=True, highlight=False, emoji=False)
        self.live: Live | None = None
        self.shown: str | None = None
        self.index, self.target, self.stage, self.doing = 0, "", "", ""
        self.started = clock()

    def begin(self, index: int, target: str, doing: str = "") -> None:
        with FORK_LOCK:
            self._begin(index, target, doing)

    def _begin(self, index: int, target: str, doing: str = "") -> None:
        """Target ``index`` (1-based) starts; ``doing``: what beyond a check ("checking 2 fixes again")."""
        self.index, self.target, self.stage, self.doing = index, target, "", doing
        self.started = self.clock()
        self._show()

    def on_stage(self, stage: str) -> None:
        with FORK_LOCK:
            self.stage = stage
            self._show()

    def tick(self) -> None:
        """Called while waiting on a worker: the line appears once a lone target has run for DELAY."""
        with FORK_LOCK:
            self._show()

    def _line(self) -> Text:
        what = self.doing or _STAGES.get(self.stage, self.stage)
        return Text(f"target {self.index} of {self.total}  {self.target}  {what}".rstrip(), style="dim")

    def _show(self) -> None:
        if self.live is None:
            if self.total < 2 and self.clock() - self.started < DELAY:
                return
            self.live = Live(self._line(), console=self.console, transient=True, auto_refresh=False)
            self.live.start()
            self.shown = None
        line = self._line()
        if line.plain != self.shown:  # a tick redraws nothing that did not change
            self.shown = line.plain
            self.live.update(line, refresh=True)

    def close(self) -> None:
        with FORK_LOCK:
            self._close()

    def _close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
