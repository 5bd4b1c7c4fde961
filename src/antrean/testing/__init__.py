"""Test doubles shipped with the package: unit tests use these, integration tests the real thing."""

from antrean.testing.channels import RecordingChannel
from antrean.testing.clock import FrozenClock
from antrean.testing.fakes import FakeUnitOfWork

__all__ = ["FakeUnitOfWork", "FrozenClock", "RecordingChannel"]
