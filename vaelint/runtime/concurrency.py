"""Targets side by side (``--jobs N``): each target's worker is forked by its own
thread of the command line's process, which only waits on it.

Forking while another thread holds a lock leaves that lock held forever in the
child. The parent's threads wait in ``select`` and read pipes; the one lock they
may hold is the console's, while the progress line draws. So forks and drawing
take turns under one lock (vaelint/runtime/worker.py, vaelint/report/progress.py).
"""

from __future__ import annotations

import os
import threading

FORK_LOCK = threading.RLock()

# memory a worker is planned with when choosing how many run at once
PER_WORKER = 2 << 30


def default_jobs(n_targets: int) -> int:
    """The cores, no more than the targets, and no more workers than memory holds
    at PER_WORKER each (a large model's worker holds several gigabytes)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, n_targets, _available_memory() // PER_WORKER or 1))


def _available_memory() -> int:
    """What the workers may share: the memory available, or a worker's share per core where it is not known."""
    free = available_memory()
    return free if free is not None else PER_WORKER * (os.cpu_count() or 1)


def available_memory() -> int | None:
    """The memory the kernel can still give this process, in bytes (Linux), else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def threads_per_worker(jobs: int) -> int:
    """torch's intra-op threads for each of ``jobs`` workers, so that they share the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))
