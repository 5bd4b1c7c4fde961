"""The backup file format: what is sealed comes back whole, and any change to the file (a byte,
a chunk dropped, moved or added, another key) is refused."""

from __future__ import annotations

import io
import os
import struct

import pytest

from antrean.backup import MAGIC, BackupError, load_key, new_key, seal, unseal


def sealed_bytes(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    seal(io.BytesIO(data), out, key, "sqlite")
    return out.getvalue()


def chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    """The file's head (magic and header line) and its chunks as written."""
    end = blob.index(b"\n", len(MAGIC)) + 1
    head, rest, parts = blob[:end], blob[end:], []
    while rest:
        (size,) = struct.unpack(">I", rest[:4])
        size &= 0x7FFF_FFFF
        parts.append(rest[: 4 + size])
        rest = rest[4 + size :]
    return head, parts


def opened(blob: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    unseal(io.BytesIO(blob), out, key)
    return out.getvalue()


@pytest.fixture
def key() -> bytes:
    return load_key(new_key())


def test_what_is_sealed_comes_back_whole(key):
    for data in (b"", b"x", os.urandom(3 * 1024 * 1024 + 7), b"SQLite format 3\0" * 200_000):
        blob = sealed_bytes(data, key)
        assert opened(blob, key) == data
        assert b"SQLite format 3" not in blob[len(MAGIC) + 200 :]  # not readable without the key
    assert len(chunks(sealed_bytes(os.urandom(3 * 1024 * 1024), key))[1]) == 4


def test_any_change_to_the_file_is_refused(key):
    blob = sealed_bytes(os.urandom(3 * 1024 * 1024), key)
    head, parts = chunks(blob)
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x01
    altered = {
        "a byte changed": bytes(flipped),
        "the last chunk dropped": head + b"".join(parts[:-1]),
        "two chunks swapped": head + parts[1] + parts[0] + b"".join(parts[2:]),
        "a chunk repeated": head + parts[0] + b"".join(parts),
        "data after the end": blob + b"junk",
        "cut in the middle of a chunk": blob[: len(blob) - 100],
        "the header changed": blob.replace(b'"sqlite"', b'"sqlitX"', 1),
    }
    for what, bad in altered.items():
        with pytest.raises(BackupError):
            opened(bad, key)
        assert what  # each case named for the failure message
    with pytest.raises(BackupError, match="another key"):
        opened(blob, load_key(new_key()))
    with pytest.raises(BackupError, match="not an antrean backup"):
        opened(b"PK\x03\x04" + blob, key)


def test_a_key_must_be_32_bytes_of_base64():
    assert len(load_key(new_key())) == 32
    for bad in ("", "short", "!" * 44, new_key()[:-4]):
        with pytest.raises(BackupError, match="32 bytes"):
            load_key(bad)
