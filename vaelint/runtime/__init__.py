"""The runtime: how a command's targets are run, around the stages (vaelint/analyze.py).

``launch.py`` is the console entry (it forks the spare worker before the command line is read),
``runner.py`` runs the targets a command names (the cache, workers side by side, fix re-checks,
``--fix`` rounds), ``worker.py`` forks a target's worker and words how it ended, ``inworker.py``
is what runs inside it (or in this process where there is no fork), ``spare.py`` the worker
started with the process, ``warmup.py`` the tiny check a spare runs while it waits,
``concurrency.py`` the fork lock, threads and memory shared by workers side by side, and
``timelimit.py`` the ``--timeout`` of one target.

Imports: anything below it (the stages, the cache, the reports); nothing below imports it but
the fork lock and the memory reading of ``concurrency.py`` (vaelint/report/progress.py,
vaelint/confirm/forward_backward.py) and ``timelimit.py`` (vaelint/analyze.py).
"""
