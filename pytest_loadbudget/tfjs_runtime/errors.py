"""Errors of the TF.js runtimes: missing runtime, failed run, run that never finished."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_loadbudget.errors import LoadBudgetError, MeasurementError

if TYPE_CHECKING:
    from pytest_loadbudget.tfjs_runtime.figures import RuntimeFigures


class RuntimeUnavailable(LoadBudgetError):
    """Node.js, npm, the TF.js npm packages, Playwright or Chromium is missing.

    ``what`` names the missing piece and ``install`` the command or step that
    provides it; the message holds both, so a test can skip with it as reason.
    """

    def __init__(self, what: str, install: str) -> None:
        self.what = what
        self.install = install
        super().__init__(f"{what}: {install}")


class SetupError(RuntimeUnavailable):
    """``npm ci`` of the shipped lockfile failed (no registry, disk full, ...)."""


class RuntimeFailure(MeasurementError):
    """The model failed to load or run in the TF.js runtime; ``detail`` is the JS error."""

    def __init__(self, message: str, detail: str = "") -> None:
        self.detail = detail
        super().__init__(f"{message}\n{detail}" if detail else message)


class RuntimeTimeout(MeasurementError):
    """A TF.js run did not finish in time.

    ``stage`` is where it stopped ("load", "warmup", "predict", "dispose",
    "startup"), ``where`` says it in words ("6 of 7 shards received") and
    ``partial`` holds what was measured before (progress events, the HTTP
    requests the server saw).
    """

    def __init__(self, message: str, *, stage: str, where: str, partial: RuntimeFigures | None = None) -> None:
        self.stage = stage
        self.where = where
        self.partial = partial
        super().__init__(message)
