"""Phone numbers with the phonenumbers library (Indonesian 08xx to E.164)."""

from __future__ import annotations

import functools

import phonenumbers


class PhonenumbersParser:
    def __init__(self, region: str = "ID") -> None:
        self.region = region

    def to_e164(self, text: str) -> str | None:
        raw = text.strip()
        if not raw:
            return None
        if raw.startswith("62") and not raw.startswith("+"):
            raw = "+" + raw
        try:
            number = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    def is_mobile(self, e164: str) -> bool:
        """Whether a number (E.164) can get WhatsApp and SMS: a mobile number, not a landline.
        Where a country's numbering cannot tell the two apart, the number is taken as mobile."""
        return _is_mobile(e164, self.region)


@functools.lru_cache(maxsize=8192)
def _is_mobile(e164: str, region: str) -> bool:
    """Remembered: the worker asks about the same numbers all day."""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _MOBILE


_MOBILE = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
