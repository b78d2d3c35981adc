"""The batches the data loaders give while training code runs (:mod:`.liverun`): of the
``--input`` specs, split between the loaders one statement zips together; else of a known
data set's shapes, with its labels; else the loader's own first batch, where the data is here."""

from __future__ import annotations

import ast
import dataclasses

from vaelint.errors import VaelintError, error_text
from vaelint.frontends.lengthinputs import marked_by_names
from vaelint.frontends.training.runtime import StandIn

# the loaders whose batch was their own rows, made from a data file's stand-in rows and changed by
# the code (_transformed_rows): the program's inputs are then those rows' (liveprogram._inputs_of)
OWN_ROWS: list = []


class TransformError(RuntimeError):
    """A known data set's transform that raises on its images, as the real run's loader does."""


def batch_maker(specs: list):
    """(loader, taking frame) -> the batch the loader gives in the run: of the ``--input``
    specs; else of the data set's known shapes; else the loader's own first batch, where
    its data is here."""
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.frontends.training.livehints import NORMALISED
    from vaelint.inputs import parse_input_spec

    NORMALISED.clear()  # this run's
    OWN_ROWS.clear()
    rounds: dict = {}  # (frame, line) -> loaders read there so far: zip(labelled, unlabelled)

    def make(loader, frame):
        arity = _arity(frame)
        given = [s for s in specs if not s.name]
        parts = _zipped_parts(frame)
        if parts and given:
            # for (x, y), (u, _) in zip(a, b): the k-th loader zip reads takes its part's specs
            key = (id(frame), frame.f_lineno)
            k = rounds.get(key, 0) % len(parts)
            rounds[key] = rounds.get(key, 0) + 1
            start = sum(parts[:k])
            given, arity = given[start : start + parts[k]], parts[k]
        if arity is None and not parts:
            arity = _tensor_items(loader)  # for batch in loader: x = batch[0], over a TensorDataset: a list
        keys = (_keys_read(frame) or _item_keys(loader)) if given and arity is None and not parts else []
        if keys:
            # for batch in loader: x = batch["image"]: the keys the step reads take the specs in
            # order (the data set's labels after them), as a pattern's names do
            return _keyed(keys, given, {s.name: s for s in specs if s.name}, _labels(loader, given), _listed_keys(frame))
        own = _transformed_rows(loader, given)
        if own is not None:
            return own  # rows of the code's own tensors, made from --input's rows and changed by the code
        if given or specs:
            given = marked_by_names(given, _target_names(frame), [])  # for x, lengths in loader: to the padded length
            made = _from_specs(given, {s.name: s for s in specs if s.name}, arity, _labels(loader, given))
            return as_normalised(made, loader)
        known = as_known(loader)
        inferred = infer_inputs(known) if known is not loader else None  # a data set that stands in
        if inferred is not None:
            parsed = [parse_input_spec(s) for s in inferred.specs]
            return as_normalised(_from_specs(parsed[:1], {}, arity, parsed[1] if len(parsed) > 1 else None), loader)
        return _real_batch(loader)  # the data is here (a TensorDataset, the code's own Dataset)

    return make


def _transformed_rows(loader, given: list):
    """The loader's own first batch where its data set is a TensorDataset of the code's tensors
    made from a data file that stood in as rows of --input and then changed by the code (every
    10th step kept, ``X[:, ::10]``; cropped; windowed): its rows are what the real file's would
    be, and --input's samples are not (they are the file's). None where its rows are --input's
    samples as they are (the spec's batch is given, as before), or no file stood in."""
    from torch.utils.data import TensorDataset

    from vaelint.frontends.training.livedata import MADE

    dataset = getattr(loader, "dataset", None)
    if not MADE or len(given) != 1 or not isinstance(dataset, TensorDataset) or not dataset.tensors:
        return None
    spec = given[0]
    if spec.batch_dim != 0 or tuple(dataset.tensors[0].shape[1:]) == tuple(spec.sample_shape):
        return None
    OWN_ROWS.append(loader)
    return _real_batch(loader)


def _from_specs(given: list, named: dict, arity, labels):
    if named and not given:
        out: dict = {}
        for name, spec in named.items():
            out[name.split(".", 1)[-1]] = spec.make(spec.batch)
        return out
    items = [s.make(s.batch) for s in given]
    if labels is not None and (arity is None and len(items) == 1 or arity is not None and arity > len(items)):
        items.append(labels.make(given[0].batch if given else labels.batch))
    if arity is None:
        return items[0] if len(items) == 1 else items
    while len(items) < arity:
        k = len(items)
        items.append(
            StandIn(
                f"item {k + 1} of the batch, which no --input gives",
                "Give it a value with one more --input (in the batch's order), e.g. --input 8:int64:10 for class labels.",
            )
        )
    return items


def _labels(loader, given):
    """The labels a known labelled data set gives beside its images (MNIST's digits)."""
    from vaelint.frontends.training.datasets import infer_inputs
    from vaelint.inputs import parse_input_spec

    inferred = infer_inputs(as_known(loader))
    if inferred is None or len(inferred.specs) < 2:
        dataset = getattr(loader, "dataset", None)
        if given and getattr(type(dataset), "__module__", "") == "torchvision.datasets":
            # a torchvision data set that stands in (an ImageFolder whose folder is not here) gives
            # (sample, class index) pairs, as the real one does
            return parse_input_spec(f"{given[0].batch}:int64:2")
        return None
    spec = parse_input_spec(inferred.specs[1])
    batch = given[0].batch if given else spec.batch
    return dataclasses.replace(spec, shape=spec.sized(batch))


def as_normalised(batch, loader):
    """The images of a data set that stands in, with the values its transform gives them: drawn
    as ToTensor gives them (in [0, 1)), then through the transform's steps on the tensor that
    change values and keep the shape: its Normalize (MNIST's Normalize((0.1307,), (0.3081,))
    leaves them in about [-0.42, 2.82]) and its functions (``Lambda(lambda x: x - 0.5)``, a
    ``def shift(x)`` of the code's), one sample at a time. A loss that needs [0, 1] (a BCE
    target) or whole levels (a Categorical over 256 values of ``(x + 0.5) * 255``) then meets
    what the real data gives it, not a range it never has."""
    import torch

    from vaelint.frontends.training.datasettransforms import describe_transform, transforms_of, value_steps

    known = as_known(loader)  # a data set that stands in, with the transform its constructor was given
    dataset = getattr(known if known is not loader else loader, "dataset", None)
    steps = value_steps(transforms_of(_transform_of(dataset)))
    first = batch[0] if isinstance(batch, list) and batch else batch
    if not steps or not isinstance(first, torch.Tensor) or not first.is_floating_point() or first.dim() < 2:
        return batch
    try:
        with torch.no_grad():
            out = torch.stack([_through(steps, sample) for sample in first])
    except Exception as e:  # noqa: BLE001 - a step that does not fit these images (channels)
        if known is not loader:
            # torchvision's data set, whose images are known (MNIST's 1x28x28): the real run raises
            # so on every item (Normalize((0.5,) * 3, (0.5,) * 3) on MNIST), and never reaches its step
            said = ", ".join(describe_transform(t) for t in steps)
            normalize = any(type(t).__name__ == "Normalize" for t in steps)
            hint = f" (a Normalize takes one mean and one std per channel: {first.shape[1]} here)" if normalize and first.dim() == 4 else ""
            raise TransformError(
                f"the data set's transform ({said}) raised on its {'x'.join(map(str, first.shape[1:]))} images: {type(e).__name__}: {e}; every item of the real data set raises so: make the "
                f"transform fit its images{hint}"
            ) from e
        return batch  # a data set of the code's whose images are guessed: the values as drawn
    if out.shape != first.shape:
        return batch  # a step that changes the shape is the item's shape already (datasettransforms.transformed)
    # (a step that makes whole levels, Lambda(lambda x: (x * 16).long()), gives the integers the loss reads)
    from vaelint.frontends.training.livehints import NORMALISED

    said = f"{', '.join(describe_transform(t) for t in steps)}, values in [{out.min().item():.2f}, {out.max().item():.2f}]"
    if said not in NORMALISED:
        NORMALISED.append(said)
    return [out, *batch[1:]] if isinstance(batch, list) and batch else out


def _through(steps: list, sample):
    for fn in steps:
        sample = fn(sample)
    return sample


def _transform_of(dataset):
    """A data set's transform, through the wrappers that keep it (Subset, random_split's). Read
    from what the object holds, never asked of it: a data set that stands in answers any attribute
    with a stand-in, and a step that uses one is told it has no value."""
    for _ in range(4):
        held = getattr(dataset, "__dict__", None)
        if not isinstance(held, dict):
            return None
        transform = held.get("transform") or (held.get("_vaelint_kwargs") or {}).get("transform")
        if transform is not None:
            return transform
        dataset = held.get("dataset")
    return None


def as_known(loader):
    """A loader over torchvision's stand-in data set, seen as over a known data set."""
    from vaelint.frontends.training.datasets import LoaderStandIn, stand_in

    dataset = getattr(loader, "dataset", None)
    for _ in range(4):  # a split of it (random_split's Subset, a Subset of indices): its items are the set's
        inner = getattr(dataset, "__dict__", {}).get("dataset") if "indices" in getattr(dataset, "__dict__", {}) else None
        if inner is None:
            break
        dataset = inner
    args = getattr(dataset, "_vaelint_args", None)
    if args is None:
        return loader
    known = stand_in(type(dataset), args, getattr(dataset, "_vaelint_kwargs", {}))
    return LoaderStandIn(known, getattr(loader, "batch_size", None), None) if known is not None else loader


def _real_batch(loader):
    """The loader's own first batch, its sampler and collate function, in this process."""
    from torch.utils.data.dataloader import _SingleProcessDataLoaderIter

    workers = getattr(loader, "num_workers", 0)
    try:
        object.__setattr__(loader, "num_workers", 0)  # no worker process is started
        return next(_SingleProcessDataLoaderIter(loader))
    except VaelintError:
        raise  # a stood-in data set says itself why it gives no batch
    except (Exception, StopIteration) as e:  # noqa: BLE001 - the data set is not here
        from vaelint.frontends.training.livelistings import LISTED_MISSING

        # the folder the code listed that is not here (os.walk of it yields nothing): where it looked
        looked = f": the code looked for its files in {LISTED_MISSING[0]}, which is not here" if LISTED_MISSING else ""
        said = error_text(e)
        if "vaelint." in said:  # default_collate's "found <class 'vaelint...StandIn'>": vaelint's own stand-in
            said = f"{type(e).__name__}: its items are stand-ins vaelint made, as its files are not here, and the code's collate cannot batch them"
        batch = getattr(loader, "batch_size", None) or 64
        raise VaelintError(
            "input",
            f"the data loader's data set {type(getattr(loader, 'dataset', None)).__name__} gave no batch here "
            f"({said}{looked}): give the batch's shapes with --input, one per item of the batch "
            f"(e.g. --input {batch}x3x64x64 --input {batch}:int64:10 for 3 x 64 x 64 images and their labels).",
        ) from None
    finally:
        object.__setattr__(loader, "num_workers", workers)


def _zipped_parts(frame) -> list[int] | None:
    """``for (x, y), (u, _) in zip(cycle(labelled), unlabelled)``: how many items each zipped
    loader's part of the pattern takes ([2, 2]); None for any other statement."""
    stmt = _taking_statement(frame)
    if not isinstance(stmt, (ast.For, ast.AsyncFor)):
        return None
    target, source = stmt.target, stmt.iter
    if (
        isinstance(target, ast.Tuple)
        and len(target.elts) == 2
        and isinstance(source, ast.Call)
        and getattr(source.func, "id", "") == "enumerate"
        and source.args
    ):
        target, source = target.elts[1], source.args[0]
    if not (isinstance(source, ast.Call) and getattr(source.func, "id", "") == "zip" and isinstance(target, (ast.Tuple, ast.List))):
        return None
    if len(target.elts) != len(source.args):
        return None
    return [len(e.elts) if isinstance(e, (ast.Tuple, ast.List)) else 1 for e in target.elts]


def _keys_read(frame) -> list[str]:
    """The keys the step reads of a batch it takes whole (``for batch in loader:`` then
    ``batch["image"]``, ``batch = next(it)``), in the order of the source; [] for none."""
    from vaelint.frontends.training.batchuse import keys_read

    read = _batch_read(frame)
    return keys_read(*read) if read is not None else []


def _listed_keys(frame) -> set[str]:
    """The keys whose value the step reads only by its first item (``batch["img"][0]``)."""
    from vaelint.frontends.training.batchuse import keys_read_first_item

    read = _batch_read(frame)
    return keys_read_first_item(*read) if read is not None else set()


def _batch_read(frame):
    """(the batch's name, the statements after it is taken) for a batch the step takes whole; or None."""
    from vaelint.frontends.training.batchpattern import enumerated
    from vaelint.frontends.training.livestep import located_frame

    _, scope, place = located_frame(frame) if frame is not None else (None, None, None)
    stmt = place.statement if place is not None else None
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        target, after = stmt.target, stmt.body
        target = (enumerated(target, stmt.iter, lambda name: frame.f_locals.get(name, frame.f_globals.get(name))) or (None, target))[1]
    elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        after = [s for s in ast.walk(scope.node) if isinstance(s, ast.stmt) and s.lineno > (stmt.end_lineno or stmt.lineno)]
    else:
        return None
    return (target.id, after) if isinstance(target, ast.Name) else None


def _keyed(keys: list[str], given: list, named: dict, labels, listed: set) -> dict:
    """The dict batch: a key named by ``--input batch.KEY=SPEC`` takes that spec; the others
    take the unnamed specs in the order the step reads them, then the data set's labels. A key
    the step reads only by its first item (``batch["img"][0]``) holds a list of that tensor."""
    by_key = {n.split(".", 1)[1]: s for n, s in named.items() if "." in n}
    rest = [k for k in keys if k not in by_key]
    items = dict(zip(rest, _from_specs(given, {}, len(rest), labels))) if rest else {}
    items = {k: [v] if k in listed and not isinstance(v, StandIn) else v for k, v in items.items()}
    _say_keys(rest, given, listed)
    return {k: by_key[k].make(by_key[k].batch) if k in by_key else items[k] for k in keys}


def _item_keys(loader) -> list[str]:
    """The keys of the dict a data set of the user's own returns from ``__getitem__``
    (``return {"image": x, "label": y}``), when the step reads them through a variable
    (``batch[self.image_key]``); [] for any other data set."""
    import inspect
    import textwrap

    from vaelint.source.frames import is_user_file

    # the user's own __getitem__ (a data set that stands in puts vaelint's in front of it)
    methods = (vars(c).get("__getitem__") for c in type(getattr(loader, "dataset", None)).__mro__)
    getitem = next((m for m in methods if is_user_file(getattr(getattr(m, "__code__", None), "co_filename", ""))), None)
    if getitem is None:
        return []
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(getitem)))
    except (OSError, TypeError, SyntaxError):
        return []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Return)
            and isinstance(node.value, ast.Dict)
            and node.value.keys
            and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.value.keys)
        ):
            return [k.value for k in node.value.keys]
    return []


def _say_keys(keys: list[str], given: list, listed: set) -> None:
    from vaelint.frontends.training.livedata import STOOD_IN

    pairs = ", ".join(f"[{k!r}]{'[0]' if k in listed else ''} = --input {s.text()}" for k, s in zip(keys, given))
    if not pairs:
        return
    note = f"the batch is a dict the step reads by key: {pairs} (the keys in the order the step reads them, or its data set's __getitem__ writes them)"
    if note not in STOOD_IN:
        STOOD_IN.append(note)


def _taking_statement(frame):
    """The statement of the user's frame that takes a batch."""
    from vaelint.frontends.training.livestep import located_frame

    place = located_frame(frame)[2] if frame is not None else None
    return place.statement if place is not None else None


def _tensor_items(loader) -> int | None:
    """A loader over a ``TensorDataset`` gives a list of its tensors' batches, whatever the
    statement that takes it does with it: their number; None for any other loader."""
    from torch.utils.data import TensorDataset

    dataset = getattr(loader, "dataset", None)
    return len(dataset.tensors) if isinstance(dataset, TensorDataset) else None


def _target_names(frame) -> list[str]:
    """The names the statement that takes the batch unpacks it into, in order ("" for what is no name)."""
    stmt = _taking_statement(frame)
    target = stmt.target if isinstance(stmt, (ast.For, ast.AsyncFor)) else stmt.targets[0] if isinstance(stmt, ast.Assign) else None
    if isinstance(target, (ast.Tuple, ast.List)) and target.elts and isinstance(target.elts[-1], (ast.Tuple, ast.List)):
        target = target.elts[-1]  # for i, (x, lengths) in enumerate(loader)
    elts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else []
    return [e.id if isinstance(e, ast.Name) else "" for e in elts]


def _arity(frame) -> int | None:
    """How many items the statement that takes the batch unpacks it into (None: one name)."""
    stmt = _taking_statement(frame)
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        target, source = stmt.target, stmt.iter
    elif isinstance(stmt, ast.Assign):
        target, source = stmt.targets[0], stmt.value
    else:
        return None
    from vaelint.frontends.training.batchpattern import enumerated

    target = (enumerated(target, source, lambda name: frame.f_locals.get(name, frame.f_globals.get(name))) or (None, target))[1]
    return len(target.elts) if isinstance(target, (ast.Tuple, ast.List)) else None
