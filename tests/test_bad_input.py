"""Broken models fail the test that loads them, with the file and the problem, and nothing else."""

from __future__ import annotations

import builtins
import errno
import fnmatch
import io
import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats import detect_format

from models import copy_model, literal, overwrite, record_named, shards, truncate, write_only_file


@dataclass(frozen=True)
class Broken:
    path: Path  # what the test hands to load_model
    line: str  # the failure line the user sees, an fnmatch pattern
    #: Whether the error comes from the session's model store (and its record
    #: carries it), rather than from resolving the path before anything is loaded.
    recorded: bool = True
    #: A damaged file that crashes the interpreter (a segmentation fault) if validation lets it through.
    crashes: bool = False
    #: The TF.js runtime the broken tests measure in (``load_budget(runtime=...)``); None: Python.
    runtime: str | None = None
    #: Make every open() of ``path`` fail with EACCES, as chmod 000 does for any user but root.
    refuse_open: bool = False


#: A path with spaces and characters outside ASCII, in the directory and the file name.
UNICODE_DIR = "mödels dir"
UNICODE_NAME = "ünïcode model.keras"

Breaker = Callable[[dict[str, Path], Path], Broken]
CASES: dict[str, Breaker] = {}


def case(function: Breaker) -> Breaker:
    CASES[function.__name__] = function
    return function


def error(kind: str, path: Path, problem: str) -> str:
    """The failure line: ``path`` taken literally, ``problem`` an fnmatch pattern."""
    return f"{kind}: {literal(str(path))}: {problem}"


@case
def truncated_middle_shard(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-sharded"], where)
    shard = shards(model_json)[1]
    full = shard.stat().st_size
    truncate(shard, 1000)
    return Broken(model_json, error(
        "ModelFileError", shard,
        f"truncated: 1,000 bytes where the other shards of weightsManifest[[]0] hold {full:,}",
    ))


@case
def truncated_last_shard(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-sharded"], where)
    every = shards(model_json)
    needed = every[-1].stat().st_size
    total = sum(shard.stat().st_size for shard in every)
    truncate(every[-1], needed - 1)
    return Broken(model_json, error(
        "ModelFileError", every[-1],
        f"truncated: {needed - 1:,} bytes, but model.json needs {needed:,} bytes here "
        f"({total:,} bytes of weights in weightsManifest[[]0], {len(every)} shard(s))",
    ))


@case
def missing_shard(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-sharded"], where)
    shard = shards(model_json)[2]
    shard.unlink()
    return Broken(model_json, error("ModelFileError", shard, "missing: named in weightsManifest[[]0].paths of model.json"))


@case
def shard_with_extra_bytes(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-sharded"], where)
    total = sum(shard.stat().st_size for shard in shards(model_json))
    with shards(model_json)[-1].open("ab") as stream:
        stream.write(b"\0" * 8)
    return Broken(model_json, error(
        "ModelFileError", model_json,
        f"weightsManifest[[]0]: the shards hold {total + 8:,} bytes but the weights listed need {total:,}: "
        "the shards belong to another conversion of the model",
    ))


@case
def model_json_not_json(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-graph"], where)
    truncate(model_json, model_json.stat().st_size // 2)
    return Broken(model_json, error(
        "ModelFileError", model_json, "not valid JSON (*): truncated or not a TF.js model.json",
    ))


@case
def model_json_unknown_dtype(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-graph"], where)
    document = json.loads(model_json.read_text())
    weight = document["weightsManifest"][0]["weights"][0]
    weight["dtype"] = "float64"
    model_json.write_text(json.dumps(document))
    return Broken(model_json, error(
        "ModelFileError", model_json, f"weightsManifest[[]0]: weight {literal(repr(weight['name']))} has unknown dtype 'float64'",
    ))


@case
def h5_without_signature(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["h5"], where)
    overwrite(path, 0, b"\0" * 8)
    return Broken(path, error(
        "ModelFileError", path, "not an HDF5 file (no HDF5 signature): corrupt or not a Keras .h5 model",
    ))


@case
def truncated_h5(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["h5"], where)
    truncate(path, path.stat().st_size // 2)
    # The signature is intact: HDF5 itself finds the truncation when Keras opens the file.
    return Broken(path, error("ModelLoadError", path, "keras.models.load_model failed: OSError: *truncated file*"))


@case
def truncated_keras(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["keras"], where)
    truncate(path, path.stat().st_size // 2)
    return Broken(path, error("ModelFileError", path, "not a readable .keras archive (zip): File is not a zip file"))


@case
def corrupt_keras_member(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["keras"], where)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("config.json")
    with path.open("rb") as stream:
        stream.seek(member.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", stream.read(4))
    # Damage the member's stored bytes, not the archive's directory: only its CRC tells.
    overwrite(path, member.header_offset + 30 + name_length + extra_length + 10, b"#" * 8)
    return Broken(path, error("ModelFileError", path, "corrupt member 'config.json' in the .keras archive"))


@case
def corrupt_tflite(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["tflite"], where)
    overwrite(path, 100, b"\xff" * 800)
    return Broken(path, error("ModelFileError", path, "corrupt or truncated TFLite flatbuffer (*)"), crashes=True)


@case
def truncated_tflite(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["tflite"], where)
    truncate(path, path.stat().st_size // 2)
    return Broken(path, error("ModelFileError", path, "corrupt or truncated TFLite flatbuffer (*)"), crashes=True)


@case
def tflite_lfs_pointer(models: dict[str, Path], where: Path) -> Broken:
    # What a clone without git-lfs leaves in place of the model.
    path = where / "tiny.tflite"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 2240\n")
    return Broken(path, error(
        "ModelFileError", path, "not a TFLite flatbuffer (no TFL3 identifier): corrupt or truncated",
    ))


@case
def savedmodel_without_variables(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["savedmodel"], where)
    shutil.rmtree(path / "variables")
    return Broken(path, error(
        "ModelFileError", path / "variables" / "variables.index",
        "missing: the SavedModel has no variables/ checkpoint (an incomplete copy?)",
    ))


@case
def path_does_not_exist(models: dict[str, Path], where: Path) -> Broken:
    path = where / "classifier.keras"
    return Broken(path, error("ModelFileError", path, "does not exist"), recorded=False)


@case
def empty_directory(models: dict[str, Path], where: Path) -> Broken:
    path = where / "exported"
    path.mkdir()
    return Broken(path, error(
        "ModelFileError", path,
        "a directory with neither saved_model.pb (SavedModel) nor model.json (TF.js): not a model",
    ), recorded=False)


@case
def savedmodel_pb_garbage(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["savedmodel"], where)
    # What a download that got an error page instead of the file leaves.
    (path / "saved_model.pb").write_bytes(b"<html><body>404 Not Found</body></html>\n" * 20)
    return Broken(path, error(
        "ModelFileError", path / "saved_model.pb",
        "not a valid SavedModel protobuf (invalid wire type 4 at byte 0): corrupt or truncated",
    ))


@case
def savedmodel_pb_truncated(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["savedmodel"], where)
    graph = path / "saved_model.pb"
    full = graph.stat().st_size
    truncate(graph, full // 2)
    # The MetaGraphDef is the last field: it ran to the end of the whole file.
    return Broken(path, error(
        "ModelFileError", graph,
        f"not a valid SavedModel protobuf (field 2 at byte * runs to byte {full:,} of {full // 2:,}): corrupt or truncated",
    ))


@case
def savedmodel_index_garbage(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["savedmodel"], where)
    index = path / "variables" / "variables.index"
    index.write_bytes(bytes(range(256)) * 4)
    return Broken(path, error(
        "ModelFileError", index,
        "not a TensorFlow checkpoint index (no SSTable magic number at its end): corrupt or truncated",
    ))


@case
def savedmodel_data_truncated(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["savedmodel"], where)
    [data] = (path / "variables").glob("variables.data-*")
    full = data.stat().st_size
    truncate(data, full // 2)
    return Broken(path, error(
        "ModelFileError", data, f"truncated: {full // 2:,} bytes, but variables.index needs {full:,} bytes here",
    ))


@case
def savedmodel_link_loop(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["savedmodel"], where)
    [data] = (path / "variables").glob("variables.data-*")
    data.unlink()
    data.symlink_to("loop")
    (data.parent / "loop").symlink_to(data.name)
    return Broken(path, error("ModelFileError", data, f"a symbolic link loop: {data.name} -> loop -> {data.name}"))


@case
def model_path_link_loop(models: dict[str, Path], where: Path) -> Broken:
    path = where / "a.keras"
    path.symlink_to("b.keras")
    (where / "b.keras").symlink_to("a.keras")
    return Broken(path, error("ModelFileError", path, "a symbolic link loop: a.keras -> b.keras -> a.keras"),
                  recorded=False)


@case
def unicode_path_truncated(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["keras"], where / UNICODE_DIR)
    path = path.rename(path.with_name(UNICODE_NAME))
    truncate(path, path.stat().st_size // 2)
    return Broken(path, error("ModelFileError", path, "not a readable .keras archive (zip): File is not a zip file"))


@case
def unreadable_file(models: dict[str, Path], where: Path) -> Broken:
    path = copy_model(models["keras"], where)
    path.chmod(0)
    # chmod 000 does not stop root from reading: as root, the test refuses the opens itself.
    return Broken(path, error("ModelFileError", path, "cannot be read: Permission denied"), refuse_open=os.geteuid() == 0)


@case
def kernel_refuses_to_open(models: dict[str, Path], where: Path) -> Broken:
    # The open() that chmod 000 makes fail, failing for root too: the kernel
    # refuses to open a write-only sysfs attribute for reading.
    target = write_only_file()
    if target is None:
        pytest.skip("no write-only sysfs file here that open() refuses for reading")
    path = where / "tiny.tflite"
    path.symlink_to(target)
    return Broken(path, error(
        "ModelFileError", path, f"cannot be read: Permission denied (a link to {os.path.realpath(target)})",
    ))


@case
def fifo_as_model(models: dict[str, Path], where: Path) -> Broken:
    # Opening it would wait forever for a writer: validation must not open it.
    path = where / "tiny.tflite"
    os.mkfifo(path)
    return Broken(path, error("ModelFileError", path, "a FIFO (named pipe), not a file"))


@case
def shard_outside_model_directory(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-graph"], where)
    document = json.loads(model_json.read_text())
    [name] = document["weightsManifest"][0]["paths"]
    # The shard exists where the path leads: only its place is wrong.
    (model_json.parent / name).rename(where / name)
    document["weightsManifest"][0]["paths"] = [f"../{name}"]
    model_json.write_text(json.dumps(document))
    return Broken(model_json, error(
        "ModelFileError", model_json,
        f"weightsManifest[[]0].paths names '../{name}', outside the model's directory: "
        "shards must sit beside model.json or below it",
    ))


@case
def node_truncated_shard(models: dict[str, Path], where: Path) -> Broken:
    model_json = copy_model(models["tfjs-sharded"], where)
    shard = shards(model_json)[1]
    full = shard.stat().st_size
    truncate(shard, 1000)
    return Broken(model_json, error(
        "ModelFileError", shard,
        f"truncated: 1,000 bytes where the other shards of weightsManifest[[]0] hold {full:,}",
    ), runtime="node")


def refuse_opening(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Every open of ``path`` through Python fails as a file this user may not read does."""
    refused = os.path.realpath(path)

    def check(file: object) -> None:
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(file)) == refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(file))

    def guarded_open(file: Any, *args: Any, real: Callable[..., Any] = io.open, **kwargs: Any) -> Any:
        # builtins.open, io.open and Path.open
        check(file)
        return real(file, *args, **kwargs)

    def guarded_os_open(file: Any, *args: Any, real: Callable[..., int] = os.open, **kwargs: Any) -> int:
        check(file)
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)


@pytest.mark.parametrize("name", list(CASES))
def test_broken_model_fails_its_tests_only(name: str, model_paths, run_loadbudget, tmp_path, monkeypatch) -> None:
    broken = CASES[name](model_paths, tmp_path)
    if broken.refuse_open:
        refuse_opening(monkeypatch, broken.path)
    if broken.crashes:
        # Validation must refuse it before the in-process run below, which a
        # load of this file would take down with the whole test session.
        with pytest.raises(ModelFileError):
            detect_format(broken.path).artifact_files(broken.path)
    good = model_paths["tflite"]
    runtime = f"runtime={broken.runtime!r}" if broken.runtime else ""
    # A node that does not exist: had the runtime started, the tests would skip, not fail.
    options = [f"--loadbudget-node={tmp_path / 'no-node'}"] if broken.runtime else []
    result, document = run_loadbudget(f"""
        import numpy as np
        import pytest

        BROKEN = {str(broken.path)!r}
        GOOD = {str(good)!r}

        def test_good_before(load_model):
            assert load_model(GOOD)(np.zeros((1, 16, 16, 3), "float32")).shape == (1, 3)

        @pytest.mark.load_budget({runtime}{", " if runtime else ""}mb=10)
        def test_broken(load_model):
            load_model(BROKEN)

        @pytest.mark.load_budget({runtime})
        def test_broken_again(load_model):
            load_model(BROKEN)

        @pytest.mark.load_budget(mb=10)
        def test_good_after(load_model):
            assert load_model(GOOD)(np.zeros((1, 16, 16, 3), "float32")).shape == (1, 3)
    """, *options)
    result.assert_outcomes(passed=2, failed=2)
    # The failure is the file and the problem, once for each test that loads it.
    shown = [line for line in result.outlines if fnmatch.fnmatch(line, broken.line)]
    assert len(shown) == 2, f"{broken.line!r} shown {len(shown)} times:\n{result.stdout.str()}"
    assert shown[0] == shown[1]
    assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()
    records = [record for record in document["models"] if record["path"] == str(broken.path)]
    if broken.recorded:
        # One record: the second test got the cached error, not a second attempt.
        assert len(records) == 1
        kind = shown[0].split(": ", 1)[0]
        assert fnmatch.fnmatch(f"{kind}: {records[0]['error']}", broken.line)
        if broken.runtime:
            assert records[0]["runtime"].split()[0] == broken.runtime
            assert records[0]["runtime_figures"] is None  # nothing ran in it
    else:
        assert records == []


def test_unicode_path_with_spaces_loads_and_is_named(model_paths, run_loadbudget, tmp_path) -> None:
    path = copy_model(model_paths["keras"], tmp_path / UNICODE_DIR)
    path = path.rename(path.with_name(UNICODE_NAME))
    result, document = run_loadbudget(f"""
        import numpy as np
        import pytest

        @pytest.mark.load_budget(mb=10)
        def test_model(load_model):
            assert load_model({str(path)!r})(np.zeros((1, 16, 16, 3), "float32")).shape == (1, 3)
    """, "--loadbudget-report")
    result.assert_outcomes(passed=1)
    record = record_named(document, UNICODE_NAME)
    assert record["path"] == str(path)
    assert record["error"] is None
    assert record["size_bytes"] == path.stat().st_size
    result.stdout.fnmatch_lines([f"{UNICODE_NAME}  keras *python *cpu *ok"])
