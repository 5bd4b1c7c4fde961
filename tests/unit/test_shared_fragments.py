"""Many readers of the same version share one render; a failed render is not kept."""

from __future__ import annotations

import asyncio

import pytest

from antrean.adapters.web.core import SharedFragments


def test_readers_of_one_version_share_one_render_and_failures_are_not_kept():
    async def scenario() -> None:
        shared = SharedFragments(limit=2)
        made: list[str] = []
        gate = asyncio.Event()

        async def render(text: str) -> str:
            made.append(text)
            await gate.wait()
            return text

        readers = [
            asyncio.create_task(shared.get(("a", "1"), lambda: render("one"))) for _ in range(50)
        ]
        await asyncio.sleep(0)
        gate.set()
        assert set(await asyncio.gather(*readers)) == {"one"}
        assert made == ["one"]  # one render for fifty readers
        assert await shared.get(("a", "2"), lambda: render("two")) == "two"
        assert await shared.get(("a", "3"), lambda: render("three")) == "three"
        assert await shared.get(("a", "1"), lambda: render("again")) == "again"  # dropped: limit

        async def broken() -> str:
            raise RuntimeError("database down")

        with pytest.raises(RuntimeError):
            await shared.get(("b", "1"), broken)
        assert await shared.get(("b", "1"), lambda: render("fixed")) == "fixed"

    asyncio.run(scenario())
