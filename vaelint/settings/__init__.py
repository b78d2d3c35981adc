"""What the user asked for: one target's options (``options.py``, torch-free), the
``[tool.vaelint]`` table (``pyproject.py``), both merged per file (``per_file.py``),
and suppression comments (``suppress.py``).

Imports: the top-level vocabulary, the front ends' target references and the
catalogue's codes; never torch (a cached answer is read before it is imported).
"""
