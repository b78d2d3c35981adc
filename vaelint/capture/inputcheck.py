"""Inputs that cannot serve: caught before the model is built, or told apart from the model's own bugs
after a run failed (a batch of 1, token ids above an embedding's size, floats where a distribution wants
{0, 1}, a CUDA call on a CPU machine)."""

from __future__ import annotations

import dataclasses

from vaelint.capture.dtypehints import made_by_the_model
from vaelint.capture.inferredbatch import placed_batch
from vaelint.capture.keyhints import missing_key_hint
from vaelint.errorkinds import CONSTRAINT_HINT, arguments_hint, kind_of
from vaelint.errors import VaelintError
from vaelint.facts.graphview import GraphView
from vaelint.frontends.lengthinputs import lengths_marked
from vaelint.frontends.starimports import star_cause
from vaelint.inputs import InputSpec, at_one_batch, batch_dims_placed, listed_specs, with_batch_indices
from vaelint.vocab import ErrorKind


def check_inputs(inputs: list[InputSpec]) -> None:
    """Exit 2 before any model is loaded: no input, batches that disagree, a batch of 1."""
    if not inputs:
        raise VaelintError(
            "input",
            "no input shape: give the model's input with --input, e.g. --input 32x784 "
            "(dim 0 is the batch), or configure the target's input in [tool.vaelint].",
        )
    batches = {s.batch for s in with_batch_indices(batch_dims_placed(inputs)[0])}
    if len(batches) != 1:
        raise VaelintError(
            "input",
            f"the --input specs disagree on the batch size ({listed_specs(inputs)}). "
            "Give every input the same batch size, or say where the batch is with --batch-dim N (an integer input that indexes "
            "the batch's rows, a graph's 2 x E edge list over N nodes, takes HIGH = the batch size: --input 500x128 --input "
            "2x2000:int64:500). A forward argument that is no batch (a weight, a per-step vector) has no --input: check the training script.",
        )


def gather_inputs(program, options, notes: list) -> list[InputSpec]:
    """The inputs, positional first and keyword (NAME=SPEC) after, in the order given; or those the front end inferred (said)."""
    over = program.inputs_over_given and program.inputs  # the code's own rows, in place of --input's
    given = list(program.inputs) if over else (list(options.inputs) or list(program.inputs))
    if (over or not options.inputs) and program.inputs:
        notes.append(f"input {' '.join(s.shown() for s in program.inputs)}: {program.inputs_origin}")
    elif options.inputs and len(program.inputs) > len(options.inputs):
        # a training step's batch has more items than --input gives (a data set's labels): the
        # rest as the code made them (vaelint/frontends/training/liveprogram.py)
        rest = program.inputs[len(options.inputs) :]
        given += rest
        notes.append(f"input {' '.join(s.text() for s in rest)}: {program.inputs_origin}")
    if not given and program.step is not None:
        # the code run as written stopped before its batch (a library failing on a stand-in): said first
        ran = next((n for n in program.notes if n.startswith("running the code as written did not reach its step")), "")
        if "could not be imported (ModuleNotFoundError" in ran:  # what stops it is a package, not the data: said first
            raise VaelintError(
                "load", f"{ran[:1].upper()}{ran[1:]}. Once that is installed, --input gives the batch if its data is not here."
            )
        raise VaelintError(
            "input",
            f"no input shape: the training step reads its batch from {program.step.batch_text or 'its data'}, "
            "whose shape vaelint cannot tell without loading data. Give it with --input, one per item of "
            "the batch in order, e.g. --input 32x1x28x28 --input 32:int64:10." + (f" {ran[:1].upper()}{ran[1:]}." if ran else ""),
        )
    if options.batch_dim is not None:
        given = [s.with_batch_dim(options.batch_dim) for s in given]
    elif options.inputs and len({s.batch for s in with_batch_indices(given)}) > 1:
        given, said = batch_dims_placed(given)  # (S, B) tokens, a (B, S) mask, an (S, S) mask
        notes += [said] if said else []
    elif not options.inputs:
        given = placed_batch(given, notes)  # read off the code's own batch: a transposed copy has it at dim 1
        given, said = at_one_batch(given, program.inputs_origin)  # several loaders' streams; not a graph's own adjacency
        notes += [said] if said else []
    check_inputs(given)
    given = lengths_marked(program, _indices_said(with_batch_indices(given), notes), notes)
    _one_sample_said(given, notes)
    if program.step is None:
        _keywords_taken(program.model, [s for s in given if s.name])
    return [s for s in given if not s.name] + [s for s in given if s.name]


def _indices_said(given: list[InputSpec], notes: list) -> list[InputSpec]:
    """A note for each input that indexes the batch's rows: what vaelint took it for."""
    for s in given:
        if s.indexes_batch:
            notes.append(
                f"input {s.text()}: its values index the {s.high} rows of the batch (an edge list), so it "
                "has no batch dim: at other batch sizes its edges grow with the rows and index them"
            )
    return given


def _one_sample_said(given: list[InputSpec], notes: list) -> None:
    """A batch of one sample (a big VAE trained one per device) is checked at one, as it trains (a run at
    two would hold twice its activations); one sample cannot show a batch bug (a mean over B is a sum), so
    the batch's dim is read from runs at other batch sizes, mixing from a run of several; a note says so."""
    if given and given[0].batch == 1:
        notes.append(
            f"input {' '.join(s.text() for s in given)}: a batch of one sample, checked at B=1 as it trains; "
            "the batch dim is read from runs at other batch sizes, and whether samples mix from a run of 2 samples"
        )


def _keywords_taken(model, keyword_specs: list[InputSpec]) -> None:
    """``--input NAME=SPEC`` for a keyword forward does not take: a usage error naming those it takes (any, with **kwargs)."""
    import inspect

    if not keyword_specs:
        return
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError, AttributeError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    taken = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for spec in keyword_specs:
        if spec.name.split(".")[0] not in taken:
            raise VaelintError(
                "input",
                f"--input {spec.text()}: the model's forward takes no parameter {spec.name.split('.')[0]!r} "
                f"(it takes {', '.join(taken) or 'no named parameters'}): give NAME= only for one of those.",
            )


def binary_retry(failure, specs: list[InputSpec]) -> list[InputSpec] | None:
    """The specs to run again with, when a distribution rejected the float inputs as
    outside its support (``Bernoulli(...).log_prob(x)``): the same, drawn in {0, 1}."""
    if failure is None or not (isinstance(failure.error, ValueError) and kind_of(failure.error) is ErrorKind.SUPPORT):
        return None
    if not any(_is_plain_float(s) for s in specs):
        return None
    return [dataclasses.replace(s, high=2) if _is_plain_float(s) else s for s in specs]


def _is_plain_float(spec: InputSpec) -> bool:
    return spec.dtype.startswith(("float", "bfloat")) and spec.high is None


def check_token_ids(target: str, specs, cap, runs) -> None:
    """Token ids drawn above an embedding's size are a usage error, not a bug of the model."""
    failure = runs.failure
    if failure is None or failure.node is None or not isinstance(failure.error, IndexError):
        return
    view = GraphView(cap.graph, cap.modules)
    if view.op(failure.node) != "embedding":
        return
    if failure.node.op == "call_module":
        size = getattr(cap.modules.get(failure.node.target), "num_embeddings", None)
    else:
        weight = next((a for a in failure.node.all_input_nodes if a.op == "get_attr"), None)
        shape = runs.runs[runs.batch].shapes.get(weight) if weight is not None else None
        size = shape[0] if shape else None
    ints = [s for s in specs if s.dtype.startswith("int") and (s.high or 2) > (size or 0)]
    if size is None or not ints:
        return
    spec = ints[0]
    where = f" ({failure.loc.where()})" if failure.loc else ""
    fixed = dataclasses.replace(spec, high=size).text()
    raise VaelintError(
        "input",
        f"{target}: --input {spec.text()} draws token ids up to {(spec.high or 2) - 1}, but the embedding "
        f"that reads them{where} has {size} entries. Give HIGH no larger than the vocabulary: "
        f"--input {fixed}.",
    )


def unexplained(target: str, specs, failure, setup_failures: list[str] = ()) -> VaelintError:
    starred = star_cause(failure.error, [])  # F from `from fastai.vision import *`, fastai not installed
    if isinstance(starred, VaelintError):
        return VaelintError("load", f"{target}: running the model raised {type(failure.error).__name__}: {starred.message}")
    where = f" at {failure.loc.where()}" if failure.loc else ""
    kind = kind_of(failure.error)
    if _layer_for_a_tensor(failure.error):
        hint = _layer_hint(failure.error)
    elif isinstance(failure.error, (NameError, AttributeError)) and setup_failures:
        # the step reads what the setup would have defined, had a line not failed or a condition held (a script argument)
        name = getattr(failure.error, "name", None)
        what = f"{name!r} is" if isinstance(name, str) else "What it reads is"
        failed = list(dict.fromkeys(setup_failures))[:3]
        hint = (
            f"{what} not defined when the step runs: the setup line that defines it failed, or a condition "
            f"on the way was false, with these arguments (lines that failed: {'; '.join(failed)}). "
            "Give the script's arguments with --script-args."
        )
    elif isinstance(failure.error, AssertionError) and _own_assert(failure.error):
        hint = (
            f"The code's own assert (`{_own_assert(failure.error)}`) does not hold for the input vaelint drew (floats in [0, 1); "
            "SHAPE:float32:2 gives binary values, SHAPE:int64:N integers below N): it checks the data, not the "
            "model. Give an --input whose values pass it, or check the model alone with PATH:MODEL --loss PATH:LOSS."
        )
    elif kind is ErrorKind.SUPPORT:
        hint = (
            "The input vaelint drew (floats in [0, 1)) lies outside a distribution's support: give "
            "--input the values the model's data has, e.g. SHAPE:float32:2 for binary data."
        )
    elif kind is ErrorKind.CONSTRAINT:
        hint = CONSTRAINT_HINT
    elif kind is ErrorKind.MEMORY:
        hint = (
            "The model asks for more memory than a tensor can have or the machine holds: check the sizes it "
            "allocates at this line, or check with a smaller --input batch."
        )
    elif kind is ErrorKind.DEVICE:
        hint = (
            "The model, its loss or the training step moves a tensor to CUDA by itself (.cuda(), .to('cuda'), "
            "device='cuda'), which "
            "fails on a machine without a GPU: create it where the inputs are (device=x.device, "
            ".to(x.device)), or run vaelint on a GPU machine."
        )
    elif isinstance(failure.error, KeyError) and failure.error.args and isinstance(failure.error.args[0], str):
        key = failure.error.args[0]
        hint = missing_key_hint(failure.error, key) or (
            f"The code reads {key!r} from keywords it was not given: pass a loss keyword with "
            f"--loss-kwarg {key}=VALUE (AntixK-style losses read M_N, batch_idx, optimizer_idx so), or a "
            f"forward keyword input with --input {key}=SPEC."
        )
    elif kind is ErrorKind.DTYPE:
        hint = made_by_the_model(failure.node) or _dtype_hint(str(failure.error), specs)
    elif "StandIn" in str(failure.error):
        hint = _stand_in_hint(failure.error)
    else:
        hint = arguments_hint(failure.error) or "This is not a shape error vaelint can explain; fix it so the model runs on that input."
    return VaelintError(
        "trace",
        f"{target}: running the model on input {specs[0].text()} raised{where}: "
        f"{type(failure.error).__name__}{': ' + _first_line(failure.error) if _first_line(failure.error) else '.'} {hint}",
    )


def _stand_in_hint(error: BaseException) -> str:
    """A value vaelint has no data for (a batch item no --input gives) handed to a library that
    checks types before torch's dispatch sees it (``Variable(y)``): what it stands for, and the
    --input to give."""
    from vaelint.frontends.training.runtime import stand_in_said

    said = stand_in_said(error)
    if said:
        return said[:1].upper() + said[1:]
    return (
        "A value vaelint has no data for (a batch item no --input gives) reached a call that checks "
        "types: give one --input per item of the batch (e.g. --input 64x784 --input 64:int64:10)."
    )


def _own_assert(error: BaseException) -> str:
    """The ``assert`` statement of the code's own that raised ``error`` ("" for one raised
    another way: torch's "Torch not compiled with CUDA enabled" is an AssertionError too)."""
    from vaelint.source.frames import is_user_file, raising_line

    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not is_user_file(tb.tb_frame.f_code.co_filename):
        return ""  # an assert inside a library (torch's own) is no check of the user's data
    line = " ".join(raising_line(error).split())  # an assert black wrapped over lines, said on one
    return line if line.startswith("assert") else ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if not text or text.endswith(".") else text + "."


# what a layer expects of the tensor it takes: (attribute, where the size sits)
_EXPECTS = {
    "Linear": ("in_features", "the last dim"),
    "Bilinear": ("in1_features", "the last dim"),
    "LSTM": ("input_size", "the last dim"),
    "GRU": ("input_size", "the last dim"),
    "RNN": ("input_size", "the last dim"),
    "LayerNorm": ("normalized_shape", "the last dims"),
    "Conv1d": ("in_channels", "dim 1 of a 3-D B x C x L"),
    "Conv2d": ("in_channels", "dim 1 of a 4-D B x C x H x W"),
    "Conv3d": ("in_channels", "dim 1 of a 5-D B x C x D x H x W"),
    "BatchNorm1d": ("num_features", "dim 1"),
    "BatchNorm2d": ("num_features", "dim 1 of a 4-D B x C x H x W"),
}


def keyed_input(ctx, failure, specs: list[InputSpec]) -> VaelintError | None:
    """The code reads a key of an input vaelint made as a tensor or a list (``batch[self.image_key]``:
    a dict batch whose keys the code names through a variable): the input's error, saying to give
    the keys, never a shape finding in the user's code."""
    import operator

    node, text = failure.node, str(failure.error)
    if node is not None and node.target is operator.getitem and len(node.args) > 1 and isinstance(node.args[1], str):
        key, name = node.args[1], getattr(node.args[0], "name", "batch").split("_")[0]
    elif isinstance(failure.error, (TypeError, IndexError)) and (
        "indices must be integers" in text and text.rstrip().endswith("not str") or text.startswith("only integers, slices")
    ):
        key, name = "", "batch"  # a list or tensor indexed by a str: which key, the error does not say
    else:
        return None
    if any(s.real is not None for s in specs):
        return None
    at = f" at {failure.loc.where()}" if failure.loc else ""
    what = f"the key {key!r} of its batch" if key else "its batch by a key"
    return VaelintError(
        "input",
        f"the code reads {what}{at}, but vaelint made the batch from "
        f"{' '.join('--input ' + s.text() for s in specs)} as a tensor: the batch is a dict. Give each key "
        f"the step reads with --input {name}.KEY=SPEC (e.g. --input {name}.{key or 'image'}="
        f"{specs[0].text() if specs else '8x3x64x64'}).",
    )


def input_misfit(ctx, failure, specs: list[InputSpec]) -> VaelintError | None:
    """A shape error at a layer that the user's ``--input`` reaches as given (no op between) is
    the input's, not the model's: a usage error saying what the layer expects, never a
    confirmed finding with a fix to the model. Inputs the user's own code made (a training
    script's real batch) are left to VAE013."""
    node = failure.node
    if node is None or kind_of(failure.error) is not ErrorKind.SHAPE or any(s.real is not None for s in specs):
        return None
    given = [a for a in node.all_input_nodes if a.op == "placeholder"]
    module = ctx.module_of(node)
    if not given or module is None or type(module).__name__ not in _EXPECTS:
        return None
    attr, where = _EXPECTS[type(module).__name__]
    size = getattr(module, attr, None)
    size = "x".join(str(s) for s in size) if isinstance(size, (tuple, list)) else size
    name = ctx.module_name(module) or type(module).__name__
    at = f" at {failure.loc.where()}" if failure.loc else ""
    shown = " ".join(f"--input {s.text()}" for s in specs)
    return VaelintError(
        "input",
        f"your {shown} does not fit the model's first layer: {name} ({type(module).__name__}){at} expects "
        f"{attr}={size} at {where}, and got {ctx.shape_text(given[0])} ({str(failure.error).strip().splitlines()[0]}). "
        "Give the shape of one batch of your data; if that is what you gave, the layer was built for other data.",
    )


def _layer_hint(error) -> str:
    layer = _layer_for_a_tensor(error)
    return (
        f"The code hands the layer itself ({layer}) to what takes a tensor: it calls a tensor's method on the "
        "module object (F.sigmoid(self.fc), torch.relu(self.conv)), where it means the layer's output "
        "(F.sigmoid(self.fc(h))). Call the layer on its input there."
        if layer
        else ""
    )


def _layer_for_a_tensor(error) -> str:
    """``'Linear' object has no attribute 'sigmoid'``: the torch.nn layer class whose object was
    handed where a tensor goes (a tensor's method looked up on it), or ""."""
    import re

    import torch

    found = re.match(r"'(\w+)' object has no attribute '(\w+)'", str(error)) if isinstance(error, AttributeError) else None
    if found is None or not isinstance(getattr(torch.nn, found.group(1), None), type):
        return ""
    cls, attr = getattr(torch.nn, found.group(1)), found.group(2)
    return found.group(1) if issubclass(cls, torch.nn.Module) and hasattr(torch.Tensor, attr) else ""


def one_sample_in_training_norm(ctx, failure, specs: list[InputSpec]) -> VaelintError | None:
    """A batch norm in training mode given one value per channel (B x C at a batch of one
    sample) raises, in the model's own training too: a usage error saying so, not a shape
    error of the layer's channel count."""
    if failure is None or ctx.batch != 1 or "more than 1 value per channel" not in str(failure.error):
        return None
    module = ctx.module_of(failure.node) if failure.node is not None else None
    name = f"{ctx.module_name(module) or type(module).__name__} ({type(module).__name__})" if module is not None else "a batch norm"
    at = f" at {failure.loc.where()}" if failure.loc else ""
    shape = ctx.shape_text(failure.node.all_input_nodes[0]) if failure.node is not None and failure.node.all_input_nodes else "its input"
    shown = " ".join(f"--input {s.text()}" for s in specs)
    return VaelintError(
        "input",
        f"your {shown} is a batch of one sample, and {name}{at} normalises {shape} over the batch in training "
        "mode: with one value per channel PyTorch refuses it (Expected more than 1 value per channel when "
        "training), so the model cannot train at a batch of 1 as written. Give --input a batch of 2 or more, "
        "as the model trains; or, to train one sample at a time, normalise per sample there (nn.GroupNorm, "
        "nn.LayerNorm).",
    )


# the dtype PyTorch's message says it expected -> the --input dtype that gives it
_EXPECTED_DTYPES = {"double": "float64", "half": "float16", "bfloat16": "bfloat16", "long": "int64"}


def _dtype_hint(text: str, specs) -> str:
    """Give --input the dtype the code expects: the one PyTorch's message names (``expected
    TensorOptions(dtype=double ...)`` from ``torch.DoubleTensor(x)``: ``SHAPE:float64``)."""
    import re

    expected = re.search(r"expected TensorOptions\(dtype=(\w+)", text) or re.search(
        r"[Ee]xpected[^.]*?\b(Double|Half|BFloat16|Long)\b", text
    )
    dtype = _EXPECTED_DTYPES.get(expected.group(1).lower()) if expected else None
    if dtype is not None and specs:
        shape = specs[0].text().split(":")[0]
        return (
            f"The code expects {dtype} data (a model run in .double(), torch.DoubleTensor(x)): give the dtype with "
            f"the input, --input {shape}:{dtype}."
        )
    return "Give --input the dtype the model expects (float32 unless it embeds token ids: SHAPE:int64:VOCAB)."
