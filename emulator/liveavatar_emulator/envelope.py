"""LiveAvatar's response envelope ``{"code", "message", "data"}`` and its error twin."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

SUCCESS_CODE = 1000


class ApiError(Exception):
    """An error answered as HTTP ``status`` + ``{"code", "message", "data": null}``."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else error_code(status)


def error_code(status: int) -> int:
    """Envelope code for an HTTP status: 400 -> 4000, 401 -> 4010, 503 -> 5030."""
    return status * 10


def ok(data: Any, message: str = "Success", status: int = 200) -> JSONResponse:
    """A success envelope (``code`` 1000, the value HeyGen's SDK insists on)."""
    return JSONResponse(
        {"code": SUCCESS_CODE, "message": message, "data": data}, status_code=status
    )


def error_response(status: int, message: str, code: int | None = None) -> JSONResponse:
    """An error envelope."""
    return JSONResponse(
        {
            "code": code if code is not None else error_code(status),
            "message": message,
            "data": None,
        },
        status_code=status,
    )


async def api_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler for ``ApiError``."""
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.code)
