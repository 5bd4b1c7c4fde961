"""Queue tickets printed by the server itself on a network receipt printer (ESC/POS over TCP,
port 9100 by default), for a kiosk whose browser cannot print unattended. The printer's own QR
command draws the code, so no image is made here."""

from __future__ import annotations

from dataclasses import dataclass

from escpos.printer import Network

CONNECT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class PrintedTicket:
    facility: str
    number: str
    clinic: str
    issued: str  # date and time as the reader reads them
    lines: tuple[str, ...]  # people ahead, estimated time, ...
    link: str  # the live ticket page (in the QR code)
    footer: str


class PrinterError(RuntimeError):
    pass


class EscposPrinter:
    def __init__(self, timeout: float = CONNECT_SECONDS) -> None:
        self.timeout = timeout

    def print_ticket(self, address: tuple[str, int], ticket: PrintedTicket) -> None:
        """Blocking (a socket to the printer): run it off the event loop."""
        host, port = address
        printer = Network(host, port=port, timeout=self.timeout)
        try:
            printer.open()
            printer.set(align="center", bold=True)
            printer.textln(ticket.facility)
            printer.set(align="center", bold=True, double_width=True, double_height=True)
            printer.textln(ticket.number)
            printer.set(align="center", normal_textsize=True)
            printer.textln(ticket.clinic)
            printer.textln(ticket.issued)
            for line in ticket.lines:
                printer.textln(line)
            printer.set(align="center")
            printer.qr(ticket.link, size=6, native=True)
            printer.textln(ticket.footer)
            printer.cut()
        except Exception as exc:  # whatever the printer or its driver did: the ticket stands
            raise PrinterError(f"printer {host}:{port} failed: {exc}") from exc
        finally:
            printer.close()
