"""A file written for a deep-learning framework other than PyTorch (MXNet, JAX, PaddlePaddle...)
is never passed over as "no VAE targets" (exit 0), nor told to install that framework: named on
the command line it is exit 2, saying which framework and that nothing in it was checked
(helper-found: an MXNet Gluon VAE-GAN's model file exited 0, its training script asked for
mxnet). A PyTorch file that imports one of them beside torch is checked as before."""

from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

GLUON_MODEL = """
from mxnet import gluon, nd
from mxnet.gluon import nn


class VAE(gluon.Block):
    def __init__(self, z=2):
        super().__init__()
        self.enc, self.dec = nn.Dense(2 * z), nn.Dense(784, activation="sigmoid")

    def forward(self, x):
        h = self.enc(x)
        return self.dec(h[:, :2] + nd.exp(0.5 * h[:, 2:]) * nd.random_normal(shape=(x.shape[0], 2)))
"""

GLUON_TRAINING = (
    GLUON_MODEL
    + """

from mxnet import autograd

net = VAE()
net.initialize()
trainer = gluon.Trainer(net.collect_params(), "adam")
with autograd.record():
    loss = (net(nd.random.uniform(shape=(32, 784))) ** 2).sum()
loss.backward()
trainer.step(32)
"""
)

FLAX_MODEL = """
import flax.linen as nn
import jax


class VAE(nn.Module):
    latent: int = 4

    @nn.compact
    def __call__(self, x, key):
        h = nn.Dense(2 * self.latent)(x)
        mu, logvar = h[:, : self.latent], h[:, self.latent :]
        return mu + jax.numpy.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
"""


@pytest.mark.parametrize(
    "source, said",
    [
        (GLUON_MODEL, "is written for MXNet (import mxnet at line 2)"),
        (GLUON_TRAINING, "is written for MXNet (import mxnet at line 2)"),
        (FLAX_MODEL, "is written for Flax (JAX) (import flax at line 2)"),
    ],
    ids=["gluon-model", "gluon-training", "flax-model"],
)
def test_a_file_for_another_framework_is_exit_2_saying_which(tmp_path, monkeypatch, source, said):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(textwrap.dedent(source))
    r = runner.invoke(app, ["check", "vae.py", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert f"vae.py {said}" in text and "nothing in it was checked" in text, text
    assert "no VAE targets" not in text and "Install" not in text, text
    monkeypatch.setenv("PRE_COMMIT", "1")  # among pre-commit's files: said, not failed
    r = runner.invoke(app, ["check", "vae.py", "--no-cache"])
    assert r.exit_code == 0 and said in " ".join(r.output.split()), r.output


def test_a_pytorch_file_that_also_imports_jax_is_checked_as_pytorch(tmp_path, monkeypatch):
    # the near miss: torch is imported, so the file is PyTorch code (jax only for a utility)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vae.py").write_text(
        textwrap.dedent("""
        import jax
        import torch
        import torch.nn as nn

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec = nn.Linear(20, 8), nn.Linear(4, 20)

            def forward(self, x):
                mu, logvar = self.enc(x).chunk(2, dim=1)
                return self.dec(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)), mu, logvar
    """)
    )
    r = runner.invoke(app, ["check", "vae.py", "--no-cache"])
    assert "written for" not in r.output, r.output
    assert r.exit_code == 2 and "name the model as PATH.py:NAME" in " ".join(r.output.split()), r.output


TF1_MODEL = """
import tensorflow as tf


class Autoencoder:
    def __init__(self, n=784, k=8):
        self.x = tf.placeholder(tf.float32, (None, n))
        h = tf.layers.dense(self.x, 2 * k)
        mu, log_var = h[:, :k], h[:, k:]
        z = mu + tf.exp(0.5 * log_var) * tf.random_normal(tf.shape(mu))
        out = tf.layers.dense(z, n, activation=tf.nn.sigmoid)
        self.loss = tf.reduce_mean(tf.reduce_sum(tf.square(self.x - out), 1))

    def train(self, data, steps=100):
        step = tf.train.AdamOptimizer(1e-3).minimize(self.loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                sess.run(step, feed_dict={self.x: data[:32]})
"""


@pytest.mark.parametrize(
    "driver",
    [
        "import numpy as np\nfrom nets import Autoencoder\n\nAutoencoder().train(np.zeros((64, 784)))\n",
        "import numpy as np\nfrom nets import *\n\nnet = Autoencoder()\nwith tf.Session() as s:\n    pass\n",
    ],
    ids=["thin-driver", "star-import-session"],
)
def test_a_driver_of_the_projects_tensorflow_training_is_exit_2_not_no_targets(tmp_path, monkeypatch, driver):
    # before: "no VAE targets", exit 0: the script never names tensorflow, its model module does
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nets.py").write_text(textwrap.dedent(TF1_MODEL))
    (tmp_path / "run.py").write_text(driver)
    r = runner.invoke(app, ["check", "run.py", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert "run.py trains through nets.py, which trains with TensorFlow (Session at line 16)" in text, text
    assert "no VAE targets" not in text


def test_a_driver_of_a_module_that_only_reads_data_with_tensorflow_is_not_called_tensorflow(tmp_path, monkeypatch):
    # the near miss: the project module uses tf.data for its pipeline and trains nothing
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.py").write_text(
        "import tensorflow as tf\n\n\ndef batches(a):\n    return tf.data.Dataset.from_tensor_slices(a)\n"
    )
    (tmp_path / "run.py").write_text("import numpy as np\nfrom pipeline import batches\n\nprint(batches(np.zeros(3)))\n")
    r = runner.invoke(app, ["check", "run.py", "--no-cache"])
    assert "trains through" not in r.output and "TensorFlow" not in r.output, r.output


KERAS_TF_MODEL = """
import tensorflow as tf
from tensorflow import keras


class VAE(keras.Model):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = keras.layers.Dense(16), keras.layers.Dense(784)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            mu, logvar = tf.split(self.enc(x), 2, axis=1)
            z = mu + tf.exp(0.5 * logvar) * tf.random.normal(tf.shape(mu))
            loss = tf.reduce_mean(tf.square(self.dec(z) - x))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_weights), self.trainable_weights))
        return {"loss": loss}
"""


def test_a_driver_that_imports_tensorflow_and_fits_the_projects_model_is_said_not_install(tmp_path, monkeypatch):
    # `import tensorflow as tf; from nets import Autoencoder; ... model.fit(...)` with TensorFlow not installed:
    # before, "Install the package that provides 'tensorflow'" (which would not help) (helper E, brenerrr/JointVAE)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nets.py").write_text(KERAS_TF_MODEL)
    (tmp_path / "run.py").write_text(
        "import numpy as np\nimport tensorflow as tf\nfrom nets import VAE\n\nmodel = VAE()\nmodel.compile(optimizer='adam')\n"
        "model.fit(tf.data.Dataset.from_tensor_slices(np.zeros((64, 784), 'float32')).batch(8), epochs=1)\n"
    )
    r = runner.invoke(app, ["check", "run.py", "--no-cache"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "nothing in it was checked" in text, r.output
    assert "Install" not in text and "install" not in text.replace("installed", ""), text


def test_an_inline_tf_keras_vae_is_said_as_tensorflow_code_not_a_package_to_install(tmp_path, monkeypatch):
    # a course VAE written with tf.keras in one script, model and fit inline (helper I): not "install tensorflow"
    (tmp_path / "vae_tf.py").write_text(
        "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n\n"
        "inputs = keras.Input(shape=(20,))\nz_mean = layers.Dense(4)(inputs)\n"
        "vae = keras.Model(inputs, layers.Dense(20)(z_mean))\nvae.compile(optimizer='adam')\n"
        "vae.fit(np.random.rand(64, 20), epochs=1)\n"
    )
    monkeypatch.chdir(tmp_path)
    from typer.testing import CliRunner

    from vaelint.cli import app

    r = CliRunner().invoke(app, ["check", "vae_tf.py", "--no-cache"])
    assert r.exit_code == 2, r.output
    assert "is TensorFlow code (it builds a tf.keras model (keras at line 3))" in r.output, r.output
    assert "Install the package" not in r.output


def test_a_hips_autograd_vae_is_said_as_another_framework(tmp_path, monkeypatch):
    # import autograd.numpy as np; from autograd import grad: not PyTorch (helper F), never "no VAE targets"
    (tmp_path / "vae.py").write_text(
        "import autograd.numpy as np\nfrom autograd import grad\n\n\ndef elbo(params, x):\n    return np.sum(x)\n\n\n"
        "g = grad(elbo)\nfor _ in range(3):\n    g(np.ones(3), np.ones(3))\n"
    )
    monkeypatch.chdir(tmp_path)
    from typer.testing import CliRunner

    from vaelint.cli import app

    r = CliRunner().invoke(app, ["check", "vae.py", "--no-cache"])
    assert r.exit_code == 2, r.output
    assert "HIPS autograd (NumPy) (import autograd at line 1)" in r.output, r.output
