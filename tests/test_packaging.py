"""What a user who installs vaelint gets beside the code: a licence that matches the
metadata, every dependency the code imports on each supported Python, type information,
and no link that points at a placeholder."""

from __future__ import annotations

import os
import re

import tomllib
from conftest import ROOT

PROJECT = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["project"]


def test_the_license_file_matches_the_metadata():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert open(os.path.join(ROOT, "LICENSE"), encoding="utf-8").read().startswith("MIT License")


def test_tomli_is_declared_where_tomllib_is_missing():
    assert PROJECT["requires-python"] == ">=3.10"
    assert "tomli>=1.1; python_version < '3.11'" in PROJECT["dependencies"]
    source = open(os.path.join(ROOT, "vaelint", "settings", "pyproject.py"), encoding="utf-8").read()
    assert "import tomli as tomllib" in source


def test_the_package_is_typed():
    assert os.path.exists(os.path.join(ROOT, "vaelint", "py.typed"))
    data = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["tool"]["setuptools"]["package-data"]
    assert "py.typed" in data["vaelint"]


def test_no_code_or_report_links_to_a_placeholder_home():
    found = []
    for folder, dirs, files in os.walk(os.path.join(ROOT, "vaelint")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py") and re.search(
                r"your-org|example\.com|pypi\.org/project", open(os.path.join(folder, name), encoding="utf-8").read()
            ):
                found.append(name)
    assert not found
