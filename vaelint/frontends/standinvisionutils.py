"""``torchvision.datasets.utils`` where torchvision cannot be imported (:mod:`.standins`): a data
set's own download code (``if not check_integrity(path): download_and_extract_archive(url, root)``)
runs as written and downloads nothing, as nothing in a check may; the checks and listings answer from
the disk as torchvision's do, so the code goes on to read its files and, where they are missing,
stops where its own data is read (and the message asks for ``--input``)."""

from __future__ import annotations

import os

from vaelint.frontends.standinbase import _Anything


def _nothing(*_args, **_kwargs) -> None:
    """download_url, download_and_extract_archive, extract_archive, download_file_from_google_drive:
    never fetched, never unpacked, never written."""
    return None


def _check_integrity(fpath, md5=None) -> bool:
    return os.path.isfile(os.fspath(fpath))


def _verify_str_arg(value, arg=None, valid_values=None, custom_msg=None):
    if valid_values is not None and value not in valid_values:
        raise ValueError(custom_msg or f"Unknown value '{value}' for argument {arg}. Valid values are {list(valid_values)}.")
    return value


def _list_dir(root, prefix: bool = False) -> list[str]:
    root = os.path.expanduser(os.fspath(root))
    names = [d for d in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, d))]
    return [os.path.join(root, d) for d in names] if prefix else names


def _list_files(root, suffix, prefix: bool = False) -> list[str]:
    root = os.path.expanduser(os.fspath(root))
    names = [p for p in sorted(os.listdir(root)) if os.path.isfile(os.path.join(root, p)) and p.endswith(suffix)]
    return [os.path.join(root, p) for p in names] if prefix else names


_ITEMS = {
    "check_integrity": _check_integrity,
    "check_md5": lambda fpath, md5, **_k: _check_integrity(fpath),
    "verify_str_arg": _verify_str_arg,
    "list_dir": _list_dir,
    "list_files": _list_files,
}


def vision_utils_item(item: str):
    """A name of ``torchvision.datasets.utils``: downloads and extractions do nothing, the rest as
    torchvision answers them, anything else takes anything."""
    if item in _ITEMS:
        return _ITEMS[item]
    if item.startswith(("download", "extract")):
        return _nothing
    return _Anything()
