"""The caller from the authorizer context, and the domain errors' HTTP mapping data."""

from __future__ import annotations

import pytest

from careforall.errors import (BadRequestError, ConflictError, DomainError, ForbiddenError, NotFoundError,
                               TooManyRequestsError, UnauthorizedError, ValidationFailedError)
from careforall.identity import Caller, Role, caller_from_authorizer


def test_caller_from_authorizer_full_context_gives_caller():
    caller = caller_from_authorizer({"principalId": "u-1", "user_id": "u-1", "email": "a@example.com",
                                     "role": "ADMIN"})

    assert caller == Caller(user_id="u-1", email="a@example.com", role=Role.ADMIN)
    assert caller.is_admin


@pytest.mark.parametrize("context", [None, {}, {"principalId": "u-1"}, {"user_id": ""}])
def test_caller_from_authorizer_without_user_gives_none(context):
    assert caller_from_authorizer(context) is None


def test_caller_from_authorizer_missing_role_defaults_to_donor():
    caller = caller_from_authorizer({"user_id": "u-1", "email": "a@example.com"})

    assert caller.role is Role.DONOR
    assert not caller.is_admin


def test_caller_from_authorizer_unknown_role_raises():
    with pytest.raises(ValueError):
        caller_from_authorizer({"user_id": "u-1", "email": "a@example.com", "role": "ROOT"})


@pytest.mark.parametrize(
    ("error_type", "status", "problem"),
    [(BadRequestError, 400, "bad-request"), (UnauthorizedError, 401, "unauthorized"),
     (ForbiddenError, 403, "forbidden"), (NotFoundError, 404, "not-found"), (ConflictError, 409, "conflict"),
     (ValidationFailedError, 422, "validation-error")],
)
def test_domain_error_subclass_carries_status_and_problem_type(error_type, status, problem):
    error = error_type("detail text", errors=[{"loc": ["body"]}])

    assert isinstance(error, DomainError)
    assert (error.status, error.problem, error.detail) == (status, problem, "detail text")
    assert error.extensions == {"errors": [{"loc": ["body"]}]}


@pytest.mark.parametrize(("seconds", "header"), [(120, "120"), (0, "1"), (-5, "1"), (2.9, "2")])
def test_too_many_requests_retry_after_is_a_positive_whole_number(seconds, header):
    error = TooManyRequestsError("slow down", retry_after_seconds=seconds)

    assert error.status == 429
    assert error.headers == {"Retry-After": header}
