"""Keras v3 ``.keras`` archives and legacy HDF5 ``.h5`` files."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_loadbudget.errors import ModelFileError, ModelLoadError
from pytest_loadbudget.formats.base import ModelFormat, materialize, zeros_for_shape

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def keras_sample_input(model: Any) -> Any:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    arrays = [zeros_for_shape(tensor.shape, getattr(tensor, "dtype", "float32") or "float32") for tensor in inputs]
    return arrays[0] if len(arrays) == 1 else arrays


def keras_infer(model: Any, inputs: Any) -> Any:
    # Calling the model directly (not predict) is what a serving loop does,
    # and it skips predict's per-call data-adapter set-up.
    return materialize(model(inputs, training=False))


class KerasFormat(ModelFormat):
    name = "keras"
    framework = "keras"
    #: The file name endings keras.models.load_model accepts for this format.
    suffixes: tuple[str, ...] = (".keras",)

    def matches(self, path: Path) -> bool:
        return path.suffix in self.suffixes

    def artifact_files(self, path: Path) -> list[Path]:
        files = super().artifact_files(path)
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                broken = archive.testzip()
        except Exception as error:  # damaged members raise zlib.error, EOFError, ... besides BadZipFile
            raise ModelFileError(path, f"not a readable .keras archive (zip): {error}") from None
        if broken is not None:
            raise ModelFileError(path, f"corrupt member {broken!r} in the .keras archive")
        if "config.json" not in names:
            raise ModelFileError(path, "the .keras archive has no config.json: not a Keras v3 model")
        return files

    def import_framework(self) -> None:
        import keras  # noqa: F401

    def load(self, path: Path, **options: Any) -> Any:
        import keras

        try:
            with _named_for_keras(path, self.suffixes) as keras_path:
                return keras.models.load_model(keras_path, **options)
        except Exception as error:  # the framework raises anything from ValueError to KeyError
            raise ModelLoadError(path, f"keras.models.load_model failed: {type(error).__name__}: {error}") from error

    def sample_input(self, model: Any) -> Any:
        return keras_sample_input(model)

    def infer(self, model: Any, inputs: Any) -> Any:
        return keras_infer(model, inputs)


class H5Format(KerasFormat):
    name = "h5"
    suffixes = (".h5", ".hdf5")

    def artifact_files(self, path: Path) -> list[Path]:
        files = ModelFormat.artifact_files(self, path)
        with path.open("rb") as stream:
            head = stream.read(len(_HDF5_SIGNATURE))
        # HDF5 allows a user block before the signature, at 512, 1024, ... bytes.
        if head != _HDF5_SIGNATURE and not _signature_after_user_block(path):
            raise ModelFileError(path, "not an HDF5 file (no HDF5 signature): corrupt or not a Keras .h5 model")
        return files


@contextlib.contextmanager
def _named_for_keras(path: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """``path``, or a link to it whose name ends as Keras expects.

    keras.models.load_model picks the format from the file name alone, so a
    model named explicitly (``format="keras"`` on ``classifier.bin``) would be
    refused as "File format not supported".
    """
    if path.suffix in suffixes:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="loadbudget-") as directory:
        link = Path(directory) / f"{path.stem}{suffixes[0]}"
        try:
            os.symlink(path.absolute(), link)
        except OSError:  # no symbolic links here (Windows without the privilege)
            shutil.copyfile(path, link)
        yield link


def _signature_after_user_block(path: Path) -> bool:
    size = path.stat().st_size
    offset = 512
    with path.open("rb") as stream:
        while offset + len(_HDF5_SIGNATURE) <= size:
            stream.seek(offset)
            if stream.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset *= 2
    return False
