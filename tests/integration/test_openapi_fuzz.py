"""The REST API against its own OpenAPI document, with generated requests.

Requests are generated from /openapi.json, both ones that fit the document and ones that break it
on purpose. They are sent on SQLite and PostgreSQL, once without credentials and once as an admin,
with `clinic_setup` loaded so that ids exist. Every answer must not be a server error, must have
a status code and content type the document declares for the operation, and must have a body that
matches the declared schema.

The requests go through the `api` fixture's own client: the app then runs on the event loop
its lifespan started (the event bus, the live-event broadcaster), as in every other test here.
Generation is bounded and derandomized, so a run takes the same cases every time and the whole
file stays within a few minutes. Each failure is recorded once per operation and kind, with the
first request that showed it, and the run goes on to the next operation, so one report lists
everything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# /clinics/{clinic_id}/events and /queue/status/{status_code}/events are server-sent event
# streams that never end: a request to them would not return, so they are not fuzzed here.
STREAMS = r"/events$"
EXAMPLES = 10  # per operation and per generation mode (valid input, input that breaks the schema)
MIN_OPERATIONS = 40  # the document has about 50; a run that reaches fewer did not really run
BASE_URL = "http://testserver"
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are recorded, not raised
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    exercised: set[str] = field(default_factory=set)
    requests: int = 0
    # (operation, kind of failure) -> the first request that showed it
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def report(self) -> str:
        lines = [
            f"{op}: {kind}\n      {example}"
            for (op, kind), example in sorted(self.failures.items())
        ]
        return f"{len(self.failures)} failure(s) in {self.requests} requests:\n" + "\n".join(lines)


def client_kwargs(sent: Mapping[str, Any]) -> dict[str, Any]:
    """The generated request, in the form the test client takes."""
    kwargs: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": dict(sent.get("headers") or {}),
    }
    if sent.get("params"):
        kwargs["params"] = sent["params"]
    if sent.get("cookies"):
        kwargs["headers"]["cookie"] = "; ".join(f"{k}={v}" for k, v in sent["cookies"].items())
    if "json" in sent:
        # A JSON null body is a body too; the client reads json=None as "no body".
        if sent["json"] is None:
            kwargs["content"] = b"null"
        else:
            kwargs["json"] = sent["json"]
    data = sent.get("data")
    if isinstance(data, bytes | str):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    if sent.get("files"):
        kwargs["files"] = sent["files"]
    return kwargs


def exercise(client: Any, operation: Any, mode: GenerationMode, auth: dict, tally: Tally) -> None:
    label = operation.label

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        kwargs = client_kwargs(case.as_transport_kwargs(base_url=BASE_URL, headers=auth))
        response = client.request(**kwargs)
        tally.requests += 1
        tally.exercised.add(label)
        try:
            case.validate_response(response, checks=CHECKS, headers=kwargs["headers"])
        except FailureGroup as group:
            sent = kwargs.get("json", kwargs.get("content", kwargs.get("data")))
            for failure in group.exceptions:
                detail = " ".join(str(failure.message).split())[:240]
                tally.failures.setdefault(
                    (label, failure.title),
                    f"{kwargs['method']} {response.request.url} body={sent!r:.160} -> "
                    f"{response.status_code} {detail}",
                )

    # An operation without inputs, such as GET /healthz, has nothing to break.
    with contextlib.suppress(Unsatisfiable):
        one()


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_answer_conforms_to_the_openapi_document(api, admin, clinic_setup, who):
    document = api.client.get("/openapi.json")
    assert document.status_code == 200, document.text
    schema = schemathesis.openapi.from_dict(document.json()).exclude(path_regex=STREAMS)
    auth = dict(admin) if who == "admin" else {}
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()  # raises if the document has an operation it cannot read
        tally.operations.add(operation.label)
        for mode in MODES:
            exercise(api.client, operation, mode, auth, tally)
    assert len(tally.operations) >= MIN_OPERATIONS, sorted(tally.operations)
    assert len(tally.exercised) >= MIN_OPERATIONS, sorted(tally.operations - tally.exercised)
    assert tally.exercised == tally.operations, sorted(tally.operations - tally.exercised)
    if tally.failures:
        pytest.fail(tally.report(), pytrace=False)
