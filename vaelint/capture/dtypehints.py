"""A dtype error told by where its tensor comes from: the model's own layers (no --input dtype
mends it) or the input (give --input the dtype the model takes)."""

from __future__ import annotations


def made_by_the_model(node) -> str | None:
    """A dtype error whose tensor the model's own layers computed (``self.embed(self.z2h(z))``:
    an activation where an nn.Embedding takes token ids), not one read from the input: no --input
    dtype mends it, and the hint says so; None where the tensor comes from the input."""
    first = next((a for a in getattr(node, "all_input_nodes", ()) if a.op != "get_attr"), None)
    seen, stack = set(), [first] if first is not None else []
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current.op in ("call_module", "get_attr"):
            loc = first.meta.get("loc")
            at = f" (made at {loc.where()})" if loc is not None else ""
            return (
                f"The tensor it is given is computed by the model's own layers{at}, not read from --input: no input dtype "
                "changes it. Give the op the dtype it takes in the model (token ids, a long tensor, for an nn.Embedding; "
                "not an activation)."
            )
        stack.extend(current.all_input_nodes)
    return None
