"""Where the code placed its model and tensors, while training code runs without CUDA
(:mod:`.livecuda`): every ``.to(device)``/``.cuda()`` of a module, by anyone (the code,
accelerate's prepare, a trainer), the other ways a model is placed, and the step's own moves. A
model none of which moved, in code whose step moves its batch to the device it chose, has its
weights on the CPU on a GPU machine (VAE012's simulated GPU keeps them there); code that places
nothing on a device runs on the CPU anywhere (the program's device note)."""

from __future__ import annotations

from vaelint.frontends.training.livenotes import mentions_a_device

GPU_MARK = "_vaelint_on_gpu"  # a tensor the code placed on the GPU, kept on the CPU here


def model_moved(records: list, module) -> None:
    """``module`` is placed where the code asked: each module under it (``record.moved_modules``, by id)."""
    if records:
        record = records[-1]
        if getattr(record, "moved_modules", None) is None:
            record.moved_modules = set()
        record.moved_modules.update(id(m) for m in module.modules())


def tensor_moved(records: list) -> None:
    """A tensor moved to the device the code chose; in the step (after its batch is taken), the
    run's own move of the batch: the move the model's is weighed against (``record.step_moved``)."""
    if records and getattr(records[-1], "taken", None) is not None:
        records[-1].step_moved = True


def say_where_things_are(program, record, home) -> None:
    """What the run says of the code's devices: ``program.device_note`` where no tensor of it can be
    on a wrong device, and ``program.step.model_left_on_cpu``, read off this run's record (the watch)."""
    if not getattr(record, "moves", None) and not mentions_a_device(program, home):
        # nothing of it places a tensor on a device (no .cuda(), .to(device), device=, no Fabric or
        # Accelerator placing it; a device it only chooses is never used): it runs on the CPU
        # wherever it runs, so no tensor of it can be on the wrong device
        program.device_note = "the training code never places a tensor on a device: it runs on the CPU as written"
    elif not getattr(record, "device_aware", False) and not getattr(record, "moves", None):
        # its files name a device, but this run never asked for one nor moved a tensor: its moves
        # sit under a switch that is off with these arguments (`--use_gpu` not given, `--no_cuda`),
        # so a GPU machine runs it on the CPU too (takahiro-itazuri/vaegan-pytorch: a false VAE012); or
        # every device it names is the CPU (device = "cpu"; .to(device)): the same on any machine
        program.device_note = (
            "the training code placed no tensor on a device in this run (every device it named was the CPU, and a move to "
            "CUDA under other arguments, if it has one, was not reached): it runs on the CPU as run; give the arguments of "
            "a GPU run with --script-args to check one"
        )
    if program.step is not None:
        program.step.model_left_on_cpu = bool(getattr(record, "device_aware", False)) and left_on_cpu(program.model, record)
        program.step.cuda_by_name = cuda_by_name(program.model, record)


def cuda_by_name(model, record) -> tuple:
    """The step's moves to CUDA by name (``eps = torch.randn(n, z).cuda()`` in forward, ``device="cuda"``),
    as (what, path, line), where this run placed the model with the device the code chose (``model.to(device)``,
    the CPU here: ``"cuda" if args.cuda else "cpu"``, or torch.cuda.is_available()'s answer) and the setup moved
    nothing to CUDA by name nor asserted a GPU: code with a CPU configuration whose step still names CUDA fails
    there. Empty for code that is GPU-only (``model.cuda()``, ``assert torch.cuda.is_available()``)."""
    from vaelint.frontends.training.livecudaguard import GUARDS_PASSED

    moves = getattr(record, "moves", None) or []
    if GUARDS_PASSED or not getattr(record, "device_aware", False) or any(phase == "setup" for phase, *_ in moves):
        return ()
    moved = getattr(record, "moved_modules", None) or set()
    if not any(id(m) in moved for m in model.modules()) or any(getattr(p, GPU_MARK, False) for p in model.parameters()):
        return ()  # never placed (VAE012's simulated GPU says it), or placed on the GPU
    from vaelint.source.facts import line_text

    # not `.to(mu.get_device())`: the device of the tensor it meets, the GPU's index there (-1 here, kept as a move)
    named = [(what, path, line) for phase, what, path, line in moves if phase == "step" and path and "cuda" in what]
    return tuple(dict.fromkeys(m for m in named if "get_device" not in (line_text(m[1], m[2]) or "")))


def left_on_cpu(model, record) -> bool:
    """Did the step this run took move a tensor to the device while the run moved no module of
    ``model`` there, nor made any of its parameters on one (``nn.Linear(..., device=device)``), nor
    built it under a default device it set? Then on a GPU machine its weights are on the CPU. (A
    move under a switch the run left off, ``if args.cuda: x = x.cuda()``, is no move of this run:
    the model's move sits under the same switch.)"""
    if not getattr(record, "step_moved", False) or getattr(record, "default_device_set", False):
        return False  # built under a default device the code set: its weights are made there
    moved = getattr(record, "moved_modules", None) or set()
    params = list(model.parameters())
    if not params or any(id(m) in moved for m in model.modules()) or any(getattr(p, GPU_MARK, False) for p in params):
        return False
    return not _moves_itself(model)


def _moves_itself(model) -> bool:
    """Does a class of the model move its own module in its constructor (``if use_cuda: self.cuda()``,
    ``self.to(device)``), under a switch this run left off? A GPU run takes it: the weights go where
    the batch goes (a false VAE012 'never moved' before, helper-found on a beta-TCVAE)."""
    import ast
    import inspect
    import textwrap

    for cls in {type(m) for m in model.modules()}:
        init = cls.__dict__.get("__init__")
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(init))) if init is not None else None
        except (OSError, TypeError, SyntaxError):
            continue
        for branch in [n for n in ast.walk(tree) if isinstance(n, ast.If)] if tree is not None else ():
            if any(_a_device_move(c) for stmt in branch.body for c in ast.walk(stmt) if isinstance(c, ast.Call)):
                return True  # under a switch: a cast (self.to(torch.float32)) or an unswitched move is no such move
    return False


def _a_device_move(call) -> bool:
    """``self.cuda()``, or ``self.to(...)`` given a device (``device``, ``"cuda"``, ``args.gpu``), no dtype."""
    import ast

    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"):
        return False
    if func.attr == "cuda":
        return True
    said = " ".join(ast.unparse(a) for a in [*call.args, *(k.value for k in call.keywords)]).lower()
    return func.attr == "to" and any(w in said for w in ("device", "cuda", "gpu")) and "float" not in said and "dtype" not in said


def other_moves_of_a_model(patches, records: list) -> None:
    """A model placed other than by ``.to``/``.cuda()``: ``model.type(torch.cuda.FloatTensor)``,
    ``model.to_empty(device=...)``, or built under a default device (``torch.set_default_device(d)``,
    ``with torch.device(d):``, which push a DeviceContext): each counts as moved (``left_on_cpu``)."""
    import torch
    import torch.utils._device as device_context

    def placing(name, real):
        def fn(self, *a, **k):
            model_moved(records, self)
            return real(self, *a, **k)

        fn.__name__ = fn.__qualname__ = name
        return fn

    patches.set(torch.nn.Module, "type", placing("type", torch.nn.Module.type))
    patches.set(torch.nn.Module, "to_empty", placing("to_empty", torch.nn.Module.to_empty))
    real_init = device_context.DeviceContext.__init__

    def default_device(self, *a, **k):
        if records:
            records[-1].default_device_set = True
        return real_init(self, *a, **k)

    patches.set(device_context.DeviceContext, "__init__", default_device)


def gives_a_device(args, kwargs) -> bool:
    """Does ``.to(...)`` name a device at all (the CPU too: ``.to(device)`` with the device the code chose)?"""
    import torch

    target = kwargs.get("device", args[0] if args else None)
    return isinstance(target, (str, torch.device)) or (isinstance(target, int) and not isinstance(target, bool))
