"""Keras 3 models, checked on the torch backend (README, "Keras 3 models").

With ``KERAS_BACKEND=torch`` a Keras model is an ``nn.Module``; this front end
is the plain one (a model class, factory or instance, and a loss) with what is
Keras's own: how the file's imports are read (:mod:`.loading`), the model's
facts (add_loss, seed generators, functional layers, lazily built weights:
:mod:`.model_facts`), and a forward and loss written in ``train_step``
(:mod:`.train_step`).
"""

from __future__ import annotations

import ast

from vaelint.frontends.base import LoadRequest, Program, TargetRef
from vaelint.frontends.keras import loading, model_facts
from vaelint.frontends.plain import PlainFrontend


class KerasFrontend(PlainFrontend):
    name = "keras"

    def detect(self, ref: TargetRef) -> bool:
        return super().detect(ref) and file_imports_keras(ref.path)

    def imports(self):
        return loading.KerasImports()

    def before_build(self) -> None:
        model_facts.reseed(0)  # Keras's initializers draw from its own generator: the same weights every check

    def on_build_error(self) -> None:
        loading.raise_tensorflow_use()  # a tf.* call, whatever Keras made of its error

    def load(self, ref: TargetRef, request: LoadRequest) -> Program:
        model_facts.start_target()
        program = super().load(ref, request)
        if model_facts.is_keras_model(program.model):
            program.loss = model_facts.prepare(program, program.loss, bool(request.loss), program.notes)
            model_facts.remember_seed_states(program.model)
        return program

    # ---- hooks
    def framework_of(self, program: Program) -> str:
        return "keras" if model_facts.is_keras_model(program.model) else "torch"

    def reseed(self, program: Program, seed: int) -> None:
        model_facts.reseed(seed)

    def before_capture(self, program: Program, inputs: tuple) -> None:
        if model_facts.is_keras_model(program.model):
            model_facts.build_weights(program.model, inputs)

    def device_policy(self, program: Program) -> str | None:
        if not model_facts.is_keras_model(program.model):
            return None
        return (
            "a Keras model: Keras puts every tensor it makes on its own device (CUDA when there "
            "is one, or KERAS_TORCH_DEVICE), so no device is fixed in the model's code"
        )

    def replayers(self, program: Program) -> tuple:
        return model_facts.functional_classes()

    def forward_fn(self, program: Program):
        # a Keras model's own call(inputs) names the inputs; Keras's forward(*args) does not
        return model_facts.user_call(program.model) or program.model.forward

    def raise_deferred_error(self, program: Program) -> None:
        loading.raise_tensorflow_use()  # a tf.* call in a Keras layer's call(): exit 2 naming it

    def captures_symbolically(self, program: Program) -> bool:
        # a Keras layer runs Python (argument conversion, seed generators) that fx
        # cannot trace: the attempt would only cost time
        return not model_facts.is_keras_model(program.model)


def file_imports_keras(path: str) -> bool:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            return loading.imports_keras(ast.parse(fh.read()))
    except (OSError, SyntaxError, ValueError):
        return False


def warm_up_parent(paths: list[str]) -> None:
    """Import Keras once in the parent when two or more targets need it (1.4 s a worker)."""
    keras_paths = [p for p in paths if p.endswith(".py") and file_imports_keras(p)]
    if len(keras_paths) >= 2:
        try:
            loading.use_torch_backend(keras_paths[0])
        except Exception:  # noqa: BLE001 - each worker reports its own import failure
            pass
