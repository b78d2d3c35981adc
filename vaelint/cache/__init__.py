"""The result cache: results stored under a key of all they depend on (``store.py``),
and the files a check read, recorded while it ran (``reads.py``).

Imports: the settings' options and the top-level vocabulary only: a cached answer
is read before torch is imported.
"""
