"""User code runs in a worker: its exits, hangs, prints and signals become
results, never vaelint's end (issue: "User code runs in a worker")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import FIXTURES

MODEL = """
import os
import sys
import time

import torch
import torch.nn as nn

import helper


class VAE(nn.Module):
    def __init__(self, how="", where=""):
        super().__init__()
        self.how, self.where = how, where
        if where == "init":
            self.misbehave()
        self.enc, self.dec = nn.Linear(10, 4), nn.Linear(2, 10)

    def misbehave(self):
        if self.how == "sys.exit":
            sys.exit(3)
        if self.how == "os._exit":
            os._exit(0)
        if self.how == "helper":
            helper.quit_now()

    def forward(self, x):
        if self.where == "forward":
            self.misbehave()
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar

    def loss_function(self, recon, x, mu, logvar):
        if self.where == "loss":
            self.misbehave()
        return ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def make(how, where):
    return lambda: VAE(how, where)


sys_exit_init, sys_exit_forward, sys_exit_loss = (make("sys.exit", w) for w in ("init", "forward", "loss"))
os_exit_init, os_exit_forward, os_exit_loss = (make("os._exit", w) for w in ("init", "forward", "loss"))
helper_exit_forward = make("helper", "forward")


class Hangs(VAE):
    def forward(self, x):
        while True:
            try:
                time.sleep(0.01)
            except:  # noqa: E722 - swallows everything, as real code does
                pass


class Killed(VAE):
    def forward(self, x):
        os.kill(os.getpid(), 9)  # what the kernel's out-of-memory killer does


class Huge(VAE):
    def forward(self, x):
        torch.empty(2**62)
        return super().forward(x)


class Prints(VAE):
    def __init__(self):
        super().__init__()
        print("h_dim", 6272)

    def forward(self, x):
        print("forward sees", tuple(x.shape[1:]), file=sys.stderr)
        os.write(1, b"written to fd 1 by C-like code\\n")
        return super().forward(x)


class BigAlloc(VAE):
    def forward(self, x):
        big = torch.ones(400_000_000)  # 1.6 GB, touched
        time.sleep(1.0)
        return super().forward(x + 0 * big[0])


def warning():
    raise ValueError("bad config :thumbs_up: [bold]not bold[/bold]")
"""

HELPER = """
import sys


def quit_now():
    sys.exit("helper says stop")
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("worker")
    (d / "bad.py").write_text(MODEL)
    (d / "helper.py").write_text(HELPER)
    return d


def vaelint(cwd, *args):
    return subprocess.run([sys.executable, "-m", "vaelint", "check", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_exits_anywhere_are_results_and_later_targets_still_run(model_dir):
    names = ["sys_exit_init", "sys_exit_forward", "sys_exit_loss", "os_exit_init", "os_exit_forward", "os_exit_loss", "helper_exit_forward"]
    targets = [f"bad.py:{n}" for n in names] + [f"{FIXTURES}/clean/mlp_vae.py:VAE"]
    out = vaelint(model_dir, *targets, "--input", "4x10", "--no-dynamic", "--format", "json")
    assert out.returncode == 2, out.stderr
    results = json.loads(out.stdout)["results"]
    errors = {r["target"].split(":")[-1]: r["error"] for r in results[:-1]}
    assert all(e["kind"] == "exit" for e in errors.values()), errors
    assert "sys.exit(3) in build" in errors["sys_exit_init"]["message"]
    assert "sys.exit(3) in forward" in errors["sys_exit_forward"]["message"]
    assert "sys.exit(3) in loss" in errors["sys_exit_loss"]["message"]
    assert "(os._exit(0)) in build" in errors["os_exit_init"]["message"]
    assert "(os._exit(0)) in forward" in errors["os_exit_forward"]["message"]
    assert "(os._exit(0)) in loss" in errors["os_exit_loss"]["message"]
    assert "helper says stop" in errors["helper_exit_forward"]["message"]
    # the last target ran (its 784-wide first layer meets the 10-wide input: the input's fault)
    assert results[-1]["error"]["kind"] == "input" and "first layer" in results[-1]["error"]["message"]


def test_a_hang_that_swallows_exceptions_is_killed_at_the_timeout(model_dir):
    # the hang never ends, so the limit can be long enough for a loaded machine to start the
    # worker and import the model well inside it: the kill still finds it in forward
    out = vaelint(model_dir, "bad.py:Hangs", f"{FIXTURES}/clean/mlp_vae.py:VAE", "--input", "4x10", "--timeout", "12", "--format", "json")
    results = json.loads(out.stdout)["results"]
    assert out.returncode == 2
    assert results[0]["error"]["kind"] == "timeout"
    assert "in forward, running bad.py:" in results[0]["error"]["message"]
    assert results[1]["error"]["kind"] == "input"  # the next target ran (4x10 does not fit its first layer)


def test_a_killed_worker_and_a_huge_allocation_are_reported(model_dir, tmp_path):
    report = tmp_path / "report.json"
    out = vaelint(model_dir, "bad.py:Killed", "bad.py:Huge", "--input", "4x10", "--format", "json", "--output-file", str(report))
    assert out.returncode == 2
    results = json.loads(report.read_text())["results"]
    assert results[0]["error"]["kind"] == "killed"
    assert "SIGKILL in forward" in results[0]["error"]["message"] and "peak memory" in results[0]["error"]["message"]
    assert results[1]["status"] == "error" and results[1]["error"]["kind"] == "trace"
    assert "more memory" in results[1]["error"]["message"]


def test_user_output_stays_off_the_report_stream(model_dir):
    out = vaelint(model_dir, "bad.py:Prints", "--input", "4x10", "--format", "json")
    report = json.loads(out.stdout)  # parses: nothing the model printed is in it
    assert report["results"][0]["status"] == "clean"
    assert "h_dim" not in out.stdout and "h_dim" not in out.stderr
    text = vaelint(model_dir, "bad.py:Prints", "--input", "4x10", "--color", "never").stdout
    assert "the model's code printed" in text
    assert "| h_dim 6272" in text and "| written to fd 1 by C-like code" in text and "forward sees" in text
    sarif = vaelint(model_dir, "bad.py:Prints", "--input", "4x10", "--format", "sarif").stdout
    assert "h_dim" not in sarif and json.loads(sarif)


def test_user_text_is_printed_as_written(model_dir):
    out = vaelint(model_dir, "bad.py:warning", "--input", "4x10", "--color", "never")
    assert "bad.py:warning" in out.stdout
    assert ":thumbs_up:" in out.stdout and "[bold]not bold[/bold]" in out.stdout, out.stdout
    assert "\\u26a0" not in out.stdout and "\\U0001f44d" not in out.stdout


def test_the_in_process_fallback_captures_output_too(model_dir):
    import os

    env = dict(os.environ, VAELINT_IN_PROCESS="1")
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", "bad.py:Prints", "--input", "4x10", "--format", "json"],
        cwd=model_dir,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert json.loads(out.stdout)["results"][0]["status"] == "clean"
    assert "h_dim" not in out.stdout


def test_warming_the_parent_leaves_workers_able_to_use_threads(tmp_path):
    """The parent warms up single-threaded before forking; the workers then run
    torch's parallel ops without hanging (OpenMP's pool is not inherited)."""
    code = (
        "import os, torch\n"
        "from vaelint.runtime import worker\n"
        "worker.prepare(5, fresh=True)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    a = torch.rand(256, 256); (a @ a).sum(); torch.rand(1000000).exp().sum()\n"
        "    os._exit(0)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print('status', status, torch.get_num_threads() == max(1, torch.get_num_threads()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "status 0 True" in out.stdout, out.stderr


def test_small_computations_run_on_one_thread_large_ones_keep_theirs():
    code = (
        "import torch\n"
        "from vaelint.runtime import inworker\n"
        "torch.set_num_threads(2)\n"
        "inworker.threads_for(torch.nn.Linear(4000, 6000), 32 * 4000)\n"  # 2.4e7 parameters: large
        "big = torch.get_num_threads()\n"
        "inworker.threads_for(torch.nn.LSTM(32, 256), 32 * 1000 * 32)\n"  # small model, long sequences
        "long = torch.get_num_threads()\n"
        "inworker.threads_for(torch.nn.Linear(10, 10), 32 * 10)\n"
        "print(big, long, torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["2", "2", "1"], out.stderr


def test_max_memory_stops_a_worker_that_goes_past_it(model_dir):
    out = vaelint(model_dir, "bad.py:BigAlloc", "--input", "4x10", "--max-memory", "1G", "--no-dynamic", "--format", "json")
    result = json.loads(out.stdout)["results"][0]
    assert out.returncode == 2
    assert result["error"]["kind"] == "killed" and "--max-memory 1.0 GiB" in result["error"]["message"]
    assert "in forward" in result["error"]["message"]
    assert vaelint(model_dir, "bad.py:BigAlloc", "--input", "4x10", "--max-memory", "much").returncode == 2


def test_a_training_step_that_would_not_fit_skips_the_confirmation_with_a_note(monkeypatch):
    from helpers import check

    import vaelint.confirm.forward_backward as confirm

    monkeypatch.setattr(confirm, "available_memory", lambda: 1024)  # a machine with 1 KiB free
    result = check(f"{FIXTURES}/clean/mlp_vae.py", "VAE", ["8x784"])
    assert result.error is None and result.confirmed_on is None
    assert any("confirmation pass skipped" in n and "GiB" in n for n in result.notes), result.notes


def test_the_parent_imports_keras_once_for_two_keras_targets():
    keras_file = f"{FIXTURES}/keras/seed004_loss_variants.py"
    code = (
        "import os, sys\n"
        "os.environ.pop('KERAS_BACKEND', None)\n"
        "from vaelint.runtime import worker\n"
        f"worker.prepare(1, [{keras_file!r}], fresh=True)\n"
        "one = 'keras' in sys.modules\n"
        f"worker.prepare(2, [{keras_file!r}] * 2, fresh=True)\n"
        "import keras\n"
        "print(one, 'keras' in sys.modules, keras.backend.backend())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "torch"], out.stderr


def test_preload_imports_without_collections_and_freezes_what_it_imported():
    # a full collection walks every object torch's import made: 0.05 s of a first check
    # (vaelint/runtime/inworker.py, preload)
    code = (
        "import gc, sys\n"
        "seen = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and seen.append(info['generation']))\n"
        "if sys.argv[1] == 'off': gc.disable()\n"
        "from vaelint.runtime.inworker import preload\n"
        "seen.clear()\n"
        "preload()\n"
        "assert 'torch' in sys.modules\n"
        "print(len(seen), gc.get_freeze_count(), gc.isenabled())\n"
    )
    for before in ("on", "off"):
        out = subprocess.run([sys.executable, "-c", code, before], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        collections, frozen, enabled = out.stdout.split()
        assert collections == "0" and int(frozen) > 100_000
        assert enabled == ("True" if before == "on" else "False")  # the caller's setting is kept


def test_a_failed_run_shows_the_last_lines_its_code_printed():
    """A run that failed said why last (argparse's usage, then its "error: ..."): the text report
    shows its first and last lines; a run that did not fail shows its first lines (near miss)."""
    import io

    from rich.console import Console

    from vaelint.diagnostics import TargetResult
    from vaelint.errors import VaelintError
    from vaelint.report.text_report import _output

    printed = [f"usage line {i}" for i in range(8)] + ["error: Subcommand 'fit' does not accept option 'x'"]
    for failed in (True, False):
        buffer = io.StringIO()
        result = TargetResult("main.py", error=VaelintError("load", "SystemExit: 2") if failed else None, output=list(printed))
        _output(result, Console(file=buffer, width=200))
        text = buffer.getvalue()
        assert ("does not accept option" in text) is failed, text
        assert "usage line 0" in text


def test_a_failed_run_shows_the_error_line_its_code_printed_between_the_first_and_last():
    """jsonargparse says 'error: Parser key ...' first and then 60 lines of detail: the line that
    says the error is shown wherever it is (before: hidden among '... 60 more')."""
    import io

    from rich.console import Console

    from vaelint.diagnostics import TargetResult
    from vaelint.errors import VaelintError
    from vaelint.report.text_report import _output

    printed = ["usage: cli.py [-h]", "  [--config CONFIG]", 'error: Parser key "data": Problem with given class_path']
    printed += ["  Errors:", "    - Expected 'torchvision.transforms.Compose' to be a subclass of Tensor"]
    printed += [f"  detail {i}" for i in range(58)] + ["    - Expected a <class 'bool'>"]
    buffer = io.StringIO()
    _output(TargetResult("cli.py", error=VaelintError("load", "SystemExit: 2"), output=printed), Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert 'error: Parser key "data"' in text and "usage: cli.py" in text and "detail 57" in text, text
    assert "Expected 'torchvision.transforms.Compose'" in text and "<class 'bool'>" in text
    assert "... 56 more" in text and "detail 10" not in text
