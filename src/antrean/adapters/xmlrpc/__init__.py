"""XML-RPC for legacy clients (kiosks, old front-desk programs), at /RPC2 on the web port.

Requests are parsed with defusedxml's expat parser, so entity expansion and external entities
are refused. Clients act as a kiosk device of this server's facility: they may issue walk-in
numbers and read public queue state, nothing else. Every error comes back as an XML-RPC fault
with a readable message and a client code (400, 404) or 500 for a fault of the server; the same
input rules as every other adapter hold, because the use cases check them.
"""

from __future__ import annotations

import inspect
import logging
import re
import xmlrpc.client
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from defusedxml.xmlrpc import DefusedExpatParser
from starlette.requests import Request
from starlette.responses import Response

from antrean.bootstrap import Container
from antrean.domain.catalog import Clinic
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.fields import is_digits
from antrean.domain.identity import Actor
from antrean.domain.queue import WalkInDraft
from antrean.services import catalog, queue

log = logging.getLogger("antrean.xmlrpc")
MAX_BODY = 64 * 1024
MAX_DEPTH = 4  # structs and arrays nested deeper than any method takes are refused
FAULT_BAD_REQUEST = 400
FAULT_NOT_FOUND = 404
FAULT_SERVER = 500
DEVICE = "xmlrpc"
_CODE = re.compile(r"^([A-Za-z]{1,3}-\d{1,6})-([A-Za-z0-9_-]{1,32})$")


class InvalidInput(ValueError):
    pass


def _loads(data: bytes) -> tuple[tuple[Any, ...], str]:
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller)
    parser.feed(data)
    parser.close()
    return unmarshaller.close(), unmarshaller.getmethodname()


def _depth(value: object, limit: int) -> int:
    """How deeply arrays and structs nest, counted without recursion; stops past `limit`."""
    deepest, level = 0, [(value, 0)]
    while level:
        item, depth = level.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            level.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            level.extend((v, depth + 1) for v in item)
    return deepest


def _text(value: object, what: str, limit: int = 200) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(f"{what} harus teks atau angka")
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInput(f"{what} terlalu panjang")
    return text


def _parse_dob(value: object) -> date:
    text = _text(value, "dob", 20) if value is not None else ""
    for fmt in ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput("dob harus berformat DD-MM-YYYY atau YYYY-MM-DD")


class QueueRpc:
    """The methods offered. Names and shapes are the legacy contract; keep them stable."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self.actor = Actor.kiosk(container.settings.facility_id, DEVICE)

    async def _clinics(self) -> list[catalog.ClinicNow]:
        c = self.c
        return await c.call(catalog.clinics_open_now, c.uow(), actor=self.actor, policy=c.policy)

    async def list_clinics(self) -> list[dict[str, Any]]:
        return [
            {
                "number": n,
                "id": k.clinic.id,
                "code": k.clinic.code,
                "name": k.clinic.name,
                "open": k.open_now,
            }
            for n, k in enumerate(await self._clinics(), start=1)
        ]

    async def get_menu(self) -> str:
        lines = ["Silakan pilih poli:"]
        for item in await self.list_clinics():
            state = "buka" if item["open"] else "tutup"
            lines.append(f"{item['number']}. {item['name']} ({state})")
        return "\n".join(lines)

    async def _clinic_for(self, choice: object) -> Clinic:
        clinics = [k.clinic for k in await self._clinics()]
        text = _text(choice, "poli", 32)
        if is_digits(text) and 1 <= int(text) <= len(clinics):
            return clinics[int(text) - 1]
        for clinic in clinics:
            if clinic.code.upper() == text.upper():
                return clinic
        raise InvalidInput(f"poli {text!r} tidak ada; lihat get_menu()")

    async def register_patient(self, clinic_id: object, patient_info: object) -> str:
        """A walk-in number: the same use case as the REST walk-in (`issue_walk_in`, then
        `status_of`), as a kiosk of this facility."""
        if not isinstance(patient_info, dict):
            raise InvalidInput("patient_info harus struct dengan name, dob dan mrn (opsional)")
        name = _text(patient_info.get("name") or "", "name", 1000)
        if not name:
            raise InvalidInput("name wajib diisi")
        mrn = _text(patient_info.get("mrn") or "", "mrn", 1000) or None
        clinic = await self._clinic_for(clinic_id)
        walk_in = WalkInDraft(
            clinic_id=clinic.id, name=name, birth_date=_parse_dob(patient_info.get("dob")), mrn=mrn
        )
        c = self.c
        try:
            issued = await c.write(
                queue.issue_walk_in,
                c.uow(),
                actor=self.actor,
                policy=c.policy,
                phones=c.phones,
                walk_in=walk_in,
            )
        except AntreanError as exc:
            if exc.code == "clinic_closed":
                return "none"
            raise
        status = await c.call(
            queue.status_of, c.uow(), actor=self.actor, issued=issued, queue=c.queue_policy
        )
        return f"{status.label}-{status.status_code}"

    async def ticket_status(self, queue_code: object) -> dict[str, Any]:
        match = _CODE.match(_text(queue_code, "kode antrean", 64))
        if match is None:
            raise InvalidInput("kode antrean tidak dikenal")
        status = await self.c.call(
            queue.ticket_status,
            self.c.uow(),
            actor=self.actor,
            status_code=match.group(2),
            queue=self.c.queue_policy,
        )
        local = status.estimated_call_at.astimezone(self.c.policy.time_zone)
        return {
            "ticket": status.label,
            "clinic": status.clinic_name,
            "state": status.state.value,
            "people_ahead": status.people_ahead,
            "estimated_call": local.strftime("%H:%M"),
        }

    async def get_queue_status(self, queue_code: object) -> str:
        s = await self.ticket_status(queue_code)
        if s["state"] != "waiting":
            return f"Antrean {s['ticket']} ({s['clinic']}): {s['state']}."
        return (
            f"Antrean {s['ticket']} di {s['clinic']}: {s['people_ahead']} orang di depan Anda, "
            f"perkiraan dipanggil pukul {s['estimated_call']}."
        )


METHODS = ("get_menu", "list_clinics", "register_patient", "ticket_status", "get_queue_status")
SYSTEM_METHODS = ("system.listMethods", "system.methodHelp", "system.methodSignature")


def _fault(code: int, message: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True).encode()


def _answer(result: object) -> bytes:
    return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True).encode()


def _system(method: str, params: tuple[Any, ...], rpc: QueueRpc) -> object:
    if method == "system.listMethods" and not params:
        return [*METHODS, *SYSTEM_METHODS]
    if len(params) == 1 and isinstance(params[0], str) and params[0] in METHODS:
        if method == "system.methodHelp":
            return inspect.getdoc(getattr(rpc, params[0])) or ""
        return "signatures not supported"
    raise TypeError("wrong parameters")


async def _call(rpc: QueueRpc, method: str, params: tuple[Any, ...]) -> bytes:
    try:
        if method in SYSTEM_METHODS:
            return _answer(_system(method, params, rpc))
        if method not in METHODS:
            return _fault(FAULT_NOT_FOUND, f"metode {method[:64]!r} tidak ada")
        target: Callable[..., Awaitable[object]] = getattr(rpc, method)
        try:
            inspect.signature(target).bind(*params)
        except TypeError:
            return _fault(FAULT_BAD_REQUEST, f"jumlah atau jenis parameter salah untuk {method}")
        return _answer(await target(*params))
    except InvalidInput as exc:
        return _fault(FAULT_BAD_REQUEST, str(exc))
    except AntreanError as exc:
        code = FAULT_NOT_FOUND if exc.kind is ErrorKind.NOT_FOUND else FAULT_BAD_REQUEST
        return _fault(code, exc.message("id"))
    except TypeError:
        return _fault(FAULT_BAD_REQUEST, f"jumlah atau jenis parameter salah untuk {method}")
    except Exception:
        log.exception("XML-RPC %s failed", method)
        return _fault(FAULT_SERVER, "kesalahan pada server")


def make_endpoint(container: Container) -> Callable[[Request], Awaitable[Response]]:
    rpc = QueueRpc(container)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            payload = _fault(FAULT_BAD_REQUEST, "permintaan terlalu besar")
        else:
            try:
                params, method = _loads(body)
                if not isinstance(method, str) or _depth(params, MAX_DEPTH) > MAX_DEPTH:
                    raise ValueError("too deep")
            except Exception:
                payload = _fault(FAULT_BAD_REQUEST, "permintaan XML-RPC tidak valid")
            else:
                payload = await _call(rpc, method, params)
        return Response(payload, media_type="text/xml")

    return endpoint
