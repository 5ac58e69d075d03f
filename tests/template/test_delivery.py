"""template.yaml is ready to deploy: every asynchronous source keeps its failures somewhere ops see (stream
mappings, SQS sources, async-invoked functions, the payment workflow), every log group has a retention, and
the secrets are named per environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

STATE_MACHINE = "PaymentStateMachine"
DLQ_ALARM = "DeadLetterQueuesNotEmptyAlarm"
DASHBOARD = "OperationsDashboard"
LOG_RETENTION = "LogRetentionDays"
# What CloudWatch Logs accepts as RetentionInDays.
CLOUDWATCH_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                             2557, 2922, 3288, 3653]
UNSUCCESSFUL_EXECUTIONS = {"FAILED", "TIMED_OUT", "ABORTED"}
# Services that invoke Lambda asynchronously (InvocationType Event): Lambda retries twice, then drops the
# event unless the function has an on-failure destination or a dead-letter queue.
ASYNC_PRINCIPALS = {"s3.amazonaws.com", "sns.amazonaws.com", "events.amazonaws.com", "scheduler.amazonaws.com",
                    "logs.amazonaws.com", "iot.amazonaws.com", "ses.amazonaws.com", "config.amazonaws.com",
                    "codecommit.amazonaws.com"}
FUNCTION_TYPES = {"AWS::Lambda::Function"}
# boto3 `InvocationType="Event"`, or an ASL lambda:invoke task's `"InvocationType": "Event"`.
_ASYNC_CALL = re.compile(r"""InvocationType["']?\s*[=:]\s*["']Event["']""")


# ---------------------------------------------------------------------------------------- helpers
def _resources(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") in types}


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}


def _logical_id(node: Any) -> str | None:
    """The resource a Ref, a GetAtt or a `${X}`/`${X.Arn}` Sub points at."""
    if isinstance(node, dict) and "Ref" in node:
        return node["Ref"]
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        return target.split(".", 1)[0] if isinstance(target, str) else target[0]
    if isinstance(node, dict) and "Fn::Sub" in node:
        text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
        match = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.Arn)?\}", text)
        return match.group(1) if match else None
    return None


def _on_failure(props: dict[str, Any]) -> Any:
    return ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")


def _is_stream(source: Any) -> bool:
    text = json.dumps(source)
    return "StreamArn" in text or ":kinesis:" in text or ":dynamodb:" in text


def _async_invoked_functions(cfn: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> what invokes it asynchronously, from the (transformed) template's resources."""
    functions = _resources(cfn, *FUNCTION_TYPES)
    found: dict[str, str] = {}

    def note(target: Any, why: str) -> None:
        logical_id = _logical_id(target)
        if logical_id in functions:
            found.setdefault(logical_id, why)

    for name, resource in cfn.get("Resources", {}).items():
        props, rtype = _props(resource), resource.get("Type")
        if rtype == "AWS::Lambda::Permission" and props.get("Principal") in ASYNC_PRINCIPALS:
            note(props.get("FunctionName"), f"{name} ({props['Principal']})")
        elif rtype == "AWS::Events::Rule":
            for target in props.get("Targets") or []:
                note(target.get("Arn"), f"{name} (EventBridge)")
        elif rtype == "AWS::Scheduler::Schedule":
            note((props.get("Target") or {}).get("Arn"), f"{name} (EventBridge Scheduler)")
        elif rtype == "AWS::SNS::Subscription" and props.get("Protocol") == "lambda":
            note(props.get("Endpoint"), f"{name} (SNS)")
        elif rtype == "AWS::SNS::Topic":
            for subscription in props.get("Subscription") or []:
                if subscription.get("Protocol") == "lambda":
                    note(subscription.get("Endpoint"), f"{name} (SNS)")
        elif rtype == "AWS::S3::Bucket":
            for config in (props.get("NotificationConfiguration") or {}).get("LambdaConfigurations") or []:
                note(config.get("Function"), f"{name} (S3 notification)")
    return found


def _failure_destinations(cfn: dict[str, Any]) -> dict[str, Any]:
    """Function logical id -> where its failed asynchronous invocations go (EventInvokeConfig OnFailure or DLQ)."""
    destinations: dict[str, Any] = {}
    for name, function in _resources(cfn, *FUNCTION_TYPES).items():
        target = (_props(function).get("DeadLetterConfig") or {}).get("TargetArn")
        if target:
            destinations[name] = target
    for config in _resources(cfn, "AWS::Lambda::EventInvokeConfig").values():
        destination = _on_failure(_props(config))
        function = _logical_id(_props(config).get("FunctionName"))
        if destination and function:
            destinations.setdefault(function, destination)
    return destinations


def _async_problems(cfn: dict[str, Any]) -> list[str]:
    destinations = _failure_destinations(cfn)
    return sorted(f"{function}, invoked asynchronously by {source}, has no on-failure destination or DLQ"
                  for function, source in _async_invoked_functions(cfn).items() if function not in destinations)


def _workflow_failure_rules(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """EventBridge rules on the payment workflow's failed, timed-out and aborted executions."""
    rules = {}
    for name, rule in _resources(cfn, "AWS::Events::Rule").items():
        pattern = _props(rule).get("EventPattern") or {}
        detail = pattern.get("detail") or {}
        if (pattern.get("source") == ["aws.states"]
                and pattern.get("detail-type") == ["Step Functions Execution Status Change"]
                and UNSUCCESSFUL_EXECUTIONS <= set(detail.get("status") or [])
                and detail.get("stateMachineArn") == [{"Ref": STATE_MACHINE}]
                and _props(rule).get("State", "ENABLED") == "ENABLED"):
            rules[name] = rule
    return rules


def _workflow_failure_queues(cfn: dict[str, Any]) -> set[str]:
    queues = _resources(cfn, "AWS::SQS::Queue")
    return {_logical_id(target.get("Arn")) for rule in _workflow_failure_rules(cfn).values()
            for target in _props(rule).get("Targets") or []} & set(queues)


def _log_group_of(function: str, cfn: dict[str, Any]) -> dict[str, Any] | None:
    """The template's log group a function writes to: its LoggingConfig.LogGroup, else /aws/lambda/<its name>."""
    groups = _resources(cfn, "AWS::Logs::LogGroup")
    configured = (_props(cfn["Resources"][function]).get("LoggingConfig") or {}).get("LogGroup")
    if configured is not None:
        return groups.get(_logical_id(configured))
    for group in groups.values():
        name = _props(group).get("LogGroupName")
        if name in ({"Fn::Sub": f"/aws/lambda/${{{function}}}"},
                    {"Fn::Join": ["", ["/aws/lambda/", {"Ref": function}]]}):
            return group
    return None


# ---------------------------------------------------------------------------------------- failures
def test_stream_event_source_mappings_in_template_have_an_on_failure_destination(cfn: dict[str, Any]) -> None:
    streams = {name: mapping for name, mapping in _resources(cfn, "AWS::Lambda::EventSourceMapping").items()
               if _is_stream(_props(mapping).get("EventSourceArn"))}
    assert len(streams) >= 5, sorted(streams)
    queues = _resources(cfn, "AWS::SQS::Queue")
    missing = {name for name, mapping in streams.items() if _logical_id(_on_failure(_props(mapping))) not in queues}
    assert not missing, f"stream mappings without an OnFailure queue of the template: {sorted(missing)}"


def test_queues_consumed_by_functions_in_template_have_a_redrive_policy(cfn: dict[str, Any]) -> None:
    queues = _resources(cfn, "AWS::SQS::Queue")
    consumed = {_logical_id(_props(m).get("EventSourceArn"))
                for m in _resources(cfn, "AWS::Lambda::EventSourceMapping").values()} & set(queues)
    assert consumed, "no function consumes a queue"
    missing = {}
    for queue in consumed:
        policy = _props(queues[queue]).get("RedrivePolicy") or {}
        target = _logical_id(policy.get("deadLetterTargetArn"))
        if target not in queues or int(policy.get("maxReceiveCount", 0)) < 1:
            missing[queue] = policy
    assert not missing, f"queues feeding functions without a dead-letter queue: {missing}"


def test_async_invoked_functions_in_template_have_an_on_failure_destination(cfn: dict[str, Any]) -> None:
    problems = _async_problems(cfn)
    assert not problems, "\n".join(problems)


def test_async_check_on_sample_template_flags_a_function_without_destination_only() -> None:
    # GIVEN an S3-notified function, first without and then with an EventInvokeConfig OnFailure queue
    function = {"Type": "AWS::Lambda::Function", "Properties": {}}
    permission = {"Type": "AWS::Lambda::Permission", "Properties": {
        "FunctionName": {"Fn::GetAtt": ["Thumbnailer", "Arn"]}, "Principal": "s3.amazonaws.com"}}
    bare = {"Resources": {"Thumbnailer": function, "ThumbnailerS3Permission": permission,
                          "Failures": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    configured = {"Resources": {**bare["Resources"], "ThumbnailerInvokeConfig": {
        "Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
            "FunctionName": {"Ref": "Thumbnailer"}, "Qualifier": "$LATEST",
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}}}}}}
    # WHEN checked / THEN only the one without a destination is reported
    assert _async_invoked_functions(bare) == {"Thumbnailer": "ThumbnailerS3Permission (s3.amazonaws.com)"}
    assert len(_async_problems(bare)) == 1
    assert _async_problems(configured) == []


def test_lambda_invocations_in_code_and_workflow_are_synchronous() -> None:
    # An InvocationType Event call needs an EventInvokeConfig OnFailure on its target (and a case above).
    sources = [*FUNCTIONS_DIR.rglob("*.py"), *(REPO_ROOT / "infra" / "statemachines").glob("*.json")]
    calls = [str(path.relative_to(REPO_ROOT)) for path in sorted(sources)
             if "__pycache__" not in path.parts and _ASYNC_CALL.search(path.read_text(encoding="utf-8"))]
    assert not calls, f"asynchronous Lambda invocations: {calls}"


def test_payment_workflow_failures_in_template_are_routed_to_a_queue(cfn: dict[str, Any]) -> None:
    assert _workflow_failure_rules(cfn), (
        "no enabled EventBridge rule on Step Functions Execution Status Change FAILED/TIMED_OUT/ABORTED "
        f"of {STATE_MACHINE}")
    assert _workflow_failure_queues(cfn), "the workflow failure rule targets no SQS queue of the template"


def test_workflow_failure_queue_policy_in_template_lets_only_its_rule_send(cfn: dict[str, Any]) -> None:
    rules = set(_workflow_failure_rules(cfn))
    for queue in _workflow_failure_queues(cfn):
        statements = [s for policy in _resources(cfn, "AWS::SQS::QueuePolicy").values()
                      if {"Ref": queue} in _props(policy).get("Queues", [])
                      for s in _props(policy)["PolicyDocument"]["Statement"]]
        allowed = [s for s in statements if s["Effect"] == "Allow"]
        assert allowed, f"{queue}: no queue policy lets EventBridge send to it"
        for statement in allowed:
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}, statement
            assert statement["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"]), statement
            assert _logical_id(statement["Resource"]) == queue, statement
            source = (statement.get("Condition") or {}).get("ArnEquals", {}).get("aws:SourceArn")
            assert _logical_id(source) in rules, f"{queue}: any rule could send, not only {sorted(rules)}"


def test_workflow_failure_queue_in_template_is_watched_by_dead_letter_alarm_and_dashboard(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    alarm = sam["Resources"][DLQ_ALARM]["Properties"]["Metrics"]
    expression = next(m["Expression"] for m in alarm if m.get("ReturnData", True))
    dashboard = sam["Resources"][DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    for queue in _workflow_failure_queues(cfn):
        ids = [m["Id"] for m in alarm if "MetricStat" in m
               and m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}]
        assert ids and any(re.search(rf"\b{i}\b", expression) for i in ids), f"{DLQ_ALARM} does not watch {queue}"
        assert f'"${{{queue}.QueueName}}"' in dashboard, f"{DASHBOARD} does not show {queue}"


# ---------------------------------------------------------------------------------------- logs
def test_log_retention_parameter_in_template_allows_only_cloudwatch_values(sam: dict[str, Any]) -> None:
    parameter = sam["Parameters"][LOG_RETENTION]
    assert parameter["Type"] == "Number"
    assert parameter["AllowedValues"] == CLOUDWATCH_RETENTION_DAYS
    assert parameter["Default"] == 30


def test_functions_in_template_log_to_a_group_with_retention(cfn: dict[str, Any]) -> None:
    functions = _resources(cfn, *FUNCTION_TYPES)
    assert len(functions) == 16, sorted(functions)
    missing = {name for name in functions
               if not _props(_log_group_of(name, cfn) or {}).get("RetentionInDays")}
    assert not missing, f"functions without a template log group with RetentionInDays: {sorted(missing)}"


def test_function_log_groups_in_template_are_one_per_function(cfn: dict[str, Any]) -> None:
    groups = [_logical_id((_props(f).get("LoggingConfig") or {}).get("LogGroup"))
              for f in _resources(cfn, *FUNCTION_TYPES).values()]
    assert len(set(groups)) == len(groups), f"functions share a log group: {groups}"


def test_log_groups_in_template_keep_log_retention_days(cfn: dict[str, Any]) -> None:
    groups = _resources(cfn, "AWS::Logs::LogGroup")
    assert groups
    wrong = {name: _props(g).get("RetentionInDays") for name, g in groups.items()
             if _props(g).get("RetentionInDays") != {"Ref": LOG_RETENTION}}
    assert not wrong, wrong


def test_other_log_destinations_in_template_are_groups_with_retention(cfn: dict[str, Any]) -> None:
    # The state machine and the API stages log nowhere today; if they ever do, to a group kept LogRetentionDays.
    groups = _resources(cfn, "AWS::Logs::LogGroup")
    destinations = []
    for name, machine in _resources(cfn, "AWS::StepFunctions::StateMachine").items():
        for destination in (_props(machine).get("LoggingConfiguration") or {}).get("Destinations") or []:
            destinations.append((name, (destination.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")))
    for name, stage in _resources(cfn, "AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage").items():
        settings = _props(stage).get("AccessLogSetting") or _props(stage).get("AccessLogSettings")
        if settings:
            destinations.append((name, settings.get("DestinationArn")))
    unkept = [(name, target) for name, target in destinations if _logical_id(target) not in groups]
    assert not unkept, f"log destinations that are not log groups of the template: {unkept}"


# ---------------------------------------------------------------------------------------- secrets
@pytest.mark.parametrize("secret, suffix", [("JwtSigningSecret", "jwt-signing-key"),
                                            ("WebhookSigningSecret", "webhook-signing-secret")])
def test_secrets_in_template_are_named_under_secrets_prefix_and_environment(
    sam: dict[str, Any], secret: str, suffix: str
) -> None:
    props = sam["Resources"][secret]["Properties"]
    assert props["Name"] == {"Fn::Sub": f"${{SecretsPrefix}}/${{Environment}}/{suffix}"}
    assert "SecretString" not in props, "the value is generated by CloudFormation, never written in the template"
    assert props["GenerateSecretString"]["PasswordLength"] >= 32
