"""``get_ipython()`` in a notebook exported as a script (``jupyter nbconvert --to script`` writes its
magics as ``get_ipython().run_line_magic('matplotlib', 'inline')``, ``get_ipython().system('pip
install ...')``): Python has no such name, so the run stopped at the first magic with a NameError and
that was said as the cause, hiding the one after it (a data file not here, which --input gives). The
training code's modules are given a stand-in whose magics do nothing (a pip install, a shell command:
never run on the user's behalf). An import of IPython's own in the code replaces it."""

from __future__ import annotations


def _nothing(*_args, **_kwargs):
    return None


class _IPythonStandIn:
    def __getattr__(self, _name):
        return _nothing


_SHELL = _IPythonStandIn()


def get_ipython():
    return _SHELL


INJECTED = {"get_ipython": get_ipython}
