"""Service errors: the domain's error type, re-exported so adapters import from one place."""

from antrean.domain.errors import MESSAGES, AntreanError, ErrorKind, preferred_language

__all__ = ["MESSAGES", "AntreanError", "ErrorKind", "preferred_language"]
