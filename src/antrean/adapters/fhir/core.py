"""What every FHIR interaction shares: the caller, JSON in FHIR's media type, errors as
OperationOutcome with the HTTP status the specification asks for, search parameters (with
`Prefer: handling=strict`), and searchset Bundles with paging links.

Resources are built as plain JSON objects from the domain (`resources.py`); the tests check
each shape against the R4B models of `fhir.resources`, so answering costs no model
validation per request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.responses import Response

from antrean.bootstrap import Container
from antrean.domain.errors import AntreanError, ErrorKind, preferred_language
from antrean.domain.fields import MAX_ID, is_digits
from antrean.domain.identity import Actor
from antrean.services import catalog, identity

log = logging.getLogger(__name__)
T = TypeVar("T")
FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
BASE = "/fhir/R4"
DEFAULT_COUNT = 50
MAX_COUNT = 500
# Parameters every search takes (FHIR R4 3.1.1.x "Search result parameters" and formats).
COMMON = frozenset({"_count", "_format", "_summary", "_pretty", "_elements", "page"})

# HTTP status and OperationOutcome issue code per kind of refusal (R4 issue-type value set).
STATUS = {
    ErrorKind.INVALID: (400, "invalid"),
    ErrorKind.NOT_FOUND: (404, "not-found"),
    ErrorKind.CONFLICT: (409, "conflict"),
    ErrorKind.FORBIDDEN: (403, "forbidden"),
    ErrorKind.UNAUTHORIZED: (401, "login"),
    ErrorKind.TOO_MANY: (429, "throttled"),
}


class FhirError(Exception):
    """A refusal that is FHIR's own (an unknown parameter, a bad `_format`), not a domain
    rule: the HTTP status, the issue code and a text for the integrator."""

    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


def fhir_json(body: Mapping[str, Any], status: int = 200, **headers: str) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status_code=status,
        media_type=FHIR_JSON + "; charset=utf-8",
        headers=headers,
    )


def outcome(status: int, code: str, text: str, severity: str = "error") -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": text}}],
    }
    headers = {"WWW-Authenticate": 'Bearer realm="antrean"'} if status == 401 else {}
    return fhir_json(body, status, **headers)


def language(request: Request) -> str:
    return preferred_language(request.headers.get("accept-language", ""))


def _check_format(request: Request) -> None:
    """JSON only: `_format` may name it; anything else is 406 (R4 3.1.0.1.9)."""
    wanted = request.query_params.get("_format")
    if wanted is not None and wanted not in ("json", FHIR_JSON, "application/json"):
        raise FhirError(406, "not-supported", "only JSON is served: _format=json")
    accept = request.headers.get("accept", "")
    if accept and not any(kind in accept for kind in ("json", "*/*", "application/*")):
        raise FhirError(406, "not-supported", "only JSON is served (application/fhir+json)")


class FhirRoute(APIRoute):
    """A FHIR interaction: every refusal, and every fault of ours, is an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                _check_format(request)
                return await original(request)
            except FhirError as exc:
                return outcome(exc.status, exc.code, exc.text)
            except AntreanError as exc:
                if exc.kind is ErrorKind.FORBIDDEN and "authorization" not in request.headers:
                    exc = AntreanError("sign_in_required")  # anyone may sign in: 401, not 403
                status, code = STATUS[exc.kind]
                return outcome(status, code, exc.message(language(request)))
            except Exception:
                log.exception("FHIR %s failed", request.url.path)
                return outcome(500, "exception", "the server failed; the error is logged")

        return handler


def base_url(request: Request) -> str:
    """This server's FHIR base, as the client reached it (for fullUrl and links)."""
    return f"{request.url.scheme}://{request.url.netloc}{BASE}"


async def unless_not_found(call: Awaitable[T]) -> T | None:
    """The call's answer, or None when what it asked for does not exist (a search by id
    finds nothing then, where a read answers 404); any other refusal stands."""
    try:
        return await call
    except AntreanError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
        return None


async def services_of(request: Request, actor: Actor, clinic_id: int | None = None) -> list[Any]:
    """The facility's services (of one clinic, when given)."""
    c = container_of(request)
    return list(await c.call(catalog.list_services, c.uow(), actor=actor, clinic_id=clinic_id))


def container_of(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


async def caller(request: Request) -> Actor:
    """The bearer token's account (still there and not disabled), or anyone: the same tokens
    and roles as the REST API."""
    c = container_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return c.anonymous()
    if scheme.lower() != "bearer" or not token.strip():
        raise AntreanError("invalid_token")
    actor = c.tokens.actor(token.strip())
    await c.call(identity.still_allowed, c.uow(), actor=actor)
    return actor


async def signed_in(request: Request) -> Actor:
    """`caller`, for interactions only an account may make: anyone else is told to sign in
    (401) before the body is read."""
    actor = await caller(request)
    if actor.account_id is None:
        raise AntreanError("sign_in_required")
    return actor


class Search:
    """A search's parameters: each read once by name; whatever is left unread was not
    understood, which `Prefer: handling=strict` refuses and lenient handling ignores (and
    leaves out of the self link)."""

    def __init__(
        self, request: Request, known: frozenset[str], params: QueryParams | None = None
    ) -> None:
        self.request = request
        self.params = request.query_params if params is None else params
        self.strict = "handling=strict" in request.headers.get("prefer", "").replace(" ", "")
        unknown = sorted({name for name in self.params if name not in known and name not in COMMON})
        if unknown and self.strict:
            raise FhirError(400, "not-supported", f"unknown search parameter: {unknown[0]}")
        self.used = [(k, v) for k, v in self.params.multi_items() if k in known]
        self.count = self._count()
        self.page = self._page()
        self.summary_count = self.params.get("_summary") == "count" or self.count == 0

    def _count(self) -> int:
        raw = self.params.get("_count")
        if raw is None:
            return DEFAULT_COUNT
        if not is_digits(raw) or len(raw) > 6:
            raise FhirError(400, "invalid", "_count is a whole number")
        return min(int(raw), MAX_COUNT)

    def _page(self) -> int:
        raw = self.params.get("page", "1")
        if not is_digits(raw) or not 1 <= int(raw[:9]) <= 100_000:
            raise FhirError(400, "invalid", "page is a whole number from 1")
        return int(raw)

    def values(self, name: str) -> list[str]:
        return [v for v in self.params.getlist(name) if v != ""]

    def one(self, name: str) -> str | None:
        found = self.values(name)
        if len(found) > 1:
            raise FhirError(400, "invalid", f"{name} is given once")
        return found[0] if found else None

    def alone(self, name: str) -> str | None:
        """A parameter that names what is asked for outright (`_id`, a booking code): given,
        it must come without the other filters, which it would otherwise pass over."""
        given = self.one(name)
        others = {k for k, _ in self.used if k not in (name, "_include")}
        if given is not None and others:
            raise FhirError(400, "not-supported", f"{name} is given alone here")
        return given

    def ids(self) -> list[int] | None:
        """`_id` (comma-separated, at most 100) as our ids, given alone; None when absent.
        An id that cannot be ours matches nothing."""
        given = self.alone("_id")
        if given is None:
            return None
        parts = given.split(",")
        if len(parts) > 100:
            raise FhirError(400, "invalid", "_id names at most 100 ids")
        found = []
        for part in parts:
            try:
                found.append(parse_id(part))
            except AntreanError:
                continue
        return found

    def link(self, page: int) -> str:
        query = [*self.used, ("_count", str(self.count)), ("page", str(page))]
        return f"{self.request.url.scheme}://{self.request.url.netloc}{self.request.url.path}?" + (
            urlencode(query)
        )


def bundle(
    search: Search,
    matches: Sequence[T],
    base: str,
    make: Callable[[T], dict[str, Any]] | None = None,
    total: int | None = None,
    included: Sequence[dict[str, Any]] = (),
) -> Response:
    """A searchset Bundle of one page of the matches, with its links; `make` turns a match
    into its resource (only those on the page are made). Without `total`, `matches` are all
    of them and the page is cut here; with it, `matches` are the page the store cut.
    `included` are the resources `_include` brought along (not counted in the total)."""
    paged = total is not None
    total = len(matches) if total is None else total
    body: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total}
    if search.summary_count:
        return fhir_json(body)
    first = (search.page - 1) * search.count
    page = matches if paged else matches[first : first + search.count]
    shown = [make(m) if make else m for m in page]
    links = [{"relation": "self", "url": search.link(search.page)}]
    if first + search.count < total:
        links.append({"relation": "next", "url": search.link(search.page + 1)})
    if search.page > 1:
        links.append({"relation": "previous", "url": search.link(search.page - 1)})
    body["link"] = links
    body["entry"] = [
        {
            "fullUrl": f"{base}/{e['resourceType']}/{e['id']}",
            "resource": e,
            "search": {"mode": "match"},
        }
        for e in shown
        if isinstance(e, dict)
    ] + [
        {
            "fullUrl": f"{base}/{e['resourceType']}/{e['id']}",
            "resource": e,
            "search": {"mode": "include"},
        }
        for e in included
    ]
    return fhir_json(body)


def parse_id(text: str) -> int:
    """A resource id of ours: digits naming a row; anything else names nothing (404)."""
    if not is_digits(text) or len(text) > 19 or not 1 <= int(text) <= MAX_ID:
        raise AntreanError("not_found")
    return int(text)


def reference_id(text: str, kind: str) -> int | None:
    """`Kind/123` or `123` as an id; None when it cannot be one of ours of that kind."""
    value = text.rsplit("/", 1)
    if len(value) == 2 and not value[0].endswith(kind):
        return None
    try:
        return parse_id(value[-1])
    except AntreanError:
        return None


INSTANT = timedelta(microseconds=1)
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True, slots=True)
class DateRange:
    """What a date search parameter (repeated to AND its parts) asks of one instant: `ge`,
    `gt`, `le`, `lt` and `eq` (a date alone is its whole day in the facility's time zone)."""

    parts: tuple[tuple[str, datetime, datetime], ...] = ()

    def holds(self, moment: datetime) -> bool:
        for prefix, start, end in self.parts:
            if not {
                "eq": start <= moment <= end,
                "ge": moment >= start,
                "gt": moment > end,
                "le": moment <= end,
                "lt": moment < start,
            }[prefix]:
                return False
        return True

    @property
    def earliest(self) -> datetime | None:
        """The first instant that holds (inclusive), or None for no lower bound."""
        lows = [
            end + INSTANT if prefix == "gt" else start
            for prefix, start, end in self.parts
            if prefix in ("eq", "ge", "gt")
        ]
        return max(lows) if lows else None

    def local_days(self, zone: tzinfo) -> tuple[date | None, date | None]:
        """The first and last local days the range touches (None where it is open)."""
        low, before = self.earliest, self.before
        return (
            low.astimezone(zone).date() if low else None,
            (before - INSTANT).astimezone(zone).date() if before else None,
        )

    @property
    def before(self) -> datetime | None:
        """The first instant after those that hold (exclusive), or None for no upper bound."""
        highs = [
            start if prefix == "lt" else end + INSTANT
            for prefix, start, end in self.parts
            if prefix in ("eq", "le", "lt")
        ]
        return min(highs) if highs else None


def date_range(values: list[str], zone: tzinfo) -> DateRange:
    """`start=ge2026-11-27&start=lt2026-12-01` as a `DateRange` (R4 2.1.0.8 date search)."""
    parts = []
    for raw in values:
        prefix, text = (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)
        if prefix not in ("eq", "ge", "gt", "le", "lt"):
            raise FhirError(400, "not-supported", f"date prefix {prefix} is not supported")
        start, end = _moment(text, zone)
        parts.append((prefix, start, end))
    return DateRange(tuple(parts))


def _moment(text: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """A FHIR date or dateTime as the span it covers (a year, a month, a day, or one
    instant)."""
    try:
        if len(text) in (4, 7, 10) and text[:4].isascii() and text[:4].isdigit():
            first = date.fromisoformat((text + "-01-01")[:10])
            last = _last_day(first, len(text))
            return (
                datetime.combine(first, time.min, zone),
                datetime.combine(last, time.max, zone),
            )
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(400, "invalid", f"not a FHIR date: {text[:40]}") from None
    if moment.tzinfo is None:
        raise FhirError(400, "invalid", "a dateTime with a time needs a time zone")
    return moment, moment


def _last_day(first: date, precision: int) -> date:
    """The last day of the year (`2026`), month (`2026-11`) or day a partial date names."""
    if precision == 4:
        return date(first.year, 12, 31)
    if precision == 7:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return first


MAX_BODY_ITEMS = 100  # parameters, participants or slots in one body


async def read_resource(request: Request, *kinds: str) -> dict[str, Any]:
    """The body: one FHIR resource of one of `kinds`, as JSON (415 for another media type,
    400 for anything that is not such a resource)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (FHIR_JSON, "application/json"):
        raise FhirError(415, "not-supported", "send application/fhir+json")
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise FhirError(400, "structure", "the body is not JSON") from None
    if not isinstance(body, dict) or body.get("resourceType") not in kinds:
        raise FhirError(400, "structure", f"the body is a {' or '.join(kinds)} resource")
    return body


# Parameters values a search-like operation reads as text (R4 Parameters.parameter.value[x]).
_VALUE_KEYS = ("valueString", "valueCode", "valueDateTime", "valueDate", "valueInstant",
               "valueUri", "valueId", "valueInteger", "valuePositiveInt")  # fmt: skip


def parameters(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """A Parameters resource as (name, value) pairs: a reference's text, a primitive as text,
    or a resource as its JSON object."""
    items = body.get("parameter", [])
    if not isinstance(items, list) or len(items) > MAX_BODY_ITEMS:
        raise FhirError(400, "structure", "parameter is a list (of at most 100)")
    found: list[tuple[str, Any]] = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise FhirError(400, "structure", "each parameter has a name")
        found.append((name, _parameter_value(item)))
    return found


def _parameter_value(item: dict[str, Any]) -> Any:
    if isinstance(item.get("resource"), dict):
        return item["resource"]
    reference = item.get("valueReference")
    if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
        return reference["reference"]
    for key in _VALUE_KEYS:
        if key in item and isinstance(item[key], str | int) and not isinstance(item[key], bool):
            return str(item[key])
    raise FhirError(400, "structure", f"parameter {str(item.get('name'))[:40]} has no value")


def query_of(pairs: list[tuple[str, Any]]) -> QueryParams:
    """Text parameters as query parameters (resources are left out)."""
    return QueryParams([(k, v) for k, v in pairs if isinstance(v, str)])
