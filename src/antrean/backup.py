"""`antrean backup` and `antrean restore`: an encrypted copy of the whole database, taken while
the server keeps serving, and put back.

- SQLite: SQLite's online backup API copies the database as it was at one moment (in WAL mode
  writers go on meanwhile). PostgreSQL: `pg_dump --format=custom`, which reads in one
  snapshot.
- The copy is compressed (zlib) and encrypted with AES-256-GCM in chunks of 1 MiB, each
  chunk's nonce and associated data carrying its number and whether it is the last, so a
  file altered, truncated, reordered or made with another key is refused as a whole. The key
  (32 bytes, base64) comes from `ANTREAN_BACKUP_KEY` or a key file, never from the database;
  `antrean backup --new-key` prints a fresh one.
- Restore checks every chunk before it touches the database, and refuses to overwrite a
  database that holds data unless told to (`--force`).

File layout: the magic line, one JSON header line, then chunks of `[4-byte length, top bit set
on the last chunk][ciphertext and 16-byte tag]`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

MAGIC = b"ANTREAN-BACKUP 1\n"
CHUNK = 1024 * 1024
_LAST = 0x8000_0000


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def new_key() -> str:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def load_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode() + b"==")
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise BackupError(
            "The backup key must be 32 bytes in base64 (make one with `antrean backup --new-key`)."
        )
    return key


def key_id(key: bytes) -> str:
    """Names the key in the header without giving it away: which key a file needs."""
    return hashlib.sha256(b"antrean-backup-key\0" + key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Header:
    database: str  # "sqlite" or "postgresql"
    created_at: str
    key_id: str
    nonce: str  # 8 bytes, base64: each chunk's nonce is these and its number


def _fields(header: Header) -> dict[str, str]:
    return {
        "database": header.database,
        "created_at": header.created_at,
        "key_id": header.key_id,
        "nonce": header.nonce,
    }


# --- The sealed stream ---------------------------------------------------------------------


def seal(plain: BinaryIO, out: BinaryIO, key: bytes, database: str) -> int:
    """Compress and encrypt `plain` into `out`; the bytes written."""
    prefix = os.urandom(8)
    header = Header(
        database=database,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        key_id=key_id(key),
        nonce=base64.b64encode(prefix).decode(),
    )
    head = json.dumps(_fields(header), sort_keys=True).encode()
    out.write(MAGIC + head + b"\n")
    written = len(MAGIC) + len(head) + 1
    aead = AESGCM(key)
    squeeze = zlib.compressobj(6)
    pending = b""
    number = 0

    def emit(data: bytes, last: bool) -> int:
        nonlocal number
        sealed = aead.encrypt(_nonce(prefix, number), data, _aad(head, number, last))
        out.write(struct.pack(">I", len(sealed) | (_LAST if last else 0)) + sealed)
        number += 1
        return 4 + len(sealed)

    while block := plain.read(CHUNK):
        pending += squeeze.compress(block)
        while len(pending) >= CHUNK:
            written += emit(pending[:CHUNK], last=False)
            pending = pending[CHUNK:]
    pending += squeeze.flush()
    while len(pending) > CHUNK:
        written += emit(pending[:CHUNK], last=False)
        pending = pending[CHUNK:]
    written += emit(pending, last=True)
    return written


def read_header(sealed: BinaryIO) -> tuple[Header, bytes]:
    if sealed.read(len(MAGIC)) != MAGIC:
        raise BackupError("This is not an antrean backup file.")
    head = sealed.readline(4096).rstrip(b"\n")
    try:
        fields = json.loads(head)
        header = Header(
            **{k: str(fields[k]) for k in ("database", "created_at", "key_id", "nonce")}
        )
    except (ValueError, KeyError, TypeError):
        raise BackupError("The backup file's header is damaged.") from None
    return header, head


def unseal(sealed: BinaryIO, out: BinaryIO, key: bytes) -> Header:
    """Check and decrypt every chunk into `out`; raises BackupError on any alteration."""
    header, head = read_header(sealed)
    if header.key_id != key_id(key):
        raise BackupError("This backup was made with another key.")
    prefix = base64.b64decode(header.nonce)
    aead = AESGCM(key)
    inflate = zlib.decompressobj()
    number = 0
    while True:
        size_field = sealed.read(4)
        if len(size_field) != 4:
            raise BackupError("The backup file is cut short.")
        (size,) = struct.unpack(">I", size_field)
        last = bool(size & _LAST)
        size &= ~_LAST
        if size > CHUNK + 16:  # a chunk and its tag
            raise BackupError("The backup file is damaged.")
        body = sealed.read(size)
        try:
            plain = aead.decrypt(_nonce(prefix, number), body, _aad(head, number, last))
        except InvalidTag:
            raise BackupError(
                f"The backup file is damaged or was altered (chunk {number} does not check out)."
            ) from None
        out.write(inflate.decompress(plain))
        number += 1
        if last:
            break
    if sealed.read(1):
        raise BackupError("The backup file has data after its end: it was altered.")
    out.write(inflate.flush())
    if not inflate.eof:
        raise BackupError("The backup file is incomplete.")
    return header


def _nonce(prefix: bytes, number: int) -> bytes:
    return prefix + struct.pack(">I", number)


def _aad(head: bytes, number: int, last: bool) -> bytes:
    return head + struct.pack(">IB", number, 1 if last else 0)


# --- Databases -----------------------------------------------------------------------------


def backup(database_url: str, output: Path, key: bytes) -> int:
    """Write an encrypted backup of the database to `output` (made whole, then moved into
    place, so a half-written file never has the final name); the bytes written."""
    url = make_url(database_url)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as out:
            if url.get_backend_name() == "sqlite":
                with _sqlite_snapshot(url.database or "") as snapshot:
                    written = seal(snapshot, out, key, "sqlite")
            else:
                with _pg_dump(database_url) as dump:
                    written = seal(dump, out, key, "postgresql")
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return written


def restore(database_url: str, source: Path, key: bytes, *, force: bool) -> Header:
    """Put a backup back in place of the database. Every chunk is checked first; a database
    that holds data is replaced only with `force`."""
    url = make_url(database_url)
    kind = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
    with source.open("rb") as sealed:
        header, _ = read_header(sealed)
    if header.database != kind:
        raise BackupError(f"This is a backup of a {header.database} database, not {kind}.")
    if kind == "sqlite":
        target = Path(url.database or "")
        work = Path(tempfile.mkdtemp(prefix=".restore-", dir=target.parent))
    else:
        work = Path(tempfile.mkdtemp(prefix="antrean-restore-"))
    try:
        plain = work / "restored"
        with source.open("rb") as sealed, plain.open("wb") as out:
            unseal(sealed, out, key)
        if kind == "sqlite":
            _restore_sqlite(plain, Path(url.database or ""), force=force)
        else:
            _restore_pg(database_url, plain, force=force)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return header


@contextlib.contextmanager
def _sqlite_snapshot(path: str) -> Iterator[IO[bytes]]:
    if not Path(path).is_file():
        raise BackupError(f"There is no database at {path}.")
    with tempfile.TemporaryDirectory(prefix="antrean-backup-") as work:
        copy = Path(work) / "snapshot.db"
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # all pages in one step: one moment's database
        finally:
            target.close()
            source.close()
        with copy.open("rb") as f:
            yield f


@contextlib.contextmanager
def _pg_dump(database_url: str) -> Iterator[IO[bytes]]:
    target, env = _libpq(database_url)
    with tempfile.TemporaryFile(prefix="antrean-dump-") as dump:
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--dbname", target],
            stdout=dump,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError("pg_dump failed: " + done.stderr.decode(errors="replace").strip())
        dump.seek(0)
        yield dump


def _restore_sqlite(plain: Path, target: Path, *, force: bool) -> None:
    check = sqlite3.connect(plain)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The restored database fails SQLite's integrity check.")
    finally:
        check.close()
    if target.exists() and target.stat().st_size > 0 and not force:
        raise BackupError(
            f"{target} already holds a database. Stop the server, then restore with --force "
            "to replace it."
        )
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(plain, target)


def _restore_pg(database_url: str, plain: Path, *, force: bool) -> None:
    target, env = _libpq(database_url)
    tables = subprocess.run(
        [
            "psql",
            "--no-psqlrc",
            "-tAc",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            "--dbname",
            target,
        ],
        capture_output=True,
        env=env,
        check=False,
    )
    if tables.returncode != 0:
        raise BackupError("Cannot reach the database: " + tables.stderr.decode(errors="replace"))
    if int(tables.stdout.strip() or 0) > 0 and not force:
        raise BackupError(
            "The database already has tables. Stop the servers, then restore with --force to "
            "replace them."
        )
    done = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            target,
            str(plain),
        ],
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError("pg_restore failed: " + done.stderr.decode(errors="replace").strip())


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """The address for libpq tools, with the password in the environment rather than on the
    command line (where other users could see it)."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env
