"""What a stood-in data file's table looks like (vaelint/frontends/training/livedata.py): a
DataFrame of the --input rows for ``pd.read_csv`` of a file that is not here, its columns named
as the reading code picks them, and the keys an ``np.load`` of an .npz is read by."""

from __future__ import annotations

import re


def stand_in_frame(rows, kwargs: dict):
    """The DataFrame ``pd.read_csv(path, **kwargs)`` gives for these rows: the ``names`` it is
    given; numbered columns for ``header=None``; else string labels as a header row has, named as
    the code picks its columns by name (``df.columns.str.startswith("gene_")``) where it does."""
    import pandas as pd

    flat = rows.reshape(rows.shape[0], -1)
    names = kwargs.get("names")  # pd.read_csv(path, names=["user", "item", "rating"])
    if isinstance(names, (list, tuple)) and names and len(names) <= flat.shape[1]:
        return pd.DataFrame(flat[:, : len(names)], columns=list(names))
    if "header" in kwargs and kwargs["header"] is None:
        return pd.DataFrame(flat)  # a file without a header row: its columns numbered
    prefix = _selected_prefix() or "column_"
    return pd.DataFrame(flat, columns=[f"{prefix}{i}" for i in range(flat.shape[1])])


_BY_NAME = re.compile(
    r"""(?:\.str\.(?:startswith|contains|match)\(\s*|\.filter\(\s*(?:like|regex)\s*=\s*)r?["']\^?([A-Za-z_][\w.-]*)["']"""
)


def _selected_prefix() -> str:
    """The name the reading code picks a table's columns by (``df.columns.str.startswith("gene_")``,
    ``df.filter(like="ENSG")``), the first in the file that reads it; "" where it picks none so."""
    from vaelint.source.files import read_source
    from vaelint.source.frames import user_frame

    loc = user_frame()
    try:
        found = _BY_NAME.search(read_source(loc.path)) if loc is not None else None
    except (OSError, ValueError, UnicodeDecodeError):
        return ""
    return found.group(1) if found else ""


def keys_read_on_the_line() -> list[str]:
    import re

    from vaelint.source.facts import line_text
    from vaelint.source.frames import user_frame

    loc = user_frame()
    return re.findall(r"\[\s*[\"']([^\"']+)[\"']\s*\]", line_text(loc.path, loc.line)) if loc is not None else []
