"""Errors the web service answers with: an HTTP status, a short code, a message and a fix.

Every refusal has the same JSON body::

    {"error": {"status": 413, "code": "too_large", "message": "...", "hint": "..."}}
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError"]


class ApiError(Exception):
    """A request the service refuses (4xx) or cannot serve now (5xx), with the reason.

    Parameters
    ----------
    status : HTTP status.
    code : a short, stable name for programs (``"too_large"``, ``"no_speech"``, ...).
    message : what is wrong, for people.
    hint : what to do about it.
    detail : extra JSON-ready fields (e.g. the speech check).
    """

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.detail = detail or {}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message,
                                "hint": self.hint}
        body.update(self.detail)
        return {"error": body}
