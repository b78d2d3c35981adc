"""jaxtyping annotations as contracts: found in the model's files (``annotations.py``),
watched as they are called (``calls.py``), checked on the solved shapes (``check.py``),
and written for ``vaelint annotate`` (``proposals.py``, ``writer.py``).

Imports: the front ends' source helpers and the top-level vocabulary; never a rule.
"""
