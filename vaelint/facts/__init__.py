"""Stages 3 and 4, shapes and roles: what the rules read about a captured graph:
symbolic shapes (``shapes.py``), roles (``roles.py``), the loss readings, and the
``Context`` that gathers them (``context.py``).

Imports: capture, contracts, the front ends' Program and the top-level vocabulary;
never a rule, confirm or report.
"""
