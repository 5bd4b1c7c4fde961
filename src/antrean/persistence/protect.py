"""Protected data at rest: personal fields sealed with AES-256-GCM, exact look-ups by keyed
blind indexes.

A sealed value is text: the id of the key that sealed it, a full stop, and the URL-safe
base64 of a random 96-bit nonce followed by the ciphertext and its tag. The column it belongs
to (`patient.name`) is the associated data, so a value copied into another column does not
open. Before sealing, the text is padded to a multiple of 16 bytes, so a stored value tells
its length only to within 16 bytes. None stays NULL and the empty text stays empty: both say
only that the field is blank.

Keys never come from the database. The first data key seals; every data key opens, so a key
added in front of the others takes over new writes at once and `antrean keys rotate` moves the
old values across while the server keeps serving. One more key, `index`, makes the blind
indexes: HMAC-SHA256 of a normalised value, cut to 128 bits, so equal values give equal
indexes and nothing else is learnt without the key.

The column types (`SealedText`, `SealedDate`) seal on bind and open on result, so services and
the domain see plain values. They find the keys on the dialect of the engine they run on:
`attach(engine, keyring)` puts them there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.types import Text, TypeDecorator

from antrean.domain.patients import NAME_WORD_LETTERS, name_words

KEY_BYTES = 32
NONCE_BYTES = 12
INDEX_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_PAD_BLOCK = 16
INDEX_KEY_NAME = "index"


class BadKeys(ValueError):
    """Keys given that cannot be used (a bad line, a short key, no data key)."""


class MissingKeys(RuntimeError):
    """Protected data was read or written on a database connection that was given no keys."""


class SealBroken(ValueError):
    """A stored value does not open: altered, moved from another column, or sealed with a key
    that is not in the key list."""


@dataclass(frozen=True)
class Keys:
    """Keys as configured: data keys by id, the first one sealing, and the index key."""

    data: tuple[tuple[str, bytes], ...]
    index: bytes

    @property
    def current(self) -> str:
        return self.data[0][0]


def new_key() -> str:
    """A fresh random key, as it is written in a key list."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def new_key_list(key_id: str = "1") -> str:
    """A new key list: a data key and the index key, one per line."""
    return f"{key_id}={new_key()}\n{INDEX_KEY_NAME}={new_key()}\n"


def parse_keys(text: str) -> Keys:
    """`id=base64key` entries, one per line or separated by commas; `#` starts a comment. The
    entry named `index` is the blind index key; the first other entry seals."""
    data: list[tuple[str, bytes]] = []
    index: bytes | None = None
    entries = (part.strip() for line in text.splitlines() for part in line.split("#")[0].split(","))
    for entry in entries:
        if not entry:
            continue
        name, sep, encoded = (s.strip() for s in entry.partition("="))
        if not sep or not _KEY_ID.fullmatch(name):
            raise BadKeys("a key entry is id=key, the id 1 to 16 letters, digits, '-' or '_'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise BadKeys(f"key {name!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise BadKeys(f"key {name!r} must be {KEY_BYTES} random bytes, base64-encoded")
        if name == INDEX_KEY_NAME:
            if index is not None:
                raise BadKeys("the index key is given twice")
            index = key
        elif any(name == known for known, _ in data):
            raise BadKeys(f"key {name!r} is given twice")
        else:
            data.append((name, key))
    if not data:
        raise BadKeys("no data key: give at least one id=key entry besides index=")
    if index is None:
        raise BadKeys("no index key: give an index=key entry")
    return Keys(tuple(data), index)


def read_keys(source: str | Path, *, create: bool = False) -> Keys:
    """Keys given as text, or read from a file; with `create`, a missing file is made with a
    new key list, readable by its owner only."""
    if isinstance(source, str):
        return parse_keys(source)
    if create and not source.exists():
        source.parent.mkdir(parents=True, exist_ok=True)
        source.touch(mode=0o600)
        source.write_text(KEY_FILE_HEADER + new_key_list())
    try:
        return parse_keys(source.read_text())
    except OSError as exc:
        raise BadKeys(f"cannot read the data key file {source}: {exc.strerror}") from None


KEY_FILE_HEADER = (
    "# The keys of this server's patient data: the first data key seals, every data key\n"
    "# opens, `index` makes the search indexes. Keep this file apart from the database and\n"
    "# its backups: without it the data cannot be read.\n"
)


def _pad(raw: bytes) -> bytes:
    """ISO/IEC 7816-4 padding to a multiple of the block: 0x80, then zeros."""
    fill = _PAD_BLOCK - len(raw) % _PAD_BLOCK
    return raw + b"\x80" + b"\x00" * (fill - 1)


def _unpad(padded: bytes) -> bytes:
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise SealBroken("bad padding")
    return end[:-1]


class Keyring:
    """Seals, opens and indexes with the configured keys. `sealing=False` stores plain values
    and plain indexes: the same code paths without the cryptography, for measuring its cost
    (development only; see `config.resolve_keys`)."""

    def __init__(self, keys: Keys, *, sealing: bool = True) -> None:
        self.keys = keys
        self.sealing = sealing
        self.current = keys.current
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.data}
        self._sealer = self._ciphers[self.current]
        self._prefix = self.current + "."
        self._index = hmac.new(keys.index, digestmod=hashlib.sha256)
        # The audit chain's key, derived from the index key (`domain.audit`).
        chain_key = hmac.new(keys.index, b"antrean audit chain", hashlib.sha256).digest()
        self._chain = hmac.new(chain_key, digestmod=hashlib.sha256)

    # -- sealing ---------------------------------------------------------------------------

    def seal(self, purpose: bytes, text: str) -> str:
        if not text or not self.sealing:
            return text
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._sealer.encrypt(nonce, _pad(text.encode()), purpose)
        return self._prefix + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, purpose: bytes, stored: str) -> str:
        if not stored or not self.sealing:
            return stored
        key_id, _, body = stored.partition(".")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealBroken(f"sealed with key {key_id!r}, which is not in the key list")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return _unpad(cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose)).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise SealBroken(f"a {purpose.decode()} value does not open") from None

    def reseal(self, purpose: bytes, stored: str) -> str:
        """The value sealed again with the current key (for key rotation)."""
        return self.seal(purpose, self.open(purpose, stored))

    @staticmethod
    def key_id(stored: str | None) -> str | None:
        """The id of the key a stored value was sealed with (None for a blank value)."""
        if not stored:
            return None
        return stored.partition(".")[0]

    def audit_mac(self, data: bytes) -> str:
        """The keyed hash that chains audit entries."""
        mac = self._chain.copy()
        mac.update(data)
        return mac.hexdigest()

    # -- blind indexes ---------------------------------------------------------------------

    def blind(self, purpose: str, value: str) -> str:
        """The keyed index of an exact value: 32 hex digits."""
        if not self.sealing:
            return f"{purpose}:{value}"
        mac = self._index.copy()
        mac.update(purpose.encode() + b"\x00" + value.encode())
        return mac.hexdigest()[: INDEX_BYTES * 2]

    def name_tokens(self, name: str) -> set[str]:
        """The indexes of every beginning of every word of a name (`budi` gives `b`, `bu`,
        `bud`, `budi`): what a search by part of a name looks up."""
        return {
            self.blind("name", word[:n])
            for word in name_words(name)
            for n in range(1, min(len(word), NAME_WORD_LETTERS) + 1)
        }

    def query_tokens(self, query: str) -> list[str]:
        """The indexes a name search must all find on one patient."""
        return sorted({self.blind("name", word) for word in name_words(query)})


# -- column types --------------------------------------------------------------------------

_ATTRIBUTE = "antrean_keyring"


def attach(engine: Engine, keyring: Keyring | None) -> None:
    """Give an engine's connections the keys its sealed columns use."""
    setattr(engine.dialect, _ATTRIBUTE, keyring)


def keyring_of(where: Dialect | Connection) -> Keyring:
    dialect = where.dialect if isinstance(where, Connection) else where
    keyring: Keyring | None = getattr(dialect, _ATTRIBUTE, None)
    if keyring is None:
        raise MissingKeys(
            "this database connection has no data keys: protected fields cannot be read or written"
        )
    return keyring


class SealedText(TypeDecorator[str]):
    """A text column stored sealed; `purpose` names the column (`patient.name`)."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose
        self._aad = purpose.encode()

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return keyring_of(dialect).seal(self._aad, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return keyring_of(dialect).open(self._aad, value)


class SealedDate(SealedText):
    """A date stored sealed, as its ISO text."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else super().process_bind_param(value.isoformat(), dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        text = super().process_result_value(value, dialect)
        return None if text is None else date.fromisoformat(text)


SEALED_TYPES = (SealedText, SealedDate)


def sealed_columns(tables: Iterable[Any]) -> Iterator[tuple[Any, list[Any]]]:
    """Each table with its sealed columns, for the tools that walk all protected data."""
    for table in tables:
        columns = [c for c in table.columns if isinstance(c.type, SEALED_TYPES)]
        if columns:
            yield table, columns
