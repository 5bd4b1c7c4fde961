"""Digits are 0-9 only. `str.isdigit` also takes "²", "①" and other scripts' digits, which
`int` refuses (a server error where a number was checked that way) or which make a phone
number or NIK that is none. Each place that reads digits from outside is tried with them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import FormData

from antrean.adapters.rest.routes_events import _last_id
from antrean.adapters.web.core import parse_id
from antrean.adapters.web.forms import FieldErrors
from antrean.adapters.web.speech import spell_label
from antrean.domain.errors import AntreanError
from antrean.domain.fields import is_digits
from antrean.domain.patients import bpjs_number, validate_nik
from antrean.edge import _content_length
from antrean.integrations.gateways import _digits
from antrean.integrations.phones import PhonenumbersParser
from antrean.integrations.totp import PyotpCodes
from antrean.integrations.whatsapp_cloud import unix_time, wa_id_to_e164

NOT_ASCII_DIGITS = [
    pytest.param("²", id="superscript-two"),
    pytest.param("①", id="circled-one"),
    pytest.param("٣", id="arabic-indic-three"),
    pytest.param("1749416383²", id="digits-then-superscript"),
]


def test_only_ascii_digits_are_digits():
    assert is_digits("0123456789")
    assert not is_digits("") and not is_digits("12a") and not is_digits(" 1")


@pytest.mark.parametrize("text", NOT_ASCII_DIGITS)
def test_numbers_read_from_outside_refuse_other_digits(text):
    assert not is_digits(text)
    assert parse_id(text) is None  # a page's link or form: no server error
    assert _last_id(text) == 0  # Last-Event-ID: start from the beginning
    errors = FieldErrors("en")
    assert errors.number(FormData({"size": text}), "size") is None and "size" in errors
    scope = {"headers": [(b"content-length", text.encode("utf-8"))]}
    assert _content_length(scope) == -1  # refused as malformed, before the body is read
    assert unix_time(text).year >= 2026  # not a timestamp: "now", not a crash
    with pytest.raises(AntreanError):
        validate_nik(text * 16)
    with pytest.raises(AntreanError):
        bpjs_number(text * 13)
    assert PyotpCodes().step_of("JBSWY3DPEHPK3PXP", text * 6, datetime.now(UTC)) is None


def test_phone_numbers_keep_only_ascii_digits():
    phones = PhonenumbersParser()
    assert wa_id_to_e164("²" * 11, phones) is None  # was "+²²²²²²²²²²²"
    assert wa_id_to_e164("6281234567890", phones) == "+6281234567890"
    assert _digits("0812-①3456-789") == "08123456789"
    assert spell_label("A-0²7", "en") == spell_label("A-07", "en")
