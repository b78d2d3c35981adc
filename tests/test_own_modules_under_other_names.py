"""A missing import that is the repository's own code under another import path (helper-found in
three repositories; frontends/installadvice.py):

* ``from utils.helpers import f`` with src/utils/helpers.py (the launcher's PYTHONPATH=src): said as
  that folder to put on the path, not "install the package that provides 'utils'";
* ``from my_vae_project.vaemodel import VAE`` with ./vaemodel.py defining VAE (the repository imports
  itself under its author's checkout's name): said as that, not "install my_vae_project";
* near misses: a project file named like the package that imports the package itself
  (proj/dataset/biom.py's ``from biom import Table``) is no module to put on the path, the package is
  to install; ``from ray.train import report`` beside a train.py without ``report`` is a package."""

from __future__ import annotations

from vaelint.frontends.installadvice import install_advice


def _error(name: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(f"No module named '{name}'", name=name)


def test_a_dotted_module_in_a_folder_below_names_that_folder(tmp_path, monkeypatch):
    (tmp_path / "src" / "utils").mkdir(parents=True)
    (tmp_path / "src" / "utils" / "__init__.py").write_text("")
    (tmp_path / "src" / "utils" / "helpers.py").write_text("def f(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    said = install_advice("utils.helpers", _error("utils"))
    assert said.startswith("'utils.helpers' is not installed, but src/utils/helpers.py is here"), said
    assert said.endswith("run vaelint with PYTHONPATH=src"), said


def test_the_repository_imported_under_its_checkouts_name(tmp_path, monkeypatch):
    here = tmp_path / "cloned_as"
    here.mkdir()
    (here / "vaemodel.py").write_text("import torch\n\n\nclass VAE(torch.nn.Module):\n    pass\n\n\nLATENT = 8\n")
    (here / "train.py").write_text("from my_vae_project.vaemodel import VAE, LATENT\n")
    monkeypatch.chdir(here)
    said = install_advice("my_vae_project.vaemodel", _error("my_vae_project"))
    assert said.startswith(
        "'my_vae_project.vaemodel' is this folder's own vaemodel.py, imported under the package name 'my_vae_project'"
    ), said
    assert "this one is 'cloned_as'" in said and "checkout named my_vae_project/" in said, said


def test_a_package_whose_last_part_is_a_file_here_is_still_to_install(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text("from ray.train import report\n\n\ndef main():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert "this folder's own" not in install_advice("ray.train", _error("ray"))


def test_a_project_file_that_wraps_the_package_is_not_the_module(tmp_path, monkeypatch):
    (tmp_path / "proj" / "dataset").mkdir(parents=True)
    (tmp_path / "proj" / "dataset" / "biom.py").write_text("from biom import Table\n\n\ndef to_dense(t):\n    return t\n")
    monkeypatch.chdir(tmp_path)
    said = install_advice("biom", _error("biom"))
    assert "PYTHONPATH" not in said and said.startswith("Install biom"), said


def test_a_packages_generic_module_beside_a_file_of_that_name_is_to_install(tmp_path, monkeypatch):
    """``from kornia.utils import image_to_tensor`` with a utils.py here defining a name like it
    (reviewer): a package's module as likely as the folder's own, the install is said."""
    (tmp_path / "utils.py").write_text("def image_to_tensor(img):\n    return img\n")
    (tmp_path / "train.py").write_text("from kornia.utils import image_to_tensor\n")
    monkeypatch.chdir(tmp_path)
    assert "this folder's own" not in install_advice("kornia.utils", _error("kornia"))
