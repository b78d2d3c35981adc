"""Which values of a training step are "the forward's outputs".

A model plus loss function hands the pipeline the forward's return value
directly. A training step does not: it calls the model (``model(x)``,
``self.forward(x)``, ``vae.encode(x)`` then ``vae.decode(z)``, a Lightning
module's ``self._run_step(x)``) somewhere among its own lines, and computes the
loss from what those calls return. While a step runs, :func:`marking_model_calls`
watches Python's calls (``sys.setprofile``) and hands the return value of each
*outermost* call of a model's own method to ``on_output``: the same facts a
forward's return value gives, whichever capture route runs the step (fx
proxies and real tensors alike).

A model's own method is a method of an ``nn.Module`` instance, defined in the
user's files, whose name does not say it computes the loss or runs the step
(``loss_function``, ``training_step``, ``step``, ``kl_divergence``...); a
library module called straight from the step (``nn.Sequential`` encoder)
counts too. Calls inside a marked call are the model's business.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable

from vaelint.source.frames import is_user_file

# a method whose name holds one of these computes a loss or runs a whole step:
# what it returns is not the model's output
_NOT_MODEL = ("loss", "kl", "kld", "elbo", "criterion", "objective", "penalty", "step", "__init__", "log")


def _named_like_model(name: str) -> bool:
    low = name.lower()
    return not any(word in low for word in _NOT_MODEL)


class _Marker:
    def __init__(self, on_output: Callable[[Any, tuple], None]):
        import torch.nn as nn
        from torch.nn.modules.loss import _Loss

        self.on_output = on_output
        self.previous = None  # chained: it hears every event too
        self.nn_module, self.loss_module = nn.Module, _Loss
        import torch.fx as fx

        self.call_impl = nn.Module._call_impl.__code__
        # torch.fx records a leaf module (nn.Linear) called straight from the step
        # without running it: its Tracer.call_module is that call
        self.fx_call_module = fx.Tracer.call_module.__code__
        self.active: list = []  # the model calls under way, outermost first
        self.count = 0
        self.names: dict[str, int] = {}
        self._code_ok: dict = {}

    def _module_of(self, frame):
        """The module a candidate frame runs: the method's own object ("self"),
        or the module fx's call_module was handed."""
        code = frame.f_code
        if code is self.fx_call_module:
            return frame.f_locals.get("m")
        return frame.f_locals.get(code.co_varnames[0])

    def _candidate(self, frame) -> bool:
        code = frame.f_code
        ok = self._code_ok.get(code)
        if ok is None:
            if code is self.call_impl or code is self.fx_call_module:
                ok = True
            else:
                ok = code.co_argcount >= 1 and _named_like_model(code.co_name) and is_user_file(code.co_filename)
            self._code_ok[code] = ok
        if not ok:
            return False
        me = self._module_of(frame)
        if not isinstance(me, self.nn_module) or isinstance(me, self.loss_module):
            return False
        if code is self.call_impl or code is self.fx_call_module:
            # a library module called straight from the step (an nn.Sequential encoder);
            # a layer with no weights (nn.ReLU) is no model
            return any(True for _ in me.parameters())
        return True

    def __call__(self, frame, event, arg):
        if self.previous is not None:  # a profile function set before (vaelint/contracts/calls.py's watcher)
            self.previous(frame, event, arg)
        if event == "call":
            if self._candidate(frame):
                self.active.append(frame)
                if len(self.active) == 1 and self.previous is None:
                    # inside a model call only its own return matters: a hook that reads nothing else
                    # (this one, at every Python and C call of a fake-tensor run, made a video VAE's
                    # shape run at another batch 6 s where the model alone took 1)
                    sys.setprofile(self._inside)
        elif event == "return" and self.active and self.active[-1] is frame:
            self.active.pop()
            if not self.active:
                self._hand_over(frame, arg)

    def _inside(self, frame, event, arg):
        """The hook while a model call runs: the outermost call's return (or its unwinding) ends it."""
        if event == "return" and frame is self.active[0]:
            self.active.pop()
            sys.setprofile(self)
            self._hand_over(frame, arg)

    def _hand_over(self, frame, value) -> None:
        self.count += 1
        if self.count == 1:
            prefix: tuple = ()
        else:
            library = frame.f_code is self.call_impl or frame.f_code is self.fx_call_module
            name = type(self._module_of(frame)).__name__ if library else frame.f_code.co_name
            self.names[name] = self.names.get(name, 0) + 1
            prefix = (name if self.names[name] == 1 else f"{name}#{self.names[name]}",)
        self.on_output(value, prefix)


@contextlib.contextmanager
def marking_model_calls(on_output: Callable[[Any, tuple], None]):
    """While inside: ``on_output(value, prefix)`` hears each outermost model call's
    return value (``prefix`` is () for the first, then the method's name)."""
    marker = _Marker(on_output)
    previous = sys.getprofile()
    marker.previous = previous
    sys.setprofile(marker)
    try:
        yield marker
    finally:
        sys.setprofile(previous)
