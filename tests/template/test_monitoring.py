"""template.yaml's alarms and dashboard: they cover every failure queue, stream consumer and function of the
template, notify AlarmTopic, and every CareForAll metric they show is one the functions' code emits."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

ALARM_TOPIC = "AlarmTopic"
DLQ_ALARM = "DeadLetterQueuesNotEmptyAlarm"
ITERATOR_AGE_ALARM = "StreamIteratorAgeAlarm"
REQUIRED_ALARMS = {DLQ_ALARM, ITERATOR_AGE_ALARM, "Api5xxRateAlarm", "PaymentWorkflowFailuresAlarm",
                   "StuckPaymentsAlarm"}
DASHBOARD = "OperationsDashboard"
CUSTOM_NAMESPACE = "CareForAll"
SERVICE = "service"  # the dimension Powertools gives every metric: the function's POWERTOOLS_SERVICE_NAME

# The business metrics the dashboard shows: service -> metric names.
BUSINESS_METRICS: dict[str, set[str]] = {
    "pledges": {"PledgesCreated", "IdempotentReplays", "IdempotencyKeyConflicts"},
    "pledge-relay": {"PledgeEventsPublished"},
    "payments": {"WebhookEventsApplied", "WebhookEventsIgnored", "WebhookEventsRejected"},
    "payment-tasks": {"PaymentsReconciled", "PaymentsStuck", "PaymentsGivenUp"},
    "payment-projector": {"PaymentsFinished"},
    "totals-aggregator": {"TotalsApplied", "TotalsWrites"},
    "realtime": {"PledgeToCompletionSeconds", "NotificationFailures", "ReceiptsSent", "GoalNotesSent"},
}
# Metrics broken down by a dimension of their own: (service, metric) -> (dimension, every value the dashboard shows).
BREAKDOWNS: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("payments", "WebhookEventsIgnored"): ("reason", {"duplicate", "stale"}),
    ("payments", "WebhookEventsRejected"): ("reason", {"signature", "malformed", "unknown_payment"}),
    ("payment-projector", "PaymentsFinished"): ("final_state", {"COMPLETED", "FAILED"}),
    ("realtime", "NotificationFailures"): ("channel", {"email", "websocket"}),
}
# AWS/ metric dimensions that name a resource of the template: dimension -> (resource types, attribute or None).
RESOURCE_DIMENSIONS: dict[str, tuple[set[str], str | None]] = {
    "FunctionName": ({"AWS::Serverless::Function", "AWS::Lambda::Function"}, None),
    "QueueName": ({"AWS::SQS::Queue"}, "QueueName"),
    "StateMachineArn": ({"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"}, None),
}
PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::Partition", "AWS::Region", "AWS::StackId",
                     "AWS::StackName", "AWS::URLSuffix"}

# A ${Name} or ${Name.Attribute} of Fn::Sub (not the ${!Literal} escape), and the placeholder that stands for it.
_SUB_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")
_PLACEHOLDER = re.compile(r"\{\{([^}]+)\}\}")
_EXPRESSION_ID = re.compile(r"\b[a-z][A-Za-z0-9_]*\b")

# (namespace, metric name, ((dimension, value), ...)); values of intrinsics in placeholder form, e.g. "{{Api.Arn}}".
Metric = tuple[str, str, tuple[tuple[str, str], ...]]


# ---------------------------------------------------------------------------------------- reading the template
def _resources(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") in types}


def _placeholders(text: str) -> str:
    """Fn::Sub text with each ${X} replaced by the placeholder {{X}} (JSON-safe inside strings)."""
    return _SUB_REFERENCE.sub(lambda m: "{{" + m.group(1) + "}}", text)


def _as_placeholder(value: Any) -> str:
    """A dimension value (literal, Ref, GetAtt or Sub) in the placeholder form the dashboard body uses."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return "{{" + arg + "}}"
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return "{{" + f"{logical_id}.{attribute}" + "}}"
        if key == "Fn::Sub":
            return _placeholders(arg if isinstance(arg, str) else arg[0])
    raise AssertionError(f"dimension value {value!r}: expected a literal, Ref, GetAtt or Sub")


def _logical_id(arn: Any) -> str | None:
    """The resource a Ref or GetAtt (e.g. a queue's ARN) points at."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        return target.split(".", 1)[0] if isinstance(target, str) else target[0]
    if isinstance(arn, dict) and "Ref" in arn:
        return arn["Ref"]
    return None


def _dead_letter_queues(cfn: dict[str, Any]) -> set[str]:
    """Every queue the template parks failures in: redrive targets, stream/async OnFailure and function DLQs."""
    targets = []
    for resource in cfn["Resources"].values():
        props, rtype = resource.get("Properties") or {}, resource["Type"]
        if rtype == "AWS::SQS::Queue":
            targets.append((props.get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
        elif rtype in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
            targets.append(((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"))
        elif rtype == "AWS::Lambda::Function":
            targets.append((props.get("DeadLetterConfig") or {}).get("TargetArn"))
    queues = _resources(cfn, "AWS::SQS::Queue")
    return {logical_id for logical_id in map(_logical_id, targets) if logical_id in queues}


def _stream_fed_functions(cfn: dict[str, Any]) -> set[str]:
    tables = _resources(cfn, "AWS::DynamoDB::Table")
    functions = set()
    for mapping in _resources(cfn, "AWS::Lambda::EventSourceMapping").values():
        source = mapping["Properties"]["EventSourceArn"]
        if isinstance(source, dict) and _logical_id(source) in tables and "StreamArn" in json.dumps(source):
            functions.add(_logical_id(mapping["Properties"]["FunctionName"]))
    return functions


def _alarm_metrics(alarm: dict[str, Any]) -> list[Metric]:
    """The metrics an alarm evaluates: its own, or those its returned metric-math expression uses."""
    props = alarm["Properties"]
    if "MetricName" in props:
        stats = [props]
    else:
        queries = {q["Id"]: q for q in props["Metrics"]}
        pending = [q["Id"] for q in props["Metrics"] if q.get("ReturnData", True)]
        used: set[str] = set()
        while pending:
            query = queries[pending.pop()]
            if query["Id"] in used:
                continue
            used.add(query["Id"])
            pending += [i for i in _EXPRESSION_ID.findall(query.get("Expression", "")) if i in queries]
        stats = [queries[i]["MetricStat"]["Metric"] for i in sorted(used) if "MetricStat" in queries[i]]
    return [(m["Namespace"], m["MetricName"], tuple((d["Name"], _as_placeholder(d["Value"]))
                                                  for d in m.get("Dimensions", []))) for m in stats]


def _dashboard_text(sam: dict[str, Any]) -> str:
    body = sam["Resources"][DASHBOARD]["Properties"]["DashboardBody"]
    assert isinstance(body, dict) and "Fn::Sub" in body, "DashboardBody: expected !Sub of a JSON string"
    text = body["Fn::Sub"]
    return text if isinstance(text, str) else text[0]


def _dashboard(sam: dict[str, Any]) -> dict[str, Any]:
    text = _placeholders(_dashboard_text(sam))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if exc.lineno <= len(text.splitlines()) else ""
        raise AssertionError(f"DashboardBody is not JSON with ${{...}} as placeholders: {exc}\n{line}") from None


def _dashboard_metrics(dashboard: dict[str, Any]) -> list[Metric]:
    """Every metric of every widget; "." repeats the field of the row above, as CloudWatch reads it."""
    metrics = []
    for widget in dashboard["widgets"]:
        previous: list[str] = []
        for row in (widget.get("properties") or {}).get("metrics", []):
            fields = [f for f in row if not isinstance(f, dict)]
            if not fields:  # a math expression
                continue
            fields = [previous[i] if f == "." and i < len(previous) else f for i, f in enumerate(fields)]
            previous = fields
            metrics.append((fields[0], fields[1], tuple(zip(fields[2::2], fields[3::2]))))
    return metrics


def _dimension_values(metrics: Iterable[Metric], namespace: str, name: str, dimension: str) -> set[str]:
    """The values one dimension takes across the metrics of one namespace and metric name."""
    return {value for ns, n, dimensions in metrics if (ns, n) == (namespace, name)
            for key, value in dimensions if key == dimension}


def _dashboard_alarms(dashboard: dict[str, Any]) -> set[str]:
    return {alarm for widget in dashboard["widgets"] if widget.get("type") == "alarm"
            for alarm in widget["properties"]["alarms"]}


# ---------------------------------------------------------------------------------------- reading the code
def _module_name(path: Path, root: Path) -> str:
    """functions/<folder>/pkg/mod.py -> pkg.mod: each folder under functions/ is a CodeUri or the layer."""
    parts = path.relative_to(root).with_suffix("").parts[1:]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_metric_call(call: ast.Call) -> bool:
    """metrics.add_metric(...) (or metric.add_metric inside single_metric) and single_metric(...)."""
    add_metric = isinstance(call.func, ast.Attribute) and call.func.attr == "add_metric"
    return add_metric or _callee(call.func) == "single_metric"


def _name_argument(call: ast.Call, position: int = 0) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "name":
            return keyword.value
    return call.args[position] if len(call.args) > position else None


def _metric_wrappers(sources: dict[Path, ast.Module], root: Path) -> dict[tuple[str, str], int]:
    """(module, function) -> position of its name parameter, for functions that emit a metric named by a parameter.

    e.g. the layer's `count(name, ...)`, which wraps single_metric(name=name, ...) to add per-record dimensions.
    """
    wrappers = {}
    for path, tree in sources.items():
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            parameters = [a.arg for a in node.args.posonlyargs + node.args.args]
            for call in (n for n in ast.walk(node) if isinstance(n, ast.Call) and _is_metric_call(n)):
                argument = _name_argument(call)
                if isinstance(argument, ast.Name) and argument.id in parameters:
                    wrappers[(_module_name(path, root), node.name)] = parameters.index(argument.id)
    return wrappers


def emitted_metrics(root: Path = FUNCTIONS_DIR) -> dict[str, set[Path]]:
    """Metric name -> the files under `root` that emit it with a literal name: add_metric(name="X"),
    single_metric(name="X"), or a call of a wrapper of those, e.g. count(name="X") imported from the layer."""
    sources = {p: ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
               for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts}
    wrappers = _metric_wrappers(sources, root)
    emitted: dict[str, set[Path]] = {}
    for path, tree in sources.items():
        module = _module_name(path, root)
        # local name -> (module, function) of what it calls: imports, and the module's own functions
        bound = {node.name: (module, node.name) for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                bound.update({a.asname or a.name: (node.module, a.name) for a in node.names})
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if _is_metric_call(call):
                argument = _name_argument(call)
            elif isinstance(call.func, ast.Name) and bound.get(call.func.id) in wrappers:
                argument = _name_argument(call, wrappers[bound[call.func.id]])
            else:
                continue
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                emitted.setdefault(argument.value, set()).add(path)
    return emitted


def _services_of_file(sam: dict[str, Any]) -> Any:
    """path -> the POWERTOOLS_SERVICE_NAMEs of the template functions whose code contains it (any, for the layer)."""
    global_function = (sam.get("Globals") or {}).get("Function") or {}
    global_env = (global_function.get("Environment") or {}).get("Variables") or {}
    services_by_dir: dict[Path, set[str]] = {}
    for function in _resources(sam, "AWS::Serverless::Function").values():
        props = function["Properties"]
        env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        code_dir = (REPO_ROOT / props.get("CodeUri", global_function.get("CodeUri", ""))).resolve()
        services_by_dir.setdefault(code_dir, set()).add(env.get("POWERTOOLS_SERVICE_NAME"))
    layer_dirs = {(REPO_ROOT / layer["Properties"]["ContentUri"]).resolve()
                  for layer in _resources(sam, "AWS::Serverless::LayerVersion").values()}
    every_service = set().union(*services_by_dir.values())

    def services(path: Path) -> set[str]:
        path = path.resolve()
        if any(path.is_relative_to(d) for d in layer_dirs):
            return every_service
        return set().union(*(s for d, s in services_by_dir.items() if path.is_relative_to(d)))

    return services


def _unemitted(metrics: Iterable[Metric], sam: dict[str, Any]) -> list[str]:
    """Problems with the CareForAll metrics: no code emits the name, or none under the function of that service."""
    emitted, services_of = emitted_metrics(), _services_of_file(sam)
    problems = set()
    for namespace, name, dimensions in metrics:
        if namespace != CUSTOM_NAMESPACE:
            continue
        service = dict(dimensions).get(SERVICE)
        files = emitted.get(name, set())
        if not files:
            problems.add(f"{name}: no add_metric/single_metric(name={name!r}) (or wrapper of one) under functions/")
        elif service is None:
            problems.add(f"{name}: no {SERVICE!r} dimension")
        elif not any(service in services_of(f) for f in files):
            where = {str(f.relative_to(REPO_ROOT)): sorted(services_of(f)) for f in sorted(files)}
            problems.add(f"{name} (service={service}): emitted only by other services: {where}")
    return sorted(problems)


def _aws_dimension_problems(metrics: Iterable[Metric], sam: dict[str, Any]) -> list[str]:
    """AWS/ metrics whose dimensions do not name a resource of the template (or the REST API's name and stage)."""
    resources = sam["Resources"]
    apis = {_as_placeholder(api["Properties"].get("Name", "{{AWS::StackName}}")):
            _as_placeholder(api["Properties"]["StageName"])
            for api in _resources(sam, "AWS::Serverless::Api").values()}
    problems = set()
    for namespace, name, dimensions in metrics:
        if not namespace.startswith("AWS/"):
            continue
        values = dict(dimensions)
        for dimension, value in dimensions:
            label = f"{namespace} {name} {dimension}={value}"
            if dimension == "ApiName":
                if value not in apis:
                    problems.add(f"{label}: not the Name of an AWS::Serverless::Api ({sorted(apis)})")
                elif values.get("Stage", apis[value]) != apis[value]:
                    problems.add(f"{label}: Stage {values['Stage']} is not that API's StageName {apis[value]}")
            elif dimension == "Stage":
                if "ApiName" not in values:
                    problems.add(f"{label}: a Stage without its ApiName")
            elif dimension in RESOURCE_DIMENSIONS:
                types, attribute = RESOURCE_DIMENSIONS[dimension]
                match = _PLACEHOLDER.fullmatch(value)
                logical_id, _, got = (match.group(1) if match else "").partition(".")
                if resources.get(logical_id, {}).get("Type") not in types or (got or None) != attribute:
                    wanted = f"${{X.{attribute}}}" if attribute else "${X}"
                    problems.add(f"{label}: expected {wanted} of a resource of type {sorted(types)}")
            else:
                problems.add(f"{label}: no rule for dimension {dimension!r} (add it to RESOURCE_DIMENSIONS)")
    return sorted(problems)


# ---------------------------------------------------------------------------------------- alarms
def test_alarm_email_subscription_in_template_exists_only_with_alarm_email(sam: dict[str, Any]) -> None:
    assert sam["Parameters"]["AlarmEmail"]["Default"] == ""
    assert sam["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    subscriptions = _resources(sam, "AWS::SNS::Subscription")
    assert subscriptions, "no email subscription to AlarmTopic"
    for name, subscription in subscriptions.items():
        assert subscription.get("Condition") == "HasAlarmEmail", name
        assert subscription["Properties"]["TopicArn"] == {"Ref": ALARM_TOPIC}, name
        assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}, name
    inline = sam["Resources"][ALARM_TOPIC]["Properties"].get("Subscription")
    assert not inline, "an inline Subscription would not follow HasAlarmEmail"


def test_alarm_topic_in_template_is_encrypted(sam: dict[str, Any]) -> None:
    assert sam["Resources"][ALARM_TOPIC]["Properties"].get("KmsMasterKeyId")


def test_required_alarms_in_template_exist(sam: dict[str, Any]) -> None:
    alarms = _resources(sam, "AWS::CloudWatch::Alarm")
    assert REQUIRED_ALARMS <= set(alarms), sorted(REQUIRED_ALARMS - set(alarms))


def test_alarms_in_template_notify_alarm_topic_on_alarm_and_ok(sam: dict[str, Any]) -> None:
    for name, alarm in _resources(sam, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props.get("AlarmActions") == [{"Ref": ALARM_TOPIC}], name
        assert props.get("OKActions") == [{"Ref": ALARM_TOPIC}], name
        assert props.get("ActionsEnabled", True) is True, name


def test_alarms_in_template_describe_themselves_and_treat_missing_data_as_not_breaching(sam: dict[str, Any]) -> None:
    for name, alarm in _resources(sam, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert len(props.get("AlarmDescription", "")) > 80, f"{name}: say what it means and what ops should do"
        assert props.get("TreatMissingData") == "notBreaching", name


def test_dead_letter_queue_alarm_in_template_covers_every_dead_letter_queue(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    queues = _dead_letter_queues(cfn)
    assert len(queues) >= 6, sorted(queues)
    watched = _dimension_values(_alarm_metrics(sam["Resources"][DLQ_ALARM]),
                                "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    missing = {q for q in queues if "{{" + q + ".QueueName}}" not in watched}
    assert not missing, f"dead-letter/failure queues {DLQ_ALARM} does not watch: {sorted(missing)}"


def test_iterator_age_alarm_in_template_covers_every_stream_fed_function(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    functions = _stream_fed_functions(cfn)
    assert functions
    watched = _dimension_values(_alarm_metrics(sam["Resources"][ITERATOR_AGE_ALARM]),
                                "AWS/Lambda", "IteratorAge", "FunctionName")
    missing = {f for f in functions if "{{" + f + "}}" not in watched}
    assert not missing, f"stream-fed functions {ITERATOR_AGE_ALARM} does not watch: {sorted(missing)}"


def test_alarm_custom_metrics_in_template_are_emitted_by_their_service(sam: dict[str, Any]) -> None:
    metrics = [m for alarm in _resources(sam, "AWS::CloudWatch::Alarm").values() for m in _alarm_metrics(alarm)]
    assert any(namespace == CUSTOM_NAMESPACE for namespace, _, _ in metrics)
    problems = _unemitted(metrics, sam)
    assert not problems, "\n".join(problems)


def test_alarm_aws_metric_dimensions_in_template_name_existing_resources(sam: dict[str, Any]) -> None:
    metrics = [m for alarm in _resources(sam, "AWS::CloudWatch::Alarm").values() for m in _alarm_metrics(alarm)]
    problems = _aws_dimension_problems(metrics, sam)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------- dashboard
def test_dashboard_body_with_placeholders_is_valid_json(sam: dict[str, Any]) -> None:
    dashboard = _dashboard(sam)
    assert dashboard["widgets"]
    for widget in dashboard["widgets"]:
        assert widget["type"] in {"metric", "alarm", "text"}, widget
        assert {"x", "y", "width", "height"} <= set(widget), widget
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "{{AWS::Region}}", widget["properties"].get("title")


def test_dashboard_references_in_template_resolve_to_template_names(sam: dict[str, Any]) -> None:
    resources, parameters = sam["Resources"], sam.get("Parameters", {})
    unknown = set()
    for reference in _SUB_REFERENCE.findall(_dashboard_text(sam)):
        logical_id, dot, _attribute = reference.partition(".")
        known = logical_id in resources if dot else reference in {*resources, *parameters, *PSEUDO_PARAMETERS}
        if not known:
            unknown.add(reference)
    assert not unknown, sorted(unknown)


def test_dashboard_in_template_shows_errors_throttles_and_duration_of_every_function(sam: dict[str, Any]) -> None:
    metrics = _dashboard_metrics(_dashboard(sam))
    functions = _resources(sam, "AWS::Serverless::Function")
    assert functions
    missing = {(metric, f) for metric in ("Errors", "Throttles", "Duration") for f in functions
               if "{{" + f + "}}" not in _dimension_values(metrics, "AWS/Lambda", metric, "FunctionName")}
    assert not missing, sorted(missing)


def test_dashboard_in_template_shows_every_dead_letter_queue(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    shown = _dimension_values(_dashboard_metrics(_dashboard(sam)),
                              "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    missing = {q for q in _dead_letter_queues(cfn) if "{{" + q + ".QueueName}}" not in shown}
    assert not missing, sorted(missing)


def test_dashboard_in_template_shows_iterator_age_of_every_stream_fed_function(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    shown = _dimension_values(_dashboard_metrics(_dashboard(sam)), "AWS/Lambda", "IteratorAge", "FunctionName")
    missing = {f for f in _stream_fed_functions(cfn) if "{{" + f + "}}" not in shown}
    assert not missing, sorted(missing)


def test_dashboard_in_template_shows_every_business_metric(sam: dict[str, Any]) -> None:
    shown = {(dict(dimensions).get(SERVICE), name)
             for namespace, name, dimensions in _dashboard_metrics(_dashboard(sam)) if namespace == CUSTOM_NAMESPACE}
    expected = {(service, name) for service, names in BUSINESS_METRICS.items() for name in names}
    assert not expected - shown, sorted(expected - shown)


def test_dashboard_in_template_breaks_metrics_down_by_every_listed_value(sam: dict[str, Any]) -> None:
    shown: dict[tuple[str | None, str], set[tuple[str, str]]] = {}
    for namespace, name, dimensions in _dashboard_metrics(_dashboard(sam)):
        if namespace == CUSTOM_NAMESPACE:
            shown.setdefault((dict(dimensions).get(SERVICE), name), set()).update(dimensions)
    for (service, name), (dimension, values) in BREAKDOWNS.items():
        got = {value for key, value in shown.get((service, name), set()) if key == dimension}
        assert got == values, f"{service} {name} by {dimension}: {sorted(got)}"


def test_dashboard_in_template_shows_every_alarm(sam: dict[str, Any]) -> None:
    shown = _dashboard_alarms(_dashboard(sam))
    missing = {a for a in _resources(sam, "AWS::CloudWatch::Alarm") if "{{" + a + ".Arn}}" not in shown}
    assert not missing, sorted(missing)


def test_dashboard_custom_metrics_in_template_are_emitted_by_their_service(sam: dict[str, Any]) -> None:
    problems = _unemitted(_dashboard_metrics(_dashboard(sam)), sam)
    assert not problems, "\n".join(problems)


def test_dashboard_aws_metric_dimensions_in_template_name_existing_resources(sam: dict[str, Any]) -> None:
    problems = _aws_dimension_problems(_dashboard_metrics(_dashboard(sam)), sam)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------- the code scan itself
def test_emitted_metrics_on_sample_code_finds_literal_and_wrapped_names_only(tmp_path: Path) -> None:
    # GIVEN a layer with a wrapper of single_metric and a service that emits in every supported way
    layer = tmp_path / "layer" / "shared"
    layer.mkdir(parents=True)
    (layer / "obs.py").write_text(
        "def count(name, value=1, **dims):\n"
        "    with single_metric(name=name, unit='Count', value=value) as metric:\n"
        "        metric.add_dimension(name='k', value='v')\n", encoding="utf-8")
    service = tmp_path / "svc" / "svc_service"
    service.mkdir(parents=True)
    (service / "handler.py").write_text(
        "from shared.obs import count\n"
        "def handle(metrics, text, name):\n"
        "    metrics.add_metric(name='Direct', unit='Count', value=1)\n"
        "    single_metric(name='Single', unit='Count', value=1)\n"
        "    count(name='Wrapped', reason='stale')\n"
        "    count('WrappedPositional')\n"
        "    text.count('NotAMetric')\n"
        "    metrics.add_metric(name=name, unit='Count', value=1)\n", encoding="utf-8")
    # WHEN scanned
    emitted = emitted_metrics(tmp_path)
    # THEN literal names of direct and wrapped calls count, a str.count or a computed name does not
    assert set(emitted) == {"Direct", "Single", "Wrapped", "WrappedPositional"}
    assert emitted["Wrapped"] == {service / "handler.py"}
