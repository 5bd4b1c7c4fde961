"""Time-based one-time codes for two-step sign-in (pyotp): RFC 6238, 6 digits, 30-second
steps, SHA-1, as every authenticator app (Google Authenticator, Microsoft Authenticator,
Aegis, 2FAS) reads them."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

from antrean.domain.fields import is_digits

STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code of the step before or after also counts (a phone's clock drifts)


class PyotpCodes:
    def new_secret(self) -> str:
        return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends

    def uri(self, secret: str, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)

    def step_of(self, secret: str, code: str, at: datetime) -> int | None:
        digits = "".join(code.split())
        if len(digits) != 6 or not is_digits(digits):
            return None
        totp = pyotp.TOTP(secret)
        now = int(at.timestamp()) // STEP_SECONDS
        for step in range(max(0, now - DRIFT_STEPS), now + DRIFT_STEPS + 1):
            if hmac.compare_digest(totp.generate_otp(step), digits):
                return step
        return None
