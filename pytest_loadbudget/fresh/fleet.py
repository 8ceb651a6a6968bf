"""Fleet start: N fresh processes doing the same cold start at one moment.

Each process is the cold child (``fresh.cold_child``), spawned as for a
single cold start, with two differences: it waits at a ``StartBarrier``
after its start-up, holding its envelope but having imported nothing of the
model's, so that every process's import, read, load and first call begin
together; and it times no steady calls or reloads, which would load the
machine while its siblings are still starting. The interpreters themselves
are spawned back to back, so their start-ups overlap too.

With ``evict`` the artifact is dropped from the page cache once, before the
fleet starts: the processes then race for the same cold bytes, as workers
restarted on a fresh node do. Without it the artifact is read into the cache
first.

The single cold start the fleet is set against is measured in the same
session with the same page-cache state: the caller's cold profile when it
has one, else ``single_runs`` fresh processes measured here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pytest_loadbudget.errors import MeasurementError
from pytest_loadbudget.fresh import protocol
from pytest_loadbudget.fresh.cold import DEFAULT_RUNS, ChildRun, measure_cold, request_files
from pytest_loadbudget.measure.floor import read_fully
from pytest_loadbudget.measure.page_cache import evict_files, residency
from pytest_loadbudget.model.request import LoadRequest
from pytest_loadbudget.results.cold_profile import ColdProfile, ColdRun, PageCache
from pytest_loadbudget.results.fleet_profile import FleetProfile

#: Seconds to wait for a child's thread beyond the child's own timeout: its
#: result is read and its stderr closed by then.
JOIN_GRACE_S = 10.0


@dataclass
class _Outcome:
    run: ColdRun | None = None
    import_start_ns: int | None = None
    error: BaseException | None = None


def measure_fleet(
    request: LoadRequest,
    size: int,
    *,
    evict: bool = False,
    timeout: float = protocol.DEFAULT_TIMEOUT_S,
    single: ColdProfile | None = None,
    single_runs: int = DEFAULT_RUNS,
) -> FleetProfile:
    """Start ``size`` fresh processes at once, each loading ``request`` cold.

    ``timeout``: seconds each process may take from its spawn. ``single``:
    the cold start alone, measured in this session with the same ``evict``;
    None measures ``single_runs`` processes first.
    Raises ValueError for a size out of 1..MAX_FLEET, NotReplayable when the
    request cannot travel to a child, and MeasurementError naming the model
    and the process when one of the fleet fails, crashes or times out.
    """
    if isinstance(size, bool) or not 1 <= size <= protocol.MAX_FLEET:
        raise ValueError(f"a fleet is 1 to {protocol.MAX_FLEET} processes, not {size!r}")
    payload = protocol.replay_payload(request)
    if single is None or single.evict != evict:
        single = measure_cold(request, single_runs, evict=evict, timeout=timeout, graph=False)
    files = request_files(request)
    total_bytes = sum(path.stat().st_size for path in files)
    fleet = ColdProfile(name=request.name, format=request.format_name, size_bytes=total_bytes, files=len(files),
                        evict=evict)
    cache = None
    if files:
        if not evict:
            read_fully(files)  # warm means warm for every process, the first included
        cache = evict_files(files) if evict else residency(files)
    with protocol.StartBarrier(size) as barrier:
        envelope = protocol.envelope(payload, files=[str(path) for path in files], steady_calls=0, reloads=0,
                                     graph=False, barrier_fd=barrier.child_fd)
        children = [ChildRun(request, index, size, timeout, None, total_bytes, barrier=barrier)
                    for index in range(1, size + 1)]
        outcomes = [_Outcome() for _ in children]
        threads = [threading.Thread(target=_run, args=(child, envelope, outcome, barrier), daemon=True)
                   for child, outcome in zip(children, outcomes)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout + JOIN_GRACE_S)
        except BaseException:
            # Interrupted (Ctrl-C, a test timeout): leave no framework-sized process behind.
            for child in children:
                if child.process is not None and child.process.poll() is None:
                    child.process.kill()
            raise
    return _profile(fleet, single, outcomes, cache)


def _run(child: ChildRun, envelope: bytes, outcome: _Outcome, barrier: protocol.StartBarrier) -> None:
    try:
        run, result = child.run(envelope)
        outcome.run, outcome.import_start_ns = run, result.get("import_start_ns")
    except BaseException as error:  # handed to the caller's thread, which raises it
        outcome.error = error
    finally:
        barrier.arrive(child.index)  # a child that died before the barrier holds no sibling back


def _profile(
    fleet: ColdProfile, single: ColdProfile, outcomes: list[_Outcome], cache: PageCache | None,
) -> FleetProfile:
    size = len(outcomes)
    for index, outcome in enumerate(outcomes, start=1):
        if isinstance(outcome.error, MeasurementError):
            raise MeasurementError(f"{outcome.error} (process {index} of a fleet of {size} started at once)")
        if outcome.error is not None:
            raise outcome.error
        if outcome.run is None:  # its thread outlived the child's timeout and the grace
            raise MeasurementError(f"{fleet.name}: process {index} of a fleet of {size} did not report in time")
    for outcome in outcomes:
        assert outcome.run is not None  # checked above
        outcome.run.page_cache = cache
        fleet.runs.append(outcome.run)
    starts = [outcome.import_start_ns or 0 for outcome in outcomes]
    first = min(starts)
    return FleetProfile(fleet=fleet, single=single, start_offsets_ms=[(start - first) / 1e6 for start in starts])
