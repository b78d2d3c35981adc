"""A test file run as a script (``unittest.main()`` at its end, a package's only runnable entry):
its tests run as ``TestSuite.debug()`` runs them, so an error of a test reaches vaelint as a script's
error does, at its own line, instead of unittest catching it, printing it and ending the process with
``SystemExit: True`` (helper-found: cesarali/vae's tests/test_trainers/test_vae_trainer.py)."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def tests_raise():
    import unittest

    real = unittest.TestProgram.runTests

    def run_tests(self):
        self.test.debug()  # no result collected: the first error is raised, the step's stop too
        self.result = None

    unittest.TestProgram.runTests = run_tests
    try:
        yield
    finally:
        unittest.TestProgram.runTests = real
