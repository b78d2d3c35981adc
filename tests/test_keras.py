"""Keras 3 models checked on the torch backend (fixtures/keras holds the seeds' models)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import FIXTURES, ROOT
from fixture_cases import all_cases, result_of
from helpers import check

KERAS = os.path.join(FIXTURES, "keras")


def _write(tmp_path, body, name="kmodel.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_every_keras_fixture_points_at_the_users_lines_never_at_keras():
    for case in all_cases("keras"):
        result = result_of(case)
        assert result.error is None, (case.id, result.error.message)
        assert result.capture_method == "recording"
        for row in result.flow:
            # every loss row has a line, even one Keras's per-sample average (run by vaelint) computed
            assert row.loc is not None or row.stage != "loss", (case.id, row.name)
            if row.loc is not None:
                assert row.loc.path == os.path.realpath(case.path), (case.id, row.stage, row.name, row.loc)
        for f in result.findings:
            assert f.loc.path == os.path.realpath(case.path), (case.id, f.code)


def test_the_lstm_vae_solves_its_shapes_and_finds_every_role():
    case = next(c for c in all_cases("keras") if c.path.endswith("seed001_lstm_vae.py"))
    result = result_of(case)
    flow = {(r.stage, r.name): r.shape for r in result.flow}
    assert flow[("encoder", "mu")] == ["B", "Z"] and flow[("encoder", "logvar")] == ["B", "Z"]
    assert flow[("reparam", "eps")] == ["B", "Z"] and flow[("decoder", "recon")] == ["B", "20", "5"]
    assert result.beta_effective == "1"
    assert result.findings == []


def test_keras_own_compute_loss_is_never_the_users_loss():
    # keras.Model defines compute_loss; the autoencoder has no loss of its own
    case = next(c for c in all_cases("keras") if c.path.endswith("seed001_lstm_autoencoder.py"))
    result = result_of(case)
    assert result.error is None and result.loss_name is None
    assert any("no loss found" in n for n in result.notes)


def test_a_loss_added_with_add_loss_is_read():
    case = next(c for c in all_cases("keras") if c.path.endswith("add_loss_subclass.py"))
    result = result_of(case)
    assert "add_loss" in result.loss_name
    (f,) = result.findings
    assert f.code == "VAE004" and "beta_eff = 0.001" in f.message


def test_a_train_step_gives_the_forward_and_the_loss():
    case = next(c for c in all_cases("keras") if c.path.endswith("train_step_vae.py"))
    result = result_of(case)
    assert any("forward is taken from train_step" in n for n in result.notes)
    assert result.loss_name == "VAE.train_step's loss (lines 52-57)"
    assert ("reparam", "z") in {(r.stage, r.name) for r in result.flow}
    assert result.beta_effective == "1" and result.findings == [] and not result.skipped[:-1]


def test_a_train_step_is_what_trains_even_beside_an_inference_call(tmp_path):
    # keras.io's VAE example defines call() for inference (the reconstruction alone) beside the
    # train_step that trains: the check follows train_step, and says why
    source = open(os.path.join(KERAS, "train_step_vae.py"), encoding="utf-8").read()
    source = source.replace(
        "    def train_step(self, data):\n",
        "    def call(self, x):\n        z_mean, z_log_var, z = self.encoder(x)\n        return self.decoder(z)\n\n"
        "    def train_step(self, data):\n",
    )
    path = tmp_path / "with_call.py"
    path.write_text(source)
    result = check(str(path), "build_vae", ["4x28x28x1"])
    assert result.error is None, result.error.message
    assert any(n.startswith("VAE.call() is not what trains: its forward is taken from train_step") for n in result.notes)
    assert result.loss_name == "VAE.train_step's loss (lines 56-61)"
    assert result.beta_effective == "1" and result.findings == []


def test_a_train_step_loss_written_with_tensorflow_is_left_to_loss(tmp_path):
    source = open(os.path.join(KERAS, "train_step_vae.py"), encoding="utf-8").read()
    path = tmp_path / "tf_loss.py"
    path.write_text(source.replace("ops.mean(ops.sum(kl_loss, axis=1))", "tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))"))
    result = check(str(path), "build_vae", ["4x28x28x1"])
    assert result.error is None, result.error.message
    assert result.loss_name is None
    assert any("the loss lives in VAE.train_step" in n and "--loss" in n for n in result.notes)
    assert any("calls TensorFlow (line 56: tf.reduce_mean), which cannot run on the torch backend" in n for n in result.notes)
    assert ("reparam", "z") in {(r.stage, r.name) for r in result.flow}
    assert not any(code == "VAE001" for code, _why in result.skipped)  # the noise rule ran


def test_a_denoising_train_step_unpacks_its_inputs_and_its_loss_is_checked(tmp_path):
    source = open(os.path.join(KERAS, "train_step_vae.py"), encoding="utf-8").read()
    source = source.replace("    def train_step(self, data):\n", "    def train_step(self, data):\n        noisy, clean = data\n")
    source = source.replace("self.encoder(data)", "self.encoder(noisy)")
    source = source.replace("binary_crossentropy(data, reconstruction)", "binary_crossentropy(clean, reconstruction)")
    source = source.replace("kl_loss = ops.mean(ops.sum(kl_loss, axis=1))", "kl_loss = ops.sum(kl_loss)")
    path = tmp_path / "denoise.py"
    path.write_text(source)
    result = check(str(path), "build_vae", ["4x28x28x1", "4x28x28x1"])
    assert result.error is None, result.error.message
    assert [r.name for r in result.flow if r.stage == "input"] == ["noisy", "clean"]
    # the KL summed over the batch beside a reconstruction averaged over it
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE002", 57)]  # kl_loss = ops.sum(kl_loss)


def test_a_train_step_model_takes_a_loss_given_with_loss(tmp_path):
    loss = _write(
        tmp_path,
        """
        from keras import ops

        def vae_loss(data, reconstruction, z_mean, z_log_var):
            rec = ops.sum(ops.square(data - reconstruction), axis=(1, 2, 3))
            kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
            return ops.mean(rec + 0.1 * kl)
        """,
        "kloss.py",
    )
    result = check(f"{KERAS}/train_step_vae.py", "build_vae", ["4x28x28x1"], loss=f"{loss}:vae_loss")
    assert result.error is None, result.error.message
    assert [(f.code, f.loc.line) for f in result.findings] == [("VAE004", 7)]


def test_tensorflow_calls_exit_2_naming_the_line_and_the_keras_call(tmp_path):
    path = _write(
        tmp_path,
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras.layers import Dense, Input, Layer

        class Sampling(Layer):
            def call(self, inputs):
                z_mean, z_log_var = inputs
                epsilon = tf.random.normal(shape=(tf.shape(z_mean)[0], 4))
                return z_mean + tf.exp(0.5 * z_log_var) * epsilon

        def build_vae():
            x = Input(shape=(10,))
            z_mean, z_log_var = Dense(4)(x), Dense(4)(x)
            z = Sampling()([z_mean, z_log_var])
            return keras.Model(x, [Dense(10)(z), z_mean, z_log_var])
        """,
    )
    result = check(path, "build_vae", ["4x10"])
    assert result.error is not None and result.error.kind == "load"  # exit 2
    message = result.error.message
    assert "kmodel.py:9" in message and "tf.shape" in message and "keras.ops.shape" in message


def test_a_tensorflow_keras_import_reads_as_keras_3(tmp_path):
    path = _write(
        tmp_path,
        """
        from tensorflow import keras
        from tensorflow.keras import layers

        class Sampling(layers.Layer):
            def call(self, inputs):
                z_mean, z_log_var = inputs
                eps = keras.random.normal(shape=keras.ops.shape(z_mean))
                return z_mean + keras.ops.exp(0.5 * z_log_var) * eps

        def build_vae():
            x = keras.Input(shape=(10,))
            h = layers.Dense(8, activation="relu")(x)
            z_mean, z_log_var = layers.Dense(2)(h), layers.Dense(2)(h)
            z = Sampling()([z_mean, z_log_var])
            return keras.Model(x, [layers.Dense(10)(z), z_mean, z_log_var])
        """,
    )
    result = check(path, "build_vae", ["4x10"])
    assert result.error is None, result.error.message
    assert ("reparam", "z") in {(r.stage, r.name) for r in result.flow}


def test_a_sequential_model_is_a_target(tmp_path):
    path = _write(
        tmp_path,
        """
        import keras
        from keras import layers

        def build():
            return keras.Sequential([
                keras.Input(shape=(12,)),
                layers.Dense(8, activation="relu"),
                layers.Dense(12),
            ])
        """,
    )
    result = check(path, "build", ["4x12"])
    assert result.error is None, result.error.message
    rows = {(r.stage, r.name): r for r in result.flow}
    assert rows[("input", "input_0")].shape == ["B", "12"]


def test_another_keras_backend_already_loaded_is_a_usage_error(monkeypatch, tmp_path):
    import types

    from vaelint.errors import VaelintError
    from vaelint.frontends.keras.loading import use_torch_backend

    fake = types.SimpleNamespace(backend=types.SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(VaelintError, match="'jax' backend"):
        use_torch_backend(str(tmp_path / "m.py"))


def test_the_readme_keras_example_runs_from_the_command_line_and_sets_the_backend_itself():
    import re
    import shlex

    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme[readme.index("### Keras 3 models") :]
    command = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    args = shlex.split(command)
    assert args[:2] == ["vaelint", "check"]
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", *args[1:], "--format", "json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1, out.stderr
    (result,) = json.loads(out.stdout)["results"]
    # the README's text says what it reports
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 51)]
    assert "reports `VAE002` at line 51" in section and "B*D = 160" in result["findings"][0]["message"]


def test_a_layers_own_seed_generator_and_the_doubled_batch_draw_the_same_noise(tmp_path):
    # with 12 features the reconstruction moves with the noise: the doubled batch
    # must replay the first run's draws (and the layer's SeedGenerator restart),
    # or the KL/reconstruction ratio would not show the batch-summed KL
    path = _write(
        tmp_path,
        """
        import keras
        from keras import layers, ops

        class Sampling(layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.seed_generator = keras.random.SeedGenerator(1337)

            def call(self, inputs):
                z_mean, z_log_var = inputs
                shape = (ops.shape(z_mean)[0], ops.shape(z_mean)[1])
                epsilon = keras.random.normal(shape=shape, seed=self.seed_generator)
                return z_mean + ops.exp(0.5 * z_log_var) * epsilon

        def build_vae():
            x = keras.Input(shape=(12,))
            h = layers.Dense(8, activation="relu")(x)
            z_mean, z_log_var = layers.Dense(3)(h), layers.Dense(3)(h)
            z = Sampling()([z_mean, z_log_var])
            return keras.Model(x, [layers.Dense(12)(z), z_mean, z_log_var])

        def vae_loss(x, recon, z_mean, z_log_var):
            rec = ops.mean(ops.sum(ops.square(x - recon), axis=1))
            kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            return rec + kl
        """,
    )
    first = check(path, "build_vae", ["8x12"])
    assert [(f.code, f.loc.line, f.confirmed) for f in first.findings] == [("VAE002", 25, True)]
    again = check(path, "build_vae", ["8x12"])
    assert [c.detail for c in again.checks] == [c.detail for c in first.checks]  # the same weights and noise


def test_a_model_the_script_builds_is_a_target_and_its_layers_keep_their_lines(tmp_path):
    path = _write(
        tmp_path,
        """
        import keras
        from keras import layers, ops

        class Sampling(layers.Layer):
            def call(self, inputs):
                z_mean, z_log_var = inputs
                return z_mean + ops.exp(0.5 * z_log_var) * keras.random.normal(shape=ops.shape(z_mean))

        inputs = keras.Input(shape=(12,))
        h = layers.Dense(8, activation="relu")(inputs)
        z_mean = layers.Dense(2)(h)
        z_log_var = layers.Dense(2)(h)
        encoder = keras.Model(inputs, [z_mean, z_log_var, Sampling()([z_mean, z_log_var])])
        latent = keras.Input(shape=(2,))
        decoder = keras.Model(latent, layers.Dense(12)(latent))

        class VAE(keras.Model):
            def __init__(self, encoder, decoder):
                super().__init__()
                self.encoder, self.decoder = encoder, decoder

            def call(self, x):
                z_mean, z_log_var, z = self.encoder(x)
                return self.decoder(z), z_mean, z_log_var

        vae = VAE(encoder, decoder)
        vae.fit(load_the_data(), epochs=30)  # script code: never run
        """,
    )
    result = check(path, "vae", ["4x12"])
    assert result.error is None, result.error.message
    rows = {(r.stage, r.name): r.loc.line for r in result.flow}
    # inside the functional encoder, each head is placed at the line that built its layer,
    # not at the line of call() that ran the whole encoder
    assert rows[("encoder", "mu")] == 12 and rows[("encoder", "logvar")] == 13
    bad = check(path, "vae", ["4x12"], init={"latent_dim": 4})
    assert bad.error is not None and bad.error.kind == "input" and "--init does not apply" in bad.error.message


def test_a_keras_file_without_keras_installed_is_a_usage_error(monkeypatch, tmp_path):
    # importing a name set to None in sys.modules raises ImportError, as a missing package does
    for name in [m for m in sys.modules if m == "keras" or m.startswith("keras.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "keras", None)
    path = _write(
        tmp_path,
        """
        import keras

        def build():
            return keras.Sequential([keras.layers.Dense(4)])
        """,
    )
    result = check(path, "build", ["4x4"])
    assert result.error is not None and result.error.kind == "load"
    assert "'keras'" in result.error.message and "Install the package" in result.error.message


def test_a_script_that_fits_a_keras_model_is_checked_never_passed_over(tmp_path):
    # a Keras training script (vae.fit) beside the file that builds the model: training code,
    # run on the torch backend; this Keras 2 style model (a loss closing over the encoder's
    # tensors) does not build on Keras 3, and the check says so, exit 2, never "no VAE targets"
    (tmp_path / "model.py").write_text(
        textwrap.dedent("""
        from keras.layers import Input, Dense, Lambda
        from keras.models import Model
        from keras import backend as K


        def build_vae(latent=8):
            x = Input(shape=(784,))
            h = Dense(64, activation="relu")(x)
            mu, lv = Dense(latent)(h), Dense(latent)(h)
            z = Lambda(lambda a: a[0] + K.exp(0.5 * a[1]) * K.random_normal(K.shape(a[0])), output_shape=(latent,))([mu, lv])
            vae = Model(x, Dense(784, activation="sigmoid")(z))

            def loss(y, p):
                return K.sum(K.binary_crossentropy(y, p), -1) - 0.5 * K.sum(1 + lv - K.square(mu) - K.exp(lv), -1)

            vae.compile(optimizer="adam", loss=loss)
            return vae
    """)
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent("""
        import numpy as np
        from model import build_vae

        x_train = np.random.rand(64, 784).astype("float32")
        build_vae().fit(x_train, x_train, epochs=1, batch_size=16)
    """)
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-m", "vaelint", "check", "train.py", "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "no VAE targets" not in out.stdout + out.stderr
    assert "train.py   could not be analysed (load)" in out.stdout
    assert "Unable to automatically build the model" in out.stdout
    assert "tensorflow" not in out.stdout  # Keras ran on the torch backend
