"""A package whose name on PyPI is not its import name is said with the name pip installs
(``import hydra`` is hydra-core's: "Install hydra" sent users to another package; helper h33c,
Grzmro/dreamer-rssm and RasmussenLab/MOVE); one whose names agree is said as before."""

from vaelint.frontends.installadvice import install_advice, pip_hint


def test_hydra_is_said_as_hydra_core():
    assert install_advice("hydra", "ModuleNotFoundError: No module named 'hydra'") == "Install hydra (pip install hydra-core)"


def test_a_submodule_import_names_its_top_packages_pip_name():
    assert pip_hint("sklearn.cluster") == " (pip install scikit-learn)"


def test_a_package_named_alike_gets_no_pip_name():
    assert install_advice("gym", "ModuleNotFoundError: No module named 'gym'") == "Install gym"
    assert pip_hint("einops") == ""


def test_the_other_packages_the_code_imports_and_lacks_are_said_at_once(tmp_path, monkeypatch):
    """The run stops at the first package not installed that the code uses; the others its files import
    and this environment lacks are said with it, so they are installed at once, not one check at a time
    (helper h34e, khanhvu207/vqgan: fire, then attr, then lightning, einops, ...)."""
    import textwrap

    from helpers import check

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import nothere_cli
            import nothere_tensor_ops
            import torch
            import torch.nn as nn


            class VAE(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

                def forward(self, x):
                    mu, logvar = self.enc(x).chunk(2, -1)
                    return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


            def main(steps=3):
                model = VAE()
                for _ in range(steps):
                    x = torch.randn(8, 20)
                    recon, mu, logvar = model(x)
                    (((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).backward()


            if __name__ == "__main__":
                nothere_cli.Fire(main)
            """
        )
    )
    said = check(str(tmp_path / "train.py"), "-", []).error.message
    assert (
        "imports 'nothere_cli'" in said
        and "(the code also imports nothere_tensor_ops: not installed either; all at once: pip install nothere_cli nothere_tensor_ops)"
        in said
    ), said


def test_the_pip_names_of_packages_vae_repositories_import():
    # taming.models of a latent-diffusion VQGAN said as "Install taming" (helper-found): pip's name is another
    assert pip_hint("taming.models.vqgan") == " (pip install taming-transformers)"
    assert pip_hint("biom") == " (pip install biom-format)" and pip_hint("skbio") == " (pip install scikit-bio)"
    # a recommender VAE's config and sampling (helper-found): "pip install ruamel imblearn" named no real distribution
    assert pip_hint("ruamel.yaml") == " (pip install ruamel.yaml)" and pip_hint("imblearn") == " (pip install imbalanced-learn)"


SETUP_USES_A_MISSING_CLASS = """
import nothere_metrics
import torch
import torch.nn as nn
from taming.modules.losses.vqperceptual import NLayerDiscriminator
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


model = VAE()
disc = NLayerDiscriminator(input_nc=20)
opt = torch.optim.Adam(model.parameters())
loader = DataLoader(TensorDataset(torch.randn(64, 20)), batch_size=8)
for (x,) in loader:
    recon, mu, logvar = model(x)
    loss = ((recon - x) ** 2).sum() - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) - disc(recon).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
"""


def test_a_step_using_what_a_missing_package_builds_says_every_package_to_install(tmp_path, monkeypatch):
    """A VAE-GAN's discriminator built from a package that is not here (taming's NLayerDiscriminator):
    the step cannot run without it, and the message named that package only; the others the code imports
    and lacks came one check at a time (helper-found, a latent-diffusion trainer: diffusers, then taming,
    then lpips ...). Now all of them, with one pip command under their PyPI names."""
    from helpers import check

    (tmp_path / "train.py").write_text(SETUP_USES_A_MISSING_CLASS)
    monkeypatch.chdir(tmp_path)  # no folder of the working one holds a taming/ of its own
    said = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "No module named 'taming'" in said and "Install taming (pip install taming-transformers)" in said, said
    assert "the code also imports nothere_metrics: not installed either" in said, said
    assert "all at once: pip install taming-transformers nothere_metrics" in said, said


def test_a_folder_of_the_projects_own_is_no_package_to_install(tmp_path, monkeypatch):
    """``lvae/`` of the repository, shadowed by a model file of that name, failed to import beside a
    package that is not installed: "pip install boilr lvae" (helper-found). The project's own is left out."""
    from helpers import check

    (tmp_path / "ownpkg_x").mkdir()
    (tmp_path / "train.py").write_text(
        SETUP_USES_A_MISSING_CLASS.replace("import nothere_metrics", "import nothere_metrics\nimport ownpkg_x.lib")
    )
    monkeypatch.chdir(tmp_path)
    said = check(str(tmp_path / "train.py"), "-", []).error.message
    assert "pip install taming-transformers nothere_metrics" in said and "ownpkg_x" not in said.split("pip install")[-1], said
