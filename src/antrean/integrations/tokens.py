"""Access tokens: JWT (HS256) with PyJWT, checked without the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

from antrean.domain.common import Clock, SystemClock
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role, User


@dataclass(frozen=True)
class JwtAccessTokens:
    """Signs short-lived access tokens (JWT, HS256) and checks them without a database query."""

    secret: str
    clock: Clock = field(default_factory=SystemClock)
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=14)
    issuer: str = "antrean"
    # Tokens whose signature has been checked, with their expiry: a busy operator's console
    # sends the same token for 15 minutes, and checking an HMAC and parsing JSON each time is a
    # tenth of a walk-in's work. Bounded: emptied when full.
    verified: dict[str, tuple[Actor, int]] = field(default_factory=dict, compare=False)
    verified_limit: int = 10_000

    def actor(self, token: str) -> Actor:
        """The caller a valid, unexpired access token stands for; `invalid_token` otherwise."""
        found = self.verified.get(token)
        if found is None:
            found = self._decode(token)
            if len(self.verified) >= self.verified_limit:
                self.verified.clear()
            self.verified[token] = found
        actor, expires = found
        # Expiry is checked against the injected clock, so tests can move time.
        if expires <= int(self.clock.now().timestamp()):
            raise AntreanError("invalid_token")
        return actor

    def issue(self, user: User, now: datetime) -> str:
        now_ts = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user.id),
            "fac": user.facility_id,
            "roles": sorted(r.value for r in user.roles),
            "iat": now_ts,
            "exp": now_ts + int(self.access_ttl.total_seconds()),
        }
        if user.patient_id is not None:
            claims["pid"] = user.patient_id
        if user.doctor_id is not None:
            claims["did"] = user.doctor_id
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def _decode(self, token: str) -> tuple[Actor, int]:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                issuer=self.issuer,
                options={
                    "require": ["exp", "sub", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            actor = Actor(
                user_id=int(claims["sub"]),
                facility_id=int(claims["fac"]),
                roles=frozenset(Role(r) for r in claims.get("roles", [])),
                patient_id=claims.get("pid"),
                doctor_id=claims.get("did"),
            )
            return actor, int(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise AntreanError("invalid_token") from None
