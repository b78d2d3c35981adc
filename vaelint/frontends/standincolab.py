"""Google Colab's own module (``google.colab``: ``drive.mount('/content/drive')``,
``files.upload()``), which exists only on Colab: a notebook written there stands it in where this
machine lacks it, so the check goes on to what the notebook reads from the Drive (its data, said
as data that is not here). Before, the report advised installing 'google' (helper-found:
hyeju1123/musicVAE-4bar)."""

from __future__ import annotations

import types

from vaelint.frontends.standinbase import _Anything, _StandInModule

COLAB = "google.colab"


def colab_spec(loader, fullname: str, path):
    """The spec of Colab's module (or of ``google`` itself where no package of Google's is installed)
    served by ``loader``, only where the real one is not found and the user's code imports it."""
    import importlib.machinery
    import importlib.util

    from vaelint.frontends.standinbase import real_spec
    from vaelint.frontends.standinconsole import imported_by_the_code

    if fullname == "google" and real_spec("google") is not None:
        return None
    if importlib.machinery.PathFinder.find_spec(fullname, path) is None and imported_by_the_code():
        return importlib.util.spec_from_loader(fullname, loader, is_package=True)
    return None


def colab(fullname: str) -> types.ModuleType:
    if fullname == "google":
        return parent(fullname)
    from vaelint.frontends.placeholders import note

    if fullname == COLAB:
        note(
            "google.colab is Colab's own and not here; it stands in (drive.mount mounts nothing: what the notebook "
            "reads from the Drive is not here either)"
        )

    def make(item):
        if fullname.endswith(".files") and item == "upload":
            return lambda *a, **k: {}  # nothing uploaded: the files it names are not here
        return _Anything()

    return _StandInModule(fullname, make)


def parent(fullname: str) -> types.ModuleType:
    """``google`` itself where no package of Google's is installed: a package of nothing but colab."""

    def make(item):
        raise AttributeError(item)

    return _StandInModule(fullname, make)


def is_colab(fullname: str) -> bool:
    return fullname == COLAB or fullname.startswith(COLAB + ".")
