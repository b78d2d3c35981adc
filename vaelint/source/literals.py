"""Python literals given on the command line and in settings: ``--init NAME=VALUE`` and the
values a loss or a setting is given, read with ``ast.literal_eval`` and said plainly when they
are not literals."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from vaelint.errors import VaelintError


def parse_init(items: list[str]) -> dict:
    """``--init NAME=VALUE`` values; VALUE is a Python literal."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise VaelintError(
                "input", f"--init {item!r} is not of the form NAME=VALUE: write e.g. --init latent_dim=16 or --init hidden_dims=[32,64]."
            )
        reference = _REFERENCE.match(value)
        if reference is not None:  # --init model=model.py:VAE: that class built with its defaults
            out[name] = Reference(reference.group(1), reference.group(2), name)
            continue
        out[name] = _namespaces(parse_literal(value, f"--init {item!r}", "--init hidden_dims=[32,64]"))
    return out


_REFERENCE = re.compile(r"^\s*([^\s:=\[\]{}()'\"]+\.py):([A-Za-z_]\w*)\s*$")


@dataclass(frozen=True)
class Reference:
    """An --init value naming a class or function of the user's files (``--init model=model.py:VAE``): a
    trainer's constructor given the model (vaelint/frontends/build.py ``resolved_init`` builds it)."""

    path: str
    name: str
    given_as: str  # the --init NAME it was given for

    def __repr__(self) -> str:
        return f"{self.path}:{self.name}"


class Namespace(dict):
    """A dict given with --init that also reads as an object: ``--init
    args={'batch_size':16}`` serves ``args.batch_size`` (argparse configs) and
    ``args['batch_size']`` alike."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"--init gave no key {name!r} (the dict has {', '.join(map(repr, self)) or 'no keys'})") from None


def _namespaces(value):
    if isinstance(value, dict):
        return Namespace({k: _namespaces(v) for k, v in value.items()})
    return value


def parse_literal(value: str, where: str, example: str):
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        raise VaelintError(
            "input",
            f"{where}: {value!r} is not a Python literal. Quote strings "
            f"(NAME='\"relu\"' in most shells) and write lists as [1,2]; e.g. {example}.",
        ) from None
