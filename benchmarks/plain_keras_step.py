"""Plain Keras 3 on the torch backend, for bench_keras.py: build the seed's LSTM
VAE, then one forward, loss and backward at batch 4 (what a check must at least do)."""

import os
import sys

os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "keras"))

import torch  # noqa: E402
from seed001_lstm_vae import build_vae, vae_loss  # noqa: E402

model = build_vae()
x = torch.rand(4, 20, 5)
loss = vae_loss(x, *model(x))
loss.backward()
os._exit(0)  # as vaelint ends: no interpreter teardown on either side
