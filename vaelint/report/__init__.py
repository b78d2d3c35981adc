"""Stage 7, report: text (rich), JSON, SARIF, GitHub annotations and Markdown, the
progress line, and the rule pages; reporters render results and never decide anything.
Each output format is a ``Reporter`` (reporters.py: ``render(results, context) -> str``)
registered under the entry point group ``vaelint.reporters``, the group a plugin joins.

Imports: the typed results (vaelint/diagnostics.py), the vocabulary, the rule
catalogue's metadata, the notebook source map and the fork lock; never a pipeline
stage (a cached result renders as a fresh one).
"""
