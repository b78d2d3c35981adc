"""A missing import that is the repository's own package in a folder above the one vaelint runs in
(``cd worldmodels/ctallec; vaelint check trainvae.py`` with ``import worldmodels`` of the root) is
said as that, with the install or PYTHONPATH that makes it importable, not "install worldmodels"
(helper A, philiptkd/WorldModels; frontends/installadvice.py)."""

import os

from vaelint.frontends.installadvice import install_advice

ERROR = ModuleNotFoundError("No module named 'wm'", name="wm")


def test_a_package_of_the_project_above_is_said_with_its_install_and_its_path(tmp_path, monkeypatch):
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "wm" / "sub").mkdir(parents=True)
    (tmp_path / "wm" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path / "wm" / "sub")
    said = install_advice("wm", ERROR)
    assert (
        said
        == f"'wm' is the repository's own package ({os.path.join('../..', 'wm')}/), not installed here: install the project into this environment (pip install -e ../..), or run vaelint with PYTHONPATH=../.."
    )


def test_without_a_project_file_the_path_alone_and_without_the_package_the_install(tmp_path, monkeypatch):
    (tmp_path / "wm" / "sub").mkdir(parents=True)
    (tmp_path / "wm" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path / "wm" / "sub")
    assert install_advice("wm", ERROR).endswith("not installed here: run vaelint with PYTHONPATH=../..")
    (tmp_path / "wm" / "__init__.py").unlink()  # a folder of that name with no package in it
    assert install_advice("wm", ERROR) == "Install wm"
