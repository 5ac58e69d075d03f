"""template.yaml: the offline check passes, catches what it must, and the template matches the contract."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import check_template
import pytest
from careforall_local.template import Transformed, transform

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

PUBLIC = "NONE"
JWT = "JwtAuthorizer"

# The contract's routes, (METHOD, path) -> authorizer (PUBLIC = no authorizer). Later slices extend this table.
EXPECTED_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/auth/register"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,
    ("GET", "/users/me"): JWT,
    ("PUT", "/users/{id}/role"): JWT,
    ("POST", "/campaigns"): JWT,
    ("GET", "/campaigns"): PUBLIC,
    ("GET", "/campaigns/{id}"): PUBLIC,
    ("PATCH", "/campaigns/{id}"): JWT,
    # Pledge routes admit guests; the function authenticates an optional bearer token itself.
    ("POST", "/campaigns/{id}/pledges"): PUBLIC,
    ("GET", "/pledges/{id}"): PUBLIC,
    # A campaign's pledges: its owner or an ADMIN, so behind the authorizer.
    ("GET", "/campaigns/{id}/pledges"): JWT,
    ("GET", "/users/me/pledges"): JWT,
    ("POST", "/donations/lookup"): PUBLIC,
    ("GET", "/donations"): PUBLIC,
    # The provider's webhook is authenticated by its HMAC signature, not a bearer token.
    ("POST", "/webhooks/payments"): PUBLIC,
    ("GET", "/payments/{id}"): JWT,
    ("GET", "/campaigns/{id}/totals"): PUBLIC,
}

ALLOWED_METHODS = {"get", "post", "put", "patch", "delete"}
PATH_SEGMENT = re.compile(r"^(?:[a-z0-9-]+|\{[a-z][A-Za-z0-9_]*\})$")
_LOCAL_URI = re.compile(r"^(\s+(?:CodeUri|ContentUri|DefinitionUri):\s+)(?!s3://)(\S+)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def transformed() -> Transformed:
    return transform(TEMPLATE, {})


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == resource_type}


def _routes(cfn: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(METHOD, path) -> the Swagger operations of every inline REST API body."""
    routes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for api in _resources(cfn, "AWS::ApiGateway::RestApi").values():
        for path, item in api["Properties"]["Body"]["paths"].items():
            for method, operation in item.items():
                routes.setdefault((method.upper(), path), []).append(operation)
    return routes


def _variant(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """template.yaml with one targeted edit (or none), written to tmp_path with local code paths made absolute."""
    text = TEMPLATE.read_text(encoding="utf-8")
    if old:
        assert text.count(old) == 1, f"edit anchor not found exactly once in template.yaml: {old!r}"
        text = text.replace(old, new)
    text = _LOCAL_URI.sub(lambda m: f"{m.group(1)}{(REPO_ROOT / m.group(2)).as_posix()}", text)
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = check_template.main([str(path)])
    return code, capsys.readouterr().out


# ---------------------------------------------------------------------------------------- the check itself
def test_check_template_on_repo_template_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(TEMPLATE, capsys)
    assert code == 0, out
    assert "PASSED" in out


def test_check_template_on_unchanged_copy_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Guards the negative tests below: the copy with absolute code paths is itself clean."""
    code, out = _check(_variant(tmp_path), capsys)
    assert code == 0, out


def test_check_template_dangling_getatt_in_api_event_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(
        tmp_path,
        "            RestApiId: !Ref Api\n            Path: /users/me\n",
        "            RestApiId: !GetAtt Missing.Arn\n            Path: /users/me\n",
    )
    code, out = _check(path, capsys)
    assert code != 0, out
    assert "Event with id [GetMe] is invalid" in out and "RestApiId" in out


def test_check_template_dangling_getatt_in_stream_event_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Survives the transform (as an event source mapping) and is caught by cfn-lint on its output."""
    anchor = "      Handler: users_service.entry.seed_admin_handler\n"
    event = (
        "      Events:\n"
        "        Changes:\n"
        "          Type: DynamoDB\n"
        "          Properties:\n"
        "            Stream: !GetAtt Missing.StreamArn\n"
        "            StartingPosition: LATEST\n"
    )
    code, out = _check(_variant(tmp_path, anchor, anchor + event), capsys)
    assert code != 0, out
    assert re.search(r"E1010 .*SeedAdminFunctionChanges.*'Missing'", out), out


def test_check_template_bad_runtime_in_globals_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(tmp_path, "    Runtime: python3.11\n", "    Runtime: python2.1\n")
    code, out = _check(path, capsys)
    assert code != 0, out
    assert re.search(r"E3030 .*Runtime: 'python2.1'", out), out


def test_check_template_misspelled_route_method_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _variant(
        tmp_path,
        "            Path: /campaigns/{id}\n            Method: patch\n",
        "            Path: /campaigns/{id}\n            Method: postt\n",
    )
    code, out = _check(path, capsys)
    assert code != 0, out
    assert "'postt' is not an HTTP method" in out


def test_check_template_unreferenced_parameter_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """W2001 is ignored after the transform only for parameters the SAM template does reference."""
    anchor = "\nParameters:\n"
    path = _variant(tmp_path, anchor, anchor + "  Unreferenced:\n    Type: String\n    Default: x\n")
    code, out = _check(path, capsys)
    assert code != 0, out
    assert "W2001 transformed Parameters/Unreferenced" in out
    assert "AuthorizerCacheTtlSeconds" not in out


# ---------------------------------------------------------------------------------------- API contract
def test_check_template_stream_mapping_without_on_failure_destination_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the outbox relay's stream mapping without its failure destination
    path = _variant(
        tmp_path,
        "            DestinationConfig:\n              OnFailure:\n                Type: SQS\n"
        "                Destination: !GetAtt PledgeRelayFailureQueue.Arn\n",
        "",
    )
    # WHEN checked THEN our own rule E9001 refuses it
    code, out = _check(path, capsys)
    assert code != 0, out
    assert "E9001" in out and "OnFailure" in out


def test_check_template_stream_mapping_with_unbounded_retries_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anchor = ("        PledgeStream:\n          Type: DynamoDB\n          Properties:\n"
              "            Stream: !GetAtt PledgesTable.StreamArn\n            StartingPosition: TRIM_HORIZON\n"
              "            BatchSize: 50\n            MaximumBatchingWindowInSeconds: 0\n")
    path = _variant(tmp_path, anchor + "            MaximumRetryAttempts: 10\n", anchor)
    code, out = _check(path, capsys)
    assert code != 0, out
    assert "E9001" in out and "MaximumRetryAttempts" in out


def test_check_template_queue_feeding_function_without_dead_letter_queue_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the test template of the event machinery, whose FIFO queue has no RedrivePolicy
    code, out = _check(REPO_ROOT / "tests" / "fixtures" / "event_machinery" / "template.yaml", capsys)
    assert code != 0, out
    assert "E9002" in out and "OrderedQueue" in out


def test_api_routes_when_transformed_are_well_formed(transformed: Transformed) -> None:
    routes = _routes(transformed.cfn)
    assert routes, "no API routes found"
    for method, path in routes:
        assert method.lower() in ALLOWED_METHODS, f"{method} {path}: method not in {sorted(ALLOWED_METHODS)}"
        assert path.startswith("/"), f"{method} {path}: must start with '/'"
        for segment in path[1:].split("/"):
            assert PATH_SEGMENT.match(segment), f"{method} {path}: bad segment {segment!r}"


def test_api_routes_when_transformed_equal_contract_table(transformed: Transformed) -> None:
    routes = _routes(transformed.cfn)
    assert set(routes) == set(EXPECTED_ROUTES), {
        "missing": sorted(set(EXPECTED_ROUTES) - set(routes)),
        "unexpected": sorted(set(routes) - set(EXPECTED_ROUTES)),
    }
    duplicated = {route: len(ops) for route, ops in routes.items() if len(ops) != 1}
    assert not duplicated, f"routes declared on more than one API: {duplicated}"


def test_api_route_auth_when_transformed_matches_contract_table(transformed: Transformed) -> None:
    actual = {}
    for route, (operation,) in _routes(transformed.cfn).items():
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        actual[route] = ",".join(sorted(schemes)) or "<none declared>"
    assert actual == EXPECTED_ROUTES


# ---------------------------------------------------------------------------------------- operations
def test_functions_in_template_have_active_tracing(transformed: Transformed) -> None:
    global_tracing = transformed.sam.get("Globals", {}).get("Function", {}).get("Tracing")
    functions = _resources(transformed.sam, "AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        assert function["Properties"].get("Tracing", global_tracing) == "Active", name
    for name, function in _resources(transformed.cfn, "AWS::Lambda::Function").items():
        assert function["Properties"].get("TracingConfig") == {"Mode": "Active"}, name


def test_tables_in_template_are_on_demand_with_point_in_time_recovery(transformed: Transformed) -> None:
    tables = _resources(transformed.cfn, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        props = table["Properties"]
        assert props.get("BillingMode") == "PAY_PER_REQUEST", name
        assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, name


def _throttles_everything(method_settings: list[dict[str, Any]]) -> bool:
    return any(
        s.get("ResourcePath") == "/*"
        and s.get("HttpMethod") == "*"
        and "ThrottlingRateLimit" in s
        and "ThrottlingBurstLimit" in s
        for s in method_settings
    )


def test_api_stage_in_template_has_throttling(transformed: Transformed) -> None:
    apis = _resources(transformed.sam, "AWS::Serverless::Api")
    assert apis
    for name, api in apis.items():
        assert _throttles_everything(api["Properties"].get("MethodSettings", [])), name
    stages = _resources(transformed.cfn, "AWS::ApiGateway::Stage")
    assert len(stages) == len(apis)
    for name, stage in stages.items():
        assert _throttles_everything(stage["Properties"].get("MethodSettings", [])), name


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {t.id for t in elements if isinstance(t, ast.Name)}
    return names


def _deferred_handlers(tree: ast.Module) -> tuple[str, list[str]] | None:
    """(module, handler names) of an entry module's `... = entry_point("module", Settings, *handlers)`."""
    for node in tree.body:
        call = node.value if isinstance(node, ast.Assign) else None
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "entry_point":
            module = call.args[0].value
            handlers = [arg.value for arg in call.args[2:]] or ["lambda_handler"]
            return module, handlers
    return None


def _module_source(code_dir: Path, module: str) -> Path | None:
    base = code_dir / Path(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def test_function_handlers_under_code_uri_resolve_to_defined_functions(transformed: Transformed) -> None:
    global_code_uri = transformed.sam.get("Globals", {}).get("Function", {}).get("CodeUri")
    functions = _resources(transformed.sam, "AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        props = function["Properties"]
        code_uri = props.get("CodeUri", global_code_uri)
        assert isinstance(code_uri, str) and not code_uri.startswith("s3://"), f"{name}: local CodeUri expected"
        module, _, attribute = props["Handler"].rpartition(".")
        assert module and attribute, f"{name}: Handler {props['Handler']!r} is not module.function"
        source = _module_source(transformed.root / code_uri, module)
        assert source, f"{name}: no module {module} under {code_uri}"
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        assert attribute in _top_level_names(tree), f"{name}: {source.relative_to(REPO_ROOT)} defines no {attribute}"
        deferred = _deferred_handlers(tree)
        if deferred is not None:  # an entry point: the module it loads at the first invocation defines the handler
            target, handlers = deferred
            assert attribute in handlers, f"{name}: {module} does not defer {attribute}"
            target_source = _module_source(transformed.root / code_uri, target)
            assert target_source, f"{name}: {module} defers to {target}, which is not under {code_uri}"
            target_tree = ast.parse(target_source.read_text(encoding="utf-8"), filename=str(target_source))
            assert attribute in _top_level_names(target_tree), f"{name}: {target} defines no {attribute}"
