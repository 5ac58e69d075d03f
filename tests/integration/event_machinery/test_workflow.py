"""Step Functions in the emulator with Lambda tasks run by the local runtime: the Workflow state machine
(statemachines/workflow.asl.json) retries a flaky task, catches a failing one, then waits for a task token
it sends to TaskTokenQueue."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.event_machinery.support import QueueDrain, eventually


@pytest.fixture(scope="module")
def workflow(probe) -> str:
    machines = probe.stepfunctions.list_state_machines()["stateMachines"]
    return next(m["stateMachineArn"] for m in machines if m["name"] == "careforall-Workflow")


@pytest.fixture(scope="module")
def run(probe, workflow) -> dict:
    """One named execution driven to its end; returns its name, ARN, the second start's outcome and its
    description. The name matters: moto gives every unnamed execution of a state machine the same ARN."""
    run_id, name = str(uuid.uuid4()), f"run-{uuid.uuid4().hex[:12]}"
    execution_input = json.dumps({"run": run_id, "fail_times": 2})
    start = probe.stepfunctions.start_execution
    arn = start(stateMachineArn=workflow, name=name, input=execution_input)["executionArn"]

    token_message = QueueDrain(probe, "TaskTokenQueue").find(lambda body: body["run"] == run_id, timeout=60)
    try:  # still running, waiting for the token: AWS answers a repeated start with the same ARN
        again = start(stateMachineArn=workflow, name=name, input=execution_input)["executionArn"]
    except probe.stepfunctions.exceptions.ExecutionAlreadyExists:
        again = "ExecutionAlreadyExists"
    probe.stepfunctions.send_task_success(taskToken=token_message["token"], output=json.dumps({"approved": True}))

    described = eventually(lambda: (d := probe.stepfunctions.describe_execution(executionArn=arn))["status"]
                           != "RUNNING" and d, timeout=60, what="the execution finishing")
    return {"name": name, "arn": arn, "again": again, "described": described}


def output(run: dict) -> dict:
    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    return json.loads(run["described"]["output"])


def test_execution_with_flaky_task_retried_succeeds_on_third_attempt(run):
    assert output(run)["flaky"] == {"attempts": 3}


def test_execution_with_always_failing_task_caught_records_the_error(run):
    assert output(run)["caught"]["Error"] == "ValueError"


def test_execution_waiting_for_task_token_resumes_with_send_task_success_output(run):
    assert output(run)["approval"] == {"approved": True}


def test_start_execution_again_with_same_name_and_input_starts_no_second_run(probe, workflow, run):
    executions = probe.stepfunctions.list_executions(stateMachineArn=workflow)["executions"]

    assert run["again"] in (run["arn"], "ExecutionAlreadyExists")
    assert [e["executionArn"] for e in executions if e["name"] == run["name"]] == [run["arn"]]
