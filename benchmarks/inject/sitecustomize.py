"""Injected regressions for benchmarks/trustworthiness.py, in every process.

Python imports this module at start-up when its folder is on PYTHONPATH, so
the injection reaches the pytest process and the fresh processes that measure
memory alike. Each is off unless its environment variable is set:

- LOADBUDGET_INJECT_SLOWDOWN=1.5 (sleeping) and LOADBUDGET_INJECT_CPU=1.2
  (spinning): every model load takes that much longer (``injected_work``,
  which the suites of ``benchmarks/trustworthiness.py`` use for their own
  loaders and for the loads pytest-benchmark times).
- LOADBUDGET_INJECT_LEAK_MB=20: every model load keeps 20 MiB, touched, forever.
- LOADBUDGET_INJECT_GROW=2: every model's files read twice as many bytes
  (a sidecar file of the model's own size joins its artifact).
"""

from __future__ import annotations

import os


def _install() -> None:
    from injected_work import ACTIVE as slowdown, extra_work

    leak_mib = int(os.environ.get("LOADBUDGET_INJECT_LEAK_MB", "0") or 0)
    grow = float(os.environ.get("LOADBUDGET_INJECT_GROW", "1") or 1)
    if not slowdown and not leak_mib and grow == 1:
        return
    import time
    from pathlib import Path

    from pytest_loadbudget import formats

    kept: list[bytearray] = []
    depth = [0]

    # Each class once, and only where it defines the method itself: an
    # inherited method wrapped again would slow a subclass twice over.
    classes = {cls for fmt in formats.FORMATS.values() for cls in type(fmt).__mro__ if cls is not object}
    for cls in classes:
        original_load = vars(cls).get("load")
        original_files = vars(cls).get("artifact_files")

        def load(self, path, _original=original_load, **options):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            model = _original(self, path, **options)
            if slowdown:
                extra_work(time.perf_counter() - start)
            if leak_mib:
                block = bytearray(leak_mib << 20)
                block[::4096] = b"\1" * len(block[::4096])  # resident, not just reserved
                kept.append(block)
            return model

        def artifact_files(self, path, _original=original_files):  # type: ignore[no-untyped-def]
            # Formats call their base class's artifact_files: grow the outermost call only.
            depth[0] += 1
            try:
                files = _original(self, path)
            finally:
                depth[0] -= 1
            if grow == 1 or depth[0]:
                return files
            size = sum(Path(f).stat().st_size for f in files)
            sidecar = Path(os.environ.get("TMPDIR", "/tmp")) / f"loadbudget-grow-{abs(hash(str(path)))}.bin"
            wanted = int(size * (grow - 1))
            if not sidecar.exists() or sidecar.stat().st_size != wanted:
                sidecar.write_bytes(b"\0" * wanted)
            return [*files, sidecar]

        if original_load is not None:
            cls.load = load  # type: ignore[method-assign]
        if original_files is not None:
            cls.artifact_files = artifact_files  # type: ignore[method-assign]


_install()
