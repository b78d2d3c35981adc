"""The CUDA path, on a machine with a GPU: every fixture case checked with
``--device cuda`` through the command line, as a user runs it.

Each case must report exactly its declared findings (as tests/test_fixtures.py
asserts on the CPU), its confirmation pass must have run on CUDA, and a device
mismatch (VAE012) must be confirmed by the real GPU run, not the simulated one.
Usage: python scripts/gpu_checks.py [--jobs N] [SUBSTRING ...]; exit 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fixture_cases import all_cases  # noqa: E402
from vaelint.rules import all_rules  # noqa: E402

KNOWN = {r.code for r in all_rules()}  # a case's later= findings count once their rule exists


def command(case) -> list[str]:
    args = [sys.executable, "-m", "vaelint", "check", case.spec, "--device", "cuda", "--format", "json", "--no-fixes", "--no-cache"]
    for spec in case.inputs:
        args += ["--input", spec]
    if case.loss:
        args += ["--loss", case.loss if ":" in case.loss else f"{case.path}:{case.loss}"]
    for name, value in case.init.items():
        args += ["--init", f"{name}={value!r}"]
    for name, value in case.loss_kwargs.items():
        args += ["--loss-kwarg", f"{name}={value!r}"]
    if case.beta != 1.0:
        args += ["--beta", str(case.beta)]
    if case.script_args:
        import shlex

        args += ["--script-args", shlex.join(case.script_args)]
    return args


def _shown(path: str, line: int) -> int:
    """A declared line as the report gives it (in a notebook: within its cell)."""
    from vaelint.source.cells import cell_of

    if path.endswith(".ipynb"):
        from vaelint.source.cells import notebook_source

        notebook_source(path)  # registers the cells' lines
    found = cell_of(path, line)
    return found[1] if found else line


def check(case) -> str | None:
    """None when the case holds on CUDA, else what went wrong."""
    proc = subprocess.run(command(case), cwd=case.cwd or ROOT, capture_output=True, text=True, timeout=600)
    try:
        result = json.loads(proc.stdout)["results"][0]
    except (ValueError, IndexError, KeyError):
        return f"no report (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    if result["error"] is not None:
        return f"error {result['error']['kind']}: {result['error']['message'][:300]}"
    found = {(f["code"], f["line"]) for f in result["findings"]}
    expected = {(code, _shown(case.path, line)) for code, line in case.expect | {(c, n) for c, n in case.later if c in KNOWN}}
    if found != expected:
        return f"findings {sorted(found)} but declared {sorted(expected)}"
    # the CPU on purpose: a model whose error is a device-side assert on CUDA, or whose own
    # code picks the GPU while vaelint's stages run on the CPU (the report says which)
    on_cpu_why = ("confirmation pass ran there as well", "checked with CUDA hidden")
    if result["confirmed_on"] == "cpu" and any(why in note for note in result["notes"] for why in on_cpu_why):
        pass
    elif result["confirmed_on"] is None or not result["confirmed_on"].startswith("cuda"):
        notes = "; ".join(result["notes"])[:300]
        return f"the confirmation pass ran on {result['confirmed_on']} ({notes})"
    unconfirmed = [f["code"] for f in result["findings"] if f["code"] == "VAE012" and f["confirmed"] is not True]
    if unconfirmed:
        return "VAE012 not confirmed by the real GPU run"
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("only", nargs="*")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to check", file=sys.stderr)
        return 2
    cases = [c for kind in ("clean", "buggy", "seeds", "training") for c in all_cases(kind)]
    cases = [c for c in cases if not args.only or any(o in c.id for o in args.only)]
    failed = []
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(check, case): case for case in cases}
        for future in as_completed(futures):  # each case as it ends: a run cut short still says what it saw
            case = futures[future]
            try:
                why = future.result()
            except Exception as exc:  # noqa: BLE001 (a case whose check itself broke: subprocess timeout)
                why = f"{type(exc).__name__}: {exc}"
            if why:
                failed.append((case, why))
            print(f"FAIL {case.id}: {why}" if why else f"ok {case.id}", flush=True)
    print(f"{len(cases) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
