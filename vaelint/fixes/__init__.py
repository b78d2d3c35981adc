"""Fixes: the edits a rule offers with its finding, found in the user's source
(``source.py``), applied to text (``edits.py``) and verified by checking the
edited source again before they are offered (``verify.py``).

Imports: the diagnostics, the source floor (locations, the overlay of checked edits), the front ends and the facts
a rule's edit reads; never a rule.
"""
