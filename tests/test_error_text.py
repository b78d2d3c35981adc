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
