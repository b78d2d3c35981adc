"""Console-script entry points: the module an installed command runs is checked through the
function the command calls (vaelint/frontends/entrypoints.py, training/scriptness.as_entry_point)."""

from __future__ import annotations

import os

import pytest

from vaelint.frontends.base import parse_ref
from vaelint.frontends.entrypoints import entry_function
from vaelint.frontends.training.scriptness import as_entry_point
from vaelint.frontends.training.sites import parse_file

MODULE = "def main():\n    pass\n\n\ndef other():\n    pass\n"

CONFIGS = {
    "pyproject": ("pyproject.toml", '[project]\nname = "p"\n\n[project.scripts]\np-train = "pkg.train:main"\n'),
    "poetry": ("pyproject.toml", '[tool.poetry.scripts]\np-train = "pkg.train:main"\n'),
    "setup.cfg": ("setup.cfg", "[options.entry_points]\nconsole_scripts =\n    p-train = pkg.train:main\n"),
    "setup.py": ("setup.py", 'from setuptools import setup\nsetup(entry_points={"console_scripts": ["p-train = pkg.train:main"]})\n'),
}


def _project(root, config: str, layout: str = "") -> str:
    name, text = CONFIGS[config]
    (root / name).write_text(text)
    package = root / layout / "pkg" if layout else root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text(MODULE)
    (package / "evaluate.py").write_text(MODULE)
    return str(package / "train.py")


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("layout", ["", "src"])
def test_each_way_of_declaring_a_console_script_names_the_function_of_its_module(tmp_path, config, layout):
    train = _project(tmp_path, config, layout)
    function, said = entry_function(train)
    assert function == "main"
    assert said.startswith("p-train = pkg.train:main in ") and said.endswith(CONFIGS[config][0])
    # another module of the same package is run by no command
    assert entry_function(os.path.join(os.path.dirname(train), "evaluate.py")) is None


def test_a_module_with_a_main_guard_stays_a_script_and_one_without_is_its_entry_function(tmp_path):
    train = _project(tmp_path, "pyproject")
    ref = parse_ref(train)
    entry = as_entry_point(ref, parse_file(train))
    assert (entry.path, entry.name) == (train, "main")
    with open(train, "a") as fh:
        fh.write('\n\nif __name__ == "__main__":\n    other()\n')
    assert as_entry_point(ref, parse_file(train)) is ref  # python train.py runs what the guard calls
    named = parse_ref(f"{train}:other")
    assert as_entry_point(named, parse_file(train)) is named  # a name given is kept


def test_an_entry_function_the_module_does_not_define_and_a_broken_configuration_name_nothing(tmp_path):
    train = _project(tmp_path, "pyproject")
    (tmp_path / "pyproject.toml").write_text('[project.scripts]\np-train = "pkg.train:cli"\n')
    assert entry_function(train) == ("cli", "p-train = pkg.train:cli in " + os.path.relpath(tmp_path / "pyproject.toml"))
    assert as_entry_point(parse_ref(train), parse_file(train)).name is None  # no cli() in it
    (tmp_path / "pyproject.toml").write_text("[project.scripts\n")  # not TOML
    assert entry_function(train) is None
