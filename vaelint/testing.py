"""For a user's own tests: ``assert_vae_ok(model, "16x784", loss=vae_loss)`` fails
the test with the text report when the check finds anything, a rule could not
run, or the model could not be checked."""

from __future__ import annotations

__all__ = ["assert_vae_ok"]


def assert_vae_ok(model_or_target, *inputs, **options):
    """:func:`vaelint.check` with the same arguments; returns the report when it is ok."""
    __tracebackhide__ = True  # pytest shows the caller's line
    from vaelint.api import check

    report = check(model_or_target, *inputs, **options)
    if not report.ok:
        raise AssertionError(f"vaelint: {_why(report)}\n\n{report.text()}")
    return report


def _why(report) -> str:
    if report.error is not None:
        return f"the model could not be checked ({report.error.kind})"
    if report.findings:
        codes = ", ".join(sorted({f.code for f in report.findings}))
        return f"{len(report.findings)} finding{'s' * (len(report.findings) != 1)} ({codes})"
    if report.skipped:
        return f"{len(report.skipped)} rule{'s' * (len(report.skipped) != 1)} could not run (ignore them with ignore=[...] if that is expected)"
    return "nothing was checked"
