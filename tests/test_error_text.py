"""An error's message keeps a tensor's repr short (vaelint/errors.py ``elide_tensors``): a script that
formats its batch into a file name (``f"../data/{batch_idx}.npy"`` with --input's tensor standing in
for the index, bhpfelix/Variational-Autoencoder-PyTorch) printed kilobytes of numbers."""

import torch

from vaelint.errors import VaelintError, elide_tensors


def test_a_long_tensor_repr_in_an_error_is_cut_and_a_short_one_kept():
    batch = torch.arange(4000.0).reshape(10, 400)
    raised = f"OSError: [Errno 36] File name too long: '../data/train/{batch}.npy'"
    error = VaelintError("load", f"running it stopped at vae.py:22: {raised}")
    assert error.message == "running it stopped at vae.py:22: OSError: [Errno 36] File name too long: '../data/train/tensor(...).npy'"
    assert str(error) == error.message
    assert elide_tensors("x is tensor(3.) and y is tensor([1, 2])") == "x is tensor(3.) and y is tensor([1, 2])"


def test_a_repr_that_never_closes_is_cut_to_its_start():
    assert elide_tensors("a tensor([[1, 2" + ", 3" * 50) == "a tensor(...)"


def test_an_attribute_removed_from_a_library_is_said_with_its_replacement(tmp_path, monkeypatch):
    # older research code stops on np.product (NumPy 2.0), time.clock (Python 3.8): the message named
    # the AttributeError and advised --init / --script-args, which cannot help (helpers A2, C2)
    import numpy as np

    from vaelint.errors import error_text, removed_api

    try:
        np.product  # noqa: B018 - the attribute read is what raises
    except AttributeError as e:
        assert error_text(e).endswith("(np.product was removed in NumPy 2.0: write np.prod, or install numpy<2)")
    assert removed_api("module 'time' has no attribute 'clock'") == "time.clock was removed in Python 3.8: write time.perf_counter"
    assert "collections.abc" in removed_api("module 'collections' has no attribute 'Iterable'")
    assert removed_api("module 'numpy' has no attribute 'not_a_thing'") is None
    assert removed_api("'Tensor' object has no attribute 'clock'") is None
    from helpers import check

    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(
        "import numpy as np\nimport torch.nn as nn\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self, shape=(1, 28, 28)):\n"
        "        super().__init__()\n"
        "        self.enc = nn.Linear(int(np.product(shape)), 8)\n"
    )
    result = check(str(tmp_path / "vae.py"), "VAE", ["4x1x28x28"])
    assert result.error is not None and "write np.prod" in result.error.message, result.error
    assert "--init values" not in result.error.message, result.error.message
