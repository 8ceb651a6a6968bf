"""Memory figures taken in a fresh interpreter, the figure users mean.

The parent sends the request through ``fresh.protocol``; the child replays it
and prints one result line. A fresh interpreter starts with no heap that
earlier loads freed, so the peak it sees is the whole peak.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile

from pytest_loadbudget.errors import MeasurementError
from pytest_loadbudget.fresh import protocol
from pytest_loadbudget.measure.memory import measure_memory
from pytest_loadbudget.measure.progress import live_step
from pytest_loadbudget.measure.tracing import distortions
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.memory import MemoryFigures

CHILD_MODULE = "pytest_loadbudget.fresh.memory_child"


def measure_memory_in_child(
    request: LoadRequest, cycles: int, timeout: float, traced: list[str] | None = None,
) -> MemoryFigures:
    """Replay ``request`` in a fresh Python; raises NotReplayable or MeasurementError.

    ``traced`` gets what traced or slowed the fresh process (``measure/tracing.py``), once each.
    """
    envelope = protocol.envelope(protocol.replay_payload(request), cycles=cycles)
    cycles_text = f"{cycles} load/release cycle{'s' if cycles != 1 else ''}"
    with tempfile.TemporaryFile() as stderr, live_step(request.name, f"memory in a fresh process ({cycles_text})"):
        try:
            completed = subprocess.run(
                protocol.child_command(CHILD_MODULE), input=envelope, stdout=subprocess.PIPE, stderr=stderr,
                timeout=timeout, env=protocol.child_environment(),
            )
        except subprocess.TimeoutExpired:
            raise MeasurementError(
                f"{request.name}: the memory measurement in a fresh process did not finish in {timeout:g} s "
                "(raise --loadbudget-timeout if the load is that slow)"
            ) from None
        tail = protocol.stderr_tail(stderr)
    lines = completed.stdout.decode(errors="replace").splitlines()
    result = next((found for line in lines if (found := protocol.parse_result(line)) is not None), None)
    figures = protocol.check_result(request.name, completed.returncode, result, tail, "measuring memory")
    protocol.traced_in(figures, traced if traced is not None else [])
    return MemoryFigures(**{name: value for name, value in figures.items() if name != "traced"})


def main() -> int:
    traced = distortions()  # from the process's start, as the cold child's
    envelope, request = protocol.read_envelope()
    try:
        figures = measure_memory(request, envelope["cycles"], where="fresh process")
        figures.frameworks = protocol.frameworks_imported()
        result = {**dataclasses.asdict(figures), "traced": traced}
    except Exception as error:
        result = protocol.error_result(error)
    protocol.write_result(sys.stdout, result)
    return 0


if __name__ == "__main__":
    protocol.exit_now(main())
