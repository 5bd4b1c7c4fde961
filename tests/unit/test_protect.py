"""Sealed fields and blind indexes (`persistence.protect`): what they hide and what they refuse."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antrean.domain.patients import name_matches, name_words
from antrean.persistence.protect import (
    BadKeys,
    Keyring,
    Keys,
    SealBroken,
    new_key,
    new_key_list,
    parse_keys,
    read_keys,
)

PURPOSE = b"patient.name"


def _keys(*ids: str) -> Keys:
    lines = [f"{i}={new_key()}" for i in ids]
    return parse_keys("\n".join([*lines, f"index={new_key()}"]))


def test_a_sealed_value_opens_to_what_was_sealed_and_shows_nothing_of_it():
    ring = Keyring(_keys("1"))
    sealed = ring.seal(PURPOSE, "Siti Aminah")
    assert "Siti" not in sealed and "Aminah" not in sealed
    assert sealed.startswith("1.")
    assert ring.open(PURPOSE, sealed) == "Siti Aminah"
    # A fresh nonce each time: the same name sealed twice looks different.
    assert ring.seal(PURPOSE, "Siti Aminah") != sealed


def test_unicode_and_long_text_round_trip():
    ring = Keyring(_keys("1"))
    for text in ("Ñoño Ção", "😀 emoji", "x" * 5000, "a\nb\tc"):
        assert ring.open(PURPOSE, ring.seal(PURPOSE, text)) == text


def test_blank_values_stay_blank():
    ring = Keyring(_keys("1"))
    assert ring.seal(PURPOSE, "") == ""
    assert ring.open(PURPOSE, "") == ""
    assert Keyring.key_id("") is None


def test_length_shows_only_to_within_sixteen_bytes():
    ring = Keyring(_keys("1"))
    short = {len(ring.seal(PURPOSE, "a" * n)) for n in range(0, 16) if n}
    assert len(short) == 1  # 1 to 15 bytes all look the same
    assert len(ring.seal(PURPOSE, "a" * 16)) > short.pop()


def test_a_value_moved_to_another_column_does_not_open():
    ring = Keyring(_keys("1"))
    nik = ring.seal(b"patient.nik", "3171234567890123")
    with pytest.raises(SealBroken):
        ring.open(b"patient.name", nik)


@pytest.mark.parametrize("position", [2, 10, 20, -1])
def test_an_altered_value_does_not_open(position):
    ring = Keyring(_keys("1"))
    sealed = ring.seal(PURPOSE, "Budi Santoso")
    flipped = "A" if sealed[position] != "A" else "B"
    altered = (
        sealed[:position] + flipped + sealed[position + 1 :]
        if position != -1
        else (sealed[:-1] + flipped)
    )
    with pytest.raises(SealBroken):
        ring.open(PURPOSE, altered)


def test_garbage_and_truncated_values_are_refused_not_crashed_on():
    ring = Keyring(_keys("1"))
    sealed = ring.seal(PURPOSE, "Budi")
    for bad in ("1.", "1.!!!", "no-dot", sealed[:20], "1." + "A" * 10):
        with pytest.raises(SealBroken):
            ring.open(PURPOSE, bad)


def test_another_keys_value_does_not_open_and_says_which_key():
    mine, theirs = Keyring(_keys("1")), Keyring(_keys("1"))
    with pytest.raises(SealBroken):
        mine.open(PURPOSE, theirs.seal(PURPOSE, "Budi"))
    with pytest.raises(SealBroken, match="'7'"):
        mine.open(PURPOSE, Keyring(_keys("7")).seal(PURPOSE, "Budi"))


def test_a_new_first_key_seals_and_the_old_one_still_opens():
    old = _keys("1")
    new_key_text = (
        f"2={new_key()}\n"
        + "\n".join(f"{i}={base64.b64encode(k).decode()}" for i, k in old.data)
        + f"\nindex={base64.b64encode(old.index).decode()}"
    )
    before, after = Keyring(old), Keyring(parse_keys(new_key_text))
    sealed_before = before.seal(PURPOSE, "Budi")
    assert after.open(PURPOSE, sealed_before) == "Budi"
    moved = after.reseal(PURPOSE, sealed_before)
    assert Keyring.key_id(moved) == "2" and after.open(PURPOSE, moved) == "Budi"
    with pytest.raises(SealBroken):
        before.open(PURPOSE, moved)
    # The index key did not change: look-ups keep working across the rotation.
    assert before.blind("phone", "+6281211112222") == after.blind("phone", "+6281211112222")


def test_blind_indexes_are_keyed_and_separate_by_purpose():
    ring, other = Keyring(_keys("1")), Keyring(_keys("1"))
    phone = ring.blind("phone", "+6281211112222")
    assert phone == ring.blind("phone", "+6281211112222")
    assert len(phone) == 32 and "8121" not in phone
    assert phone != ring.blind("nik", "+6281211112222")
    assert phone != other.blind("phone", "+6281211112222")


def test_sealing_off_stores_plain_values_for_measuring_only():
    ring = Keyring(_keys("1"), sealing=False)
    assert ring.seal(PURPOSE, "Budi") == "Budi" == ring.open(PURPOSE, "Budi")
    assert ring.blind("phone", "+62812") == "phone:+62812"


K = base64.b64encode(bytes(range(32))).decode()  # a fixed key: test ids stay the same


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no data key"),
        (f"index={K}", "no data key"),
        (f"1={K}", "no index key"),
        (f"1={K}\n1={K}\nindex={K}", "twice"),
        (f"1=c2hvcnQ=\nindex={K}", "32 random bytes"),
        (f"1=not base64!\nindex={K}", "not base64"),
        (f"bad id={K}\nindex={K}", "id=key"),
        (f"1 {K}\nindex={K}", "id=key"),
    ],
)
def test_key_lists_that_cannot_work_are_refused_with_the_reason(text, message):
    with pytest.raises(BadKeys, match=message):
        parse_keys(text)


def test_key_lists_take_comments_commas_and_lines():
    one, two, index = new_key(), new_key(), new_key()
    keys = parse_keys(f"# the keys\n2={two}, 1={one}  # old\nindex={index}\n")
    assert [i for i, _ in keys.data] == ["2", "1"] and keys.current == "2"
    assert parse_keys(new_key_list("k9")).current == "k9"


def test_a_missing_key_file_is_made_for_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "data_keys"
    with pytest.raises(BadKeys, match="cannot read"):
        read_keys(path)
    keys = read_keys(path, create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_keys(path) == keys  # made once, then read


@given(
    name=st.lists(
        st.text(alphabet="abcdeéAB'-. ", min_size=1, max_size=12), min_size=1, max_size=4
    ),
    query=st.lists(
        st.text(alphabet="abcdeéAB'-. ", min_size=1, max_size=6), min_size=1, max_size=3
    ),
)
def test_a_name_search_by_indexes_finds_what_a_plain_search_would(name, query):
    """The tokens of a query are all among a name's tokens exactly when every query word
    begins a word of the name: the blind search and the in-memory one agree."""
    ring = Keyring(_keys("1"))
    full, wanted = " ".join(name), " ".join(query)
    by_index = bool(ring.query_tokens(wanted)) and set(
        ring.query_tokens(wanted)
    ) <= ring.name_tokens(full)
    assert by_index == name_matches(wanted, full)


def test_name_words_ignore_case_accents_and_apostrophes():
    assert name_words("Siti NUR'AINI-Putri  Á.") == ("siti", "nuraini", "putri", "a")
    assert name_matches("nuraini put", "Siti Nur'aini-Putri")
    assert not name_matches("aini", "Siti Nur'aini")  # a word's middle is not its beginning
