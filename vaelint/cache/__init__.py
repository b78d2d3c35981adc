"""The result cache: results stored under a key of all they depend on (``store.py``),
the files a check read, recorded while it ran (``reads.py``), what decided how its imports
resolved (``layout.py``), and a result as JSON (``codec.py``).

Imports: the settings' options and the top-level vocabulary only, the plugin registry
(vaelint/plugins.py: a plugin's rules are part of what a result depends on) and, in codec.py,
the records of an offered edit (vaelint/fixes/edits.py): a cached answer is read before torch
is imported.
"""
