"""A launcher script that runs the training script as a program (``subprocess.run([sys.executable,
"train.py", ...])``, ``os.system("python train.py ...")``, ``torchrun ... train.py``, ``python -m
pkg.train``) is never run: vaelint starts no program. The check stops there and names the check
to run instead, with the script's arguments (``vaelint check train.py --script-args "--epochs
3"``); before, os.system answered 127 and the run ended with "no batch, no backward", and
subprocess's refusal came with advice about data. Nothing the launched script would do happens."""

from __future__ import annotations

import pytest
from helpers import check
from training_cli import write_script

TRAIN = (
    "open('launched.txt', 'w').write('ran')",  # the launched script, run for real, would leave this
    "import torch",
    "from vae_common import VAE, elbo",
    "model = VAE()",
    "for x in torch.utils.data.DataLoader(torch.rand(64, 784), batch_size=16):",
    "    recon, mu, logvar = model(x)",
    "    elbo(recon, x, mu, logvar).backward()",
)


@pytest.mark.parametrize(
    "launch, said",
    [
        (
            "import subprocess, sys\nsubprocess.run([sys.executable, 'train.py', '--epochs', '3'], check=True)\n",
            'vaelint check train.py --script-args "--epochs 3"',
        ),
        ("import os\nos.system('python train.py --epochs 3')\n", 'vaelint check train.py --script-args "--epochs 3"'),
        (
            "import subprocess\nsubprocess.call('torchrun --nproc_per_node 2 train.py --lr 0.1', shell=True)\n",
            'vaelint check train.py --script-args "--lr 0.1"',
        ),
        ("import subprocess\nsubprocess.check_call(['python', '-m', 'pkg.train'])\n", "vaelint check pkg/train.py`"),
    ],
    ids=["subprocess-list", "os.system", "torchrun", "python-m"],
)
def test_a_launcher_names_the_check_of_the_script_it_runs(tmp_path, monkeypatch, launch, said):
    write_script(tmp_path, *TRAIN)
    (tmp_path / "main.py").write_text(launch)
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "main.py"), "-", [])
    assert result.error is not None, result.findings
    message = result.error.message
    assert "runs another Python script as a program" in message and said in message, message
    assert "its data is not here" not in message, message
    assert not (tmp_path / "launched.txt").exists()  # nothing was started


def test_another_program_is_answered_as_before(tmp_path, monkeypatch):
    # the near miss: a program that is no Python script (git) answers as one not installed (127)
    (tmp_path / "main.py").write_text("import os\nstatus = os.system('git rev-parse HEAD')\nprint(status)\n")
    monkeypatch.chdir(tmp_path)
    result = check(str(tmp_path / "main.py"), "-", [])
    assert result.error is None or "runs another Python script" not in result.error.message
