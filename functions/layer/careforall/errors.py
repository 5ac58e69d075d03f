"""Domain errors. Logic raises these; `api.py` maps them to RFC 9457 problem details in one place.

Each error names its problem type (the last segment of the `type` URI), its HTTP status and title.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    problem: str = "bad-request"
    title: str = "Bad Request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


class BadRequestError(DomainError):
    status, problem, title = 400, "bad-request", "Bad Request"


class UnauthorizedError(DomainError):
    status, problem, title = 401, "unauthorized", "Unauthorized"


class ForbiddenError(DomainError):
    status, problem, title = 403, "forbidden", "Forbidden"


class NotFoundError(DomainError):
    status, problem, title = 404, "not-found", "Not Found"


class ConflictError(DomainError):
    status, problem, title = 409, "conflict", "Conflict"


class ValidationFailedError(DomainError):
    """A request that parsed but breaks a rule the schema cannot express (422)."""

    status, problem, title = 422, "validation-error", "Unprocessable Content"


class TooManyRequestsError(DomainError):
    status, problem, title = 429, "too-many-requests", "Too Many Requests"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after_seconds)))})


class ServiceBusyError(DomainError):
    """A write kept meeting contention (another transaction on the same item, throttling) after its retries:
    nothing was written, and the same request may be sent again."""

    status, problem, title = 503, "service-busy", "Service Unavailable"

    def __init__(self, detail: str = "The service is busy; nothing was written. Retry the same request shortly.",
                 *, retry_after_seconds: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after_seconds)))})
