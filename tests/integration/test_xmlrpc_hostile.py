"""Hostile XML-RPC bodies get a fault or a 4xx, read nothing from disk or network, and the
server keeps answering: entities (internal, external, parameter), deep nesting, bodies too
large (declared or sent in chunks), and bytes that are not XML at all."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator

from tests.integration.conftest import Api

HEAD = b'<?xml version="1.0"?>'
CALL = (
    b"<methodCall><methodName>get_menu</methodName>"
    b"<params><param><value>%s</value></param></params></methodCall>"
)


def post(api: Api, body: bytes | Iterator[bytes]):
    return api.client.post("/RPC2", content=body, headers={"content-type": "text/xml"})


def is_fault(r) -> bool:  # type: ignore[no-untyped-def]
    if r.status_code != 200:
        return False
    try:
        xmlrpc.client.loads(r.content)
    except xmlrpc.client.Fault:
        return True
    return False


def test_hostile_xml_rpc_bodies_get_a_fault_or_a_4xx_and_the_server_goes_on(api: Api, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("PASSWORD-OF-THE-CLINIC")
    depth = 1_400  # as deep as fits under XML-RPC's 64 KiB
    nested = b"<array><data><value>" * depth + b"1" + b"</value></data></array>" * depth
    bodies = {
        "billion laughs": HEAD
        + b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        + b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        + CALL % b"&d;",
        "external entity": HEAD
        + f'<!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>'.encode()
        + CALL % b"&s;",
        "parameter entity": HEAD
        + f'<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'.encode()
        + CALL % b"1",
        "network entity": HEAD
        + b'<!DOCTYPE x [<!ENTITY n SYSTEM "http://127.0.0.1:9/x">]>'
        + CALL % b"&n;",
        "nested 1,400 deep": HEAD + CALL % nested,
        "not XML": b"\x00\xff\xfe garbage <<<",
        "unclosed": HEAD + b"<methodCall><methodName>get_menu",
        "empty": b"",
    }
    for what, body in bodies.items():
        r = post(api, body)
        assert is_fault(r) or 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])
        assert b"PASSWORD-OF-THE-CLINIC" not in r.content, what
        assert api.client.get("/healthz").status_code == 200

    too_big = HEAD + CALL % (b"<string>" + b"x" * 100_000 + b"</string>")
    assert post(api, too_big).status_code == 413  # declared: refused before it is read

    def chunked() -> Iterator[bytes]:  # no declared length: cut off as it passes the limit
        yield HEAD
        for _ in range(200):
            yield b"<!-- " + b"x" * 1000 + b" -->"

    assert post(api, chunked()).status_code == 413
    assert api.client.get("/healthz").status_code == 200
