"""Dependence queries over one fx graph, shared by the roles and the rules."""

from __future__ import annotations

import operator

import torch
import torch.fx as fx

from vaelint.capture.ops import CAST_OPS, RANDOM_OPS, RESHAPE_OPS, op_name


class GraphView:
    """Cached dependence queries over one fx graph."""

    def __init__(self, graph: fx.Graph, modules: dict | None = None):
        self.graph = graph
        self.modules = modules or {}
        self._anc: dict[fx.Node, frozenset] = {}
        self._values: dict[fx.Node, frozenset] = {}
        self._around: dict[tuple, dict] = {}
        self.order = {n: i for i, n in enumerate(graph.nodes)}

    @staticmethod
    def made_by_a_distribution(node: fx.Node) -> bool:
        """Was the op made by torch.distributions' own code (capture/madein.py): its maths, not the user's?"""
        return node.meta.get("library") == "torch.distributions"

    def op(self, node: fx.Node) -> str:
        return op_name(node, self.modules)

    def ancestors(self, node: fx.Node) -> frozenset:
        """Every node ``node`` depends on, itself included."""
        hit = self._anc.get(node)
        if hit is not None:
            return hit
        acc = {node}
        stack = list(node.all_input_nodes)
        while stack:
            n = stack.pop()
            if n in acc:
                continue
            if n in self._anc:
                acc |= self._anc[n]
                continue
            acc.add(n)
            stack.extend(n.all_input_nodes)
        result = frozenset(acc)
        self._anc[node] = result
        return result

    def depends_on(self, node: fx.Node, other: fx.Node | None) -> bool:
        """Does ``node`` read ``other``'s values? Reading only its sizes is not reading it: a KL
        scaled by ``0.5 / recon.shape[0]`` reads the heads, not the reconstruction."""
        return other is not None and other in self.value_ancestors(node)

    def value_ancestors(self, node: fx.Node) -> frozenset:
        """The nodes whose values ``node`` is computed from (itself included): :meth:`ancestors`
        without the way through a size query (``x.size(0)``, ``x.shape[0]``, ``len(x)``) or a tensor's
        device or dtype (``torch.as_tensor(beta, device=kl.device)`` is a number, not a function of kl)."""
        hit = self._values.get(node)
        if hit is not None:
            return hit
        acc = {node}
        for a in value_inputs(node):
            acc |= self.value_ancestors(a) if a in self._values else self._value_ancestors_iter(a)
        result = frozenset(acc)
        self._values[node] = result
        return result

    def _value_ancestors_iter(self, start: fx.Node) -> frozenset:
        acc, stack = set(), [start]
        while stack:
            n = stack.pop()
            if n in acc:
                continue
            if n in self._values:
                acc |= self._values[n]
                continue
            acc.add(n)
            stack.extend(value_inputs(n))
        return frozenset(acc)

    def depends_through(self, node: fx.Node, other: fx.Node, blocked: set[str]) -> bool:
        """Does ``node`` depend on ``other`` along a path with no op in ``blocked``
        (``detach``: the dependence carries no gradient)?"""
        seen, stack = set(), [node]
        while stack:
            n = stack.pop()
            if n is other:
                return True
            if n in seen:
                continue
            seen.add(n)
            if n is not node and self.op(n) in blocked:
                continue
            stack.extend(n.all_input_nodes)
        return False

    def reads_around(self, node: fx.Node, wanted: frozenset, blocked: frozenset) -> bool:
        """Does ``node`` read the values of one of ``wanted`` along a path through none of
        ``blocked`` (the data read directly, not through the encoder's heads)?"""
        memo = self._around.setdefault((wanted, blocked), {})
        stack, seen = [node], set()
        while stack:
            n = stack.pop()
            if n in seen or n in blocked:
                continue
            if memo.get(n) is False:
                continue
            if n in wanted:
                memo[node] = True
                return True
            seen.add(n)
            stack.extend(value_inputs(n))
        for n in seen:
            memo[n] = False  # nothing wanted is reached from any node the walk saw
        return False

    def layer_twins(self, head: fx.Node) -> list:
        """Other calls of the layer that makes ``head`` (the same op on the same weights: a loss that
        runs the encoder's heads again): found up the head's one-input chain (chunk, getitem, view)
        at the first op that reads weights."""
        node = head
        for _ in range(6):
            if node.op == "call_module" or any(a.op == "get_attr" for a in node.all_input_nodes):
                key = self._layer_key(node)
                return [n for n in self.graph.nodes if n is not node and n.op == node.op and self._layer_key(n) == key]
            inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
            if len(inputs) != 1:
                return []
            node = inputs[0]
        return []

    def _layer_key(self, node: fx.Node) -> tuple:
        weights = frozenset(a for a in node.all_input_nodes if a.op == "get_attr")
        return self.op(node), weights, node.target if node.op == "call_module" else None

    def with_parameters(self) -> frozenset:
        """The nodes that apply a layer's parameters: a call of a module that owns some, or an op
        reading a parameter (``F.linear(h, self.fc.weight)``, a recorded graph's weights).
        Constants and buffers are not parameters."""
        if not hasattr(self, "_with_parameters"):
            params = {n for n in self.graph.nodes if n.op == "get_attr" and self._is_parameter(n.target)}
            self._with_parameters = frozenset(
                n
                for n in self.graph.nodes
                if (n.op == "call_module" and _owns_parameters(self.modules.get(n.target)))
                or (n.op in ("call_function", "call_method") and any(a in params for a in n.all_input_nodes))
            )
        return self._with_parameters

    def reads_a_layer(self, node: fx.Node | None) -> bool:
        """Does a layer's parameters go into ``node`` (an encoder's head, a learned scale), not a
        number or a fixed noise level?"""
        return node is not None and (node in self.with_parameters() or bool(self.ancestors(node) & self.with_parameters()))

    def reads_a_trained_layer(self, node: fx.Node | None) -> bool:
        """Does a parameter that takes gradients go into ``node``? An encoder frozen with
        ``requires_grad_(False)`` (a latent-diffusion VAE's decoder fine-tuned on it) gives its heads none."""
        for n in ({node} | set(self.ancestors(node))) if node is not None else ():
            if n.op == "call_module" and any(p.requires_grad for p in getattr(self.modules.get(n.target), "parameters", list)()):
                return True
            owner, _, attr = str(n.target).rpartition(".") if n.op == "get_attr" else ("", "", "")
            if n.op == "get_attr" and self._is_parameter(n.target) and getattr(self.modules.get(owner), attr).requires_grad:
                return True
        return False

    def made_constants(self) -> list[fx.Node]:
        """Floating tensors the run made outside torch's ops (fx's ``_tensor_constant0``, a
        recording's ``_constant_1``): neither parameters nor buffers."""
        return [n for n in self.graph.nodes if is_made_constant(n) and _floating(n)]

    def _is_parameter(self, target) -> bool:
        owner_name, _, attr = str(target).rpartition(".")
        owner = self.modules.get(owner_name)
        return owner is not None and isinstance(getattr(owner, attr, None), torch.nn.Parameter)

    def used(self) -> frozenset:
        """The nodes the graph's output is computed from (all of them when the run
        ended before an output was recorded)."""
        if not hasattr(self, "_used"):
            outputs = [n for n in self.graph.nodes if n.op == "output"]
            if not outputs:
                self._used = frozenset(self.graph.nodes)
            else:
                acc: set = set()
                for n in outputs[0].all_input_nodes:
                    acc |= self.ancestors(n)
                self._used = frozenset(acc)
        return self._used

    def depends_on_noise(self, node: fx.Node) -> bool:
        return any(self.op(a) in RANDOM_OPS for a in self.ancestors(node))

    def placeholders(self) -> list[fx.Node]:
        return [n for n in self.graph.nodes if n.op == "placeholder"]

    def is_data_only(self, node: fx.Node) -> bool:
        """Computed from the inputs' values alone: by reshapes and casts (``x.view(-1, 784)``), or
        by arithmetic of the data with constants and its own statistics, no layer's parameter and
        no random draw on the way (``x * 2 - 1``, ``(x - x.min()) / (x.max() - x.min())``, ``x -
        mean`` for a data mean the code computed, a constant of the graph): a step that rescales its batch
        before the model compares the reconstruction with the rescaled data."""
        from vaelint.capture.ops import CREATION_OPS

        layers = self.with_parameters()
        for a in self.ancestors(node):
            if a.op == "placeholder":
                continue
            name = self.op(a)
            if name in RESHAPE_OPS or name in CAST_OPS or name in {"size", "getitem", "getattr"}:
                continue
            if a.op == "get_attr" and (not a.users or is_made_constant(a)):
                continue  # a constant the run made (a data mean the code computed), not a weight
            if a.op in ("call_function", "call_method") and a not in layers and name not in CREATION_OPS:
                continue
            return False
        return any(a.op == "placeholder" for a in self.value_ancestors(node))


# the names fx and the recording give the tensors a run made outside torch's ops
CONSTANT_PREFIXES = ("_constant", "_tensor_constant")


def is_made_constant(node: fx.Node) -> bool:
    """A tensor the run made outside torch's ops (a graph constant), not the model's state."""
    return node.op == "get_attr" and str(node.target).startswith(CONSTANT_PREFIXES)


def _floating(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta") or node.meta.get("val")
    dtype = getattr(meta, "dtype", None)
    return dtype is None or dtype.is_floating_point


def _owns_parameters(module) -> bool:
    return isinstance(module, torch.nn.Module) and next(module.parameters(), None) is not None


_SIZE_METHODS = {"size", "dim", "numel", "__len__", "ndimension", "nelement"}
_SIZE_ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.neg, operator.pow, operator.mod}


_METADATA = frozenset({"device", "dtype", "is_cuda", "layout"})


# ops that read only the shape, dtype and device of their first tensor: ``torch.zeros_like(rl)``, an
# accumulator a loop adds per-layer KLs to (VDVAE's ``rpp = torch.zeros_like(rl)``), is no function of rl
_SHAPED_LIKE = frozenset({"zeros_like", "ones_like", "empty_like", "full_like", "new_zeros", "new_ones", "new_empty", "new_full"})


def value_inputs(node: fx.Node) -> list:
    """The inputs whose values ``node`` is computed from: not a size query's, nor the tensor a
    ``zeros_like``/``new_zeros`` takes its shape from (a fill value given as a tensor is a value)."""
    inputs = [a for a in node.all_input_nodes if not carries_no_value(a)]
    if node.op in ("call_function", "call_method") and op_name(node) in _SHAPED_LIKE and node.args and isinstance(node.args[0], fx.Node):
        first = node.args[0]
        rest = {a for a in (*node.args[1:], *node.kwargs.values()) if isinstance(a, fx.Node)}
        inputs = [a for a in inputs if a is not first or a in rest]
    return inputs


def carries_no_value(node: fx.Node) -> bool:
    """A size query or a tensor's device or dtype: what an op reads of a tensor that is none of its values."""
    if node.op == "call_function" and node.target is getattr and len(node.args) > 1 and node.args[1] in _METADATA:
        return True
    return is_size(node)


def is_size(node: fx.Node, depth: int = 0) -> bool:
    """A size query or arithmetic on sizes: ``x.size(0)``, ``x.shape[0]``, ``len(x)``, ``0.5 / x.shape[0]``."""
    if depth > 12:
        return False
    if node.op == "call_method":
        return node.target in _SIZE_METHODS
    if node.op != "call_function":
        return False
    target = node.target
    if target is getattr:
        return len(node.args) > 1 and node.args[1] == "shape"
    if target is len:
        return True
    inputs = node.all_input_nodes
    if target is operator.getitem:
        return bool(inputs) and is_size(node.args[0], depth + 1) if isinstance(node.args[0], fx.Node) else False
    if target in _SIZE_ARITHMETIC:
        return bool(inputs) and all(is_size(a, depth + 1) for a in inputs)
    return False


def loose_constants(graph: fx.Graph, modules: dict) -> list:
    """The tensors a graph holds as constants, not weights, that an op reads: legacy constructors
    (``torch.FloatTensor(n)``), and a model's plain tensor attributes (``self.mask = torch.ones(z)``),
    which no ``model.to(device)`` moves, being neither parameters nor buffers."""

    def a_weight(target: str) -> bool:
        owner, _, name = target.rpartition(".")
        module = modules.get(owner)
        return module is None or name in module._parameters or name in module._buffers

    return [
        n for n in graph.nodes if n.op == "get_attr" and n.users and not (str(n.target).startswith("model.") and a_weight(str(n.target)))
    ]
