"""The stack's health check and its AWS endpoint, provisioned from template.yaml."""

from __future__ import annotations

import boto3

TEMPLATE_TABLE_SUFFIXES = ("UsersTable", "RateLimitsTable", "CampaignsTable", "TotalsTable", "PledgesTable",
                           "PaymentsTable", "SandboxProviderTable", "TotalsLedgerTable", "ConnectionsTable")


def test_get_health_when_stack_is_ready_returns_200_ok(api):
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_list_tables_on_aws_endpoint_returns_the_template_tables(stack):
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=stack.aws_endpoint,
                            aws_access_key_id="local", aws_secret_access_key="local")

    names = dynamodb.list_tables()["TableNames"]

    for suffix in TEMPLATE_TABLE_SUFFIXES:
        assert sum(name.endswith(suffix) for name in names) == 1, f"no single table *{suffix} in {names}"


def test_get_health_with_correlation_id_echoes_it(api):
    response = api.get("/health", headers={"X-Correlation-Id": "health-check-1"})

    assert response.headers["X-Correlation-Id"] == "health-check-1"


def test_get_health_without_correlation_id_still_carries_one(api):
    assert api.get("/health").headers.get("X-Correlation-Id")


def test_get_openapi_lists_every_route_with_bearer_security_on_protected_ones(api):
    document = api.get("/openapi.json").json()

    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/auth/register", "/auth/login", "/users/me", "/users/{id}/role",
                                      "/campaigns", "/campaigns/{id}", "/campaigns/{id}/pledges", "/pledges/{id}",
                                      "/users/me/pledges", "/donations/lookup", "/donations", "/webhooks/payments",
                                      "/payments/{id}", "/campaigns/{id}/totals"}
    assert document["paths"]["/users/me"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/campaigns"]["get"]
    assert "RegisterRequest" in document["components"]["schemas"]
