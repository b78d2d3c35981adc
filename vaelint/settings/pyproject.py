"""``[tool.vaelint]`` in the nearest ``pyproject.toml``.

Every key is checked; a wrong one is a usage error (exit 2) that names the key,
the value and what is allowed. Paths in the configuration are relative to the
folder of that ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from vaelint.errors import VaelintError
from vaelint.inputs import parse_input_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SEVERITIES = ("warning", "error")
DEVICES = ("auto", "cpu", "cuda")
_TOP_KEYS = ("select", "ignore", "fail-on", "timeout", "device", "targets", "per-file-ignores")
_TARGET_KEYS = ("target", "input", "init", "loss", "loss-kwargs", "beta", "script-args", "batch-dim")


@dataclass
class TargetConfig:
    target: str  # "path.py:Name" or a whole script "path.py", the path relative to the config's folder, made absolute
    inputs: list[str] = field(default_factory=list)
    init: dict = field(default_factory=dict)
    loss: str | None = None
    loss_kwargs: dict = field(default_factory=dict)
    beta: float | None = None
    script_args: list[str] = field(default_factory=list)  # the script's own arguments, as a shell splits them
    batch_dim: int | None = None  # batch-dim: where the batch is in the inputs (1 for (T, B, F))

    @property
    def path(self) -> str:
        from vaelint.frontends.base import parse_ref

        return parse_ref(self.target).path


@dataclass
class Config:
    path: str | None = None  # the pyproject.toml read, if any
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    fail_on: str = "warning"
    timeout: float | None = 60.0
    device: str = "auto"
    targets: list[TargetConfig] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)

    has_section: bool = False  # the file has a [tool.vaelint] section
    keys: frozenset = frozenset()  # the keys that section sets (the rest are defaults)

    @property
    def root(self) -> str:
        return os.path.dirname(self.path) if self.path else os.getcwd()

    def targets_in(self, file: str) -> list[TargetConfig]:
        real = os.path.realpath(file)
        return [t for t in self.targets if os.path.realpath(t.path) == real]

    def target_named(self, spec: str) -> TargetConfig | None:
        from vaelint.frontends.base import parse_ref

        ref = parse_ref(spec)
        real = os.path.realpath(ref.path)
        return next((t for t in self.targets if os.path.realpath(t.path) == real and parse_ref(t.target).name == ref.name), None)


def find_pyproject(start: str | None = None) -> str | None:
    """The nearest pyproject.toml at or above ``start`` (the current directory)
    that has a [tool.vaelint] section, as ruff finds its own; else the nearest one."""
    d = os.path.abspath(start or os.getcwd())
    nearest = None
    while True:
        candidate = os.path.join(d, "pyproject.toml")
        if os.path.isfile(candidate):
            nearest = nearest or candidate
            if _has_section(candidate):
                return candidate
        parent = os.path.dirname(d)
        if parent == d:
            return nearest
        d = parent


def _has_section(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return "vaelint" in tomllib.load(fh).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return True  # let load_config say what is wrong with it


def load_config(path: str | None) -> Config:
    if path is None:
        return Config()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise VaelintError("input", f"{path}: not valid TOML ({e}); fix the file or run from another folder.") from None
    section = data.get("tool", {}).get("vaelint")
    if section is None:
        return Config(path=path)
    return _parse(section, path)


def _bad(path: str, key: str, value, allowed: str) -> VaelintError:
    return VaelintError("input", f"{path}: [tool.vaelint] {key} = {value!r} is not valid: {allowed}.")


def _codes(path, key, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(path, key, value, 'give a list of rule codes or prefixes, e.g. ["VAE001", "VAE00"]')
    from vaelint.rules import all_rules

    known = [r.code for r in all_rules()]
    for code in value:
        if not any(k.startswith(code.upper()) for k in known):
            raise _bad(path, key, value, f"{code!r} is no rule code or prefix; known codes: {', '.join(known)}")
    return [v.upper() for v in value]


def _parse(section: dict, path: str) -> Config:
    if not isinstance(section, dict):
        raise _bad(path, "", section, "[tool.vaelint] must be a table")
    cfg = Config(path=path, has_section=True, keys=frozenset(section))
    for key in section:
        if key not in _TOP_KEYS:
            raise _bad(path, key, section[key], f"unknown key; the keys are {', '.join(_TOP_KEYS)}")
    if "select" in section:
        cfg.select = _codes(path, "select", section["select"])
    if "ignore" in section:
        cfg.ignore = _codes(path, "ignore", section["ignore"])
    if "fail-on" in section:
        value = section["fail-on"]
        if value not in SEVERITIES:
            raise _bad(path, "fail-on", value, 'use "warning" (any finding fails) or "error" (only errors fail)')
        cfg.fail_on = value
    if "timeout" in section:
        value = section["timeout"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _bad(path, "timeout", value, "give the seconds per target as a number (0: no limit)")
        cfg.timeout = float(value) or None
    if "device" in section:
        value = section["device"]
        if value not in DEVICES:
            raise _bad(path, "device", value, f"use one of {', '.join(DEVICES)}")
        cfg.device = value
    pfi = section.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise _bad(path, "per-file-ignores", pfi, 'give a table of glob = [codes], e.g. "legacy/*.py" = ["VAE004"]')
    cfg.per_file_ignores = {glob: _codes(path, f'per-file-ignores."{glob}"', codes) for glob, codes in pfi.items()}
    targets = section.get("targets", [])
    if not isinstance(targets, list):
        raise _bad(path, "targets", targets, "use [[tool.vaelint.targets]] tables")
    root = os.path.dirname(path)
    for i, t in enumerate(targets):
        cfg.targets.append(_target(path, root, i, t))
    return cfg


def _target(path: str, root: str, i: int, t) -> TargetConfig:
    where = f"targets[{i}]"
    if not isinstance(t, dict):
        raise _bad(path, where, t, 'each target is a table with target = "path.py:Name"')
    for key in t:
        if key not in _TARGET_KEYS:
            raise _bad(path, f"{where}.{key}", t[key], f"unknown key; a target takes {', '.join(_TARGET_KEYS)}")
    spec = t.get("target")
    from vaelint.frontends.base import parse_ref

    ref = parse_ref(spec) if isinstance(spec, str) else None
    if ref is None or not ref.path.endswith((".py", ".ipynb")):
        raise _bad(path, f"{where}.target", spec, 'write "path/to/model.py:Name", or "train.py" for a training script')
    full = os.path.normpath(os.path.join(root, ref.path))
    tc = TargetConfig(target=f"{full}:{ref.name}" if ref.name else full)
    inputs = t.get("input", [])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(s, str) for s in inputs):
        raise _bad(path, f"{where}.input", inputs, 'give one spec per positional input, e.g. ["32x784"]')
    for s in inputs:
        try:
            parse_input_spec(s)
        except VaelintError as e:
            raise _bad(path, f"{where}.input", s, e.message.rstrip(".")) from None
    tc.inputs = inputs
    for key, attr in (("init", "init"), ("loss-kwargs", "loss_kwargs")):
        value = t.get(key, {})
        if not isinstance(value, dict):
            raise _bad(path, f"{where}.{key}", value, "give a table of names to values, e.g. { latent_dim = 16 }")
        setattr(tc, attr, dict(value))
    loss = t.get("loss")
    if loss is not None:
        if not isinstance(loss, str):
            raise _bad(path, f"{where}.loss", loss, 'give "path.py:function" or a model method name')
        if ":" in loss:
            lfile, _, lname = loss.rpartition(":")
            loss = f"{os.path.normpath(os.path.join(root, lfile))}:{lname}"
        tc.loss = loss
    beta = t.get("beta")
    if beta is not None:
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise _bad(path, f"{where}.beta", beta, "give the intended KL weight as a number, e.g. 1.0 or 4.0")
        tc.beta = float(beta)
    script_args = t.get("script-args", [])
    if isinstance(script_args, str):
        import shlex

        script_args = shlex.split(script_args)
    if not isinstance(script_args, list) or not all(isinstance(a, str) for a in script_args):
        said = 'give the script\'s arguments as a string or a list, e.g. "--config configs/vae.yaml"'
        raise _bad(path, f"{where}.script-args", script_args, said)
    tc.script_args = script_args
    batch_dim = t.get("batch-dim")
    if batch_dim is not None:
        if isinstance(batch_dim, bool) or not isinstance(batch_dim, int) or batch_dim < 0:
            raise _bad(path, f"{where}.batch-dim", batch_dim, "give the index of the inputs' batch dim, e.g. 1 for (T, B, F) sequences")
        tc.batch_dim = batch_dim
    return tc
