"""Keras training code is never passed over as "no VAE targets" (exit 0): a Keras 2 script
(fit_generator, gone from Keras 3) is said to train on TensorFlow, and a thin entry script whose
module beside it trains with Keras is training code, checked or said why not (exit 2)."""

from __future__ import annotations

import textwrap

from typer.testing import CliRunner

from vaelint.cli import app

runner = CliRunner()

KERAS2 = """
from keras.layers import Dense, Input
from keras.models import Model
from keras.preprocessing.image import ImageDataGenerator

x = Input((784,))
model = Model(x, Dense(784, activation="sigmoid")(Dense(16)(x)))
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit_generator(ImageDataGenerator().flow_from_directory("data"), steps_per_epoch=100, epochs=5)
"""

VAELIB = """
import keras
import numpy as np
from keras import layers


def main():
    x = keras.Input((64,))
    model = keras.Model(x, layers.Dense(64, activation="sigmoid")(layers.Dense(8)(x)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    data = np.random.rand(256, 64).astype("float32")
    model.fit(data, data, batch_size=32, epochs=1)
"""


def test_a_keras_2_script_is_said_to_train_on_tensorflow(tmp_path, monkeypatch):
    # fit_generator with a KL added in a layer: exit 0 "no VAE targets" (helper-found:
    # Knight13/beta-VAE-disentanglement)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "training_script.py").write_text(KERAS2)
    r = runner.invoke(app, ["check", "training_script.py", "--no-cache"])
    assert r.exit_code == 2, r.output
    assert "training_script.py trains with TensorFlow (Keras 2's fit_generator at line 9)" in " ".join(r.output.split())


def test_a_thin_entry_script_of_a_keras_module_is_training_code(tmp_path, monkeypatch):
    # `from vaelib import main; main()` with the Keras training in vaelib.py beside it: exit 0 "no VAE
    # targets" (helper-found: FaSalih/cvae's entry script)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vaelib.py").write_text(textwrap.dedent(VAELIB))
    (tmp_path / "run_train.py").write_text("from vaelib import main\n\nif __name__ == '__main__':\n    main()\n")
    r = runner.invoke(app, ["check", "run_train.py", "--no-cache"])
    assert "no VAE targets" not in r.output and r.exit_code != 0, r.output


def test_a_tensorflow_notebook_is_said_to_train_on_tensorflow(tmp_path, monkeypatch):
    # a TensorFlow 1 notebook: "name the model as PATH.py:NAME (e.g. train.ipynb:VAE)", for a notebook
    # with no PyTorch model in it (helper-found: passing2961/text-VAE); its .py twin said TensorFlow
    import json

    cells = [
        "import tensorflow as tf\nimport numpy as np",
        "x = tf.placeholder(tf.float32, [None, 784])\nh = tf.layers.dense(x, 16)\nloss = tf.reduce_mean(tf.square(h))",
        "train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)\nwith tf.Session() as sess:\n    sess.run(train_op)",
    ]
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None} for c in cells],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "train.ipynb").write_text(json.dumps(notebook))
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "train.ipynb", "--no-cache"])
    assert r.exit_code == 2, r.output
    assert "train.ipynb trains with TensorFlow (Session at train.ipynb:cell 3:2)" in " ".join(r.output.split()), r.output
