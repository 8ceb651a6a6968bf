"""The ``loadbudget`` command as users run it: the console script, in its own process.

``profile`` of a hand-written TF.js graph model needs no framework; ``--format``
and ``--cold-disk`` load a tiny ``.tflite`` model in a fresh process (which
imports TensorFlow: a few seconds each). ``setup-js`` runs against a fake
``npm`` and ``node`` on PATH: the real ``npm ci`` downloads the TF.js packages.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Helpers of other test modules: tests/ is on sys.path, as for conftest's ``import models``.
from test_cold_plugin import write_float32_graph_model

from pytest_loadbudget.formats.tflite_interpreters import choose_interpreter
from pytest_loadbudget.measure.page_cache import MEMORY_FILESYSTEMS, filesystem_type
from pytest_loadbudget.units import format_mib


def loadbudget_command() -> list[str]:
    """The console script installed beside this Python, else the module it runs."""
    script = Path(sys.executable).with_name("loadbudget")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "pytest_loadbudget.cli.main"]


def loadbudget(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*loadbudget_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


# loadbudget profile


def test_profile_prints_the_size_graph_and_advice_of_a_model(tmp_path: Path) -> None:
    size, uint8 = write_float32_graph_model(tmp_path / "web")
    done = loadbudget("profile", "web/model.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:6] == [
        f"web/model.json [tfjs-graph]: {size} in 2 file(s)",
        "a TF.js graph model runs only in the TF.js runtime: there is no Python load to time",
        "graph: 0 functions, 0 graph nodes (in model.json)",
        "",
        "advice:",
        f"1. float32 TF.js weights: uint8 quantization would cut {size} to about {uint8}",
    ]
    # Progress goes to stderr, the report alone to stdout.
    assert "loadbudget profile: measuring this machine's read bandwidth" in done.stderr
    assert "loadbudget profile:" not in done.stdout


def test_profile_names_a_missing_model_and_exits_2(tmp_path: Path) -> None:
    done = loadbudget("profile", "nope.keras", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"loadbudget profile: {tmp_path / 'nope.keras'}: does not exist\n"


@pytest.fixture
def tflite_model(model_paths: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copy2(model_paths["tflite"], tmp_path / "tiny.tflite"))


def test_profile_format_option_reads_a_model_whose_name_does_not_tell(tflite_model: Path) -> None:
    renamed = tflite_model.rename(tflite_model.with_name("classifier.bin"))
    unknown = loadbudget("profile", "classifier.bin", cwd=renamed.parent)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith(f"loadbudget profile: {renamed}: unknown model format;")
    done = loadbudget("profile", "classifier.bin", "--format", "tflite", "--runs", "1", cwd=renamed.parent)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"classifier.bin [tflite]: {format_mib(renamed.stat().st_size)} in 1 file(s)"
    interpreter = choose_interpreter(None)  # the first installed runs it
    assert lines[1] == f"interpreter: {interpreter.label()} (the import phase imports {interpreter.module})"
    assert lines[2] == "cold start over 1 fresh process(es) (page cache: warm)"
    assert f"loadbudget profile: child 1/1: importing {interpreter.module}..." in done.stderr.splitlines()


def test_profile_cold_disk_evicts_the_model_before_each_run(tflite_model: Path) -> None:
    report = tflite_model.with_name("profile.json")
    done = loadbudget("profile", tflite_model.name, "--cold-disk", "--runs", "1", "--json", str(report),
                      cwd=tflite_model.parent)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2] == "cold start over 1 fresh process(es) (page cache: evicted before each run)"
    assert "loadbudget profile: child 1/1: evicting the artifact from the page cache..." in done.stderr.splitlines()
    [run] = json.loads(report.read_text())["cold"]["runs"]
    cache = run["page_cache"]
    assert cache["evicted"] is True and cache["resident_before"] == cache["total_bytes"] == tflite_model.stat().st_size
    if filesystem_type(tflite_model) in MEMORY_FILESYSTEMS:
        assert "  eviction: the pages stayed cached (a memory filesystem such as tmpfs cannot drop them)" in lines
    else:
        assert cache["problem"] == "" and cache["resident_after"] == 0, cache
        assert "page cache: 0% of the artifact resident as each run started, after eviction" in lines
        assert not any(line.startswith("  eviction:") for line in lines)


# loadbudget setup-js

#: Stands in for npm: logs each call (arguments, then the files it was given) and installs
#: just enough of the TF.js packages for setup-js to accept them, numbering the version by
#: call so that a reinstall shows.
FAKE_NPM = """\
#!/bin/sh
echo "$* | $(ls | tr '\\n' ' ')" >> "$FAKE_NPM_LOG"
calls=$(wc -l < "$FAKE_NPM_LOG" | tr -d ' ')
mkdir -p node_modules/@tensorflow/tfjs/dist node_modules/@tensorflow/tfjs-backend-wasm/dist
printf '{"version": "4.22.%s"}' "$calls" > node_modules/@tensorflow/tfjs/package.json
echo "bundle" > node_modules/@tensorflow/tfjs/dist/tf.min.js
echo "bundle" > node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js
echo "wasm" > node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm
"""
FAKE_NODE = "#!/bin/sh\necho v20.0.0\n"


class FakeJS:
    """A bin directory with the fake npm and node first on PATH, and the npm call log."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        for name, script in (("npm", FAKE_NPM), ("node", FAKE_NODE)):
            path = self.bin / name
            path.write_text(textwrap.dedent(script))
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.log = root / "npm.log"
        self.cache = root / "cache"
        self.env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                    "FAKE_NPM_LOG": str(self.log)}
        self.env.pop("LOADBUDGET_NODE", None)
        self.env.pop("LOADBUDGET_CACHE_DIR", None)

    def npm_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def setup_js(self, *args: str) -> subprocess.CompletedProcess[str]:
        return loadbudget("setup-js", "--cache-dir", str(self.cache), *args, cwd=self.cache.parent, env=self.env)

    def install(self) -> Path:
        [root] = [path for path in self.cache.glob("js-*") if path.is_dir()]
        return root


@pytest.fixture
def fake_js(tmp_path: Path) -> FakeJS:
    return FakeJS(tmp_path)


def test_setup_js_runs_npm_ci_of_the_shipped_lockfile_once(fake_js: FakeJS) -> None:
    done = fake_js.setup_js()
    assert done.returncode == 0, done.stderr
    root = fake_js.install()
    assert done.stdout == f"TF.js 4.22.1 installed in {root} (node: {fake_js.bin / 'node'})\n"
    [call] = fake_js.npm_calls()
    arguments, given = call.split(" | ")
    assert arguments.split()[:2] == ["ci", "--ignore-scripts"]  # no install script may download a binary
    assert sorted(given.split()) == ["package-lock.json", "package.json"]
    assert json.loads((root / ".loadbudget-complete").read_text())["tfjs"] == "4.22.1"
    # Installed already: a second run finds it and does not call npm.
    again = fake_js.setup_js()
    assert (again.returncode, again.stdout) == (0, done.stdout)
    assert len(fake_js.npm_calls()) == 1


def test_setup_js_force_reinstalls(fake_js: FakeJS) -> None:
    assert fake_js.setup_js().returncode == 0
    root = fake_js.install()
    (root / "node_modules" / "stale-leftover").write_text("from the first install")
    done = fake_js.setup_js("--force")
    assert done.returncode == 0, done.stderr
    assert len(fake_js.npm_calls()) == 2
    assert done.stdout == f"TF.js 4.22.2 installed in {root} (node: {fake_js.bin / 'node'})\n"
    assert json.loads((root / ".loadbudget-complete").read_text())["tfjs"] == "4.22.2"
    assert not (root / "node_modules" / "stale-leftover").exists()  # a fresh install, not one patched over


#: What setup-js adds when Node.js or npm is missing and it exits 0 all the same.
SKIPPED_NOTE = ("loadbudget setup-js: nothing installed; tests with runtime='node' or 'browser' will be skipped "
                "(--strict makes this an error)\n")


def test_setup_js_without_npm_says_what_to_install(fake_js: FakeJS) -> None:
    (fake_js.bin / "npm").unlink()
    env = {**fake_js.env, "PATH": str(fake_js.bin)}  # the fake node only: no npm anywhere
    missing = ("loadbudget setup-js: npm not found ('npm' is not an executable): "
               "install Node.js 18 or newer with npm (Debian: apt-get install nodejs npm)\n")
    done = loadbudget("setup-js", "--cache-dir", str(fake_js.cache), cwd=fake_js.cache.parent, env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", missing + SKIPPED_NOTE)
    strict = loadbudget("setup-js", "--strict", "--cache-dir", str(fake_js.cache), cwd=fake_js.cache.parent, env=env)
    assert (strict.returncode, strict.stdout, strict.stderr) == (1, "", missing)


def test_setup_js_without_node_lets_the_set_up_chain_go_on(fake_js: FakeJS) -> None:
    """No Node.js on PATH: a supported machine (those tests skip), so `setup-js && pytest` must reach pytest."""
    (fake_js.bin / "node").unlink()
    env = {**fake_js.env, "PATH": str(fake_js.bin)}  # the fake npm only: no node anywhere
    command = " ".join([*loadbudget_command(), "setup-js", "--cache-dir", str(fake_js.cache)])
    done = subprocess.run(["/bin/sh", "-c", f"{command} && echo the chain went on"], cwd=fake_js.cache.parent,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert (done.returncode, done.stdout) == (0, "the chain went on\n")
    assert done.stderr == (
        "loadbudget setup-js: Node.js not found ('node' is not an executable): "
        "install Node.js 18 or newer with npm (Debian: apt-get install nodejs npm)\n" + SKIPPED_NOTE
    )
    assert fake_js.npm_calls() == []  # nothing installed without the runtime that would use it
    assert loadbudget("setup-js", "--strict", "--cache-dir", str(fake_js.cache), cwd=fake_js.cache.parent,
                      env=env).returncode == 1
    assert loadbudget("setup-js", "--check", "--cache-dir", str(fake_js.cache), cwd=fake_js.cache.parent,
                      env=env).returncode == 1


def test_setup_js_fails_when_npm_ci_fails_even_without_strict(fake_js: FakeJS) -> None:
    """Node.js and npm are there but the install breaks (no registry, disk full): an error to see, not a skip."""
    (fake_js.bin / "npm").write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 1\n")
    done = fake_js.setup_js()
    assert done.returncode == 1
    assert done.stderr.startswith("loadbudget setup-js: `npm ci` failed with exit status 1 in ")
    assert "npm ERR! network unreachable" in done.stderr and "will be skipped" not in done.stderr
