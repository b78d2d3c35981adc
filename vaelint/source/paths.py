"""A path as the report shows it: relative to the current directory when under it."""

from __future__ import annotations

import os


def display_path(path: str) -> str:
    """Relative to the current directory when under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
