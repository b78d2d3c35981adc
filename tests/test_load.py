"""Loading a model file without running its script code."""

import os
import shutil
import textwrap

import pytest
from conftest import FIXTURES
from helpers import check

from vaelint.errors import VaelintError
from vaelint.frontends import LoadRequest, load_program
from vaelint.frontends.load import load_module


def test_script_style_file_is_checked_without_running_its_script(tmp_path, monkeypatch):
    src = os.path.join(FIXTURES, "clean", "script_style_vae.py")
    path = tmp_path / "train_vae.py"
    shutil.copy(src, path)
    monkeypatch.chdir(tmp_path)
    loaded = load_program(f"{path}:VAE", LoadRequest(init={}))
    # the download helper was defined but never called, and nothing was written
    assert "download_dataset" in loaded.module.__dict__
    assert "train_set" not in loaded.module.__dict__
    assert sorted(os.listdir(tmp_path)) == ["train_vae.py"]
    # argparse ran with its defaults, the model read them
    assert loaded.module.args.latent == 20 and loaded.model.fc21.out_features == 20
    # module-level training objects were never built
    assert "model" not in loaded.module.__dict__ and "optimizer" not in loaded.module.__dict__


def test_missing_import_the_model_does_not_use_is_fine(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import no_such_package_xyz\nimport torch.nn as nn\nclass VAE(nn.Linear):\n    def __init__(self):\n        super().__init__(2, 2)\n"
    )
    assert load_program(f"{path}:VAE", LoadRequest(init={})).model.in_features == 2


def test_missing_import_the_model_uses_is_explained(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "from no_such_package_xyz import Block\nimport torch.nn as nn\n"
        "class VAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.b = Block()\n"
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert "m.py:1 imports 'Block' from 'no_such_package_xyz'" in e.value.message
    assert "Install" in e.value.message


def test_sibling_and_package_imports(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    (models / "base.py").write_text("import torch.nn as nn\nclass BaseVAE(nn.Module):\n    latent = 3\n")
    (models / "helpers.py").write_text("def width():\n    return 5\n")
    (models / "vae.py").write_text(
        textwrap.dedent(
            """
            import torch.nn as nn
            from models.base import BaseVAE
            from helpers import width

            class VAE(BaseVAE):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(width(), self.latent)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    assert load_program("models/vae.py:VAE", LoadRequest(init={})).model.fc.in_features == 5

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "layers.py").write_text("SIZE = 7\n")
    (pkg / "vae.py").write_text(
        "import torch.nn as nn\nfrom .layers import SIZE\nclass VAE(nn.Linear):\n    def __init__(self):\n        super().__init__(SIZE, 2)\n"
    )
    assert load_program(f"{pkg / 'vae.py'}:VAE", LoadRequest(init={})).model.in_features == 7


def test_module_level_constants_and_main_guard(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch.nn as nn
            LATENT = 4
            if True:
                HIDDEN = 8
            class VAE(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(HIDDEN, LATENT)
            if __name__ == "__main__":
                raise SystemExit("the main guard ran")
            """
        )
    )
    assert load_program(f"{path}:VAE", LoadRequest(init={})).model.fc.out_features == 4


def test_constructor_errors_name_the_users_line(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import torch.nn as nn\nclass VAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(-1, 2)\n"
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert "building the model failed at" in e.value.message and "m.py:5" in e.value.message


def test_module_sites_record_where_layers_were_built():
    loaded = load_program(os.path.join(FIXTURES, "clean", "mlp_vae.py") + ":VAE")
    site = loaded.module_sites[id(loaded.model.fc_mu)]
    assert site.path.endswith("mlp_vae.py") and site.line == 13


def test_load_module_keeps_only_needed_assignments(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import os\nX = 1\nY = os.getpid()\ndef f():\n    return X\n")
    mod = load_module(str(path), {"f"})
    assert mod.X == 1 and not hasattr(mod, "Y")


def test_package_whose_init_imports_the_model_module(tmp_path, monkeypatch, capsys):
    # The layout of many VAE collections: models/__init__.py star-imports every
    # model module and aliases a class, and each model imports the base class
    # through the package.
    pkg = tmp_path / "zoo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .base import *\nfrom .plain import *\nDefault = PlainVAE\n")
    (pkg / "base.py").write_text("import torch.nn as nn\nclass Base(nn.Module):\n    pass\n")
    (pkg / "plain.py").write_text(
        "import torch.nn as nn\nfrom zoo import Base\nprint('script code ran')\n"
        "class PlainVAE(Base):\n    def __init__(self, width=3):\n        super().__init__()\n        self.fc = nn.Linear(width, 2)\n"
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_program("zoo/plain.py:PlainVAE", LoadRequest(init={"width": 4}))
    assert loaded.model.fc.in_features == 4
    assert "script code ran" not in capsys.readouterr().out


def test_a_failed_module_level_assignment_used_in_arithmetic_shows_its_own_error(tmp_path):
    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec

    path = tmp_path / "cfg_model.py"
    path.write_text(
        "import torch.nn as nn\nCONFIG = {'a': 1}\nLATENT = CONFIG['latent']\n\n\n"
        "class VAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.enc = nn.Linear(12, 2 * LATENT)\n\n    def forward(self, x):\n        return self.enc(x)\n"
    )
    result = analyse(f"{path}:VAE", Options(inputs=[parse_input_spec("4x12")], dynamic=False))
    assert result.error is not None and result.error.kind == "load"
    assert "KeyError" in result.error.message and ":3 defines 'LATENT'" in result.error.message
    assert "Unavailable" not in result.error.message


PLAIN_VAE = (
    "import torch\nimport torch.nn as nn\n\n\nclass PlainVAE(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n        self.enc, self.dec = nn.Linear(6, 4), nn.Linear(2, 6)\n\n"
    "    def forward(self, x):\n        mu, logvar = self.enc(x).chunk(2, dim=1)\n"
    "        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar\n"
)


def test_a_package_init_that_imports_a_sibling_needing_a_missing_package(tmp_path):
    """AntixK's layout: models/__init__ star-imports every model, one of them built on
    a package that is not installed; the other models still load."""
    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec

    pkg = tmp_path / "zoo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .needs_vision import *\nfrom .plain import *\n")
    (pkg / "needs_vision.py").write_text(
        "from not_installed_vision.models import vgg19\nimport torch.nn as nn\n\n\n"
        "class PerceptualVAE(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.net = vgg19()\n"
        "\nprint('script code of a sibling: never run')\n"
    )
    (pkg / "plain.py").write_text(PLAIN_VAE)
    result = analyse(f"{pkg / 'plain.py'}:PlainVAE", Options(inputs=[parse_input_spec("4x6")], dynamic=False))
    assert result.error is None, result.error.message
    other = analyse(f"{pkg / 'needs_vision.py'}:PerceptualVAE", Options(inputs=[parse_input_spec("4x6")], dynamic=False))
    assert other.error is not None and "not_installed_vision" in other.error.message


def test_a_grandparent_package_init_that_imports_training_code_needing_a_missing_package(tmp_path):
    """disentangling-vae's layout: disvae/__init__ imports the Trainer, whose module
    imports a package that is not installed, and the model lives in disvae/models/;
    the whole package tree loads filtered, so the model still loads."""
    from vaelint.analyze import Options, analyse
    from vaelint.inputs import parse_input_spec

    top = tmp_path / "tree_pkg"
    (top / "models").mkdir(parents=True)
    (top / "__init__.py").write_text("from tree_pkg.models.vae import PlainVAE\nfrom tree_pkg.training import Trainer\n")
    (top / "training.py").write_text(
        "import not_installed_gif_writer\n\n\nclass Trainer:\n    def save(self, frames):\n"
        "        not_installed_gif_writer.mimsave('out.gif', frames)\n\nprint('script code: never run')\n"
    )
    (top / "models" / "__init__.py").write_text("")
    (top / "models" / "vae.py").write_text(PLAIN_VAE)
    result = analyse(f"{top / 'models' / 'vae.py'}:PlainVAE", Options(inputs=[parse_input_spec("4x6")], dynamic=False))
    assert result.error is None, result.error.message
    assert not any("script code" in line for line in result.output)


def test_a_model_the_script_builds_is_a_target_and_the_training_after_it_never_runs(tmp_path):

    path = tmp_path / "script.py"
    path.write_text(
        "import torch, torch.nn as nn\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self, latent):\n"
        "        super().__init__()\n"
        "        self.enc, self.dec = nn.Linear(12, 2 * latent), nn.Linear(latent, 12)\n"
        "    def forward(self, x):\n"
        "        mu, logvar = self.enc(x).chunk(2, 1)\n"
        "        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar\n"
        "latent = 3\n"
        "model = VAE(latent)\n"
        "for epoch in range(10**9):\n"
        "    train(model)\n"
    )
    result = check(str(path), "model", ["4x12"])
    assert result.error is None, result.error.message
    assert ("reparam", "z") in {(r.stage, r.name) for r in result.flow}


def test_a_model_the_file_builds_is_never_trained_saved_or_shown(tmp_path, capfd):
    # the Keras VAE example ends with vae.compile(...) and vae.fit(mnist_digits, epochs=30): checking
    # file.py:vae must not download the digits nor train (statements.py, _NOT_CONFIGURATION)
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent("""
        import torch.nn as nn

        def download():
            print("vaelint-fixture: downloaded")
            return []

        class VAE(nn.Linear):
            def fit(self, data, epochs=1):
                print("vaelint-fixture: trained")
            def configure(self, width):
                self.width = width
            def summary(self):
                print("vaelint-fixture: summary printed")

        WIDTH = 3
        vae = VAE(2, 2)
        vae.configure(WIDTH)
        data = download()
        vae.fit(data, epochs=30)
        vae.train()
        vae.summary()
        vae.load_state_dict({})
    """)
    )
    program = load_program(f"{path}:vae", LoadRequest(init={}))
    assert program.model.width == 3  # a configuration call runs, with what it reads
    assert "vaelint-fixture" not in capfd.readouterr().out


def test_an_error_a_library_rebuilt_with_one_argument_is_ours_again():
    import pickle

    ours = "m.py:12: the model calls TensorFlow directly (tf.shape); write keras.ops.shape instead."
    layer = VaelintError(f"Exception encountered when calling Sampling.call().\n\n{ours}\n\nArguments received by Sampling.call():\n  x=1")
    functional = VaelintError(
        "Could not automatically infer the output shape / dtype of 'sampling' (of type Sampling). Either the "
        f"`Sampling.call()` method is incorrect. Error encountered:\n\n{ours}"
    )
    assert (layer.kind, layer.message) == (functional.kind, functional.message) == ("load", ours)
    again = pickle.loads(pickle.dumps(layer))  # from the worker to the parent
    assert (again.kind, again.message) == ("load", ours)
    assert VaelintError("input", "plain").message == "plain"


def test_calling_a_name_whose_line_failed_says_which_line_failed(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent("""
        import torch.nn as nn
        ENCODER = nn.Linear(2, undefined_width)

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.out = ENCODER(None)
    """)
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert "m.py:3 defines 'ENCODER' at module level" in e.value.message and "imports" not in e.value.message


def test_a_version_read_from_a_project_not_installed_says_to_install_it(tmp_path):
    # __version__ = importlib.metadata.version("textvae") in a project never pip-installed: the
    # advice was "make the value a plain constant" (altescy/textvae)
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent("""
        import importlib.metadata
        import torch.nn as nn
        VERSION = importlib.metadata.version("vaelint-test-project-never-installed")

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.version = VERSION.split(".")
    """)
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert "m.py:4 defines 'VERSION' at module level" in e.value.message, e.value.message
    assert "PackageNotFoundError" in e.value.message and "install the project into this environment (pip install -e .)" in e.value.message
    assert "plain constant" not in e.value.message


def test_a_class_that_needs_arguments_points_at_the_instance_the_file_builds(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        textwrap.dedent("""
        import torch.nn as nn

        class VAE(nn.Module):
            def __init__(self, encoder, decoder):
                super().__init__()
                self.encoder, self.decoder = encoder, decoder

        vae = VAE(nn.Linear(4, 4), nn.Linear(2, 4))
    """)
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert (
        f"The file builds one itself at line 9 (vae = VAE(nn.Linear(4, 4), nn.Linear(2, 4))): check that with {path}:vae."
        in e.value.message
    )


_STAR = """import torch
import torch.nn as nn
from mylayers import *


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Encoder(784, 8)
        self.dec = nn.Linear(4, 784)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec(z)), mu, logvar
"""


def test_a_name_a_failed_star_import_would_have_defined_is_explained_by_that_import(tmp_path, monkeypatch):
    # hsinyilin19/ResNetVAE ships without its modules.py: `from modules import *` fails and then
    # ResNet_VAE(...) said only "name 'ResNet_VAE' is not defined"
    (tmp_path / "m.py").write_text(_STAR)
    result = check(str(tmp_path / "m.py"), "VAE", ["8x784"])
    message = " ".join(result.error.message.split())
    assert "m.py:3 imports * from 'mylayers', which could not be imported" in message
    assert "'Encoder' is not defined, and would have come from it" in message and "add mylayers.py" in message
    # a training script: the same cause, through the setup line that built the model
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        _STAR + "\n\nmodel = VAE()\nfor x in torch.utils.data.DataLoader(torch.rand(32, 784), batch_size=8):\n"
        "    recon, mu, logvar = model(x)\n    ((recon - x) ** 2).sum().backward()\n"
    )
    result = check(str(tmp_path / "train.py"), "-", ["8x784"])
    message = " ".join(result.error.message.split())
    assert "train.py:3 imports * from 'mylayers'" in message and "'VAE' is not defined" not in message, message


def test_a_module_level_if_binding_a_needed_name_is_kept_without_its_calls():
    import ast

    from vaelint.source.statements import select_statements

    tree = ast.parse(
        textwrap.dedent("""
        import warnings
        if HAVE:
            from fancy import Scaler
        else:
            warnings.warn("fancy is missing")
            Scaler = None
        if HAVE:
            for i in range(3):
                Other = i
        class Data:
            scaler = Scaler
            other = Other
    """)
    )
    kept = select_statements(tree, {"Data"})
    text = ast.unparse(ast.Module(body=kept, type_ignores=[]))
    # the optional import's if/else binds Scaler: kept, its warnings.warn left out
    assert "Scaler = None" in text and "warnings.warn" not in text
    # the near miss: an if holding a loop is script code, never run to define a name
    assert "for i in range(3)" not in text
    # the tree itself is unchanged (the call left out of a copy)
    assert "warnings.warn" in ast.unparse(tree)


def test_a_constructor_that_takes_modules_points_at_a_factory_not_at_literals(tmp_path):
    # Ishan-Kumar2/Molecular_VAE_Pytorch: Molecule_VAE(encoder, decoder, device, latent_dim)
    path = tmp_path / "model.py"
    path.write_text(
        textwrap.dedent("""
        import torch.nn as nn

        class VAE(nn.Module):
            def __init__(self, encoder, decoder: nn.Module, latent_dim):
                super().__init__()
                self.encoder, self.decoder = encoder, decoder
    """)
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    said = e.value.message
    assert "the constructor needs encoder, decoder, latent_dim, which have no default" in said
    assert "encoder and decoder are modules no literal can give: name a function that builds the model" in said
    # the near miss: plain values only, the literal advice alone
    path.write_text(
        "import torch.nn as nn\n\nclass VAE(nn.Module):\n    def __init__(self, latent_dim, hidden):\n        super().__init__()\n"
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert "--init latent_dim=VALUE --init hidden=VALUE" in e.value.message and "modules" not in e.value.message


def test_a_constructor_that_reads_attributes_of_its_argument_is_told_a_dict_gives_them(tmp_path):
    # VAE(args) reading args.hidden, args.latent_dim (an argparse namespace): the advice gave an example
    # for a keyword the constructor has not got (helper-found: dome272/VQGAN-pytorch's VQGAN(args))
    path = tmp_path / "model.py"
    path.write_text(
        textwrap.dedent("""
        import torch.nn as nn

        class VAE(nn.Module):
            def __init__(self, args):
                super().__init__()
                self.enc = nn.Linear(784, args.hidden)
                self.mu = nn.Linear(args.hidden, args.latent_dim)
    """)
    )
    with pytest.raises(VaelintError) as e:
        load_program(f"{path}:VAE", LoadRequest(init={}))
    assert "--init \"args={'hidden': VALUE, 'latent_dim': VALUE}\"" in e.value.message, e.value.message
    from vaelint.source.literals import parse_init

    program = load_program(f"{path}:VAE", LoadRequest(init=parse_init(["args={'hidden': 16, 'latent_dim': 4}"])))
    assert program.model.mu.out_features == 4
