"""The hints a failed training run's message carries (:mod:`.liverun`): where the error was
raised (in the model, or after it), a file that is not where the code looks, a batch handed on
as the list a loader gives, an --input whose channels the model's first layer does not take, a
binary cross-entropy given images its data set's Normalize took out of [0, 1]."""

from __future__ import annotations

import os
import re


def in_a_module(error) -> bool:
    """Whether the error was raised inside a module's call (the model's forward, a layer of it)."""
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        if tb.tb_frame.f_code.co_name in ("_call_impl", "_wrapped_call_impl"):
            return True
        tb = tb.tb_next
    return False


def channels_hint(text: str, specs) -> str:
    """A convolution given the --input as it is, with other channels than it was built for
    (``expected input[16, 1, 32, 32] to have 3 channels``): the spec that gives them."""
    import re

    found = re.search(r"expected input\[([\d, ]+)\] to have (\d+) channels", text)
    if found is None:
        return ""
    shape = tuple(int(n) for n in found.group(1).split(","))
    spec = next((s for s in specs or () if tuple(s.shape) == shape), None)
    if spec is None or len(shape) < 2:
        return ""
    want = "x".join(str(n) for n in (shape[0], int(found.group(2)), *shape[2:]))
    dtype = spec.text().partition(":")[2]
    return (
        f". Your --input {spec.text()} reaches that layer as given, with {shape[1]} channel(s) where it takes "
        f"{found.group(2)}: give the shape of one batch of the data the code trains on, e.g. --input {want}"
        f"{':' + dtype if dtype else ''}"
    )


def list_hint(error, taken) -> str:
    """A batch handed on whole where a tensor is wanted: a TensorDataset's batch is a list."""
    said = str(error)
    if not isinstance(error, TypeError) or not ("not list" in said or "not tuple" in said):
        return ""
    return (
        ". The loader's batch is a list of its tensors (a TensorDataset gives [x] even for one tensor): "
        "unpack it, e.g. `for (x,) in loader` or `x = batch[0]`"
    )


def batch_given_whole(runtime, watch):
    """The step's model called with the loader's batch as it comes, a list or tuple of tensors, and
    raising for want of a tensor (``model(batch)`` over a TensorDataset, which gives ``[x]``): the
    code as written fails there on its real data too. (where the step calls the model, its class,
    the batch's parts' shapes, the error's line); None otherwise."""
    import torch

    from vaelint.source.frames import SourceLoc

    if not runtime.stops or not watch.model_calls or not runtime.stops[0][0]:
        return None
    error = runtime.stops[0][1]
    call = watch.model_calls[0]
    if not list_hint(error, None) or not in_a_module(error) or call.site is None:
        return None
    module, args = call
    taken = runtime.at_the_stop(watch)[0]
    collate = getattr(getattr(taken, "loader", None), "collate_fn", None)
    if collate is not None and getattr(collate, "__module__", "").split(".")[0] != "torch":
        return None  # the loader's own collate_fn makes its batch: vaelint's stand-in batch may not be its shape
    whole = next((a for a in args if isinstance(a, (list, tuple)) and a and all(isinstance(t, torch.Tensor) for t in a)), None)
    if whole is None or not isinstance(module, torch.nn.Module):
        return None
    code, (line, column) = call.site
    loc = SourceLoc(os.path.realpath(code.co_filename), line, column + 1, code.co_name)
    parts = ", ".join(" x ".join(str(d) for d in t.shape) or "scalar" for t in whole)
    return loc, type(module).__name__, type(whole).__name__, parts, str(error).strip().splitlines()[0]


def step_raised_a_shape_error(runtime, watch):
    """The step's own code raising a shape error after its model ran (``h[:, 1]`` of a B x 1 x k
    output, in a helper the step calls): the code as written fails on its first batch, where the
    step read from the code left that line out. (the innermost user line, the error's line); None else."""
    from vaelint.errorkinds import kind_of
    from vaelint.frontends.training.livedata import MADE, STOOD_IN
    from vaelint.source.frames import user_frame_of_traceback
    from vaelint.vocab import ErrorKind

    if not runtime.stops or not watch.model_calls or not runtime.stops[0][0] or STOOD_IN or MADE:
        return None  # data vaelint stood in (512 rows of a file not here) may be what the line misread
    error = runtime.stops[0][1]
    if in_a_module(error) or kind_of(error) is not ErrorKind.SHAPE:
        return None
    loc = user_frame_of_traceback(getattr(error, "__traceback__", None))
    return None if loc is None else (loc, f"{type(error).__name__}: {str(error).strip().splitlines()[0]}")


def file_hint(error) -> str:
    """For a file the code reads that is not here: where it may be, or that it must be brought."""
    if not isinstance(error, FileNotFoundError):
        return ""
    from vaelint.frontends.placeholders import missing_file_fix
    from vaelint.frontends.training.sandbox import NO_DOWNLOADS

    if NO_DOWNLOADS in str(error):
        return ""  # a download vaelint refused (a FileNotFoundError to code that catches one): no file to bring here

    return ". " + missing_file_fix(f"FileNotFoundError: '{error.filename}'" if error.filename else str(error))


# what the stood-in images went through (livebatch.as_normalised): "Normalize((0.1307,), (0.3081,))
# at train.py:20, values in [-0.42, 2.82]", for the hint of a loss that needs [0, 1]
NORMALISED: list[str] = []


def range_hint(error) -> str:
    """A loss that needs values in [0, 1] (binary cross-entropy's target) given images its data
    set's transform normalised: the real data has that range too, so the code fails on it."""
    if "of input should be between 0 and 1" in str(error) and NORMALISED:
        return (  # criterion(x_hat, x, ...) for criterion(x, x_hat, ...): the normalised data where the output goes
            f". The data comes from the data set's {NORMALISED[-1]}: if the loss is handed the data first (the "
            "arguments swapped, as binary_cross_entropy(input, target) takes the model's output first), swap them; "
            "else end the decoder with a sigmoid (or use binary_cross_entropy_with_logits on its logits)"
        )
    if "of target should be between 0 and 1" not in str(error):  # the input's: the decoder's activation
        return ""
    if not NORMALISED:  # the code's own preparation of its data (StandardScaler, (x - mean) / std, its Dataset's Normalize)
        return (
            ". Binary cross-entropy needs its target in [0, 1], and the data as the code prepares it leaves that range "
            "(standardised by a StandardScaler, (x - mean) / std or a Normalize), as its real data does: the step "
            "fails so as written. Scale the data to [0, 1] for this loss (MinMaxScaler), or use a Gaussian likelihood "
            "(F.mse_loss(recon, x, reduction='sum') / x.size(0), the decoder without its final sigmoid) for real-valued data"
        )
    return (
        f". The images come from the data set's {NORMALISED[-1]}, as the real data does: binary cross-entropy "
        "needs its target in [0, 1]. Compare the reconstruction with the images before that Normalize (or drop it "
        "for this loss), or use a Gaussian likelihood (F.mse_loss) for normalised data"
    )


def rows_hint(text: str) -> str:
    """A size in the error that is the row count of a data file that stood in (a vocabulary's
    ``unique_sid.txt``, 512 stand-in lines, counted for the model's width while --input said 300):
    where that number came from, and what makes the two agree."""
    import re

    from vaelint.frontends.training.livedata import MADE, STOOD_IN

    sizes = {int(n) for n in re.findall(r"(?<![\d.])(\d+)(?![\d.])", text)}  # 16x300 and 512x32
    for made in MADE:
        n = int(made.rows.shape[0])
        if n in sizes and n not in made.spec.shape and made.note < len(STOOD_IN):
            file = re.search(r"the data file (\S+)", STOOD_IN[made.note])
            met = [i for i, d in enumerate(made.spec.shape) if i and d in sizes]  # the spec's size the other one met
            shape = [n if i == met[0] else d for i, d in enumerate(made.spec.shape)] if len(met) == 1 else None
            instead = f" (--input {'x'.join(map(str, shape))})" if shape else ""
            return (
                f" ({n} is the number of rows vaelint's stand-in for {file.group(1) if file else 'a data file'} has, which is "
                "not here: the code sized something from it, as it would from the real file; put the file here, or give "
                f"an --input of that size{instead})"
            )
    return ""


# what numpy and Python say where an array stands in for an object: ``np.load(f,
# allow_pickle=True)["data"].item()``, ``pickle``'s dict read by ``.keys()``
_OBJECT_WANTED = (
    "can only convert an array of size 1 to a python scalar",
    "object has no attribute 'keys'",
    "object has no attribute 'items'",
    "object has no attribute 'values'",
    "only integers, slices (`:`), ellipsis",  # an array indexed by a key: data["train"]
)


def objects_hint(text: str, script: str = "FILE.py") -> str:
    """The code took a Python object (a pickled dict, ``.item()`` of an object array) out of a
    data file that stood in as rows of --input: no --input makes that object; say so, and what
    checks the model instead."""
    import re

    from vaelint.frontends.training.livedata import MADE, STOOD_IN

    if not MADE or not any(s in text.lower() for s in _OBJECT_WANTED):
        return ""
    made = MADE[-1]
    file = re.search(r"the data file (\S+)", STOOD_IN[made.note]) if made.note < len(STOOD_IN) else None
    return (
        f" ({file.group(1) if file else 'a data file the code reads'} is not here, and the code takes a Python object out "
        "of it (a pickled dict or list), not an array: vaelint stands in arrays of --input for a data file, not the "
        f"objects inside one. Put the file here, or check the model alone: vaelint check {script}:MODEL --input ...)"
    )


def star_hint(error, path: str, given: bool) -> str:
    """A NameError for a name the code takes from ``from PKG import *`` of a package that is not
    installed (``from fastai.vision.all import *`` then ``untar_data(...)``): where the name would
    come from, and what to do ("" for any other error)."""
    import ast
    import importlib.util

    from vaelint.source.cells import where
    from vaelint.source.files import read_source

    name = getattr(error, "name", None)
    if not isinstance(error, NameError) or not name:
        return ""
    try:
        tree = ast.parse(read_source(path))
    except (OSError, SyntaxError, ValueError):
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module and any(a.name == "*" for a in node.names):
            top = node.module.split(".")[0]
            try:
                absent = importlib.util.find_spec(top) is None
            except (ImportError, ValueError):
                absent = True
            if absent:
                also = "" if given else ", or give the batch with --input, one per item of the batch (e.g. --input 64x784)"
                return (
                    f" ({name!r} would come from `from {node.module} import *` at {where(path, node.lineno)}, and {top} is not "
                    f"installed here: install it{also})"
                )
    return ""


def built_hint(path: str) -> str:
    """A script that builds the project's model and whose loop never backpropagates (its body still
    to be written, the file cut off inside it): the model to check alone; "" where it builds none."""
    from vaelint.frontends.training.repofiles import models_built
    from vaelint.source.files import read_source
    from vaelint.source.paths import display_path

    try:
        if "backward(" in read_source(path):
            return ""  # a backward under a condition the run did not meet (if args.train:): not 'trains it nowhere'
    except (OSError, ValueError):
        return ""
    built = models_built(path, own=True) if path.endswith(".py") else None
    if not built:
        return ""
    name, file, line = built
    return (
        f"; it builds the model {name} (at line {line}) and trains it nowhere: check the model with its input, "
        f"`vaelint check {display_path(file)}:{name} --input SHAPE`"
    )


def stood_in_file(failing=None) -> str:
    """The note of the data file vaelint stood in for whose reading the code's failing line (``failing``,
    a SourceLoc) reads: the one whose read line binds a name that line uses (``meta = pd.read_csv(...)``,
    then ``meta["qc_pass"]``); else the one read last (a matrix, then a table read by its columns); ""
    for none."""
    from vaelint.frontends.training.livedata import STOOD_IN

    notes = [n for n in STOOD_IN if n.startswith("the data file ") and "it stands in as" in n]
    used = _names_on(failing.path, failing.line) if failing is not None else set()
    for note in reversed(notes):
        read = re.search(r" at ([^()]+?):(\d+)\)", note)
        if read and used & _bound_on(os.path.abspath(read.group(1)), int(read.group(2))):
            return note
    return notes[-1] if notes else ""


def _names_on(path: str, line: int) -> set:
    import ast

    from vaelint.source.facts import line_text

    try:
        return {n.id for n in ast.walk(ast.parse(line_text(path, line).strip())) if isinstance(n, ast.Name)}
    except (SyntaxError, OSError, ValueError):
        return set()


def _bound_on(path: str, line: int) -> set:
    import ast

    from vaelint.source.facts import line_text

    try:
        tree = ast.parse(line_text(path, line).strip())
    except (SyntaxError, OSError, ValueError):
        return set()
    return {n.id for s in tree.body if isinstance(s, ast.Assign) for t in s.targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def misread_text(made: str) -> str:
    """What to say where the code's own reading of a stood-in data file (``made``, its note) failed."""
    return (
        f"this is the code reading vaelint's stand-in data, not its own: {made}; the code reads its file in another "
        "layout, which --input cannot tell: put the data where the code reads it, or check the model alone with "
        "PATH.py:MODEL --input SPEC"
    )


def a_shape_error(error) -> bool:
    """Sizes that do not agree (the loss given a B x 784 target beside a B x 1 x 28 x 28 output): a
    failure VAE003 and VAE013 explain, at its line with a fix, where the run's own data has it too."""
    from vaelint.errorkinds import kind_of
    from vaelint.vocab import ErrorKind

    return kind_of(error) == ErrorKind.SHAPE


def stand_in_misfit(error, watch, setup: bool = False) -> str:
    """Where the run stopped in the code's own reading of a data file vaelint stood in for (made
    from --input) before any batch reached the model, or on a line of the setup (``setup``:
    ``random.sample(lines, 1000)`` of a stand-in of fewer lines, after an earlier pass ran the
    model): the stand-in's layout is a guess (one sample a line of a text file), and the code reads
    another; said, not left as the code's error."""
    from vaelint.source.frames import user_frame_of_traceback

    made = [n for n in [stood_in_file(user_frame_of_traceback(error.__traceback__))] if n]
    # a column read as an attribute of the frame the stand-in file gave (df.date): the frame's, not the code's
    framed = isinstance(error, AttributeError) and _FRAME_ATTRIBUTE.search(str(error)) is not None
    if (
        not made
        or not watch.specs
        or (watch.model_calls and not setup)
        or not (framed or isinstance(error, (ValueError, IndexError, TypeError, KeyError)))
    ):
        return ""
    if isinstance(error, TypeError) and _SIGNATURE.search(str(error)):
        return ""  # Dec.__init__() got an unexpected keyword argument: a call of the code's own, not its data
    return f" ({misread_text(made[0])})"


_FRAME_ATTRIBUTE = re.compile(r"'(DataFrame|Series|ndarray|NpzFile|DataSetStandIn)' object has no attribute")

_SIGNATURE = re.compile(
    r"unexpected keyword argument|missing \d+ required (positional|keyword-only) argument|takes \d+ positional argument"
)
