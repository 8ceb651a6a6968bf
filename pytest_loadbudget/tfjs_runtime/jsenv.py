"""The JavaScript side: Node.js, npm and the TF.js packages of the shipped lockfile.

The package ships ``js/package.json`` and ``js/package-lock.json`` (pure
``@tensorflow/tfjs`` and ``@tensorflow/tfjs-backend-wasm``, no native addon).
``setup_js()`` runs ``npm ci`` of that lockfile once into
``<cache>/js-<digest>``, where the digest covers both files: a new lockfile
gets a new directory and an old install is never reused by mistake.
``<cache>`` is ``$LOADBUDGET_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytest-loadbudget``,
else ``~/.cache/pytest-loadbudget``.

``installed_js()`` finds that install without touching the network; every
runtime calls it and raises :class:`RuntimeUnavailable` with the command to
run when it is missing. ``main()`` is ``python -m pytest_loadbudget.tfjs_runtime``, the same as
``loadbudget setup-js``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_loadbudget.tfjs_runtime.errors import RuntimeUnavailable, SetupError

#: The harness, page and npm manifests shipped as package data.
JS_DIR = Path(__file__).resolve().parent / "js"
LOCK_FILES = ("package.json", "package-lock.json")
#: The oldest Node.js the harness runs on (global performance, fs.promises, createRequire).
MIN_NODE_MAJOR = 18
#: Written last by setup_js: a directory without it is an interrupted install.
COMPLETE_MARKER = ".loadbudget-complete"
SETUP_COMMAND = "loadbudget setup-js"
NODE_INSTALL = "install Node.js 18 or newer with npm (Debian: apt-get install nodejs npm)"


@dataclass(frozen=True)
class JSInstall:
    """A complete ``npm ci`` of the shipped lockfile."""

    root: Path

    @property
    def node_modules(self) -> Path:
        return self.root / "node_modules"

    @property
    def tfjs_version(self) -> str:
        package = self.node_modules / "@tensorflow" / "tfjs" / "package.json"
        return str(json.loads(package.read_text())["version"])

    def browser_files(self) -> dict[str, Path]:
        """What the browser page loads from ``/lib/``: the bundles and the wasm binaries."""
        tfjs = self.node_modules / "@tensorflow" / "tfjs" / "dist"
        wasm = self.node_modules / "@tensorflow" / "tfjs-backend-wasm" / "dist"
        files = {"tf.min.js": tfjs / "tf.min.js", "tf-backend-wasm.min.js": wasm / "tf-backend-wasm.min.js"}
        for binary in sorted(wasm.glob("*.wasm")):
            files[binary.name] = binary
        return files


def lock_digest() -> str:
    """Hex digest of the shipped package.json and package-lock.json."""
    digest = hashlib.sha256()
    for name in LOCK_FILES:
        digest.update(name.encode() + b"\0" + (JS_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("LOADBUDGET_CACHE_DIR"):
        return Path(os.environ["LOADBUDGET_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "pytest-loadbudget"


def install_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ``setup_js`` installs the lockfile (whether or not it has yet)."""
    return cache_root(cache_dir) / f"js-{lock_digest()}"


def find_node(node: str | os.PathLike[str] | None = None) -> Path:
    """The ``node`` executable (``node`` given, else ``$LOADBUDGET_NODE``, else PATH).

    Raises RuntimeUnavailable when it is missing or older than Node.js 18.
    """
    wanted = str(node) if node is not None else os.environ.get("LOADBUDGET_NODE") or "node"
    found = shutil.which(wanted)
    if found is None:
        raise RuntimeUnavailable(f"Node.js not found ({wanted!r} is not an executable)", NODE_INSTALL)
    try:
        version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
        major = int(version.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise RuntimeUnavailable(f"Node.js at {found} does not run ({error})", NODE_INSTALL) from None
    if major < MIN_NODE_MAJOR:
        raise RuntimeUnavailable(f"Node.js at {found} is {version.strip()}, too old", NODE_INSTALL)
    return Path(found)


def find_npm(npm: str | os.PathLike[str] | None = None) -> Path:
    wanted = str(npm) if npm is not None else "npm"
    found = shutil.which(wanted)
    if found is None:
        raise RuntimeUnavailable(f"npm not found ({wanted!r} is not an executable)", NODE_INSTALL)
    return Path(found)


def installed_js(cache_dir: str | os.PathLike[str] | None = None) -> JSInstall:
    """The complete install of the shipped lockfile; never runs npm.

    Raises RuntimeUnavailable naming the command that installs it.
    """
    root = install_dir(cache_dir)
    if not (root / COMPLETE_MARKER).is_file():
        option = f" --cache-dir {cache_dir}" if cache_dir is not None else ""
        raise RuntimeUnavailable(
            f"the TF.js npm packages are not installed in {root}",
            f"run `{SETUP_COMMAND}{option}` (npm ci of the lockfile shipped with pytest-loadbudget; needs npm)",
        )
    return JSInstall(root)


def setup_js(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    npm: str | os.PathLike[str] | None = None,
    timeout: float = 900.0,
) -> JSInstall:
    """Install the shipped lockfile with ``npm ci`` unless it is installed already.

    Safe to call from several processes at once (pytest-xdist workers): one
    installs, the others wait on a file lock and reuse it. ``force`` reinstalls.
    Raises RuntimeUnavailable when npm is missing and SetupError when npm fails.
    """
    from filelock import FileLock

    root = install_dir(cache_dir)
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if not force and (root / COMPLETE_MARKER).is_file():
            return JSInstall(root)
        npm_path = find_npm(npm)
        # Install beside the target and rename: a reader never sees half a node_modules.
        staging = root.with_name(f"{root.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in LOCK_FILES:
            shutil.copyfile(JS_DIR / name, staging / name)
        # --ignore-scripts: the lockfile's only install script is core-js's
        # funding banner; a script that downloads a binary would fail offline.
        command = [str(npm_path), "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
        try:
            done = subprocess.run(command, cwd=staging, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            raise SetupError(f"`npm ci` in {root} did not finish within {timeout:g} s", "check access to the npm registry") from None
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = (done.stderr or done.stdout).strip()[-2000:]
            raise SetupError(f"`npm ci` failed with exit status {done.returncode} in {root}", tail or "no output from npm")
        install = JSInstall(staging)
        missing = [str(path) for path in install.browser_files().values() if not path.is_file()]
        if len(install.browser_files()) < 3 or missing:
            shutil.rmtree(staging, ignore_errors=True)
            raise SetupError(f"`npm ci` left no TF.js bundles in {root}", f"missing: {', '.join(missing) or 'the .wasm files'}")
        (staging / COMPLETE_MARKER).write_text(json.dumps({"digest": lock_digest(), "tfjs": install.tfjs_version}) + "\n")
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
    return JSInstall(root)


def add_setup_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``setup-js``, for a ``loadbudget setup-js`` subcommand parser."""
    parser.add_argument("--cache-dir", help="cache directory (default: $LOADBUDGET_CACHE_DIR or ~/.cache/pytest-loadbudget)")
    parser.add_argument("--force", action="store_true", help="reinstall even when an install is there")
    parser.add_argument("--check", action="store_true", help="only check: exit 1 when node or the packages are missing")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when Node.js or npm is missing (default: say so and exit 0)")


def run_setup(args: argparse.Namespace) -> int:
    """Run ``setup-js`` with parsed ``add_setup_arguments`` options; returns the exit status.

    A machine without Node.js or npm is a supported one (the Node.js and
    browser tests skip there), so by default their absence is reported and
    the exit status is 0: a set-up chain joined by ``&&`` goes on. A failed
    ``npm ci`` is an error whatever the options.
    """
    try:
        node = find_node()
        install = installed_js(args.cache_dir) if args.check else setup_js(args.cache_dir, force=args.force)
    except SetupError as error:
        print(f"loadbudget setup-js: {error}", file=sys.stderr)
        return 1
    except RuntimeUnavailable as error:
        print(f"loadbudget setup-js: {error}", file=sys.stderr)
        if args.check or args.strict:
            return 1
        print("loadbudget setup-js: nothing installed; tests with runtime='node' or 'browser' will be skipped "
              "(--strict makes this an error)", file=sys.stderr)
        return 0
    print(f"TF.js {install.tfjs_version} installed in {install.root} (node: {node})")
    return 0


SETUP_DESCRIPTION = (
    "Install the TF.js npm packages (npm ci of the lockfile shipped with pytest-loadbudget) "
    "that the Node.js and browser runtimes load models with."
)


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_loadbudget.tfjs_runtime``: install the TF.js packages the runtimes need."""
    parser = argparse.ArgumentParser(prog="python -m pytest_loadbudget.tfjs_runtime", description=SETUP_DESCRIPTION)
    add_setup_arguments(parser)
    return run_setup(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
