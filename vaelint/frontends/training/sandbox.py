"""What the user's training code may not do while vaelint runs its slice.

The slice (:mod:`.slicer`) already leaves out what a check does not need:
downloads, loaders, optimisers, checkpoints, logs. This is the net under it,
for the functions the slice does call (an ``arguments.get_args()`` that makes
its output folder, a ``Solver.__init__`` that opens a log file):

* files are not written (:mod:`.sandboxwrites`): ``open`` for writing gives a sink,
  ``os.open`` (``tempfile.mkstemp`` into the user's folder) the null device, ``os.makedirs``,
  ``Path.mkdir``, ``shutil`` copies and removals, ``torch.save`` do nothing
  (the temporary and cache folders excepted, never the script's own folder or
  the one vaelint runs in, even under /tmp);
* nothing is downloaded: network connections, ``urlopen`` and ``torch.hub``
  downloads stop the check with a message, and no program is started:
  ``subprocess`` raises a FileNotFoundError with that message (code that tries
  ``git`` and carries on without it does so), ``os.system`` and ``os.popen``
  answer as a shell does for a program that is not installed (exit status 127,
  no output: ``nvidia-smi`` finds no GPU), and the report lists them;
* no optimiser or learning-rate scheduler steps, no data loader is iterated;
* ``input()`` does not wait, and an argparse error says which ``--script-args``
  to give instead of exiting;
* experiment trackers the code has installed run in their own no-op or offline
  modes (``WANDB_MODE=disabled``, ...: :data:`TRACKERS_OFF`), so one that is not
  logged in does not stop the setup.

Every blocked write is remembered (:attr:`Sandbox.blocked`): the report says
what the script would have written.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.frontends.training.sandboxanswers import NoOutput, a_pause, from_hub_cache, numpy_batches
from vaelint.frontends.training.sandboxparts import first_step_only, no_step_subclass, retrieved, started_by_user_code, subclasses
from vaelint.frontends.training.sandboxprograms import finished_popen
from vaelint.frontends.training.sandboxthreads import keep_guarded, threads_now
from vaelint.frontends.training.sandboxwrites import guard_writes, skipped
from vaelint.source.frames import user_frame

# each tracker's documented switch to a mode that logs nothing and contacts nothing
TRACKERS_OFF = {
    "WANDB_MODE": "disabled",  # wandb.init returns a run whose log() does nothing; no key needed
    "WANDB_SILENT": "true",
    "NEPTUNE_MODE": "debug",  # neptune.init_run: nothing is stored or sent
    "COMET_DISABLE_AUTO_LOGGING": "1",
    "HF_HUB_OFFLINE": "1",  # hub libraries read their cache only, and say so, instead of trying the network
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    # a Hydra main re-raises what its task raised instead of printing it and exiting 1: the
    # report says the error (a NameError in the task), not "SystemExit: 1"
    "HYDRA_FULL_ERROR": "1",
}


@dataclass
class Sandbox:
    script: str  # the script's path, for messages
    blocked: list[str] = field(default_factory=list)  # "open('out.txt', 'w') at train.py:40"
    unrun: list[str] = field(default_factory=list)  # "os.popen('nvidia-smi') at train.py:12"
    queried: list[str] = field(default_factory=list)  # "git rev-parse HEAD at train.py:22", answered empty
    changed: list[str] = field(default_factory=list)  # "Trainer(accelerator='gpu') at main.py:33", built for the CPU
    adapted: list[str] = field(default_factory=list)  # Lightning 1.x's Trainer.from_argparse_args, on a 2.x
    unloaded: list[str] = field(default_factory=list)  # checkpoints that are not here: the weights stay as built
    stood_in: list[str] = field(default_factory=list)  # said as written: "WandbLogger(...) logs nothing (wandb is not installed)"
    optimizer_steps: int = 0
    on_step: object = None  # called with each optimiser whose step is left out (live.Watch.stepped)
    data_given: bool = False  # --input gives the data: a program run for it answers as one not installed
    _patches: list = field(default_factory=list)

    def _where(self) -> str:
        loc = user_frame()
        return f" at {loc.where()}" if loc else ""

    def _allowed(self, target) -> bool:
        """Writes into the temporary and cache folders are libraries' own (torch's
        compile cache, a temp file), never the user's files."""
        import os

        try:
            path = os.path.realpath(os.fsdecode(os.fspath(target)))  # a bytes path too
        except (TypeError, ValueError):
            return False

        def under(root: str) -> bool:
            return path == root or path.startswith(root + os.sep)

        # a repository checked out under /tmp (a CI runner's) is still the user's, and so is the
        # folder it sits in there (../runs, ../tmp beside the checkout): of the temporary folder,
        # only what lies outside the user's top folder in it is free
        theirs = {os.path.realpath(os.path.dirname(os.path.abspath(self.script))), os.path.realpath(os.getcwd())}
        for root in self._free_roots:
            for folder in list(theirs):
                rel = os.path.relpath(folder, root)
                if rel != "." and not rel.startswith(".."):
                    theirs.add(os.path.join(root, rel.split(os.sep)[0]))
        return any(under(r) for r in self._free_roots) and not any(under(r) for r in theirs)

    def _note(self, what: str, into: list | None = None) -> None:
        if len(what) > 120:  # an argument's repr (a whole state_dict): its start says enough
            what = what[:100] + "...)"
        text, into = f"{what}{self._where()}", self.blocked if into is None else into
        if text not in into:
            into.append(text)

    def said(self) -> list[str]:
        """The report's notes of what the sandbox kept from happening."""
        return (
            [f"the code's {w} was not performed (vaelint writes nothing)" for w in self.blocked[:5]]
            + [
                f"the code's {w} was not run (vaelint starts no program): it gave what a machine without the "
                "program gives (no output, exit status 127)"
                for w in self.unrun[:3]
            ]
            + [f"the code's {w} was not run (vaelint starts no program): it gave no output, status 0" for w in self.queried[:2]]
            + [f"the code's {w} ran on this machine's CPU as one process: it has no GPU" for w in self.changed[:2]]
            + [
                f"the code's {w} is Lightning 1.x's, which the installed Lightning dropped: the trainer was built with "
                "its defaults and the keywords given (one step needs no more)"
                for w in self.adapted[:1]
            ]
            + [
                f"the code's {w} ran its tasks in this process, one after another (vaelint starts no process)"
                for w in getattr(self, "pooled", [])[:2]
            ]
            + [
                f"the code's {w} is not here: the weights stay as built (the check needs shapes, not trained weights)"
                for w in self.unloaded[:3]
            ]
            + [f"the code's {w}" for w in self.stood_in[:3]]
            + [
                f"the code read back {os.path.basename(p)!r}, which it wrote in this run: from memory, as written"
                for p in getattr(getattr(self, "overlay", None), "read_back", [])[:2]
            ]
        )

    def _patch(self, owner, name: str, value) -> None:
        if owner is None or not hasattr(owner, name):
            return
        self._patches.append((owner, name, owner.__dict__.get(name, getattr(owner, name)), name in getattr(owner, "__dict__", {})))
        setattr(owner, name, value)

    @contextlib.contextmanager
    def active(self):
        """The guards, for the duration of a setup or a step run."""
        import os
        import tempfile

        self._free_roots = [
            os.path.realpath(r) for r in (tempfile.gettempdir(), os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) if r
        ]
        here = os.getcwd()
        # matplotlib, imported by the code, makes its configuration folder in the home folder, which
        # the guards refuse: it would print a warning about it into the report. Its own fallback, a
        # folder under the temporary one, given here
        mpl = "MPLCONFIGDIR" not in os.environ
        if mpl:
            os.environ["MPLCONFIGDIR"] = os.path.join(tempfile.gettempdir(), "vaelint-matplotlib")
        # experiment trackers the code has installed, switched to their own offline or no-op modes
        # (vaelint connects to nothing): wandb.init with no API key would stop the run at the setup
        quiet = {k: v for k, v in TRACKERS_OFF.items() if k not in os.environ}
        os.environ.update(quiet)
        before = threads_now()
        try:
            self._guard_files()
            self._guard_network_and_training()
            yield self
        finally:
            if mpl:
                os.environ.pop("MPLCONFIGDIR", None)
            for k in quiet:
                os.environ.pop(k, None)
            if os.getcwd() != here:
                os.chdir(here)  # the code moved into a folder of its own: vaelint's paths are from here
            while self._patches:
                owner, name, value, own = self._patches.pop()
                if own or not isinstance(owner, type):
                    setattr(owner, name, value)
                else:
                    delattr(owner, name)
            keep_guarded(self, before)  # a thread the code started writes as under the guards after them

    def _guard_files(self) -> None:
        """Writes outside the temporary and cache folders go nowhere, and are noted."""
        import builtins
        import os

        guard_writes(self)  # open for writing, os/shutil/pathlib writes, torch.save: noted, not done
        self._patch(builtins, "input", self._no_input)
        from vaelint.frontends.training.sandboxnative import guard_native_writers

        guard_native_writers(self)  # cv2.imwrite and other writers that open their files in C
        from vaelint.frontends.training.livelightning import lightning_here

        lightning_here(self)  # Trainer(accelerator="gpu") built for this machine's CPU; WandbLogger without wandb
        from vaelint.frontends.training.sandboxbars import text_bars_for_notebook_ones

        text_bars_for_notebook_ones(self)  # tqdm.notebook's tnrange without ipywidgets
        from vaelint.frontends.training.livepools import pools_in_process

        pools_in_process(self)  # Parallel(n_jobs=-1), Pool(4): their tasks run here, one after another
        from vaelint.frontends.training.sandboxfolders import made_folders

        made_folders(self)  # a folder the code made (not made) answers as the empty folder it would be
        from vaelint.frontends.training.livepickle import missing_checkpoints

        missing_checkpoints(self)  # torch.load of a checkpoint that is not here: the weights stay as built
        self._patch(os, "chdir", self._chdir(os.chdir))

    def _guard_network_and_training(self) -> None:
        """No connection or download; no data loader iterated, no optimizer or scheduler step."""
        import socket
        import urllib.request

        import torch

        self._patch(socket.socket, "connect", self._refused("open a network connection"))
        self._patch(socket.socket, "connect_ex", self._refused("open a network connection"))
        # nor a look-up of a host, which is traffic too (aiohttp, under fsspec's http: a data set's
        # download asked the DNS for github.com): it fails as on a machine with no network
        self._patch(socket, "getaddrinfo", _no_host_lookup)
        self._patch(urllib.request, "urlopen", self._refused("download a file (urlopen)"))
        self._patch(urllib.request, "urlretrieve", retrieved(self, self._refused("download a file (urlretrieve)")))
        real_load = torch.hub.load_state_dict_from_url
        for name in ("load", "load_state_dict_from_url", "download_url_to_file"):
            self._patch(torch.hub, name, self._refused(f"download with torch.hub.{name}"))
        # weights already in torch.hub's cache load from the disk, as torch.hub loads them; others stay as built
        self._patch(torch.hub, "load_state_dict_from_url", from_hub_cache(real_load, self))
        self._patch(torch.utils.data.DataLoader, "__iter__", self._no_iteration())
        numpy_batches(self)  # torch.from_numpy of a batch vaelint gave in place of an array
        # a program the code starts (curl or wget fetching a data set, a shell command) is out
        # of this process's reach: none is started
        import os
        import subprocess

        self._patch(subprocess, "Popen", finished_popen(self._no_program(), self, started_by_user_code))
        self._patch(os, "system", self._no_program("os.system", lambda: 127 << 8))
        self._patch(os, "popen", self._no_program("os.popen", NoOutput))
        for name in (
            "posix_spawn",
            "posix_spawnp",
            "execv",
            "execve",
            "execvp",
            "execvpe",
            "execl",
            "execle",
            "execlp",
            "execlpe",
            "spawnv",
            "spawnve",
            "spawnvp",
            "spawnvpe",
            "spawnl",
            "spawnle",
            "spawnlp",
            "spawnlpe",
        ):
            self._patch(os, name, self._no_program())
        no_step = self._no_step()
        scheduler = getattr(torch.optim.lr_scheduler, "LRScheduler", None) or getattr(torch.optim.lr_scheduler, "_LRScheduler", None)
        for base in (torch.optim.Optimizer, scheduler):
            if base is None:
                continue
            for cls in subclasses(base):
                if "step" in cls.__dict__:
                    self._patch(cls, "step", no_step if base is not scheduler else first_step_only(cls.__dict__["step"], no_step))
            # an optimiser class the code defines while it runs (its own SGD) steps no more
            self._patch(base, "__init_subclass__", classmethod(no_step_subclass(no_step, base, base is scheduler)))

    def _skipped(self, what: str, real=None, returns=None):
        return skipped(self, what, real, returns)

    def _chdir(self, real):
        """Into a folder that is there, as asked; into one the code would have made (Hydra's run
        folder, whose mkdir did nothing) the code stays where it is, and it is noted."""
        import os

        sandbox = self

        def chdir(path):
            if os.path.isdir(path):
                try:
                    return real(path)
                except FileNotFoundError:
                    pass  # a folder only the sandbox's own view holds (its mkdir was not made)
            sandbox._note(f"os.chdir({str(path)!r})")
            return None

        return chdir

    def _no_program(self, call: str = "", gives=None):
        """A program the code would start: none is. ``os.system`` and ``os.popen`` (``gives``)
        answer as a shell does for a program that is not installed, and the report says so;
        ``subprocess`` raises what it raises then (a FileNotFoundError the code may catch)
        with vaelint's message, which names the program."""
        sandbox = self

        def fn(*args, **kwargs):
            command = args[0] if args else kwargs.get("args", kwargs.get("cmd", ""))
            if isinstance(command, (list, tuple)):
                command = " ".join(str(c) for c in command)
            shown = str(command)[:80] + ("..." if len(str(command)) > 80 else "")
            if not started_by_user_code():
                # a library's own look-up at import (matplotlib listing fonts with fc-list): it
                # gets what a machine without the program gives, and the check goes on
                raise FileNotFoundError(2, "vaelint starts no program while it checks", shown.split(" ")[0])
            from vaelint.frontends.training.sandboxprograms import python_script_run

            instead = python_script_run(args[0] if args else kwargs.get("args", kwargs.get("cmd", "")))
            if instead:  # a launcher: its script is the training code to check
                refused = _refusal(
                    f"the code runs another Python script as a program ({shown}){sandbox._where()}, and vaelint starts no "
                    f"program: check that script as it is run: `{instead}`"
                )
                refused.says_all = True  # what to do is said: no data hint after it
                raise refused
            if gives is not None:
                sandbox._note(f"{call}({shown!r})", sandbox.unrun)
                return gives()
            raise _refusal(
                f"the training code tried to run a program ({shown}){sandbox._where()}; vaelint starts no "
                "program while it checks (a download with curl or wget, a shell command). Give the inputs "
                "with --input, and keep such calls out of the code the step needs."
            )

        return fn

    def _refused(self, what: str):
        sandbox = self

        def fn(*args, **kwargs):
            raise _refusal(
                f"the training code tried to {what}{sandbox._where()}; {NO_DOWNLOADS} while "
                "it checks. Give the inputs with --input, and keep downloads out of the code the step needs."
            )

        return fn

    def _no_step(self):
        sandbox = self

        def no_step(self, *args, **kwargs):
            sandbox.optimizer_steps += 1
            if sandbox.on_step is not None:
                sandbox.on_step(self)
            # optimizer.step(closure) (Lightning's, L-BFGS's): the closure is the forward and the
            # backward, which run as the code wrote them; only the update of the weights is left out
            closure = kwargs.get("closure", args[0] if args else None)
            if callable(closure):
                import torch

                with torch.enable_grad():
                    return closure()
            return None

        return no_step

    def _no_input(self, *args, **kwargs):
        if a_pause():  # input("Press Enter to start"): its answer unread, as a user's Enter
            return ""
        asked = f"input({args[0]!r})" if args and isinstance(args[0], str) else "input()"
        said = "give that value in the code or as an option of the script's (--script-args), and check again"
        raise VaelintError("input", f"the training code asks for {asked}{self._where()}; vaelint runs without a terminal: {said}.")

    def _no_iteration(self):
        sandbox = self

        def no_iteration(self):
            raise VaelintError(
                "trace",
                f"the code iterates a DataLoader{sandbox._where()} outside the step; vaelint never loads data. "
                "Name the function that holds the training step (PATH.py:FUNCTION), or give the inputs with --input.",
            )

        return no_iteration


NO_DOWNLOADS = "vaelint never downloads or connects"  # what a refused download says (ways.worth_telling looks for it)


def _no_host_lookup(host, *args, **kwargs):
    import socket

    raise socket.gaierror(socket.EAI_NONAME, f"vaelint looks up no network host while it checks ({host})")


class Refused(VaelintError, FileNotFoundError):
    """A download, a connection or a program the sandbox refused: what a data set's constructor
    meets when its data is not here (vaelint/frontends/training/livedata.py reads ``refused``),
    and, as an OSError, what code that tries a program and carries on without it catches."""

    refused = True


def _refusal(message: str) -> VaelintError:
    return Refused("load", message)
