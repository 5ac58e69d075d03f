"""The suite's route table is the API: every route the template declares (as the stack serves them in /openapi.json),
with the same access rule, so "every route" in the other modules means every route."""

from __future__ import annotations

from tests.integration.helpers import assert_json
from tests.integration.security.support import BEARER, ROUTES


def test_read_openapi_lists_exactly_the_routes_of_the_table(api):
    document = assert_json(api.get("/openapi.json"), 200)

    served = {f"{method.upper()} {path}" for path, operations in document["paths"].items() for method in operations}

    assert {route.name for route in ROUTES} == served


def test_read_openapi_marks_exactly_the_bearer_routes_of_the_table(api):
    document = assert_json(api.get("/openapi.json"), 200)

    secured = {f"{method.upper()} {path}" for path, operations in document["paths"].items()
               for method, operation in operations.items() if operation.get("security")}

    assert {route.name for route in ROUTES if route.access == BEARER} == secured
