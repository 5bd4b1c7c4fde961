"""The app's routes as the authorisation matrices read them: every route with its full path,
and what a table of declared rules lacks or names in vain."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


def all_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every route with its full path, including those of included routers (FastAPI keeps
    those as entries holding the router and the prefix it was included at)."""
    for route in routes:
        if hasattr(route, "original_router") and hasattr(route, "include_context"):
            yield from all_routes(
                route.original_router.routes, prefix + route.include_context.prefix
            )
        elif hasattr(route, "path"):
            yield prefix + route.path, route


def routes_where(routes: Any, keep: Callable[[str, Any], bool]) -> set[tuple[str, str]]:
    """(method, path) of each route kept (HEAD, which answers with GET, left out)."""
    found = set()
    for path, route in all_routes(routes):
        if keep(path, route):
            methods = getattr(route, "methods", None) or {"GET"}
            found |= {(method, path) for method in methods - {"HEAD"}}
    return found


def undeclared(
    found: set[tuple[str, str]], rules: Mapping[tuple[str, str], Any]
) -> tuple[list[str], list[str]]:
    """Routes without a rule in the table, and rules for routes that are gone."""
    missing = sorted(f"{m} {p}" for m, p in found - rules.keys())
    gone = sorted(f"{m} {p}" for m, p in rules.keys() - found)
    return missing, gone
