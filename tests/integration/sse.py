"""Reading server-sent events in tests."""

from __future__ import annotations

from collections.abc import AsyncIterator


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, str]]:
    """Events as read off a stream's lines: `event` (its name), `id` and `data`."""
    event: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")  # one space after the colon, as the standard says
            if name == "data" and "data" in event:
                event["data"] += "\n" + value  # a multi-line payload comes as several lines
            else:
                event[name] = value
