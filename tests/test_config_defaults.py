"""A constructor's config object built from its own defaults: a dataclass every field of which has
a default, given as the parameter's annotation or as that of the constructor it is handed on to
(a wrapper's ``params``); an ``--init`` dict fills only the fields it names
(vaelint/frontends/configdefaults.py; helper C, ChemVAE ports asked for one key per rerun)."""

from helpers import check

MODEL = """
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class Config:
    d: int = 20
    latent: int = 4{REQUIRED}


class VAE(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.enc, self.dec = nn.Linear(cfg.d, 2 * cfg.latent), nn.Linear(cfg.latent, cfg.d)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar


class Wrapper(nn.Module):
    def __init__(self, params):
        super().__init__()
        self.vae = VAE(params)

    def forward(self, x):
        return self.vae(x)


def loss_function(recon, x, mu, logvar):
    return ((recon - x) ** 2).sum() / x.size(0) - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
"""


def _write(tmp_path, required=""):
    path = tmp_path / "model.py"
    path.write_text(MODEL.replace("{REQUIRED}", required))
    return str(path)


def test_a_config_dataclass_with_defaults_is_built_for_the_model_and_for_a_wrapper_that_hands_it_on(tmp_path):
    path = _write(tmp_path)
    for target in ("VAE", "Wrapper"):
        result = check(path, target, ["8x20"], loss=f"{path}:loss_function")
        assert result.error is None, (target, result.error.message)
        assert result.findings == []
        name = "cfg" if target == "VAE" else "params"
        assert any(n.startswith(f"{name} is built as Config() from its defaults") for n in result.notes), result.notes


def test_an_init_dict_fills_the_fields_it_names_and_the_defaults_the_rest(tmp_path):
    path = _write(tmp_path)
    result = check(path, "VAE", ["8x20"], loss=f"{path}:loss_function", init={"cfg": {"latent": 6}})
    assert result.error is None, result.error.message
    assert any("with latent from --init" in n for n in result.notes)
    assert any(row.name == "mu" and row.at_batch == (8, 6) for row in result.flow), [(r.name, r.at_batch) for r in result.flow]


def test_a_dataclass_with_a_field_without_default_is_still_asked_for(tmp_path):
    path = _write(tmp_path, required="\n    vocab: int")
    result = check(path, "Wrapper", ["8x20"], loss=f"{path}:loss_function")
    assert result.error is not None and "the constructor needs params, which have no default" in result.error.message
