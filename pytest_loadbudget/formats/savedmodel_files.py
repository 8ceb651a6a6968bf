"""The files of a SavedModel, checked without TensorFlow.

TensorFlow's own errors for a damaged SavedModel name the directory or no
file at all ("not an sstable (bad magic number)", "Read less bytes than
requested"). These checks read the framing of ``saved_model.pb`` and the
``variables.index`` table (a LevelDB-format SSTable of BundleEntryProto
records, each giving the shard, offset and size of one tensor), so that the
damaged file is named, along with how it is damaged.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from pytest_loadbudget.errors import ModelFileError
from pytest_loadbudget.formats.base import check_readable, file_problem

#: The last 8 bytes of every SSTable (leveldb/table/format.h kTableMagicNumber).
SSTABLE_MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)
#: An SSTable footer: two block handles padded to 40 bytes, then the magic number.
FOOTER_BYTES = 48
#: The 1-byte compression type and 4-byte CRC after every block.
BLOCK_TRAILER_BYTES = 5
UNCOMPRESSED = 0
#: SavedModel.meta_graphs, the field that holds the graph.
META_GRAPHS_FIELD = 2


class _Malformed(Exception):
    pass


def check_saved_model_pb(path: Path) -> None:
    """Walk the top-level fields of ``saved_model.pb``: a truncated or damaged file fails here.

    Only tags and lengths are read (payloads are skipped), so the cost does
    not grow with the graph.
    """
    size = path.stat().st_size
    seen_graph = False
    try:
        with path.open("rb") as stream:
            while stream.tell() < size:
                start = stream.tell()
                tag = _read_varint(stream)
                field, wire_type = tag >> 3, tag & 7
                if field == 0:
                    raise _Malformed(f"field number 0 at byte {start:,}")
                if wire_type == 0:
                    _read_varint(stream)
                    continue
                if wire_type in (1, 5):
                    length = 8 if wire_type == 1 else 4
                elif wire_type == 2:
                    length = _read_varint(stream)
                    seen_graph = seen_graph or field == META_GRAPHS_FIELD
                else:
                    raise _Malformed(f"invalid wire type {wire_type} at byte {start:,}")
                end = stream.tell() + length
                if end > size:
                    raise _Malformed(f"field {field} at byte {start:,} runs to byte {end:,} of {size:,}")
                stream.seek(end)
    except _Malformed as error:
        raise ModelFileError(path, f"not a valid SavedModel protobuf ({error}): corrupt or truncated") from None
    if not seen_graph:
        raise ModelFileError(path, "not a valid SavedModel protobuf (no MetaGraphDef): corrupt or truncated")


def check_checkpoint(index: Path) -> list[Path]:
    """Check ``variables.index`` and that each data shard holds the bytes it lists.

    Returns the data shards the index names. A table whose blocks are
    compressed is left to TensorFlow: only its footer is checked.
    """
    data = index.read_bytes()
    if len(data) < FOOTER_BYTES or data[-8:] != SSTABLE_MAGIC:
        raise ModelFileError(
            index, "not a TensorFlow checkpoint index (no SSTable magic number at its end): corrupt or truncated"
        )
    try:
        needed, shards = _shard_extents(data)
    except (_Malformed, IndexError, struct.error) as error:
        raise ModelFileError(index, f"corrupt checkpoint index ({error or type(error).__name__})") from None
    if shards is None:
        return []
    prefix = index.name[: -len(".index")]
    paths = [index.with_name(f"{prefix}.data-{shard:05d}-of-{shards:05d}") for shard in range(shards)]
    for shard, path in enumerate(paths):
        if not path.is_file():
            problem = file_problem(path)
            if problem == "does not exist":
                problem = f"missing: {index.name} lists {shards} data shard(s)"
            raise ModelFileError(path, problem)
        check_readable(path)
        actual = path.stat().st_size
        if actual < needed.get(shard, 0):
            raise ModelFileError(
                path, f"truncated: {actual:,} bytes, but {index.name} needs {needed[shard]:,} bytes here"
            )
    return paths


def _shard_extents(data: bytes) -> tuple[dict[int, int], int | None]:
    """Per shard, the end of its last tensor; and the shard count (None if compressed)."""
    footer = data[-FOOTER_BYTES:]
    _, position = _varint(footer, 0)  # the metaindex block, empty in checkpoints
    _, position = _varint(footer, position)
    index_offset, position = _varint(footer, position)
    index_size, _ = _varint(footer, position)
    needed: dict[int, int] = {}
    shards = None
    for _, handle in _block_entries(data, index_offset, index_size):
        if handle is None:
            return needed, None
        offset, position = _varint(handle, 0)
        size, _ = _varint(handle, position)
        for key, value in _block_entries(data, offset, size):
            if value is None:
                return needed, None
            fields = _fields(value)
            if key == b"":  # BundleHeaderProto: num_shards = 1
                shards = fields.get(1, 1)
                continue
            # BundleEntryProto: shard_id = 3, offset = 4, size = 5.
            shard = fields.get(3, 0)
            needed[shard] = max(needed.get(shard, 0), fields.get(4, 0) + fields.get(5, 0))
    if shards is None:
        raise _Malformed("no header entry")
    return needed, shards


def _block_entries(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes | None]]:
    """The (key, value) entries of one block; values None if the block is compressed."""
    if offset + size + BLOCK_TRAILER_BYTES > len(data) - FOOTER_BYTES:
        raise _Malformed(f"a block at byte {offset:,} runs past the end of the table")
    if data[offset + size] != UNCOMPRESSED:
        return [(b"", None)]
    block = data[offset:offset + size]
    restarts = struct.unpack_from("<I", block, size - 4)[0]
    end = size - 4 - 4 * restarts
    if end < 0:
        raise _Malformed(f"{restarts:,} restart points in a block of {size:,} bytes")
    entries: list[tuple[bytes, bytes | None]] = []
    key = b""
    position = 0
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        value_size, position = _varint(block, position)
        key = key[:shared] + block[position:position + unshared]
        position += unshared
        entries.append((key, block[position:position + value_size]))
        position += value_size
    if position != end:
        raise _Malformed(f"a block at byte {offset:,} ends inside an entry")
    return entries


def _fields(message: bytes) -> dict[int, int]:
    """The varint fields of a protobuf message, by number (others skipped)."""
    fields: dict[int, int] = {}
    position = 0
    while position < len(message):
        tag, position = _varint(message, position)
        wire_type = tag & 7
        if wire_type == 0:
            fields[tag >> 3], position = _varint(message, position)
        elif wire_type == 2:
            length, position = _varint(message, position)
            position += length
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            raise _Malformed(f"invalid wire type {wire_type} in an index entry")
    if position != len(message):
        raise _Malformed("an index entry ends inside a field")
    return fields


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
    raise _Malformed(f"a varint longer than 10 bytes at byte {position - 10:,}")


def _read_varint(stream: BinaryIO) -> int:
    start = stream.tell()
    value = 0
    for shift in range(0, 70, 7):
        byte = stream.read(1)
        if not byte:
            raise _Malformed(f"the file ends inside a varint at byte {start:,}")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
    raise _Malformed(f"a varint longer than 10 bytes at byte {start:,}")
