"""Benchmark: the pledge create handler against one bare conditional PutItem, on the same endpoint.

Starts the real local stack, then in this process times (a) the PledgesFunction handler creating
guest pledges (each with a new Idempotency-Key) with AWS_ENDPOINT_URL at the stack's emulator,
and (b) one conditional PutItem per request with boto3 against the same emulator. The handler
does everything a pledge needs (validation, the atomic campaign-ACTIVE + new-id write, the
response); the target is that this costs at most 1.5x the bare write.

Run: make bench   (prints the numbers; exits 1 when the target is missed)
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "infra" / "local"), str(REPO_ROOT / "functions" / "layer"),
                str(REPO_ROOT / "functions" / "pledges")]

import boto3  # noqa: E402
import requests  # noqa: E402

from careforall_local.stack import LocalStackModel  # noqa: E402
from tests.integration.stack import start_stack  # noqa: E402

TARGET_RATIO = 1.5
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


class Context:
    function_name = "careforall-PledgesFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:careforall-PledgesFunction"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def pledge_event(campaign_id: str, key: str) -> dict:
    body = json.dumps({"amount": "25.00", "donor_email": "bench@example.com"})
    return {
        "resource": "/campaigns/{id}/pledges", "path": f"/campaigns/{campaign_id}/pledges", "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Idempotency-Key": key},
        "multiValueHeaders": {"Content-Type": ["application/json"], "Idempotency-Key": [key]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"id": campaign_id}, "stageVariables": None, "body": body, "isBase64Encoded": False,
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "v1", "httpMethod": "POST",
                           "resourcePath": "/campaigns/{id}/pledges", "path": f"/v1/campaigns/{campaign_id}/pledges",
                           "identity": {"sourceIp": "127.0.0.1"}, "accountId": "123456789012", "apiId": "local"},
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            return run(stack)
        finally:
            stack.stop()


def run(stack) -> int:
    login = requests.post(f"{stack.base_url}/auth/login",
                          json={"email": stack.admin_email, "password": stack.admin_password}, timeout=30).json()
    campaign = requests.post(f"{stack.base_url}/campaigns", headers={"Authorization": f"Bearer {login['token']}"},
                             json={"title": "Bench", "description": "bench", "goal_amount": "1000000"},
                             timeout=30).json()
    model = LocalStackModel(REPO_ROOT / "template.yaml", {"Environment": "local"})
    environment = model.functions()["careforall-PledgesFunction"].environment
    os.environ.update(environment)
    os.environ.update(AWS_ENDPOINT_URL=stack.aws_endpoint, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_LOG_LEVEL="WARNING",
                      POWERTOOLS_METRICS_DISABLED="1")
    handler = importlib.import_module("pledges_service.handler").lambda_handler
    table = environment["PLEDGES_TABLE_NAME"]
    client = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")

    warm = handler(pledge_event(campaign["id"], "warm-up"), Context())
    assert warm["statusCode"] == 201, warm

    def create_pledge():
        response = handler(pledge_event(campaign["id"], str(uuid.uuid4())), Context())
        assert response["statusCode"] == 201, response

    def bare_put():
        client.put_item(TableName=table, Item={"pk": {"S": f"BENCH#{uuid.uuid4()}"}, "amount_cents": {"N": "2500"}},
                        ConditionExpression="attribute_not_exists(pk)")

    ratios, handler_ms, put_ms = [], [], []
    for _ in range(ROUNDS):
        # Alternate the two, request by request, so background work in the emulator (the outbox
        # relay reading the stream, other processes) weighs on both sides alike.
        put_total = create_total = 0.0
        for _ in range(REQUESTS):
            started = time.perf_counter()
            bare_put()
            middle = time.perf_counter()
            create_pledge()
            create_total += time.perf_counter() - middle
            put_total += middle - started
        put_ms.append(put_total / REQUESTS * 1000)
        handler_ms.append(create_total / REQUESTS * 1000)
        ratios.append(create_total / put_total)
    ratio = statistics.median(ratios)
    print("pledge_create")
    print(f"  requests per side      {REQUESTS} x {ROUNDS} rounds, alternating")
    print(f"  create handler         {statistics.median(handler_ms):.2f} ms/request (median of rounds)")
    print(f"  bare conditional put   {statistics.median(put_ms):.2f} ms/request (median of rounds)")
    print(f"  ratio                  {ratio:.2f}  (target <= {TARGET_RATIO}; rounds: "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"  {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
