"""Training code found by running it: the step is what runs between a batch and its backward.

The code runs as ``python FILE ARGS`` would run it (or the named function is called),
in the sandbox (:mod:`.sandbox`), with the stand-in packages. Nothing about the
loop's syntax is assumed; the run is watched instead (:class:`Watch`):

* a data loader yields one batch per iterator (synthetic, of the ``--input`` spec or
  of the data set's known shapes; the real first batch where the data is real), and
  the user's frame that took it is remembered, with its variables just after the
  batch was bound (the line right after, through a one-frame trace);
* the top-level ``nn.Module`` calls are remembered, with their inputs;
* every ``backward`` (``loss.backward()``, ``torch.autograd.backward``, and so
  ``scaler.scale(loss).backward()``, ``accelerator.backward(loss)``) is stopped: one
  whose graph reaches a reparameterised sample (noise the code drew, multiplied
  into the graph) ends the run (:class:`Reached`); another (a discriminator's, a
  pretraining phase's) is passed over without computing gradients;
* a loop that comes round to a batch it took before, with no VAE backward since (a classifier
  trained first, epoch after epoch), ends its data there: the code goes on to its next phase;
  one the code takes from again at once (a loader looped for ever) gives its next batch.

At the VAE backward the user's frames on the stack are read (:func:`step_from`): the
frame that took the batch (or that holds the model's inputs) is the step's frame;
its statements from the batch to the backward become the step function, closing
over that frame's variables as they were when the batch came in. Loop shape,
names, launchers, trainer objects and Hydra mains no longer matter: whatever way
the program gets to the backward, it is the program's own.
"""

from __future__ import annotations

import contextlib
import sys
import types
from dataclasses import dataclass

from vaelint.frontends.training.livebinding import OneBatch as _OneBatch
from vaelint.frontends.training.livebinding import after_binding
from vaelint.frontends.training.liveinner import parameters_reached, trains_part_before_the_vaes
from vaelint.frontends.training.liveloops import passes_again
from vaelint.frontends.training.livenoise import note_frozen_heads, storage_of
from vaelint.frontends.training.livestepped import mark_changed, raise_as_the_backward_would
from vaelint.frontends.training.livestepper import encoder_cleared_after, trains_another_network
from vaelint.frontends.training.livetakes import a_generator, drawn_inside_the_loop_of, model_call, trained_objects, zip_parts
from vaelint.source.frames import is_user_file

MAX_BATCHES = 16  # batches the code may take, over all its loaders, before a VAE backward
MAX_ROUNDS = 100  # loops (epochs) that may come round to a batch they took before a VAE backward
# passes of one backward on the same batch before a VAE backward: a critic's n_critic steps
# (5 in WGAN-GP) run on one batch; full-batch training repeats its backward every epoch
MAX_REPEATS = 25


class Reached(BaseException):
    """The run reached a VAE backward: ``capture`` holds what the step needs."""

    def __init__(self, capture):
        super().__init__("reached the VAE backward")
        self.capture = capture


class Stopped(BaseException):
    """The run was stopped by vaelint (too many batches); ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Taken:
    """A batch a data loader gave, and the user's frame that took it."""

    value: object
    frame: types.FrameType | None
    line: tuple  # (line, column) of the statement that took it
    loader: object
    after: dict | None = None  # the frame's variables once the batch was bound
    pristine: dict | None = None  # copies of what the frame advances with next(NAME), as they were then
    parts: tuple = ()  # zip(a, b) read by one statement: each loader's item count (-1: a bare tensor)
    moved: dict | None = None  # globals the frame's callees move each call (global beta), as they were then


@dataclass
class Capture:
    """The user's frames at a backward (outermost first), with what the run knew then."""

    frames: list  # [(frame, line, locals snapshot)]
    loss: object
    taken: Taken | None
    model_calls: list  # [(module, args)] top-level calls since the batch
    vae: bool
    stepper: object = None  # not the VAE's: the optimiser stepped after it trains none of the encoder
    reached: set | None = None  # id()s of the parameters its loss reached, once the loss is let go (_let_go_of)


# --------------------------------------------------------------------------- watching the run


class Watch:
    """The hooks of a run (see the module's docstring)."""

    def __init__(self, specs: list, make_batch):
        self.specs = specs
        self.make_batch = make_batch  # (loader) -> the synthetic batch for it, or None for a real one
        self.noise: list = []  # tensors the code drew (held: their storages stay unique)
        self.noise_ptrs: set = set()
        self.numpy_noise = False  # the step drew Gaussian noise with NumPy (_record_numpy_noise)
        self.noisy_nodes: dict = {}  # id -> autograd node a drawn noise entered the graph at (held)
        self.frozen: list = []  # where a sample was drawn under no_grad (a frozen VAE's latents), the first
        self.frozen_heads: dict = {}  # storage -> the model whose call under no_grad returned it
        self.frozen_models: list = []  # the models whose heads a sample drawn under no_grad read
        self.taken: Taken | None = None
        self.batches = 0
        self.model_calls: list = []
        self.first_output = None  # the output of the step's first model call (liveinner.py)
        self.passed: list[Capture] = []  # backwards that were not a VAE's
        self.passed_before_batch = 0  # how many of them came before the batch last taken
        self.changed_in_place: list = []  # (parameter, where) a left-out optimiser step would change
        self.depth = 0
        self.taking = None  # the user's frame taking a batch, while it does
        self.making = False  # a batch is being made (its random values are data, not noise)
        self.built: list = []  # the modules with a training_step the code built
        self.reached: Reached | None = None  # the VAE backward's stop, once raised
        self.sites: set = set()  # (code, position, loader) where a batch was taken
        self.rounds = 0  # loops that came round to such a site: each ended there
        self.ended: dict = {}  # site -> what the run had done when its data was ended there
        self.again: dict = {}  # site -> later passes given a batch again there (liveloops.passes_again)
        self.loader_batches: set = set()  # the batch sizes the loaders read were built with (livebatchsize)

    # ---- noise
    def _record_noise(self, t):
        """Noise is what the model's forward draws, or the step once it has its batch or a model ran in it (no
        loader: eps of the encoder's mu); never data the code makes (a synthetic batch) or its weights."""
        import torch

        from vaelint.frontends.training.livenoise import in_a_model_method

        in_step = self.depth > 0 or not self.making and (self.taken is not None or bool(self.model_calls) or in_a_model_method())
        if in_step and isinstance(t, torch.Tensor) and t.numel() and not isinstance(t, torch.nn.Parameter):
            ptr = storage_of(t)
            if ptr is not None:
                self.noise_ptrs.add(ptr)
                self.noise.append(t)
        return t

    def _record_numpy_noise(self, drawn):
        """Gaussian noise the step draws with NumPy (``Tensor(np.random.normal(size=(B, Z)))``):
        the run cannot follow it into the loss's graph, so a backward it passes over may be a VAE's
        all the same (reading the code decides: ``numpy_noise``)."""
        from vaelint.frontends.training.livenoise import in_a_model_method

        if self.depth > 0 or self.taken is not None and not self.making or not self.making and in_a_model_method():
            self.numpy_noise = True
        return drawn

    def reaches_noise(self, loss) -> bool:
        """Does the loss's graph multiply in a tensor the code drew at random (a
        reparameterised sample: mu + eps * std, rsample)? Noise a layer takes as its input (a
        GAN's decoder(torch.randn(B, nz))) is a generator's latent, not such a sample."""
        from vaelint.frontends.training.autogradwalk import autograd_nodes
        from vaelint.frontends.training.livenoise import saved_tensors

        for node in autograd_nodes([getattr(loss, "grad_fn", None)]):
            if id(node) in self.noisy_nodes:
                return True
            if any(storage_of(v) in self.noise_ptrs for v in saved_tensors(node)):
                return True
        return False

    # ---- backward
    def backward(self, loss):
        if self.reached is not None:
            raise self.reached  # the user's `except:` swallowed the stop: it comes back, unchanged
        capture = Capture(user_frames(), loss, self.taken, list(self.model_calls), self.reaches_noise(loss))
        if capture.vae and trains_part_before_the_vaes(capture, self.first_output):
            capture.vae = False  # a discriminator trained inside the loss, before the VAE's own backward
        noise = lambda t: storage_of(t) in self.noise_ptrs  # noqa: E731
        if capture.vae and (trains_another_network(capture, noise) or encoder_cleared_after(capture, noise)):
            # its optimiser, stepped right after, holds none of the encoder's parameters; or the
            # encoder's optimiser clears what it gave them before the encoder's own backward
            capture.vae, capture.stepper = False, True
        if capture.vae:
            raise_as_the_backward_would(loss, self.changed_in_place)
            self.reached = Reached(capture)
            raise self.reached
        again = sum(_site(p) == _site(capture) for p in self.passed[self.passed_before_batch :])
        self.passed.append(capture)
        self.model_calls, self.first_output = [], None  # the next step's calls start here
        if again >= MAX_REPEATS:
            # the same backward over and over with no batch taken between (full-batch training:
            # every epoch runs the model on the same tensors): the loop goes round without a VAE's.
            # A few passes are a critic's inner steps on one batch, before the VAE's own step
            raise Stopped(f"the step's backward came round {again + 1} times with no batch taken and no backward of a VAE loss")

    def stepped(self, optimiser) -> None:
        """An optimiser's step in the step, left out: what it would change is marked so (livestepped.py)."""
        if self.taken is None:
            return
        graded = set().union(
            *(c.reached if c.loss is None else parameters_reached([c.loss]) for c in self.passed[self.passed_before_batch :])
        )
        self.changed_in_place.extend(mark_changed(optimiser, graded))

    # ---- data
    def take(self, loader):
        if self.reached is not None:
            raise self.reached
        frame = _taker()
        where = position(frame) if frame else (0, 0)
        site = (frame.f_code if frame else None, where, id(loader), trained_objects(frame))
        if site in self.sites and (
            (self.ended.get(site) == self._progress() and a_generator(frame)) or passes_again(self, site, frame, where)
        ):
            # the data just ended here and a generator of the code, having done nothing since, takes from the
            # same place again (`while True: for x in loader: yield x`, a WGAN critic's `next(gen)`), or the
            # loop holds a backward not run yet (epochs alternating networks): its next batch. An epoch
            # loop's next pass (a pretraining phase) still ends there
            self.ended.pop(site, None)
        elif site in self.sites:
            # a loop that took a batch here came round with no backward of a VAE loss since (a
            # pretraining phase, a classifier trained first, an evaluation loop): its data ends,
            # so the code goes on to its next phase, as it would once that loop had run
            self.rounds += 1
            if self.rounds > MAX_ROUNDS:
                passed = len(self.passed) and f", passing over {len(self.passed)} backward(s) whose loss reaches no random sample"
                passed = f"{passed} (another network's, a pretraining phase's)" if passed else ""
                raise Stopped(
                    f"the code's loops came round {MAX_ROUNDS} times{passed} without a backward of a loss that reaches "
                    "a reparameterised sample"
                )
            self.ended[site] = self._progress()
            raise StopIteration
        self.sites.add(site)
        if self.batches >= MAX_BATCHES:
            raise Stopped(
                f"the code took {MAX_BATCHES} batches without reaching the backward of a loss that reaches a reparameterised sample"
            )
        self.batches += 1
        _let_go_of(self.passed[1:])  # earlier steps': what the report reads of them, not their tensors
        self.passed_before_batch, self.changed_in_place = len(self.passed), []
        self.taking = frame
        self.making = True
        try:
            value = self.make_batch(loader)
        finally:
            self.making = False
        last = self.taken
        if drawn_inside_the_loop_of(last, frame, where) and not self.model_calls:
            # `for x1 in loader: x2 = next(iter(loader))`: a second batch the step draws for itself
            # (FactorVAE's permuted batch, a pair loss) is the step's own code; the loop's batch is
            # the one its model is trained on
            return value
        if last is not None and frame is not None and last.frame is frame and last.line == where and not self.model_calls:
            # zip(labelled, unlabelled): the loaders one statement reads together make one batch
            self.taken = Taken(_items(last.value) + _items(value), frame, where, last.loader, parts=zip_parts(last, value))
        else:
            self.taken = Taken(value, frame, where, loader)
        self.model_calls, self.first_output = [], None
        if frame is not None:
            after_binding(frame, self.taken)
        return value

    def _progress(self) -> tuple:
        """What the run has done so far: backwards passed, batches taken, model calls."""
        return (len(self.passed), self.batches, len(self.model_calls))

    # ---- model calls
    def pre_hook(self, module, args):
        if self.depth == 0:
            caller = _taker()
            self.model_calls.append(model_call(module, args, (caller.f_code, position(caller)) if caller else None))
        self.depth += 1

    def post_hook(self, module, args, output):
        self.depth = max(0, self.depth - 1)
        if self.depth == 0 and self.model_calls:  # what it gave back: the step's call feeds the loss
            self.model_calls[-1].note_output(output)
            note_frozen_heads(self, output)  # under no_grad: a frozen model's heads, which a sample may be drawn from
            self.first_output = output if len(self.model_calls) == 1 else self.first_output


def _site(capture: Capture):
    """Where a backward was called: the innermost user frame's code and line."""
    if not capture.frames:
        return None
    frame, line = capture.frames[-1][0], capture.frames[-1][1]
    return (frame.f_code, line)


def _items(batch) -> list:
    return list(batch) if isinstance(batch, (tuple, list)) else [batch]


def user_frames() -> list:
    """The user's frames on the stack, outermost first: (frame, line, locals)."""
    out = []
    f = sys._getframe(2)
    while f is not None:
        if _is_user_frame(f):
            out.append((f, position(f), dict(f.f_locals)))
        f = f.f_back
    return out[::-1]


def _let_go_of(captures: list) -> None:
    """A passed-over backward of an earlier step keeps what the report and the program read of it
    (where it was, the parameters its loss reached), not its loss's graph nor its frames' variables:
    a VQ-VAE's steps, each passed over, held every step's activations until the run ran out of
    memory (22 GiB at 18 steps of VQ-VAE-2, helper-found: unixpickle/vq-vae-2). The first one is
    kept whole: it is the step where no VAE's backward comes."""
    for capture in captures:
        if capture.loss is not None:
            capture.reached = parameters_reached([capture.loss])
            capture.loss = None
        capture.frames = [(types.SimpleNamespace(f_code=f.f_code), line, None) for f, line, _values in capture.frames]
        capture.taken, capture.model_calls = None, []


def position(frame) -> tuple[int, int]:
    """(line, column) of the instruction a frame runs: two statements on one line
    (``opt.zero_grad(); loss.backward()``) are told apart by the column."""
    try:
        pos = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        if pos[0] is not None:
            return pos[0], pos[2] or 0
    except (AttributeError, IndexError):
        pass
    return frame.f_lineno, 0


def _is_user_frame(f) -> bool:
    """A frame of the user's code: a function or a module's top level (not a comprehension)."""
    name = f.f_code.co_name
    return is_user_file(f.f_code.co_filename) and (name == "<module>" or not name.startswith("<"))


def _taker():
    f = sys._getframe(2)
    while f is not None:
        if _is_user_frame(f):
            return f
        f = f.f_back
    return None


@contextlib.contextmanager
def watching(watch: Watch):
    """The run's hooks, for as long as it runs."""
    import torch
    import torch.nn.modules.module as module_mod

    from vaelint.frontends.training.livenoise import watch_noise
    from vaelint.frontends.training.livepatch import Patches

    patches = Patches()
    patch = patches.set

    watch_noise(patch, watch)

    def tensor_backward(self, *a, **k):
        return watch.backward(self)

    def autograd_backward(tensors, *a, **k):
        first = tensors[0] if isinstance(tensors, (tuple, list)) else tensors
        return watch.backward(first)

    patch(torch.Tensor, "backward", tensor_backward)
    patch(torch.autograd, "backward", autograd_backward)
    patch(torch.utils.data.DataLoader, "__iter__", lambda loader: _OneBatch(watch, loader))
    loader_init = torch.utils.data.DataLoader.__init__

    def init(loader, *a, **k):  # where the code builds it: the report names it (VAE005)
        loader_init(loader, *a, **k)
        if not hasattr(loader, "loc"):
            from vaelint.source.frames import user_frame

            object.__setattr__(loader, "loc", user_frame())

    patch(torch.utils.data.DataLoader, "__init__", init)
    module_init = torch.nn.Module.__init__

    def built(module, *a, **k):  # the LightningModules the code builds (held: a trainer may drop them)
        module_init(module, *a, **k)
        if callable(getattr(type(module), "training_step", None)):
            watch.built.append(module)

    patch(torch.nn.Module, "__init__", built)
    handles = [module_mod.register_module_forward_pre_hook(watch.pre_hook), module_mod.register_module_forward_hook(watch.post_hook)]
    trace = sys.gettrace()
    from vaelint.frontends.training.livecuda import cuda_kept_on_cpu, one_process
    from vaelint.frontends.training.livenoise import noise_flow

    try:
        with cuda_kept_on_cpu(watch), one_process(), noise_flow(watch):
            yield watch
    finally:
        for h in handles:
            h.remove()
        patches.restore()
        sys.settrace(trace)
