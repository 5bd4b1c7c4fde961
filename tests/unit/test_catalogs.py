"""Every visible string of the pages is translated in both catalogs (Bahasa Indonesia and
English), with the same placeholders, and no catalog entry is a leftover."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from antrean.adapters import web

WEB = Path(web.__file__).parent
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _used() -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    for _, _, message, _, _ in extract_from_dir(str(WEB), METHODS, OPTIONS):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


USED = _used()


def _catalog(lang: str):
    with (WEB / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_the_pages_use_many_strings():
    assert len(USED) > 150


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_string_is_translated(lang):
    catalog = _catalog(lang)
    missing = []
    for msgid in USED:
        key = msgid if isinstance(msgid, str) else msgid[0]
        entry = catalog.get(key)
        strings = () if entry is None else entry.string
        strings = (strings,) if isinstance(strings, str) else strings
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(key)
    assert not missing, f"untranslated in {lang}: {sorted(missing)} (run `make messages`)"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_translations_keep_the_placeholders_and_nothing_is_left_over(lang):
    catalog = _catalog(lang)
    used = {m if isinstance(m, str) else m[0] for m in USED}
    for entry in catalog:
        if not entry.id:
            continue
        key = entry.id if isinstance(entry.id, str) else entry.id[0]
        assert key in used, f"{lang}: {key!r} is no longer used (run `make messages`)"
        wanted = set(PLACEHOLDER.findall(key))
        for text in (entry.string,) if isinstance(entry.string, str) else entry.string:
            assert set(PLACEHOLDER.findall(text)) == wanted, (lang, key, text)


def test_indonesian_is_not_english():
    catalog = _catalog("id")
    same = [m.id for m in catalog if m.id and m.string == m.id and isinstance(m.id, str)]
    assert len(same) <= 5, same  # a few words are the same in both (Admin, Check-in)
