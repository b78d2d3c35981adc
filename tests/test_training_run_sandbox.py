"""What a training run must never do while vaelint runs it (vaelint/frontends/training/sandbox.py,
live.py): nothing after the step's backward runs, no program or process is started, no
optimiser steps, and torch and the tracer are left as they were found."""

import os
import shutil
import sys

import pytest
from training_cli import RUNNING, check_in, run
from training_cli import write_script as _script


def test_nothing_after_the_step_runs_and_nothing_is_written(tmp_path):
    # run as a user runs it (a process of its own): what the code prints comes back in the report
    import subprocess

    for name in ("after_the_step.py", "vae_common.py"):
        shutil.copy(os.path.join(RUNNING, name), tmp_path)
    env = {**os.environ, "VAELINT_NO_CACHE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", "after_the_step.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(tmp_path)) == ["after_the_step.py", "vae_common.py"]  # no folder, file, checkpoint
    # one batch of four items, read once: no second batch; nothing after the backward
    items = [line.strip(" |") for line in done.stdout.splitlines() if "vaelint-fixture: item" in line]
    assert items == [f"vaelint-fixture: item {i}" for i in range(4)], done.stdout
    assert "after the backward" not in done.stdout and "optimiser stepped" not in done.stdout
    assert "os.makedirs('runs/vaelint_fixture') at after_the_step.py:39 was not performed" in " ".join(done.stdout.split())


def test_an_optimiser_class_the_code_defines_while_it_runs_does_not_step():
    import torch

    from vaelint.frontends.training.sandbox import Sandbox

    with Sandbox(__file__).active() as sandbox:

        class Mine(torch.optim.Optimizer):
            def __init__(self, params):
                super().__init__(params, {})

            def step(self, closure=None):
                raise AssertionError("stepped")

        p = torch.nn.Parameter(torch.ones(2))
        Mine([p]).step()
    assert sandbox.optimizer_steps == 1 and torch.equal(p.detach(), torch.ones(2))
    sys.modules.pop("vaelint_test_fontlib", None)


def test_a_process_pool_of_the_setup_is_not_started(tmp_path, monkeypatch):
    _script(
        tmp_path,
        "import multiprocessing",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "pool = multiprocessing.Pool(2)",
        "model = VAE()",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAELINT_TRAINING", "run")
    r = run("train.py", "--no-cache")
    # the pool's line fails (its workers are a library's processes: none is started, none runs
    # inline), the setup goes on without it, and the step is reached
    assert r.exit_code == 0 and "the training step of train.py" in r.output, r.output


def test_the_run_leaves_torch_and_the_tracer_as_it_found_them(tmp_path, monkeypatch):
    import torch

    from vaelint.frontends.base import LoadRequest, parse_ref
    from vaelint.frontends.training import TrainingFrontend
    from vaelint.frontends.training.liveprogram import live_program
    from vaelint.frontends.training.sites import parse_file

    def tracer(frame, event, arg):
        return None

    before = (
        torch.Tensor.backward,
        torch.Tensor.cuda,
        torch.Tensor.to,
        torch.Tensor.type,
        torch.randn,
        torch.utils.data.DataLoader.__iter__,
        torch.nn.Module.__init__,
        torch.cuda.is_available,
    )
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    (tmp_path / "train.py").write_text(open(os.path.join(RUNNING, "../paired_loaders.py")).read())
    monkeypatch.chdir(tmp_path)
    sys.settrace(tracer)
    try:
        program = live_program(TrainingFrontend(), parse_ref("train.py"), LoadRequest(), parse_file(str(tmp_path / "train.py")))
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)
    after = (
        torch.Tensor.backward,
        torch.Tensor.cuda,
        torch.Tensor.to,
        torch.Tensor.type,
        torch.randn,
        torch.utils.data.DataLoader.__iter__,
        torch.nn.Module.__init__,
        torch.cuda.is_available,
    )
    assert before == after
    assert torch._C._len_torch_function_stack() == 0
    assert program.step is not None


def test_writes_beside_a_checkout_in_the_temporary_folder_are_the_users_too(tmp_path):
    # a repository under /tmp (tmp_path is there): ../runs and ../tmp beside it are the user's,
    # while a library's own temporary file (tempfile's) is still made
    import tempfile

    from vaelint.frontends.training.sandbox import Sandbox

    repo = tmp_path / "repo"
    repo.mkdir()
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        with Sandbox(str(repo / "train.py")).active() as sandbox:
            os.mkdir("../tmp")
            with open("../f.txt", "w") as fh:
                fh.write("x")
            os.makedirs(str(tmp_path / "runs" / "exp1"))
            with tempfile.NamedTemporaryFile("w") as own:
                own.write("library scratch")
                assert os.path.exists(own.name)
    finally:
        os.chdir(cwd)
    assert sorted(os.listdir(tmp_path)) == ["repo"] and os.listdir(repo) == []
    assert [b.split(" at ")[0] for b in sandbox.blocked] == [
        "os.mkdir('../tmp')",
        "open('../f.txt', 'w')",
        f"os.makedirs('{tmp_path / 'runs' / 'exp1'}')",
    ]


def test_writes_not_performed_answer_as_the_real_calls_do(tmp_path, monkeypatch):
    # a run folder snapshotting the code (shutil.copy's returned path is used), a log opened by a
    # bytes path, a note written with Path.write_text: nothing is written, and the run goes on
    _script(
        tmp_path,
        "import os, pathlib, shutil",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "run_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'runs', 'exp1')",
        "os.makedirs(run_dir, exist_ok=True)",
        "saved = shutil.copy(__file__, run_dir)",
        "print('code saved as', os.path.basename(saved))",
        "assert pathlib.Path(run_dir, 'notes.txt').write_text('first run') == 9",
        "log = open(os.fsencode(os.path.join(run_dir, 'log.bin')), 'wb')",
        "model = VAE()",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    loss.backward()",
        "    log.write(b'step')",
    )
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    r = run("train.py", "--no-cache")
    assert r.exit_code == 0, r.output
    assert "running the code as written did not reach its step" not in r.output
    assert f"shutil.copy({str(tmp_path / 'train.py')!r}) at train.py:7 was not performed" in " ".join(r.output.split())
    assert sorted(os.listdir(tmp_path)) == before


def test_a_file_made_by_os_open_or_mkstemp_in_the_users_folder_is_not_made(tmp_path, monkeypatch):
    # wget.download makes its partial file with tempfile.mkstemp(dir="."), through os.open, and
    # removes it with os.unlink, which the sandbox does not perform: empty .tmp files were left in
    # the user's folder on every check (NickSmyr/iwae-pytorch)
    _script(
        tmp_path,
        "import os, tempfile",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "fd, partial = tempfile.mkstemp(suffix='.tmp', prefix='data.gz', dir='.')",
        "assert os.write(fd, b'payload') == 7",
        "os.close(fd)",
        "os.unlink(partial)",
        "log = os.open('log.bin', os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)",
        "model = VAE()",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    os.write(log, b'step')",
        "    loss.backward()",
    )
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    r = run("train.py", "--no-cache")
    assert r.exit_code == 0, r.output
    assert "running the code as written did not reach its step" not in r.output
    assert "os.open('log.bin') at train.py:9 was not performed" in " ".join(r.output.split())
    assert sorted(os.listdir(tmp_path)) == before


_NATIVE_CV2 = '''
import os


def imwrite(path, image):
    """Writes as OpenCV does, below Python's open (a C library's own file handle)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"png")
    os.close(fd)
    return True


def imread(path, flags=None):
    return None
'''


def test_writers_that_open_their_files_in_c_write_nothing(tmp_path):
    """cv2.imwrite in the step (explainingai-code/VAE-Pytorch writes input.jpeg each batch) opens
    its file in C, where the guard on open() never looks: it is a no-op too, said in a note,
    whether cv2 was imported before the run or by the code itself. The near miss: cv2's reader
    still runs."""
    from training_cli import check_in

    library = tmp_path / "site-packages"
    library.mkdir()
    (library / "cv2.py").write_text(_NATIVE_CV2)
    project = tmp_path / "project"
    project.mkdir()
    _script(
        project,
        "import cv2",
        "import torch",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(32, 784)), batch_size=8)",
        "for (x,) in data:",
        "    recon, mu, logvar = model(x)",
        "    assert cv2.imread('missing.png') is None",
        "    cv2.imwrite('recon.png', recon.detach().numpy())",
        "    elbo(recon, x, mu, logvar).backward()",
    )
    out = check_in(project, "train.py", env_extra={"PYTHONPATH": str(library)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "cv2.imwrite('recon.png') at train.py:9 was not performed" in out.stdout, out.stdout
    assert not (project / "recon.png").exists()


@pytest.mark.parametrize("writer", ["np.savetxt('stats.txt', np.zeros(3))", "np.savetxt(open('stats.txt', 'w'), np.zeros(3))"])
def test_numpys_text_writer_writes_nothing_and_the_run_goes_on(tmp_path, monkeypatch, writer):
    # np.savetxt makes its file with open(), then opens it again through numpy's DataSource, which
    # found no file where the first open had given a sink: 'stats.txt not found', reported as the
    # data missing (helper-found: thotranhuu99/Posterior_collapse_CVAE_HVAE)
    _script(
        tmp_path,
        "import numpy as np",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "def main():",  # in a function: no top-level line the run may go past
        f"    {writer}",
        "    model = VAE()",
        "    for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "        recon, mu, logvar = model(x)",
        "        elbo(recon, x, mu, logvar).backward()",
        "main()",
    )
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    r = run("train.py", "--no-cache")
    assert r.exit_code == 0, r.output
    assert "running the code as written did not reach its step" not in r.output, r.output
    assert "open('stats.txt', 'w" in r.output and "was not performed" in r.output, r.output
    assert sorted(os.listdir(tmp_path)) == before


def test_a_schedulers_own_first_step_is_taken_and_later_ones_are_not(tmp_path):
    """``sched.get_last_lr()`` in the loop: the scheduler's constructor takes its first step (which
    sets ``_last_lr``), as Python runs it; later steps stay undone. Before, every step was a no-op
    and get_last_lr() raised an AttributeError of vaelint's making, blamed on the code (helper C,
    a-kori/vae_vq-vae)."""
    _script(
        tmp_path,
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters(), lr=1e-3)",
        "sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)",
        "for epoch in range(3):",
        "    print('vaelint-fixture: lr', sched.get_last_lr()[0])",
        "    for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "        recon, mu, logvar = model(x)",
        "        loss = elbo(recon, x, mu, logvar)",
        "        opt.zero_grad()",
        "        loss.backward()",
        "        opt.step()",
        "    sched.step()",
    )
    done = check_in(tmp_path, "train.py")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "did not reach its step" not in text and "_last_lr" not in text, text
    assert "vaelint-fixture: lr 0.001" in text, text
