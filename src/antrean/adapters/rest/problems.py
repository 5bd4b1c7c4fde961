"""RFC 9457 problem details: every error the API returns has this shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from antrean.services.errors import AntreanError, ErrorKind, preferred_language

log = logging.getLogger("antrean.api")

PROBLEM_TYPE = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    errors: list[FieldError] | None = None


_REF = {"$ref": "#/components/schemas/Problem"}
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {PROBLEM_TYPE: {"schema": _REF}}}
    for status, description in (
        (401, "Not signed in, or the session has expired"),
        (403, "Signed in, but not allowed"),
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (413, "The request is too large"),
        (422, "The input is not valid"),
        (429, "Too many tries: wait the seconds in Retry-After"),
    )
}


def document(app: FastAPI) -> None:
    """Declare the problem schema in the OpenAPI document the responses refer to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (FieldError, Problem):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                found.pop("$defs", None)
                components[model.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


STATUS_BY_KIND = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.TOO_MANY: 429,
}

_GENERIC = {
    400: ("bad_request", "Permintaan tidak valid.", "The request is not valid."),
    401: ("unauthorized", "Silakan masuk terlebih dahulu.", "Please sign in first."),
    403: (
        "forbidden",
        "Anda tidak berhak melakukan tindakan ini.",
        "You are not allowed to do this.",
    ),
    404: ("not_found", "Alamat tidak ditemukan.", "Nothing was found at this address."),
    405: ("method_not_allowed", "Metode tidak diizinkan.", "This method is not allowed here."),
    413: ("too_large", "Permintaan terlalu besar.", "The request is too large."),
    422: ("validation_error", "Data yang dikirim tidak valid.", "The data sent is not valid."),
    500: (
        "internal_error",
        "Terjadi kesalahan pada server.",
        "Something went wrong on the server.",
    ),
}


def language(request: Request) -> str:
    """'en' when the client prefers English, otherwise Bahasa Indonesia."""
    return preferred_language(request.headers.get("accept-language", ""))


def problem(
    request: Request, status: int, code: str, detail: str, title: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title or code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _generic(request: Request, status: int, **extra: Any) -> JSONResponse:
    code, text_id, text_en = _GENERIC.get(status, _GENERIC[400])
    return problem(
        request, status, code, text_en if language(request) == "en" else text_id, **extra
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(AntreanError)
    async def _antrean(request: Request, exc: AntreanError) -> JSONResponse:
        lang = language(request)
        message = exc.message(lang)
        extra: dict[str, Any] = {}
        if exc.field is not None:
            extra["errors"] = [{"loc": [exc.field], "msg": message, "type": exc.code}]
        response = problem(request, STATUS_BY_KIND[exc.kind], exc.code, message, **extra)
        wait = exc.params.get("retry_after")
        if isinstance(wait, int):
            response.headers["Retry-After"] = str(wait)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return _generic(request, 422, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # A body that could not be read as JSON at all (bad UTF-8, nesting too deep, an
            # integer of thousands of digits) is invalid input, like any other malformed body.
            error = {"loc": ["body"], "msg": str(exc.detail), "type": "json_invalid"}
            return _generic(request, 422, errors=[error])
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            return problem(request, exc.status_code, exc.detail["code"], exc.detail["detail"])
        return _generic(request, exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _generic(request, 500)
