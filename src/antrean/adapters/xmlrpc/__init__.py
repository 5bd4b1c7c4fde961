"""XML-RPC for legacy clients (kiosks, old front-desk programs), at /RPC2 on the web port.

Requests are parsed with defusedxml's expat parser, so entity expansion and external entities
are refused. Every error comes back as an XML-RPC fault with a readable message, never a crash.
"""

from __future__ import annotations

import logging
import re
import xmlrpc.client
from datetime import date, datetime
from typing import Any
from xmlrpc.server import SimpleXMLRPCDispatcher

from defusedxml.xmlrpc import DefusedExpatParser
from starlette.requests import Request
from starlette.responses import Response

from antrean.bootstrap import Container
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import clinic_open_at
from antrean.services import queue, scheduling

log = logging.getLogger("antrean.xmlrpc")
MAX_BODY = 64 * 1024
FAULT_BAD_REQUEST = 400
FAULT_NOT_FOUND = 404
FAULT_SERVER = 500
_CODE = re.compile(r"^([A-Za-z]{1,3}-\d+)-(.+)$")

# XML-RPC clients are kiosks and front-desk programs without accounts: they act as a kiosk.
KIOSK = Actor(user_id=0, facility_id=1, roles=frozenset({Role.OPERATOR}))


class InvalidInput(ValueError):
    pass


def _loads(data: bytes) -> tuple[tuple[Any, ...], str]:
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller)
    parser.feed(data)
    parser.close()
    return unmarshaller.close(), unmarshaller.getmethodname()


def _parse_dob(value: object) -> date:
    text = str(value).strip()
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

    def _clinics(self) -> list[Any]:
        return scheduling.list_clinics(self.c.uow(), facility_id=self.c.settings.facility_id)

    def _open(self, clinic: Any) -> bool:
        return clinic_open_at(clinic, self.c.clock.now().astimezone(self.c.policy.time_zone))

    def list_clinics(self) -> list[dict[str, Any]]:
        return [
            {"number": n, "id": k.id, "code": k.code, "name": k.name, "open": self._open(k)}
            for n, k in enumerate(self._clinics(), start=1)
        ]

    def get_menu(self) -> str:
        lines = ["Silakan pilih poli:"]
        for item in self.list_clinics():
            state = "buka" if item["open"] else "tutup"
            lines.append(f"{item['number']}. {item['name']} ({state})")
        return "\n".join(lines)

    def _clinic_for(self, choice: object) -> Any:
        clinics = self._clinics()
        text = str(choice).strip()
        if text.isdigit() and 1 <= int(text) <= len(clinics):
            return clinics[int(text) - 1]
        for clinic in clinics:
            if clinic.code.upper() == text.upper():
                return clinic
        raise InvalidInput(f"poli {text!r} tidak ada; lihat get_menu()")

    def register_patient(self, clinic_id: object, patient_info: object) -> str:
        if not isinstance(patient_info, dict):
            raise InvalidInput("patient_info harus struct dengan name, dob dan mrn (opsional)")
        name = str(patient_info.get("name") or "").strip()
        if not name:
            raise InvalidInput("name wajib diisi")
        clinic = self._clinic_for(clinic_id)
        mrn = str(patient_info.get("mrn") or "").strip() or None
        try:
            status = queue.register_walk_in(
                self.c.uow(),
                actor=KIOSK,
                policy=self.c.policy,
                clinic_id=clinic.id,
                name=name,
                birth_date=_parse_dob(patient_info.get("dob")),
                mrn=mrn,
                queue=self.c.queue_policy,
            )
        except AntreanError as exc:
            if exc.code == "clinic_closed":
                return "none"
            raise
        return f"{status.label}-{status.status_code}"

    def ticket_status(self, queue_code: object) -> dict[str, Any]:
        match = _CODE.match(str(queue_code).strip())
        if match is None:
            raise InvalidInput("kode antrean tidak dikenal")
        status = queue.ticket_status(
            self.c.uow(), status_code=match.group(2), queue=self.c.queue_policy
        )
        local = status.estimated_call_at.astimezone(self.c.policy.time_zone)
        return {
            "ticket": status.label,
            "clinic": status.clinic_name,
            "state": status.state.value,
            "people_ahead": status.people_ahead,
            "estimated_call": local.strftime("%H:%M"),
        }

    def get_queue_status(self, queue_code: object) -> str:
        s = self.ticket_status(queue_code)
        if s["state"] != "waiting":
            return f"Antrean {s['ticket']} ({s['clinic']}): {s['state']}."
        return (
            f"Antrean {s['ticket']} di {s['clinic']}: {s['people_ahead']} orang di depan Anda, "
            f"perkiraan dipanggil pukul {s['estimated_call']}."
        )


def _fault(code: int, message: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True).encode()


def make_endpoint(container: Container):  # type: ignore[no-untyped-def]
    dispatcher = SimpleXMLRPCDispatcher(allow_none=True, encoding="utf-8")
    dispatcher.register_introspection_functions()
    dispatcher.register_instance(QueueRpc(container))

    def handle(body: bytes) -> bytes:
        try:
            params, method = _loads(body)
        except Exception:
            return _fault(FAULT_BAD_REQUEST, "permintaan XML-RPC tidak valid")
        try:
            result = dispatcher._dispatch(method, params)
            return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True).encode()
        except InvalidInput as exc:
            return _fault(FAULT_BAD_REQUEST, str(exc))
        except AntreanError as exc:
            return _fault(
                FAULT_NOT_FOUND if exc.kind.value == "not_found" else FAULT_BAD_REQUEST,
                exc.message("id"),
            )
        except TypeError:
            return _fault(FAULT_BAD_REQUEST, f"jumlah atau jenis parameter salah untuk {method}")
        except Exception as exc:
            if str(exc) == f'method "{method}" is not supported':
                return _fault(FAULT_NOT_FOUND, f"metode {method!r} tidak ada")
            log.exception("XML-RPC %s failed", method)
            return _fault(FAULT_SERVER, "kesalahan pada server")

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            payload = _fault(FAULT_BAD_REQUEST, "permintaan terlalu besar")
        else:
            payload = await container.call(handle, body)
        return Response(payload, media_type="text/xml")

    return endpoint
