"""What a training run must never start or fetch while vaelint runs it (vaelint/frontends/training/
sandbox.py, sandboxprograms.py): no program the code or a library starts, no network host looked up
or connected, no download (a download with the data given answers as done, its file standing in),
no pretrained weights fetched (those in torch.hub's cache load)."""

import os
import shutil
import sys

import pytest
from training_cli import RUNNING, check_in, run
from training_cli import write_script as _script


def test_a_program_a_library_starts_is_missing_and_the_users_own_is_refused():
    import sysconfig

    from vaelint.errors import VaelintError
    from vaelint.frontends.training.sandbox import Sandbox

    library = os.path.join(sysconfig.get_paths()["purelib"], "vaelint_test_fontlib.py")
    namespace: dict = {}
    exec(compile("import subprocess\ndef list_fonts():\n    return subprocess.run(['fc-list'])\n", library, "exec"), namespace)
    user = os.path.join(RUNNING, "user_code.py")
    exec(compile("import subprocess\ndef fetch():\n    return subprocess.run(['curl', 'x'])\n", user, "exec"), namespace)
    with Sandbox(user).active():
        with pytest.raises(FileNotFoundError):
            namespace["list_fonts"]()
        with pytest.raises(VaelintError, match="tried to run a program"):
            namespace["fetch"]()


def test_programs_the_setup_asks_are_not_started_and_answer_as_missing_ones(tmp_path):
    # os.popen('nvidia-smi').read(), a git commit under try/except OSError, os.system('mkdir ...'):
    # the run goes on to the step, nothing is started, and the report lists each
    import json
    import subprocess

    for name in ("programs_in_setup.py", "vae_common.py"):
        shutil.copy(os.path.join(RUNNING, name), tmp_path)
    env = {**os.environ, "VAELINT_NO_CACHE": "1", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", "programs_in_setup.py", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(done.stdout)["results"][0]
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 42)], done.stdout
    assert sorted(os.listdir(tmp_path)) == ["programs_in_setup.py", "vae_common.py"]  # no runs/ folder
    unrun = [n for n in result["notes"] if "was not run (vaelint starts no program)" in n]
    assert [n.split(" at ")[0] for n in unrun] == [
        "the code's os.popen('nvidia-smi --query-gpu=name --format=csv,noheader')",
        "the code's os.system('mkdir -p runs/')",  # git's answer was empty: the commit is ""
        "the code's os.system('touch runs/started')",
        "the code's git query 'git rev-parse --short HEAD'",
    ]


def test_a_program_the_code_starts_is_an_oserror_it_can_catch():
    from vaelint.frontends.training.sandbox import Sandbox

    user = os.path.join(RUNNING, "user_code.py")
    namespace: dict = {}
    exec(
        compile(
            "import os, subprocess\ndef commit():\n    try:\n        return subprocess.check_output(['svn', 'info'])\n"
            "    except OSError as e:\n        return str(e)\ndef gpus():\n    p = os.popen('nvidia-smi')\n"
            "    return p.read(), p.close()\n",
            user,
            "exec",
        ),
        namespace,
    )
    sandbox = Sandbox(user)
    with sandbox.active():
        assert "tried to run a program (svn info)" in namespace["commit"]()
        assert namespace["gpus"]() == ("", 127 << 8)
    assert [n.replace(os.sep, "/").rsplit("/", 1)[-1] for n in sandbox.unrun] == ["user_code.py:8"]
    assert sandbox.unrun[0].startswith("os.popen('nvidia-smi') at ")


PERCEPTUAL = (
    "import torch",
    "import torch.nn as nn",
    "from torch.utils.data import DataLoader, TensorDataset",
    "from vae_common import VAE, elbo",
    "class Perceptual(nn.Module):",
    "    def __init__(self):",
    "        super().__init__()",
    "        self.proj = nn.Linear(784, 16)",
    "        self.proj.load_state_dict(torch.hub.load_state_dict_from_url('https://example.org/w/proj-1234.pth'))",
    "    def forward(self, a, b):",
    "        return (self.proj(a) - self.proj(b)).pow(2).sum() / a.size(0)",
    "model, feat = VAE(), Perceptual()",
    "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
    "    recon, mu, logvar = model(x)",
    "    loss = elbo(recon, x, mu, logvar) + feat(recon, x)",
    "    loss.backward()",
)


def test_pretrained_weights_load_from_torch_hubs_cache_or_stay_as_built_and_are_never_downloaded(tmp_path, monkeypatch):
    import torch

    (tmp_path / "app").mkdir()
    _script(tmp_path / "app", *PERCEPTUAL)
    monkeypatch.chdir(tmp_path / "app")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / "proj-1234.pth"
    # not in the cache: nothing is downloaded, and the weights stay as built, as for a checkpoint
    # that is not here (LukeDitria/CNN-VAE's VGG19 perceptual loss stopped the check)
    r = run("train.py", "--no-cache")
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "pretrained weights proj-1234.pth (torch.hub, not downloaded) at train.py:9" in said
    assert "the weights stay as built" in said and not cached.exists()
    # in the cache: read from there, and the step is checked
    cached.parent.mkdir(parents=True)
    torch.save(torch.nn.Linear(784, 16).state_dict(), cached)
    r = run("train.py", "--no-cache")
    assert r.exit_code == 0, r.output
    assert "no findings in 1 target" in r.output


def test_no_network_host_is_looked_up_nor_connected_while_the_code_runs(tmp_path):
    """vaelint connects to no host: a data set's download through aiohttp (fsspec's http) asked the
    DNS for github.com, which is network traffic too (helper W: a torch_geometric Planetoid run without
    --input). In the sandbox a host look-up fails as with no network, and a connection is refused."""
    import socket

    from vaelint.frontends.training.sandbox import Sandbox

    sandbox = Sandbox(str(tmp_path / "train.py"))
    with sandbox.active():
        with pytest.raises(socket.gaierror, match="looks up no network host"):
            socket.getaddrinfo("github.com", 443)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", 9))
    assert socket.getaddrinfo.__module__ == "socket"  # put back when the run ends


def test_a_download_with_the_data_given_answers_as_done_and_its_file_stands_in(tmp_path):
    """``if not exists(path): urlretrieve(URL, path)`` then ``np.load(path)``: with --input the
    download answers as done (nothing fetched, nothing written) and the file stands in for the
    --input samples; without it, the download is refused naming --input. Before, the advised
    --input met the same refusal (helper C, alexlinapp/beta-vae)."""
    _script(
        tmp_path,
        "import os",
        "import urllib.request",
        "import numpy as np",
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "PATH = 'shapes.npy'",
        "if not os.path.exists(PATH):",
        "    urllib.request.urlretrieve('https://example.org/shapes.npy', PATH)",
        "data = torch.as_tensor(np.load(PATH)).float()",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for (x,) in DataLoader(TensorDataset(data), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        "    loss = elbo(recon, x, mu, logvar)",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    refused = check_in(tmp_path, "train.py")
    assert refused.returncode == 2 and "urlretrieve" in refused.stdout and "--input" in refused.stdout, refused.stdout
    done = check_in(tmp_path, "train.py", "--input", "16x784:float32:2")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "urlretrieve(..., 'shapes.npy') downloaded nothing; given --input, it answered as done" in text, text
    assert not (tmp_path / "shapes.npy").exists()


@pytest.mark.parametrize("called", [False, True])
def test_a_whole_model_loaded_from_a_missing_file_is_moved_and_said_when_called(tmp_path, called):
    """``self.judge = torch.load("weights/judge_model.pt", weights_only=False).to(device)`` (a helper network an
    earlier run saved, not in the checkout): moving or setting it up does nothing, and the step is
    checked where it never calls it; called, the run stops naming the file. Before: "'MissingCheckpoint'
    object has no attribute 'to'", advice about --script-args (helper D, Gaoustcer/AddDPintoCVAE)."""
    _script(
        tmp_path,
        "import torch",
        "from torch.utils.data import DataLoader, TensorDataset",
        "from vae_common import VAE, elbo",
        "judge = torch.load('weights/judge_model.pt', weights_only=False).to('cpu').eval()",
        "model = VAE()",
        "opt = torch.optim.Adam(model.parameters())",
        "for (x,) in DataLoader(TensorDataset(torch.rand(64, 784)), batch_size=16):",
        "    recon, mu, logvar = model(x)",
        f"    loss = elbo(recon, x, mu, logvar){' + judge(recon).mean()' if called else ''}",
        "    opt.zero_grad()",
        "    loss.backward()",
        "    opt.step()",
    )
    done = check_in(tmp_path, "train.py")
    text = " ".join(done.stdout.split())
    assert "MissingCheckpoint" not in text, text
    if called:
        assert done.returncode == 2 and "weights/judge_model.pt is not here: the code calls what torch.load reads from it" in text, text
    else:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "torch.load('weights/judge_model.pt') at train.py:4 is not here: the weights stay as built" in text, text


def test_git_asked_about_the_checkout_answers_empty_and_anything_else_of_gits_is_refused():
    # the commit a script logs (pvae writes it beside its run): no output, status 0, said in a note;
    # git changing the checkout (commit, checkout, clone) is still no program vaelint starts
    from vaelint.errors import VaelintError
    from vaelint.frontends.training.sandbox import Sandbox

    user = os.path.join(RUNNING, "user_code.py")
    namespace: dict = {}
    code = (
        "import subprocess\ndef commit():\n    return subprocess.check_output(['git', 'rev-parse', '--verify', 'HEAD'])\n"
        "def described():\n    return subprocess.run('git describe --always', shell=True, capture_output=True, text=True)\n"
        "def save():\n    return subprocess.check_output(['git', 'commit', '-am', 'run'])\n"
    )
    exec(compile(code, user, "exec"), namespace)
    sandbox = Sandbox(user)
    with sandbox.active():
        assert namespace["commit"]() == b""
        done = namespace["described"]()
        assert (done.returncode, done.stdout) == (0, "")
        with pytest.raises(VaelintError, match="tried to run a program"):
            namespace["save"]()
    assert [n.split(" at ")[0] for n in sandbox.queried] == ["git query 'git rev-parse --verify HEAD'", "git query 'git describe --always'"]
    assert any("git query 'git rev-parse --verify HEAD'" in n and "status 0" in n for n in sandbox.said())


def test_a_command_that_only_makes_folders_answers_as_done_and_anything_more_is_refused():
    # a sweep's output folder made with the shell (`mkdir -p results/run1`): status 0, said in a note, as the
    # code's own os.makedirs is answered; it was refused, and the sweep's `except Exception: continue` hid why
    # (helper h34a, KonstantinosTsomakian/multiscVAE); a command that does more than make folders is not
    from vaelint.errors import VaelintError
    from vaelint.frontends.training.sandbox import Sandbox

    user = os.path.join(RUNNING, "user_code.py")
    namespace: dict = {}
    code = (
        "import subprocess\ndef folder():\n    return subprocess.run('mkdir -p results/run1', shell=True)\n"
        "def more():\n    return subprocess.run('mkdir -p out && curl -O http://x/y.zip', shell=True)\n"
    )
    exec(compile(code, user, "exec"), namespace)
    sandbox = Sandbox(user)
    with sandbox.active():
        assert namespace["folder"]().returncode == 0
        with pytest.raises(VaelintError, match="tried to run a program"):
            namespace["more"]()
    assert any("folder command 'mkdir -p results/run1'" in n and "status 0" in n for n in sandbox.said())
