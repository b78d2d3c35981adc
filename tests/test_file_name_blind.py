"""What vaelint finds does not depend on the name of the file it reads: a word in the path
('weight', 'beta', 'scale') is no name the code gives a factor (helper M: a VAE004 on a
reconstruction factor fired only for train_vae_weight.ipynb, not for train_vae.ipynb)."""

import os
import shutil

from helpers import check, found

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "buggy", "reconstruction_factor_keras_style.py")


def _codes(path):
    result = check(str(path), "VAE", ["32x784:float32:2"])
    assert result.error is None, result.error.message
    return {code for code, _line in found(result)}


def test_a_factor_on_the_reconstruction_is_found_whatever_the_file_is_called(tmp_path):
    plain = tmp_path / "train_vae.py"
    worded = tmp_path / "train_vae_weight_scale.py"
    shutil.copy(FIXTURE, plain)
    shutil.copy(FIXTURE, worded)
    assert _codes(plain) == _codes(worded) == {"VAE004"}


CONSTANT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "clean", "likelihood_constant_in_a_module_name.py")


def test_a_likelihood_constant_is_no_weight_in_a_file_or_folder_named_beta(tmp_path):
    # the reviewer's near miss: 'beta' in the file's or the folder's name, read through the 'set at
    # PATH' the message gives a module-level name, made the constant a weight (a false VAE004)
    (tmp_path / "Beta-VAE").mkdir()
    for path in (tmp_path / "beta_vae.py", tmp_path / "Beta-VAE" / "model.py", tmp_path / "plain.py"):
        shutil.copy(CONSTANT, path)
        result = check(str(path), "VAE", ["32x784"])
        assert result.error is None, result.error.message
        assert not found(result), [f.message for f in result.findings]
