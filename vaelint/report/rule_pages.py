"""Each rule's documentation page as Markdown (docs/rules/VAE0NN.md), rendered from
the rule class itself: its summary, what it finds, why it is bad, the fix, and
one of the INVALID examples the tests run, with the line it reports. The pages
in the repository are written by ``python scripts/rule_pages.py`` and a test
fails when they differ from what the catalogue renders (ruff's rule pages).
"""

from __future__ import annotations

import functools
import textwrap

PAGES_FOLDER = "docs/rules"


@functools.lru_cache(maxsize=1)
def home_url() -> str | None:
    """The project's home, where docs/rules/ is published: the one setting every link is
    made from, read from the installed package's ``[project.urls]`` (``Homepage``, ``Source``
    or ``Repository``); None when it names none (then no report carries a link: SARIF
    carries each rule's page as ``help.markdown`` instead)."""
    from importlib.metadata import PackageNotFoundError, metadata

    from vaelint.source.frames import readable_import_path

    try:
        with readable_import_path():
            urls = metadata("vaelint").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    by_label = {label.strip().lower(): url.strip() for label, _, url in (u.partition(",") for u in urls)}
    return next((by_label[k].rstrip("/") for k in ("homepage", "source", "repository") if by_label.get(k)), None)


def page_path(code: str) -> str:
    """The page's path in the repository: docs/rules/VAE003.md."""
    return f"{PAGES_FOLDER}/{code}.md"


def page_url(code: str) -> str | None:
    """The page's URL in the repository (blob view of the main branch); None without a home."""
    home = home_url()
    return f"{home}/blob/main/{page_path(code)}" if home else None


def render(rule) -> str:
    """The page of one rule class (vaelint/rulebase.py, Rule)."""
    parts = [
        f"# {rule.code} {rule.name}",
        f"Severity: **{rule.severity}**."
        + (f" Needs: {', '.join(f'`{n}`' for n in rule.needs)}." if rule.needs else "")
        + f" Edit offered (`--fix`): {rule.fix_availability.words}."
        + (" Preview: runs only where `--select` names it." if rule.maturity == "preview" else ""),
        rule.summary.strip(),
        "## What it finds",
        _para(rule.what),
        "## Why it is bad",
        _para(rule.why),
        "## Example",
        _code(rule.example),
        "## Fix",
        _para(rule.fix),
    ]
    example = next((e for e in rule.INVALID if e.at is not None), None)
    if example is not None:
        parts += [
            "## A complete model it reports",
            f"Checked as `vaelint check model.py:{example.target} --input {' --input '.join(example.inputs)}`"
            + (f" `--loss {example.loss}`" if example.loss else "")
            + f"; the finding points at line {example.line}. This example is one the test suite runs.",
            _code(example.code),
        ]
    if rule.defers_to:
        parts.append(f"Where {', '.join(rule.defers_to)} reports the same place, that finding is kept instead.")
    parts.append(f"`vaelint rule {rule.code}` prints this page; `--ignore {rule.code}` turns the rule off.")
    return "\n\n".join(p for p in parts if p) + "\n"


def index(rules) -> str:
    """docs/rules/README.md: the catalogue, one line per rule."""
    rows = "\n".join(f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity} | {r.summary.strip()} |" for r in rules)
    return (
        "# The rule catalogue\n\nGenerated from the rule classes in `rules/` by `python scripts/rule_pages.py`; "
        "do not edit by hand.\n\n| code | name | severity | summary |\n| --- | --- | --- | --- |\n" + rows + "\n"
    )


def all_pages(rules) -> dict[str, str]:
    """Path in the repository -> text, for every page and the index."""
    pages = {page_path(r.code): render(r) for r in rules}
    pages[f"{PAGES_FOLDER}/README.md"] = index(rules)
    return pages


def _para(text: str) -> str:
    return textwrap.dedent(text).strip()


def _code(text: str) -> str:
    return f"```python\n{textwrap.dedent(text).strip()}\n```"
