"""Static files of the pages (stylesheet, scripts), served from the package under names that
carry a hash of their content, so a browser may keep each for a year and still never runs an
old copy after an upgrade. Each file is read and compressed once, when the server starts."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/assets/"
YEAR = 365 * 24 * 3600
SERVED = (".css", ".js", ".svg", ".wav", ".ico", ".png", ".txt")


@dataclass(frozen=True, slots=True)
class Asset:
    url: str
    body: bytes
    gzipped: bytes | None
    media_type: str


def _hashed_name(path: Path, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()[:12]
    return f"{path.stem}.{digest}{path.suffix}"


class Assets:
    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._by_name: dict[str, Asset] = {}  # plain name -> asset
        self._by_url: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if path.suffix not in SERVED or not path.is_file():
                continue
            body = path.read_bytes()
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media.startswith("text/") or media.endswith("javascript"):
                media += "; charset=utf-8"
            asset = Asset(
                url=PREFIX + _hashed_name(path, body),
                body=body,
                gzipped=packed if len(packed) < len(body) * 0.9 else None,
                media_type=media,
            )
            self._by_name[path.name] = asset
            self._by_url[asset.url] = asset

    def url(self, name: str) -> str:
        """The address of a static file by its plain name (`app.css`)."""
        return self._by_name[name].url

    def response(self, request: Request) -> Response:
        asset = self._by_url.get(request.url.path)
        if asset is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": f"public, max-age={YEAR}, immutable", "Vary": "Accept-Encoding"}
        body = asset.body
        if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)
