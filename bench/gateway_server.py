"""A fast local HTTP gateway for benchmarks: answers `POST /send` the way Fonnte does and counts
each (target, message) it took; `GET /stats` tells how many it took and how many came twice.

    python bench/gateway_server.py PORT

Runs in a process of its own (uvicorn), so the worker it is measured against has the other
core to itself."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import uvicorn

taken: Counter[tuple[str, str]] = Counter()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/stats":
        answer = {
            "taken": sum(taken.values()),
            "twice": sum(n - 1 for n in taken.values() if n > 1),
        }
    else:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        target, text = form.get("target", ""), form.get("message", "")
        taken[(target, text)] += 1
        n = sum(taken.values())
        answer = {
            "detail": "success! message in queue",
            "id": [str(n)],
            "process": "pending",
            "status": True,
            "target": [target],
        }
    payload = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", http="httptools")
