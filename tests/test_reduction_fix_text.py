"""VAE002's fix text says what to change term by term: a reconstruction whose mean its own size undoes
(100 * F.mse_loss(y, x) over 50 steps x 2 channels, Keras' original_dim * binary_crossentropy) is a
per-sample sum already, so only the KL's change is said (helper-found: yamaneco28/Sketch-RNN's
TransformerVAE, told to 'average over its 100 samples of z', which it does not have)."""

from vaelint.facts.reductionfix import reductions_fix


def test_a_mean_its_size_undoes_asks_nothing_of_the_reconstruction():
    said = reductions_fix((-1, 100.0, 0.01), (-1, 8.0, 1.0), "mean over B, 8", 1, "x.size(0)", None)
    assert "sum the KL over the latent dims" in said, said
    assert "reconstruction" not in said.split(":", 1)[1] and "samples of z" not in said, said


def test_a_plain_mean_reconstruction_is_still_told_to_sum():
    said = reductions_fix((-1, 100.0, 1.0), (-1, 1.0, 1.0), "sum over B, 8", 1, "x.size(0)", None)
    assert "sum the reconstruction over each sample's values" in said, said
    said = reductions_fix((-1, 1.0, 0.25), (-1, 1.0, 1.0), "sum over B, 8", 1, "x.size(0)", None)
    assert "average the reconstruction over its 4 samples of z" in said, said
