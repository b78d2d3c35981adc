"""Distributed and parallel code run as one process while vaelint runs it
(vaelint/frontends/training/livecuda.py one_process, livepools.py): torchrun's variables set for
the run as for one process and removed after, a torchrun script checked and cached, and process
pools and joblib running their tasks here, and themselves again after."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from training_cli import RUNNING


def test_torchruns_variables_are_set_for_the_run_as_for_one_process_and_removed_after(monkeypatch):
    from vaelint.frontends.training.livecuda import one_process

    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASTER_PORT", "12355")  # the user's own setting is kept
    with one_process():
        assert (os.environ["LOCAL_RANK"], os.environ["RANK"], os.environ["WORLD_SIZE"]) == ("0", "0", "1")
        assert os.environ["MASTER_ADDR"] == "127.0.0.1" and os.environ["MASTER_PORT"] == "12355"
    assert "LOCAL_RANK" not in os.environ and "WORLD_SIZE" not in os.environ and os.environ["MASTER_PORT"] == "12355"


def test_a_torchrun_script_is_checked_and_its_result_cached_for_an_environment_without_them(tmp_path):
    """torchrun_env.py reads LOCAL_RANK at module level (before: exit 2, KeyError). The variables
    vaelint sets are recorded as unset, as they are for the user: the re-check is a cache hit."""
    shutil.copy(os.path.join(RUNNING, "torchrun_env.py"), tmp_path)
    shutil.copy(os.path.join(RUNNING, "vae_common.py"), tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "VAELINT_NO_CACHE")}

    def check():
        out = subprocess.run(
            [sys.executable, "-m", "vaelint", "check", "torchrun_env.py", "--format", "json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return json.loads(out.stdout)["results"][0]

    first, again = check(), check()
    assert [f["code"] for f in first["findings"]] == ["VAE002"] and not first["cached"]
    assert again["cached"] and [f["code"] for f in again["findings"]] == ["VAE002"]


def test_process_pools_run_their_tasks_here_while_the_sandbox_lasts_and_are_themselves_after():
    import concurrent.futures
    import multiprocessing.pool

    from vaelint.frontends.training.sandbox import Sandbox

    real_pool, real_executor = multiprocessing.pool.Pool, concurrent.futures.ProcessPoolExecutor
    with Sandbox(__file__).active() as sandbox:
        with multiprocessing.Pool(3) as pool:
            assert pool.map(abs, [-1, -2]) == [1, 2]
            assert pool.apply_async(divmod, (7, 2)).get() == (3, 1)
            failed = pool.apply_async(divmod, (1, 0))
            assert not failed.successful()
            with pytest.raises(ZeroDivisionError):
                failed.get()
        with concurrent.futures.ProcessPoolExecutor(max_workers=2) as ex:
            assert ex.submit(os.getpid).result() == os.getpid()  # run in this very process
            assert list(ex.map(abs, [-3, 4])) == [3, 4]
        said = sandbox.said()
    assert any("multiprocessing.Pool(3)" in s and "ran its tasks in this process" in s for s in said)
    assert any("ProcessPoolExecutor(2)" in s for s in said)
    assert multiprocessing.pool.Pool is real_pool and concurrent.futures.ProcessPoolExecutor is real_executor


def test_a_pools_initializer_that_consumes_a_queue_runs_beside_the_code():
    """A producer/consumer pool: the initializer loops over a task queue fed after Pool() returns.
    It runs in threads beside the code (here, in the sandbox), not before it: before, the check
    waited on that queue until its timeout (helper B, iconix/pytorch-text-vae); an initializer
    that sets up and returns still runs once, before the tasks."""
    import multiprocessing
    import queue
    import time

    from vaelint.frontends.training.sandbox import Sandbox

    def consume(tasks, results):
        while (item := tasks.get()) is not None:
            results.put(item * 2)

    seen = []
    with Sandbox(__file__).active():
        tasks, results = queue.Queue(), queue.Queue()
        started = time.time()
        multiprocessing.Pool(2, initializer=consume, initargs=(tasks, results))
        for i in range(5):
            tasks.put(i)
        for _ in range(2):
            tasks.put(None)
        got = sorted(results.get(timeout=10) for _ in range(5))
        with multiprocessing.Pool(1, initializer=seen.append, initargs=("set up",)) as pool:
            assert pool.map(abs, [-1]) == [1]
    assert got == [0, 2, 4, 6, 8] and time.time() - started < 30
    assert seen == ["set up"]


def test_joblib_parallel_runs_one_job_here_and_is_itself_after():
    import joblib  # the test extra installs it

    from vaelint.frontends.training.sandbox import Sandbox

    real_init = joblib.Parallel.__init__
    with Sandbox(__file__).active() as sandbox:
        out = joblib.Parallel(n_jobs=-1, backend="loky")(joblib.delayed(os.getpid)() for _ in range(3))
        assert out == [os.getpid()] * 3
    assert any("joblib.Parallel(n_jobs=-1)" in s for s in sandbox.said())
    assert joblib.Parallel.__init__ is real_init
