"""The cases of scripts/sweep.py: command-line misuse, bad files, hostile models,
training scripts with side effects, cache faults and pre-commit runs (each one's
model written here, from the bundled fixtures and a few lines of its own)."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fixture(rel: str) -> str:
    with open(os.path.join(ROOT, "fixtures", rel)) as fh:
        return fh.read()


CLEAN = _fixture("clean/mlp_vae.py")  # class VAE (784 -> 16), loss_function
BUGGY = _fixture("buggy/recon_broadcast_mse.py")  # VAE003
CONV = _fixture("clean/conv_vae.py")  # class ConvVAE (1 x 28 x 28)
HEAD = "import os, signal, sys, time, subprocess, threading\nimport torch\nfrom vae import VAE as Base\n\n\n"


def _hostile(forward: str, init: str = "") -> dict:
    """A VAE whose __init__ or forward does ``init`` / ``forward`` first (model in vae.py)."""
    body = "class VAE(Base):\n    def __init__(self):\n        super().__init__()\n"
    body += "".join(f"        {line}\n" for line in init.splitlines())
    body += "\n    def forward(self, x):\n" + "".join(f"        {line}\n" for line in forward.splitlines())
    body += "        return super().forward(x)\n\n\nfrom vae import loss_function  # noqa: E402\n"
    return {"vae.py": CLEAN, "hostile.py": HEAD + body}


TRAIN = """
import torch
from vae import VAE, loss_function
{setup}

model = VAE()
opt = torch.optim.Adam(model.parameters())
loader = torch.utils.data.DataLoader(torch.rand(64, 784), batch_size=8)
for epoch in range(3):
    for x in loader:
        recon, mu, logvar = model(x)
        loss = loss_function(recon, x, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
{after}
"""


def _train(setup: str = "", after: str = "") -> dict:
    indent = "".join(f"        {line}\n" for line in after.splitlines())
    return {"train.py": TRAIN.format(setup=setup, after=indent), "vae.py": CLEAN}


def _cli(Case) -> list:
    m = {"vae.py": CLEAN}
    usage = [
        ("no-target-no-config", ["check"]),
        ("model-file-without-name", ["check", "vae.py"]),
        ("model-file-without-name-with-input", ["check", "vae.py", "--input", "4x784"]),
        ("input-with-a-file-of-no-model", ["check", "utils.py", "--input", "4x4"]),
        ("input-zero-batch", ["check", "vae.py:VAE", "--input", "0x784"]),
        ("input-empty-size", ["check", "vae.py:VAE", "--input", "32x"]),
        ("input-not-numbers", ["check", "vae.py:VAE", "--input", "axb"]),
        ("input-unknown-dtype", ["check", "vae.py:VAE", "--input", "32x784:float99"]),
        ("input-bool-with-high", ["check", "vae.py:VAE", "--input", "32x784:bool:3"]),
        ("input-high-zero", ["check", "vae.py:VAE", "--input", "32x784:int64:0"]),
        ("input-batch-one", ["check", "vae.py:VAE", "--input", "1x784"]),
        ("input-terabytes", ["check", "vae.py:VAE", "--input", "1000000x1000000"]),
        ("input-overflows", ["check", "vae.py:VAE", "--input", "99999999999999999999999x784"]),
        ("input-30-dims", ["check", "vae.py:VAE", "--input", "2" + "x1" * 28 + "x784"]),
        ("input-past-max-memory", ["check", "vae.py:VAE", "--input", "100000x784", "--max-memory", "10M"]),
        ("init-no-value", ["check", "vae.py:VAE", "--input", "4x784", "--init", "latent_dim="]),
        ("init-no-name", ["check", "vae.py:VAE", "--input", "4x784", "--init", "=3"]),
        ("init-not-a-literal", ["check", "vae.py:VAE", "--input", "4x784", "--init", "latent_dim=foo("]),
        ("loss-kwarg-no-equals", ["check", "vae.py:VAE", "--input", "4x784", "--loss-kwarg", "x"]),
        ("beta-negative", ["check", "vae.py:VAE", "--input", "4x784", "--beta", "-1"]),
        ("beta-nan", ["check", "vae.py:VAE", "--input", "4x784", "--beta", "nan"]),
        ("select-unknown-code", ["check", "vae.py:VAE", "--input", "4x784", "--select", "VAE999"]),
        ("ignore-unknown-code", ["check", "vae.py:VAE", "--input", "4x784", "--ignore", "XYZ"]),
        ("fix-and-diff", ["check", "vae.py:VAE", "--input", "4x784", "--fix", "--diff"]),
        ("no-fixes-and-fix", ["check", "vae.py:VAE", "--input", "4x784", "--no-fixes", "--fix"]),
        ("output-file-no-folder", ["check", "vae.py:VAE", "--input", "4x784", "--output-file", "nodir/r.json"]),
        ("output-file-over-the-model", ["check", "vae.py:VAE", "--input", "4x784", "--output-file", "vae.py"]),
        ("also-output-unknown-format", ["check", "vae.py:VAE", "--input", "4x784", "--also-output", "xml=r.xml"]),
        ("also-output-over-the-model", ["check", "vae.py:VAE", "--input", "4x784", "--also-output", "json=vae.py"]),
        ("max-memory-not-a-size", ["check", "vae.py:VAE", "--input", "4x784", "--max-memory", "lots"]),
        ("batch-dim-negative", ["check", "vae.py:VAE", "--input", "4x784", "--batch-dim", "-1"]),
        ("script-args-unclosed-quote", ["check", "vae.py:VAE", "--input", "4x784", "--script-args", "'unclosed"]),
        ("timeout-negative", ["check", "vae.py:VAE", "--input", "4x784", "--timeout", "-1"]),
        ("jobs-zero", ["check", "vae.py:VAE", "--input", "4x784", "--jobs", "0"]),
        ("format-unknown", ["check", "vae.py:VAE", "--input", "4x784", "--format", "xml"]),
        ("device-unknown", ["check", "vae.py:VAE", "--input", "4x784", "--device", "tpu"]),
        ("config-missing", ["check", "--config", "nothere.toml", "vae.py:VAE", "--input", "4x784"]),
        ("rule-unknown", ["rule", "VAE999"]),
        ("target-is-a-folder", ["check", "somedir"]),
        ("target-not-python", ["check", "notes.txt"]),
    ]
    errors = [
        ("target-file-missing", ["check", "nothere.py:VAE", "--input", "4x784", "--format", "json"], m),
        ("target-name-missing", ["check", "vae.py:Nope", "--input", "4x784", "--format", "json"], m),
        ("no-input-shape", ["check", "vae.py:VAE", "--format", "json"], m),
        ("inputs-disagree-on-batch", ["check", "vae.py:VAE", "--input", "4x784", "--input", "5x784", "--format", "json"], m),
        ("loss-file-missing", ["check", "vae.py:VAE", "--input", "4x784", "--loss", "nothere.py:fn", "--format", "json"], m),
        ("loss-function-missing", ["check", "vae.py:VAE", "--input", "4x784", "--loss", "vae.py:nofn", "--format", "json"], m),
        ("keyword-input-not-taken", ["check", "vae.py:VAE", "--input", "4x784", "--input", "labels=4:int64:10", "--format", "json"], m),
        ("flat-input-into-a-conv", ["check", "conv.py:ConvVAE", "--input", "8x784", "--format", "json"], {"conv.py": CONV}),
        ("rgb-input-into-a-gray-conv", ["check", "conv.py:ConvVAE", "--input", "4x3x28x28", "--format", "json"], {"conv.py": CONV}),
        ("a-model-not-a-module", ["check", "vae.py:loss_function", "--input", "4x784", "--format", "json"], m),
    ]
    files = {**m, "utils.py": "def helper():\n    return 1\n", "notes.txt": "hello\n", "somedir/.keep": ""}
    return [Case(f"cli-{i}", "cli", argv, "usage", files) for i, argv in usage] + [
        Case(f"cli-{i}", "cli", argv, "error", f) for i, argv, f in errors
    ]


def _files(Case) -> list:
    j = ["--input", "4x784", "--format", "json"]
    return [
        Case("file-syntax-error-named", "file", ["check", "bad.py:VAE", *j], "error", {"bad.py": "class VAE(:\n"}),
        Case("file-syntax-error-file-mode", "file", ["check", "bad.py"], "usage", {"bad.py": "def f(:\n"}),
        Case("file-binary", "file", ["check", "bin.py:VAE", *j], "error", {"bin.py": b"import torch\x00\x01\xff"}),
        Case("file-binary-file-mode", "file", ["check", "bin.py"], "usage", {"bin.py": b"\x00\x01\x02"}),
        Case("file-utf8-bom", "file", ["check", "bom.py:VAE", *j], "clean", {"bom.py": b"\xef\xbb\xbf" + CLEAN.encode()}),
        Case("file-empty", "file", ["check", "empty.py:VAE", *j], "error", {"empty.py": ""}),
        Case("file-latin1-bytes", "file", ["check", "l1.py:VAE", *j], "error", {"l1.py": b"# caf\xe9\n" + CLEAN.encode()}),
        Case("file-symlink-loop", "file", ["check", "a.py:VAE", *j], "error", setup="ln -s b.py a.py; ln -s a.py b.py"),
        Case("file-dangling-symlink", "file", ["check", "a.py:VAE", *j], "error", setup="ln -s gone.py a.py"),
        Case("file-folder-named-py", "file", ["check", "pkg.py:VAE", *j], "error", setup="mkdir pkg.py"),
        Case("file-notebook-not-json", "file", ["check", "nb.ipynb"], "usage", {"nb.ipynb": "not json {"}),
        Case("file-notebook-not-json-named", "file", ["check", "nb.ipynb:VAE", *j], "error", {"nb.ipynb": "not json {"}),
        Case("file-notebook-empty-object", "file", ["check", "nb.ipynb:VAE", *j], "error", {"nb.ipynb": "{}"}),
        Case("file-utilities-only", "file", ["check", "utils.py"], "quiet", {"utils.py": "def helper():\n    return 1\n"}),
        Case("file-two-models-unconfigured", "file", ["check", "vae.py", "conv.py"], "usage", {"vae.py": CLEAN, "conv.py": CONV}),
        Case(
            "file-pyproject-not-toml", "file", ["check", "vae.py:VAE", *j], "usage", {"vae.py": CLEAN, "pyproject.toml": "[tool.vaelint\n"}
        ),
        Case(
            "file-pyproject-unknown-key",
            "file",
            ["check", "vae.py:VAE", *j],
            "usage",
            {"vae.py": CLEAN, "pyproject.toml": "[tool.vaelint]\nbogus = 1\n"},
        ),
        Case(
            "file-pyproject-target-not-a-table",
            "file",
            ["check"],
            "usage",
            {"vae.py": CLEAN, "pyproject.toml": "[tool.vaelint]\ntargets = 3\n"},
        ),
        Case(
            "file-pyproject-target-bad-input",
            "file",
            ["check"],
            "usage",
            {"vae.py": CLEAN, "pyproject.toml": '[[tool.vaelint.targets]]\ntarget = "vae.py:VAE"\ninput = ["0x784"]\n'},
        ),
    ]


def _hostile_cases(Case) -> list:
    j = ["check", "hostile.py:VAE", "--input", "4x784", "--format", "json", "--timeout", "20"]
    cases = [
        ("sys-exit-in-init", "", "sys.exit(3)", "error"),
        ("os-exit-in-forward", "os._exit(0)", "", "error"),
        ("hang-in-forward", "while True:\n    try:\n        time.sleep(1)\n    except BaseException:\n        pass", "", "error"),
        ("sigkill-itself", "os.kill(os.getpid(), signal.SIGKILL)", "", "error"),
        ("segfault", "import ctypes\nctypes.string_at(0)", "", "error"),
        ("alarm-then-sleep", "signal.alarm(1)\ntime.sleep(30)", "", "error"),
        ("signals-vaelint", "os.kill(os.getppid(), signal.SIGTERM)", "", "error"),
        ("signals-vaelints-group", "os.killpg(os.getpgid(os.getppid()), signal.SIGTERM)", "", "error"),
        ("huge-allocation", "torch.empty(10**13)", "", "error"),
        ("raises-value-error", "raise ValueError('nope')", "", "error"),
        ("raises-keyboard-interrupt", "raise KeyboardInterrupt", "", "error"),
        ("raises-memory-error", "raise MemoryError", "", "error"),
        ("recursion", "def f(n):\n    return f(n + 1)\nf(0)", "", "error"),
        ("returns-none", "return None", "", "error"),
        ("returns-a-string", "return 'recon'", "", "error"),
        ("nan-output", "return super().forward(x * float('nan'))", "", "error"),
        ("prints-everywhere", "print('x' * 10000)\nsys.stderr.write('e' * 1000)\nos.write(1, b'raw')", "print('init')", "clean"),
        ("chdir-away", "os.chdir('/')", "", "clean"),
        ("thread-left-running", "threading.Thread(target=time.sleep, args=(60,), daemon=False).start()", "", "clean"),
        ("closes-stdout", "os.close(1)", "", "clean"),
    ]
    out = [Case(f"hostile-{i}", "hostile", j, expect, _hostile(fwd, init)) for i, fwd, init, expect in cases]
    fork = "if os.fork() == 0:\n    time.sleep(1)\n    open('LEFTOVER', 'w').close()\n    os._exit(0)"
    out.append(Case("hostile-fork-left-running", "hostile", j, "clean", _hostile(fork), leftover=("LEFTOVER",)))
    popen = "subprocess.Popen(['sh', '-c', 'sleep 1; touch SPAWNED'])"
    out.append(Case("hostile-popen-left-running", "hostile", j, "contained", _hostile(popen), leftover=("SPAWNED",)))
    # the ELBO plus the log of 0: a loss that is not finite, its terms otherwise as the clean model's
    nan_loss = CLEAN.replace("    return bce + kld", "    return bce + kld + torch.log(recon_x - recon_x).sum()")
    out.append(
        Case("hostile-nan-loss", "hostile", ["check", "vae.py:VAE", "--input", "4x784", "--format", "json"], "error", {"vae.py": nan_loss})
    )
    writes = "open('WRITTEN', 'w').write('x')\n" + CLEAN
    out.append(
        Case(
            "hostile-writes-at-import",
            "hostile",
            ["check", "vae.py:VAE", "--input", "4x784", "--format", "json"],
            "clean",
            {"vae.py": writes},
            leftover=("WRITTEN",),
        )
    )
    return out


def _training(Case) -> list:
    j = ["check", "train.py", "--format", "json"]
    return [
        Case(
            "train-writes-logs-and-checkpoints",
            "training",
            j,
            "contained",
            _train(
                "import os\nos.makedirs('runs', exist_ok=True)\nlog = open('runs/log.txt', 'w')",
                "torch.save(model.state_dict(), 'ckpt.pt')",
            ),
            leftover=("runs/log.txt", "ckpt.pt"),
        ),
        Case(
            "train-starts-a-program",
            "training",
            j,
            "contained",
            _train("import subprocess\nsubprocess.run(['touch', 'RAN'])"),
            leftover=("RAN",),
        ),
        Case("train-os-system", "training", j, "contained", _train("import os\nos.system('touch SYSTEM')"), leftover=("SYSTEM",)),
        Case(
            "train-downloads",
            "training",
            j,
            "contained",
            _train(
                "import urllib.request\ntry:\n    urllib.request.urlretrieve('http://example.com/d.bin', 'd.bin')\nexcept Exception:\n    pass"
            ),
            leftover=("d.bin",),
        ),
        Case(
            "train-removes-a-folder",
            "training",
            j,
            "contained",
            {**_train("import shutil\nshutil.rmtree('keep', ignore_errors=True)"), "keep/data.txt": "mine\n"},
            survives=("keep/data.txt",),
        ),
        Case(
            "train-pathlib-write",
            "training",
            j,
            "contained",
            _train("import pathlib\npathlib.Path('out.txt').write_text('x')"),
            leftover=("out.txt",),
        ),
        Case("train-saves-every-step", "training", j, "contained", _train("", "torch.save(loss, 'step.pt')"), leftover=("step.pt",)),
        Case(
            "train-exits-after-the-loop",
            "training",
            j,
            "contained",
            {**_train("import sys"), "train.py": TRAIN.format(setup="import sys", after="") + "sys.exit(0)\n"},
        ),
        Case("train-hangs-in-setup", "training", [*j, "--timeout", "10"], "error", _train("while True:\n    pass")),
        Case("train-syntax-error", "training", j, "usage", {"train.py": "for x in loader\n    loss.backward()\n"}),
        Case(
            "train-no-backward",
            "training",
            j,
            "quiet",
            {**_train(), "train.py": TRAIN.replace("loss.backward()", "pass").format(setup="", after="")},
        ),
    ]


def _cache(Case) -> list:
    j = ["check", "vae.py:VAE", "--input", "4x784", "--format", "json"]
    b = ["check", "vae.py:VAE", "--input", "4x784", "--format", "json"]
    entries = ".vaelint_cache/results/*/*.json"
    planted = (
        'python3 -c "import glob, pickle, os\n'
        "class P:\n    def __reduce__(self):\n        return (open, ('PWNED', 'w'))\n"
        f"[open(f, 'wb').write(pickle.dumps(P())) for f in glob.glob('{entries}')]\""
    )
    return [
        Case("cache-dir-is-a-file", "cache", j, "findings", {"vae.py": BUGGY, "afile": "mine"}, env={"VAELINT_CACHE_DIR": "afile"}, runs=2),
        Case(
            "cache-dir-under-a-file",
            "cache",
            j,
            "findings",
            {"vae.py": BUGGY, "afile": "mine"},
            env={"VAELINT_CACHE_DIR": "afile/sub"},
            runs=2,
        ),
        Case(
            "cache-entries-garbage",
            "cache",
            b,
            "findings",
            {"vae.py": BUGGY},
            runs=2,
            between=f"for f in {entries}; do echo garbage > $f; done",
        ),
        Case(
            "cache-entries-truncated",
            "cache",
            b,
            "findings",
            {"vae.py": BUGGY},
            runs=2,
            between=f"for f in {entries}; do head -c 50 $f > t; mv t $f; done",
        ),
        Case("cache-entries-empty", "cache", b, "findings", {"vae.py": BUGGY}, runs=2, between=f"for f in {entries}; do : > $f; done"),
        Case(
            "cache-entries-foreign-json",
            "cache",
            b,
            "findings",
            {"vae.py": BUGGY},
            runs=2,
            between=f"for f in {entries}; do echo '{{\"format\": 2}}' > $f; done",
        ),
        Case("cache-entries-planted-pickle", "cache", b, "findings", {"vae.py": BUGGY}, runs=2, between=planted, leftover=("PWNED",)),
        Case(
            "cache-entry-swapped",
            "cache",
            ["check", "a.py:VAE", "b.py:VAE", "--input", "4x784", "--format", "json"],
            "findings",
            {"a.py": CLEAN, "b.py": BUGGY},
            runs=2,
            between=f"set -- {entries}; cp $1 t; cp $2 $1; cp t $2",
        ),
        Case(
            "cache-clean-on-a-file", "cache", ["clean"], "error", {"afile": "mine"}, env={"VAELINT_CACHE_DIR": "afile"}, survives=("afile",)
        ),
        Case("cache-clean-nothing", "cache", ["clean"], "quiet"),
    ]


def _precommit(Case) -> list:
    pc = {"PRE_COMMIT": "1"}
    conf = '[[tool.vaelint.targets]]\ntarget = "buggy.py:VAE"\ninput = ["4x784"]\n'
    files = {"buggy.py": BUGGY, "vae.py": CLEAN, "utils.py": "def helper():\n    return 1\n", "pyproject.toml": conf}
    return [
        Case("pre-commit-utilities-only", "pre-commit", ["check", "utils.py"], "quiet", files, env=pc),
        Case("pre-commit-unconfigured-model", "pre-commit", ["check", "vae.py"], "quiet", files, env=pc),
        Case("pre-commit-configured-and-others", "pre-commit", ["check", "utils.py", "vae.py", "buggy.py"], "findings", files, env=pc),
        Case("pre-commit-sarif", "pre-commit", ["check", "utils.py", "buggy.py", "--format", "sarif"], "findings", files, env=pc),
        Case("pre-commit-json-no-target", "pre-commit", ["check", "utils.py", "--format", "json"], "quiet", files, env=pc),
        Case("pre-commit-syntax-error", "pre-commit", ["check", "utils.py", "bad.py"], "usage", {**files, "bad.py": "def (:\n"}, env=pc),
        Case(
            "pre-commit-training-script",
            "pre-commit",
            ["check", "train.py", "--format", "json"],
            "contained",
            {**files, **_train()},
            env=pc,
        ),
        Case("pre-commit-deleted-file", "pre-commit", ["check", "gone.py"], "usage", files, env=pc),
        Case("pre-commit-configured-clean", "pre-commit", ["check", "buggy.py", "--ignore", "VAE003"], "clean", files, env=pc),
    ]


def all_cases(Case) -> list:
    return _cli(Case) + _files(Case) + _hostile_cases(Case) + _training(Case) + _cache(Case) + _precommit(Case)
