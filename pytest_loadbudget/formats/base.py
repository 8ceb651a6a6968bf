"""What every model format provides to the measurements."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from pytest_loadbudget.errors import ModelFileError


class ModelFormat:
    """One way of loading a model; subclasses override what differs.

    ``artifact_files`` validates before anything is loaded, so that a broken
    artifact fails with the file and the problem rather than a framework
    traceback from deep inside a loader.
    """

    name = ""
    #: What the import phase of a cold start imports, in words.
    framework = "the framework"
    #: Whether the model runs in a TF.js runtime (Node.js, Chromium) rather than Python.
    is_tfjs = False
    #: Whether the format has a Python loader; TF.js graph models have none.
    loadable = True

    def matches(self, path: Path) -> bool:
        raise NotImplementedError

    def artifact_files(self, path: Path) -> list[Path]:
        """Every file the load reads, after checking they are complete."""
        if not path.is_file():
            raise ModelFileError(path, file_problem(path))
        check_readable(path)
        return [path]

    def with_interpreter(self, interpreter: str) -> ModelFormat:
        """The format run by ``interpreter`` (a name of ``tflite_interpreters.INTERPRETERS``).

        Only ``.tflite`` models have several interpreters; other formats are their own.
        """
        return self

    def import_framework(self) -> None:
        """Import the framework outside the timed region: its import is not the load."""

    def load(self, path: Path, **options: Any) -> Any:
        raise NotImplementedError

    def sample_input(self, model: Any) -> Any:
        """A batch of one made from the model's input signature, or None."""
        return None

    def infer(self, model: Any, inputs: Any) -> Any:
        """Run one inference and read the result back to host memory."""
        return materialize(model(inputs))

    def release(self, model: Any) -> None:
        """Free what the model holds beyond its references (none for most formats)."""


def file_problem(path: Path) -> str:
    """Why ``path`` is not a regular file, in words: missing, a link loop, a directory, ...

    ``Path.exists`` and ``is_file`` answer False for a symbolic link loop, as
    for a missing file; saying "does not exist" of a path that ``ls`` shows
    sends the user looking in the wrong place.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return f"a symbolic link loop: {_link_chain(path)}" if path.is_symlink() else \
                "a symbolic link loop in the path: it leads to no file"
        if path.is_symlink():
            return f"a broken symbolic link: its target {os.readlink(path)} does not exist"
        if error.errno == errno.ENOENT:
            return "does not exist"
        return f"cannot be read: {error.strerror}"
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if stat.S_ISFIFO(mode):
        # Never opened: a read would wait for a writer forever.
        return "a FIFO (named pipe), not a file"
    if stat.S_ISREG(mode):
        return "a file"
    return "a socket or device, not a file"


def check_readable(path: Path) -> None:
    """Raise ModelFileError if ``path`` cannot be opened for reading (permissions, ...)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        target = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise ModelFileError(path, f"cannot be read: {error.strerror}{target}") from None


def _link_chain(path: Path, hops: int = 8) -> str:
    """``a -> b -> a``: the targets as the links spell them, until one repeats."""
    names = [path.name]
    seen = {os.path.abspath(path)}
    current = path
    for _ in range(hops):
        try:
            target = os.readlink(current)
        except OSError:
            return " -> ".join(names)
        names.append(target)
        current = Path(os.path.join(current.parent, target))
        key = os.path.abspath(current)
        if key in seen:
            return " -> ".join(names)
        seen.add(key)
    return " -> ".join(names) + " -> ..."


def materialize(outputs: Any) -> Any:
    """Bring outputs to host memory so that asynchronous work is included."""
    if isinstance(outputs, dict):
        return {key: materialize(value) for key, value in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [materialize(value) for value in outputs]
    if hasattr(outputs, "detach") and hasattr(outputs, "cpu"):  # a torch.Tensor
        return outputs.detach().cpu().numpy()
    if hasattr(outputs, "numpy"):
        return outputs.numpy()
    return outputs


def zeros_for_shape(shape: Any, dtype: Any = "float32") -> np.ndarray[Any, Any]:
    """Zeros of a signature's shape, unknown dimensions (batch included) set to 1."""
    dims = [1 if dim is None or int(dim) < 0 else int(dim) for dim in shape]
    # TensorFlow DTypes carry their NumPy type; Keras 3 gives plain strings.
    return np.zeros(dims, dtype=np.dtype(getattr(dtype, "as_numpy_dtype", dtype)))
