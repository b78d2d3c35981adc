"""What the code reads of a tensor after writing into it, made a path of the traced graph: an
element of a loss vector read back after ``losses[1] += kl``, a tensor changed in place
(``eps.mul_(std)``), a buffer read after a slice assignment (``out[:, t] = step``). fx records
the write and the read apart; these passes make the read read what was written (the values are
the same), so the roles, terms and rules follow it."""

from __future__ import annotations

import torch.fx as fx


def reads_through_stores(graph: fx.Graph) -> None:
    """``losses = torch.zeros(3); losses[1] += kl; loss = a * losses[0] + beta * losses[1]`` (a loss
    vector kept for logging): each read of an element stored just before (the same constant
    index, nothing else written to the buffer between) reads the stored value itself, so the KL
    term is one path in the graph, as if written ``loss = a * rec + beta * kl``. The values are
    the same: the element read is the value stored."""
    import operator

    stored: dict = {}
    for node in list(graph.nodes):
        if node.op not in ("call_function", "call_method"):
            continue
        name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
        args = node.args
        if name in ("setitem", "__setitem__") and len(args) == 3 and isinstance(args[0], fx.Node):
            key = args[1]
            stored = {k: v for k, v in stored.items() if k[0] is not args[0]} if not _plain_key(key) else stored
            if _plain_key(key) and isinstance(args[2], fx.Node):
                stored[(args[0], key)] = args[2]
        elif node.target is operator.getitem and len(args) == 2 and isinstance(args[0], fx.Node) and _plain_key(args[1]):
            value = stored.get((args[0], args[1]))
            if value is not None:
                node.replace_all_uses_with(value)
        elif name.endswith("_") and not name.endswith("__") and args and isinstance(args[0], fx.Node):
            stored = {k: v for k, v in stored.items() if k[0] is not args[0]}  # the buffer written another way


def reads_after_in_place(graph: fx.Graph) -> None:
    """``eps = torch.randn_like(std); eps.mul_(std); z = eps + mu``: what the code reads of ``eps``
    after an in-place op is that op's result (the same tensor, changed), so the graph says that z
    reads the product, as if written ``z = eps.mul(std) + mu``. The values are the same: an
    in-place op returns the tensor it changed."""
    _reads_after_setitem(graph)
    order = {n: i for i, n in enumerate(graph.nodes)}
    for node in list(graph.nodes):
        name = node.target if isinstance(node.target, str) else ""
        if node.op != "call_method" or not name.endswith("_") or name.endswith("__"):
            continue
        changed = node.args[0] if node.args else None
        if not isinstance(changed, fx.Node):
            continue
        later = order[node]
        changed.replace_all_uses_with(
            node, delete_user_cb=lambda user, node=node, later=later: user is not node and order.get(user, -1) > later
        )


def written(changed, _write=None):
    """The tensor a slice assignment changed (``out[:, t] = step`` returns nothing): the same
    tensor, now reading what was written into it."""
    return changed


def _reads_after_setitem(graph: fx.Graph) -> None:
    """``out = torch.zeros_like(x); for t in ...: out[:, t, :] = step``: what the code reads of
    ``out`` after a slice assignment reads what was written (an autoregressive decoder's steps,
    selfies' example): a node after each assignment hands ``out`` on with the assignment as its
    input, and later reads read it. Before, the loss read the zeros: no reconstruction term, and
    the decoder was called dead (VAE011)."""
    import operator

    order = {n: i for i, n in enumerate(graph.nodes)}
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not operator.setitem or not isinstance(node.args[0], fx.Node):
            continue
        changed = node.args[0]
        with graph.inserting_after(node):
            after = graph.call_function(written, (changed, node))
        after.meta.update({k: v for k, v in node.meta.items() if k in ("loc", "stack")})
        order[after] = order[node]
        later, key = order[node], node.args[1]

        def reads_it(user, after=after, node=node, later=later, key=key) -> bool:
            if user in (node, after) or order.get(user, -1) <= later:
                return False
            # losses[1] read after losses[0] was written: another element, which that write left
            # as it was (_reads_through_stores reads the stored ones)
            return not (user.target is operator.getitem and _plain_key(key) and _plain_key(user.args[1]) and user.args[1] != key)

        changed.replace_all_uses_with(after, delete_user_cb=reads_it)


def _plain_key(key) -> bool:
    return isinstance(key, (int, str)) and not isinstance(key, bool)
