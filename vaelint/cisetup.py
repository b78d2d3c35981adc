"""``vaelint ci github|pre-commit``: print the CI configuration that runs this vaelint.

A workflow or a pre-commit hook has to name the git repository vaelint is installed from, and
vaelint has no fixed public home. So the configuration is printed with the repository vaelint
itself came from, found in this order: ``--repo``; the installed package's ``[project.urls]``
(``Homepage``, ``Source`` or ``Repository``: the one setting the report links are made from);
pip's record of a ``pip install git+URL@REF`` (``direct_url.json``); the git checkout an
editable install runs from (its ``origin`` remote, read from ``.git/config``; no program is
started). With none of them the command says so and exits 2 rather than print a placeholder.
Nothing is written: the user redirects the output where they want it.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from dataclasses import dataclass
from enum import Enum
from typing import Optional

import typer

from vaelint.version import __version__


@dataclass(frozen=True)
class Source:
    """Where vaelint's repository lives: its git URL, the ref to pin, and how it was found."""

    url: str
    ref: str
    found: str

    @property
    def github_slug(self) -> Optional[str]:
        """OWNER/NAME when the repository is on github.com (then the action is `uses:`-able)."""
        m = re.match(r"(?:https?://|git@|ssh://git@)github\.com[/:]([^/]+)/([^/]+?)(?:\.git)?/?$", self.url)
        return f"{m.group(1)}/{m.group(2)}" if m else None


def _from_metadata() -> Optional[str]:
    from vaelint.report.rule_pages import home_url

    return home_url()


def _direct_url() -> tuple[Optional[str], Optional[str]]:
    """pip's direct_url.json of this installation: (git URL, requested ref or commit)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("vaelint").read_text("direct_url.json")
    except PackageNotFoundError:
        return None, None
    record = json.loads(text) if text else {}
    vcs = record.get("vcs_info") or {}
    if vcs.get("vcs") != "git":
        return None, None
    return record.get("url"), vcs.get("requested_revision") or vcs.get("commit_id")


def _checkout_origin(package_dir: str) -> tuple[Optional[str], Optional[str]]:
    """The origin remote and the commit checked out of the git checkout holding the package
    (an editable install), read from the files under .git."""
    git = os.path.join(os.path.dirname(package_dir), ".git")
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(os.path.join(git, "config"), encoding="utf-8")
    except (configparser.Error, OSError):
        return None, None
    url = parser.get('remote "origin"', "url", fallback=None)
    if url and not re.match(r"(https?|ssh|git)://|git@", url):
        url = None  # a clone of a local folder: no CI runner can reach that
    return url, (_head_commit(git) if url else None)


def _head_commit(git: str) -> Optional[str]:
    try:
        head = open(os.path.join(git, "HEAD"), encoding="utf-8").read().strip()
        if not head.startswith("ref: "):
            return head or None
        name = head[5:]
        if os.path.isfile(os.path.join(git, name)):
            return open(os.path.join(git, name), encoding="utf-8").read().strip() or None
        packed = open(os.path.join(git, "packed-refs"), encoding="utf-8").read().splitlines()
    except OSError:
        return None
    return next((line.split()[0] for line in packed if line.endswith(" " + name)), None)


def find_source(repo: Optional[str], ref: Optional[str], package_dir: Optional[str] = None) -> Optional[Source]:
    """Where vaelint's repository lives, or None when nothing says."""
    tag = ref or f"v{__version__}"
    if repo:
        url = repo if "/" in repo and ("://" in repo or repo.startswith("git@")) else f"https://github.com/{repo.strip('/')}"
        return Source(url, tag, "--repo")
    if home := _from_metadata():
        return Source(home, tag, "[project.urls] of the installed vaelint")
    url, pinned = _direct_url()
    if url:
        return Source(url, ref or pinned or tag, "pip's record of installing vaelint from git")
    package_dir = package_dir or os.path.dirname(os.path.abspath(__file__))
    origin, commit = _checkout_origin(package_dir)
    if origin:
        return Source(origin, ref or commit or tag, f"the origin remote of the checkout at {os.path.dirname(package_dir)}")
    return None


WORKFLOW = """\
# .github/workflows/vaelint.yml: check the targets in [tool.vaelint] of pyproject.toml on
# every push and pull request, annotate the pull request, draw the shape flow in the job
# summary and upload SARIF to code scanning. vaelint's repository: {url} ({found}).
# (vaelint imports and runs the model code it checks: run it on code you trust.)
name: vaelint
on: [pull_request, push]
permissions:
  contents: read
  security-events: write   # the SARIF upload
jobs:
  vaelint:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
{steps}"""

ACTION_STEP = """\
      - uses: {slug}@{ref}
        with:
          sarif: "true"
          # args: models/vae.py:VAE --input 32x784   (default: the configured targets)
"""

PIP_STEPS = """\
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install torch --index-url https://download.pytorch.org/whl/cpu
      - run: pip install "vaelint @ git+{url}@{ref}"
      - run: vaelint check --format github
"""

PRE_COMMIT = """\
# .pre-commit-config.yaml: vaelint checks the staged Python files and notebooks (and the
# targets in [tool.vaelint] of pyproject.toml). vaelint's repository: {url} ({found}).
# List what the model code imports under additional_dependencies (a CPU torch first), or use
# a local hook with `language: system` to run in the repository's own environment.
repos:
  - repo: {url}
    rev: {ref}
    hooks:
      - id: vaelint
        additional_dependencies: ["torch", "numpy"]
"""


def render(kind: str, source: Source) -> str:
    """The configuration text for `kind` (github or pre-commit)."""
    if kind == "pre-commit":
        return PRE_COMMIT.format(url=source.url, ref=source.ref, found=source.found)
    slug = source.github_slug
    steps = ACTION_STEP.format(slug=slug, ref=source.ref) if slug else PIP_STEPS.format(url=source.url, ref=source.ref)
    return WORKFLOW.format(url=source.url, found=source.found, steps=steps)


class Kind(str, Enum):
    github = "github"
    pre_commit = "pre-commit"


def ci(
    kind: Kind = typer.Argument(..., metavar="KIND", help="github (a GitHub Actions workflow) or pre-commit (.pre-commit-config.yaml)."),
    repo: Optional[str] = typer.Option(None, "--repo", metavar="URL", help="vaelint's git repository (OWNER/NAME on GitHub, or a URL)."),
    ref: Optional[str] = typer.Option(None, "--ref", metavar="REF", help="The tag or commit to pin (default: the installed one)."),
) -> None:
    """Print the CI configuration (a GitHub workflow, a pre-commit config) that runs this vaelint."""
    kind = kind.value
    source = find_source(repo, ref)
    if source is None:
        typer.echo(
            "vaelint: cannot tell which git repository this vaelint was installed from (no [project.urls] home, "
            "not installed from a git URL, no origin remote beside the package); name it: "
            f"`vaelint ci {kind} --repo OWNER/NAME` (or a git URL), with `--ref TAG` to pin a version.",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(render(kind, source), nl=False)
