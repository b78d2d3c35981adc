"""A Keras model whose forward and loss live in ``train_step`` (the keras.io VAE example).

vaelint never runs ``train_step`` (it takes gradients with the backend's own
machinery); it reads it: the forward is made of its statements that call the
model's sub-models, the loss of the ``keras.ops`` lines after them up to the
total the gradient is taken of. Both are compiled from the user's own
statements, so every node keeps the user's line.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from vaelint.frontends.keras.model_facts import is_keras_model, user_defined
from vaelint.source.files import compile_user_code


def train_step_forward(model):
    """For a model whose forward is written in ``train_step`` (the keras.io VAE
    example; its ``call``, when it has one, is for inference and returns only the
    reconstruction): a forward made of train_step's statements that call the
    model's sub-models, returning what they assign. None when there is no such
    train_step (one that calls ``self(data)`` trains ``call`` itself)."""
    cls = type(model)
    if not user_defined(cls, "train_step"):
        return None
    fn = next(k.__dict__["train_step"] for k in cls.__mro__ if "train_step" in k.__dict__)
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    func = ast.parse(source).body[0]
    if not isinstance(func, ast.FunctionDef) or len(func.args.args) < 2:
        return None
    params, body_in = _data_params(func)
    flat: list[ast.stmt] = []  # the body's statements, `with` blocks opened
    _flatten(body_in, flat)

    def calls_submodel(value) -> bool:
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id == "self"
            and is_keras_model(getattr(model, value.func.attr, None))
        )

    statements, assigned, known = _forward_statements(flat, params, calls_submodel)
    if not statements:
        return None
    forward_fn = _compiled("forward", params, statements, _returning_dict(assigned, statements[-1]), func, fn)
    after = flat[flat.index(statements[-1]) + 1 :]
    loss_statements, loss_fn = _loss_of(after, known, params + assigned, func, fn)
    return TrainStep(
        forward_fn,
        [st.lineno for st in statements if calls_submodel(st.value)],
        loss_fn,
        [st.lineno for st in loss_statements] if loss_fn else [],
        None if loss_fn else _tensorflow_call(after[len(loss_statements) :], fn),
    )


def _data_params(func: ast.FunctionDef) -> tuple[list[str], list[ast.stmt]]:
    """The forward's inputs: train_step's data parameter, or the names it is unpacked
    into first (`noisy, clean = data`, a denoising VAE fit on (x, y) pairs: --input for
    each); and the body after that unpacking."""
    params = [func.args.args[1].arg]
    body_in = list(func.body)
    first = body_in[0] if body_in else None
    if (
        isinstance(first, ast.Assign)
        and len(first.targets) == 1
        and isinstance(first.targets[0], ast.Tuple)
        and isinstance(first.value, ast.Name)
        and first.value.id == params[0]
        and all(isinstance(e, ast.Name) for e in first.targets[0].elts)
    ):
        return [e.id for e in first.targets[0].elts], body_in[1:]
    return params, body_in


def _flatten(body, flat: list) -> None:
    for stmt in body:
        if isinstance(stmt, ast.With):
            _flatten(stmt.body, flat)
        else:
            flat.append(stmt)


def _names_in(value) -> set:
    return {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}


def _forward_statements(flat: list, params: list[str], calls_submodel) -> tuple[list, list, set]:
    """The forward: sub-model calls, and plain readings of the inputs before them
    (x = data[0]), up to the last sub-model call; with the names the calls assign."""
    statements, assigned, known = [], [], set(params)
    for stmt in flat:
        if not isinstance(stmt, ast.Assign):
            continue
        plain = _names_in(stmt.value) <= known and not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value))
        if calls_submodel(stmt.value) or plain:
            statements.append(stmt)
            for n in (n for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                known.add(n.id)
                if calls_submodel(stmt.value) and n.id not in assigned:
                    assigned.append(n.id)
    while statements and not calls_submodel(statements[-1].value):
        statements.pop()  # only what leads to the last sub-model call
    return statements, assigned, known


def _loss_of(after: list, known: set, inputs: list[str], func, fn) -> tuple[list, object]:
    """The loss: the assignments after the last sub-model call that read only what is
    known and Keras's own functions (keras.ops, keras.losses), up to the total the
    gradient is taken of; a tf.* call or anything else ends it (then --loss is needed)."""
    loss_statements, loss_known = [], set(known)
    for stmt in after:
        if not isinstance(stmt, ast.Assign) or not _names_in(stmt.value) <= loss_known | _KERAS_NAMES:
            break
        loss_statements.append(stmt)
        loss_known |= {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    total = _gradient_target(after) or next((t.id for st in reversed(loss_statements) for t in st.targets if isinstance(t, ast.Name)), None)
    if not loss_statements or total not in loss_known - known:
        return loss_statements, None
    upto = max(i for i, st in enumerate(loss_statements) if any(isinstance(t, ast.Name) and t.id == total for t in st.targets))
    loss_statements = loss_statements[: upto + 1]
    result = ast.copy_location(ast.Return(ast.Name(total, ast.Load())), loss_statements[-1])
    return loss_statements, _compiled("train_step_loss", inputs, loss_statements, result, func, fn, method=False)


# names a loss written in train_step may read besides the data and the outputs
_KERAS_NAMES = {"ops", "keras", "K", "math"}


def _tensorflow_call(statements: list, fn) -> str | None:
    """``line N: tf.reduce_mean`` for the first statement (of those the loss could not
    be read past) that calls TensorFlow."""
    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tf":
                return f"line {fn.__code__.co_firstlineno + stmt.lineno - 1}: tf.{node.attr}"
    return None


@dataclass
class TrainStep:
    forward: object
    forward_lines: list
    loss: object | None
    loss_lines: list
    tensorflow_call: str | None = None  # where a loss left unread calls TensorFlow (line N: tf.X)


def _returning_dict(names: list, last: ast.stmt) -> ast.stmt:
    value = ast.Dict(keys=[ast.Constant(n) for n in names], values=[ast.Name(n, ast.Load()) for n in names])
    return ast.copy_location(ast.Return(value), last)


def _gradient_target(statements: list) -> str | None:
    """X in `grads = tape.gradient(X, ...)`."""
    for stmt in statements:
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "gradient"
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                return node.args[0].id
    return None


def _compiled(name: str, params: list, statements: list, result: ast.stmt, func, fn, method: bool = True):
    """A function of the user's own statements, keeping their line numbers."""
    args = ([ast.arg("self")] if method else []) + [ast.arg(p) for p in params]
    made = ast.FunctionDef(
        name=name,
        args=ast.arguments(posonlyargs=[], args=args, kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*statements, result],
        decorator_list=[],
        returns=None,
        type_params=[],
    )
    ast.copy_location(made, func)
    module = ast.Module(body=[made], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, fn.__code__.co_firstlineno - 1)
    namespace = dict(fn.__globals__)
    exec(compile_user_code(module, fn.__code__.co_filename, "exec"), namespace)  # noqa: S102 - the user's own statements
    return namespace[name]
