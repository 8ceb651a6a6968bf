"""Other processes on the machine, as a shared CI runner has them, for ``trustworthiness.py``.

Each process is bounded (it stops by itself at a deadline, should this script
die without cleaning up) and always killed when its scenario ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

#: What each kind of neighbour runs until the deadline in argv[1] (a time.monotonic() value).
PROGRAMS = {
    # `while True: pass`, bounded: a CPU hog.
    "cpu": "import sys, time\ndeadline = float(sys.argv[1])\nwhile time.monotonic() < deadline: pass",
    # Copies of 64 MiB arrays: a memory-bandwidth hog, far beyond any cache.
    "membw": (
        "import sys, time\nimport numpy as np\ndeadline = float(sys.argv[1])\n"
        "a = np.ones(8 << 20); b = np.empty_like(a)\n"
        "while time.monotonic() < deadline: np.copyto(b, a)"
    ),
}


@contextlib.contextmanager
def neighbours(kind: str, count: int, seconds: float) -> Iterator[list[int]]:
    """``count`` processes of ``kind`` running for at most ``seconds``; their pids while they run."""
    deadline = time.monotonic() + seconds
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen([sys.executable, "-c", PROGRAMS[kind], repr(deadline)],
                                              stdin=subprocess.DEVNULL))
        time.sleep(1)  # started and running (numpy imported, arrays touched) before the first timed run
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()
