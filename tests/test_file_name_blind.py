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
