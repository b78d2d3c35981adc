"""A ``vaelint check`` command line, parsed and checked before any model runs:
every bad value is a VaelintError (exit 2, one line, no traceback), and what is
left is the options of each target (vaelint/settings/options.py).
"""

from __future__ import annotations

import math
import os
import shlex
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from vaelint.errors import VaelintError


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def codes(value: Optional[str]) -> list[str]:
    if not value:
        return []
    return [c.strip().upper() for c in value.split(",") if c.strip()]


@dataclass
class CheckRequest:
    """What the command line asks of every target, beside the configuration."""

    settings: object  # vaelint/settings/per_file.py, Settings
    specs: list  # --input
    init: dict  # --init
    loss: Optional[str]
    loss_kwargs: dict
    beta: Optional[float]
    dynamic: bool
    memory_limit: Optional[int]
    script_args: Optional[list[str]]
    fixes: bool
    extra_outputs: list = field(default_factory=list)  # --also-output (format, path)
    batch_dim: Optional[int] = None  # --batch-dim: the dim of every input the batch size sets
    verify_fixes: bool = False  # --fix or --diff: each edit is checked again before it is applied or shown

    def options_for(self, tc, config, sources=None):
        """One target's options: the command line over its configured target ``tc``."""
        from vaelint.inputs import parse_input_spec
        from vaelint.settings.options import Options

        inputs = self.specs or ([parse_input_spec(s) for s in tc.inputs] if tc else [])
        loss_kwargs = {**(tc.loss_kwargs if tc else {}), **self.loss_kwargs}
        batch_dim = self.batch_dim if self.batch_dim is not None else (tc.batch_dim if tc else None)
        return Options(
            inputs=[s.with_batch_dim(batch_dim) for s in inputs] if batch_dim is not None else inputs,
            batch_dim=batch_dim,
            init={**(tc.init if tc else {}), **self.init},
            loss=self.loss or (tc.loss if tc else None),
            loss_kwargs=loss_kwargs,
            beta=self.beta if self.beta is not None else (tc.beta if tc and tc.beta is not None else _kwarg_beta(loss_kwargs)),
            device=self.settings.device(config),
            dynamic=self.dynamic,
            select=self.settings.select(config),
            ignore=self.settings.ignore(config),
            timeout=self.settings.timeout(config),
            max_memory=self.memory_limit,
            script_args=self.script_args if self.script_args is not None else (tc.script_args if tc else []),
            fixes=self.fixes,
            verify_fixes=self.verify_fixes,
            sources=dict(sources or {}),
        )


def check_request(
    settings,
    *,
    input,
    init,
    loss,
    loss_kwarg,
    script_args,
    beta,
    no_dynamic,
    no_fixes,
    max_memory,
    output_file,
    also_output,
    fix,
    diff,
    batch_dim=None,
) -> CheckRequest:
    """The command line's values, each checked; the first bad one raises."""
    from vaelint.inputs import check_fits, parse_input_spec
    from vaelint.source.literals import parse_init

    specs = [parse_input_spec(s) for s in input]
    if batch_dim is not None:
        specs = [_batch_dim_of(s, batch_dim) for s in specs]
    request = CheckRequest(
        settings,
        specs,
        parse_init(init),
        loss,
        loss_kwargs_of(loss_kwarg),
        check_beta(beta),
        not no_dynamic,
        parse_size(max_memory) if max_memory else None,
        _script_args(script_args),
        not no_fixes,
    )
    request.batch_dim = batch_dim
    request.verify_fixes = bool(fix or diff)
    check_fits(specs, request.memory_limit)
    if output_file:
        folder = os.path.dirname(os.path.abspath(output_file))
        if not os.path.isdir(folder):
            raise VaelintError("input", f"--output-file {output_file}: the folder {folder} does not exist.")
        never_over_source("--output-file ", output_file)
    request.extra_outputs = _extra_outputs(also_output)
    if fix and diff:
        raise VaelintError("input", "--fix writes the fixes and --diff only shows them: give one of the two.")
    if no_fixes and (fix or diff):
        raise VaelintError("input", f"--no-fixes works out no fix, so {'--fix' if fix else '--diff'} would have none: drop one of the two.")
    return request


def _batch_dim_of(spec, dim: int):
    """``--batch-dim N`` for one ``--input``: a spec of fewer dims keeps its batch at dim 0
    (per-sample lengths or labels beside (T, B, F) sequences)."""
    if dim < 0:
        raise VaelintError("input", f"--batch-dim {dim}: give the index of the batch dim, counted from 0 (1 for (T, B, F) sequences).")
    return spec.with_batch_dim(dim)


def check_beta(beta: Optional[float]) -> Optional[float]:
    if beta is not None and not (math.isfinite(beta) and beta >= 0):
        raise VaelintError(
            "input", f"--beta {beta}: the KL weight must be a finite number of at least 0 (1 for a plain VAE, e.g. 4 for a beta-VAE)."
        )
    return beta


def _script_args(script_args: Optional[str]) -> Optional[list[str]]:
    try:
        return shlex.split(script_args) if script_args is not None else None
    except ValueError as e:
        raise VaelintError("input", f"--script-args {script_args!r} does not split as a shell would ({e}): check the quotes.") from None


def check_codes(given: list[str]) -> None:
    from vaelint.rules import rule_codes

    known = rule_codes()
    for c in given:
        if not any(k.startswith(c) for k in known):
            raise VaelintError("input", f"unknown rule code {c!r} in --select/--ignore; known codes: {', '.join(known)}.")


def _extra_outputs(items: list[str]) -> list[tuple[str, str]]:
    """``--also-output sarif=vaelint.sarif``: (format, path) pairs, checked before any model runs."""
    from vaelint.plugins import check_format, format_names, reporter

    out = []
    for item in items:
        name, sep, path = item.partition("=")
        try:
            check_format(name if sep and path else "")
        except VaelintError:
            raise VaelintError(
                "input",
                f"--also-output {item!r} is not of the form FORMAT=PATH with FORMAT one of "
                f"{', '.join(format_names())}, e.g. --also-output sarif=vaelint.sarif.",
            ) from None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise VaelintError("input", f"--also-output {item}: the folder {folder} does not exist.")
        never_over_source(f"--also-output {name}=", path)
        reporter(name)  # a plugin's that does not load is said now, before any model runs
        out.append((name, path))
    return out


SOURCE_SUFFIXES = (".py", ".pyi", ".pyw", ".ipynb", ".toml", ".cfg")


def never_over_source(option: str, path: str) -> None:
    """A report is never written over code: an existing Python file, notebook or configuration
    file (every target is one) is refused; a new path, or an existing report, is fine."""
    real = os.path.realpath(path)
    if os.path.exists(real) and real.endswith(SOURCE_SUFFIXES):
        raise VaelintError(
            "input",
            f"{option}{path}: that file holds code or configuration, and the report would "
            "replace it: write the report to a new file, e.g. --output-file vaelint-report.json.",
        )


def loss_kwargs_of(items: list[str]) -> dict:
    from vaelint.source.literals import parse_literal

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise VaelintError("input", f"--loss-kwarg {item!r} is not of the form NAME=VALUE, e.g. --loss-kwarg M_N=0.00025.")
        out[name.strip()] = parse_literal(value, f"--loss-kwarg {item!r}", "--loss-kwarg M_N=0.00025")
    return out


def parse_size(text: str) -> int:
    """``8G``, ``512M``, ``1.5G`` or a number of bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        value = -1
    if not value > 0:
        raise VaelintError("input", f"--max-memory {text}: give a size such as 8G, 512M or 1.5G.")
    return int(value)


# a loss's keyword that is its KL weight: given with --loss-kwarg, it is the beta the user declares
KL_WEIGHT_KWARGS = ("beta", "kl_weight", "kld_weight", "kl_beta", "beta_kl")  # not anneal: a weight, or a step count


def _kwarg_beta(loss_kwargs: dict) -> float:
    """The declared beta where --beta is not given: the number --loss-kwarg gives the loss's KL weight
    (``--loss-kwarg beta=0.5``: the weight the user chose, not a factor to flag against 1); else 1."""
    for name in KL_WEIGHT_KWARGS:
        value = loss_kwargs.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return 1.0
