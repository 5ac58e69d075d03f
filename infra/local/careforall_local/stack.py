"""The local stack's model of template.yaml: what to create in the emulator, and how to run each function.

`LocalStackModel` resolves the transformed template against physical ids it assigns (names are
`<stack>-<LogicalId>`, ARNs in the local account and region), creates the data resources in the
AWS emulator on demand, and describes functions and the REST API for the runtime and gateway.
Unit tests use the same model against in-process moto, so tables are defined once: in the template.
"""

from __future__ import annotations

import re
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from careforall_local.template import Resolver, Transformed, parameter_defaults, transform

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
LOCAL_API_ID = "local"

@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout: int
    memory_mb: int
    reserved_concurrency: int | None


@dataclass(frozen=True)
class Authorizer:
    name: str
    kind: str  # "token" or "request"
    function_name: str
    header: str
    validation_expression: str | None
    ttl_seconds: int


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    resource: str  # API Gateway resource path, e.g. /campaigns/{id}
    function_name: str
    authorizer: str | None  # name of an Authorizer, None for a public route


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    headers: dict[str, str]  # static values, or "method.request.header.X" mappings
    body: str | None


@dataclass(frozen=True)
class EventSourceMapping:
    """An AWS::Lambda::EventSourceMapping, with Lambda's defaults filled in."""

    logical_id: str
    function_name: str
    source_arn: str
    kind: str  # "dynamodb" or "sqs"
    batch_size: int
    batching_window_seconds: float
    starting_position: str
    report_batch_item_failures: bool
    maximum_retry_attempts: int  # -1: until the record expires, as Lambda's default
    bisect_on_error: bool
    on_failure_arn: str | None
    enabled: bool


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue of the template and what it is for (from RedrivePolicies and failure destinations)."""

    logical_id: str
    name: str
    url: str
    arn: str
    dead_letter_for: tuple[str, ...] = ()  # queues whose RedrivePolicy targets this one
    failure_destination_for: tuple[str, ...] = ()  # mappings/functions whose OnFailure (or DLQ) is this one
    feeds: tuple[str, ...] = ()  # functions (logical ids) an event source mapping feeds from it

    @property
    def is_failure_queue(self) -> bool:
        return bool(self.dead_letter_for or self.failure_destination_for)


@dataclass(frozen=True)
class WebSocketApiSpec:
    logical_id: str
    api_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, str]  # route key -> function name


@dataclass
class RestApiSpec:
    logical_id: str
    stage: str
    routes: list[Route]
    authorizers: dict[str, Authorizer]
    rate_limit: float | None
    burst_limit: int | None
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    name: str = ""  # the RestApi's Name (X-Ray names the stage segment `<name>/<stage>`)


class LocalStackModel:
    def __init__(
        self,
        template_path: Path,
        parameter_overrides: dict[str, Any] | None = None,
        stack_name: str = "careforall",
        secret_values: dict[str, str] | None = None,
        transformed: Transformed | None = None,
    ) -> None:
        self.template_path = Path(template_path).resolve()
        self.stack_name = stack_name
        self.transformed = transformed or transform(self.template_path, parameter_overrides)
        self.cfn = self.transformed.cfn
        self.resources: dict[str, dict[str, Any]] = self.cfn["Resources"]
        self.parameters = parameter_defaults(self.cfn, parameter_overrides)
        self._secret_values = secret_values or {}
        self._created: dict[str, dict[str, Any]] = {}  # logical id -> {"Ref": ..., attributes...}
        self._session = None
        self._endpoint_url: str | None = None
        self.resolver = Resolver(
            parameters=self.parameters,
            pseudo={
                "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack_name,
                "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            },
            ref=lambda logical_id: self._ensure(logical_id)["Ref"],
            get_att=self._get_att,
            conditions=self.cfn.get("Conditions"),
        )

    # ------------------------------------------------------------------ naming
    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"[:64]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == resource_type}

    # ------------------------------------------------------------------ provisioning
    def provision(self, session, endpoint_url: str | None = None) -> None:
        """Create every data resource of the template in the emulator (`session`: a boto3 Session)."""
        self._session = session
        self._endpoint_url = endpoint_url
        for logical_id in self.resources:
            self._ensure(logical_id)

    def _client(self, service: str):
        if self._session is None:
            raise RuntimeError("provision() first: the model has no emulator session")
        return self._session.client(service, region_name=REGION, endpoint_url=self._endpoint_url)

    def _ensure(self, logical_id: str) -> dict[str, Any]:
        if logical_id in self._created:
            return self._created[logical_id]
        resource = self.resources.get(logical_id)
        if resource is None:
            raise KeyError(f"template has no resource {logical_id}")
        rtype = resource["Type"]
        creator: Callable[[str, dict[str, Any]], dict[str, Any]] | None = {
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::SecretsManager::Secret": self._create_secret,
            "AWS::SQS::Queue": self._create_queue,
            "AWS::SNS::Topic": self._create_topic,
            "AWS::StepFunctions::StateMachine": self._create_state_machine,
            "AWS::SES::EmailIdentity": self._create_email_identity,
        }.get(rtype)
        if creator is not None and self._session is not None:
            self._created[logical_id] = creator(logical_id, self.resolver.resolve(resource.get("Properties", {})))
        else:
            self._created[logical_id] = self._reference_only(logical_id, rtype)
        return self._created[logical_id]

    def _reference_only(self, logical_id: str, rtype: str) -> dict[str, Any]:
        name = self.physical_name(logical_id)
        if rtype == "AWS::Lambda::Function":
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
            return {"Ref": name, "Arn": arn}
        if rtype == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
            return {"Ref": name, "Arn": arn, "StreamArn": f"{arn}/stream/local"}
        if rtype == "AWS::SQS::Queue":
            return {"Ref": f"http://127.0.0.1:4566/{ACCOUNT_ID}/{name}", "QueueName": name,
                    "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"}
        if rtype == "AWS::IAM::Role":
            return {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}
        if rtype == "AWS::ApiGateway::RestApi":
            return {"Ref": LOCAL_API_ID, "RootResourceId": "root"}
        if rtype == "AWS::Lambda::LayerVersion":
            return {"Ref": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1"}
        if rtype == "AWS::SecretsManager::Secret":  # named as _create_secret names it
            name = self.resolver.resolve(self.resources[logical_id].get("Properties", {}).get("Name") or name)
            return {"Ref": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}"}
        if rtype == "AWS::ApiGatewayV2::Api":
            return {"Ref": f"ws{logical_id.lower()[:8]}", "ApiId": f"ws{logical_id.lower()[:8]}",
                    "ApiEndpoint": f"wss://ws{logical_id.lower()[:8]}.execute-api.{REGION}.amazonaws.com"}
        if rtype == "AWS::ApiGatewayV2::Stage":
            return {"Ref": self.resources[logical_id]["Properties"]["StageName"]}
        if rtype in ("AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route"):
            return {"Ref": logical_id.lower()[:10]}
        if rtype == "AWS::StepFunctions::StateMachine":
            arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
            return {"Ref": arn, "Arn": arn, "Name": name}
        if rtype == "AWS::Logs::LogGroup":  # never created locally: the runtime keeps the functions' logs itself
            group = self.resolver.resolve(self.resources[logical_id].get("Properties", {}).get("LogGroupName")) or name
            return {"Ref": group, "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}:*"}
        if rtype == "AWS::Events::Rule":  # not emulated: nothing matches its events locally
            return {"Ref": name, "Arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"}
        return {"Ref": name, "Arn": f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}"}

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        created = self._ensure(logical_id)
        if attribute not in created:
            raise KeyError(f"{logical_id}.{attribute} is not supported by the local stack")
        return created[attribute]

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client("dynamodb")
        name = props.get("TableName") or self.physical_name(logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("LocalSecondaryIndexes"):
            request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        try:
            description = client.create_table(**request)["TableDescription"]
        except client.exceptions.ResourceInUseException:  # emulator kept state from an earlier start
            description = client.describe_table(TableName=name)["Table"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": ttl["AttributeName"]})
        return {"Ref": name, "Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn")}

    def _create_secret(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client("secretsmanager")
        name = props.get("Name") or self.physical_name(logical_id)
        value = self._secret_values.get(logical_id) or props.get("SecretString")
        if value is None:
            generate = props.get("GenerateSecretString", {})
            value = _secrets.token_urlsafe(int(generate.get("PasswordLength", 32)))[: int(generate.get("PasswordLength", 32))]
        try:
            arn = client.create_secret(Name=name, SecretString=value)["ARN"]
        except client.exceptions.ResourceExistsException:
            arn = client.put_secret_value(SecretId=name, SecretString=value)["ARN"]
        return {"Ref": arn, "Id": arn}

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client("sqs")
        name = props.get("QueueName") or self.physical_name(logical_id) + (".fifo" if props.get("FifoQueue") else "")
        attributes = {}
        for key, value in props.items():
            if key in ("QueueName", "Tags"):
                continue
            if key == "RedrivePolicy" and isinstance(value, dict):
                import json

                value = json.dumps(value)
            attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_state_machine(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        """ASL from the local DefinitionUri file with DefinitionSubstitutions applied (moto applies none)."""
        import json

        substitutions = props.get("DefinitionSubstitutions") or {}

        def substitute(raw: str) -> str:  # on the raw text, as Step Functions does: ${X} may stand unquoted
            for name, value in substitutions.items():
                raw = raw.replace("${" + name + "}", str(value))
            return raw

        if "Definition" in props:
            text = substitute(json.dumps(props["Definition"]))
        else:
            path = self.transformed.local_path(props.get("DefinitionS3Location"))
            if path is None:
                raise ValueError(f"{logical_id}: only a local DefinitionUri can run in the local stack")
            raw = substitute(path.read_text())
            text = raw if path.suffix == ".json" else json.dumps(yaml.safe_load(raw))
        json.loads(text)  # fail at start, not at the first execution, on a broken definition
        client = self._client("stepfunctions")
        name = props.get("StateMachineName") or self.physical_name(logical_id)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
        try:
            client.create_state_machine(name=name, definition=text, roleArn=props.get("RoleArn") or
                                        f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
                                        type=props.get("StateMachineType", "STANDARD"))
        except client.exceptions.StateMachineAlreadyExists:
            client.update_state_machine(stateMachineArn=arn, definition=text)
        return {"Ref": arn, "Arn": arn, "Name": name}

    def _create_email_identity(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        identity = props["EmailIdentity"]
        client = self._client("ses")
        if "@" in identity:
            client.verify_email_identity(EmailAddress=identity)
        else:
            client.verify_domain_identity(Domain=identity)
        return {"Ref": identity}

    def _create_topic(self, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
        arn = self._client("sns").create_topic(Name=props.get("TopicName") or self.physical_name(logical_id))["TopicArn"]
        return {"Ref": arn, "TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}

    # ------------------------------------------------------------------ functions
    def functions(self, url_rewrites: dict[str, str] | None = None) -> dict[str, FunctionSpec]:
        """Every Lambda function with its code folder and exactly the environment the template gives it.

        `url_rewrites` maps AWS URLs of the template's own APIs to their local addresses.
        """
        layers_by_ref: dict[str, Path] = {}
        for logical_id, layer in self.of_type("AWS::Lambda::LayerVersion").items():
            path = self.transformed.local_path(layer["Properties"].get("Content"))
            if path is not None:
                layers_by_ref[self.resolver.resolve({"Ref": logical_id})] = path
        specs: dict[str, FunctionSpec] = {}
        for logical_id, resource in self.of_type("AWS::Lambda::Function").items():
            props = resource["Properties"]
            code_dir = self.transformed.local_path(props.get("Code"))
            if code_dir is None:
                raise ValueError(f"{logical_id}: only local CodeUri folders can run in the local stack")
            env = self.resolver.resolve(props.get("Environment", {}).get("Variables", {}))
            layer_refs = self.resolver.resolve(props.get("Layers", []))
            name = self.resolver.resolve({"Ref": logical_id})
            specs[name] = FunctionSpec(
                logical_id=logical_id,
                name=name,
                arn=self._get_att(logical_id, "Arn"),
                handler=props["Handler"],
                code_dir=code_dir,
                layer_dirs=tuple(layers_by_ref[ref] for ref in layer_refs if ref in layers_by_ref),
                environment={k: _rewrite(_env_str(v), url_rewrites) for k, v in env.items()},
                timeout=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                reserved_concurrency=props.get("ReservedConcurrentExecutions"),
            )
        return specs

    def function_by_logical_id(self, logical_id: str) -> FunctionSpec:
        return next(spec for spec in self.functions().values() if spec.logical_id == logical_id)

    # ------------------------------------------------------------------ REST API
    def rest_apis(self) -> list[RestApiSpec]:
        apis = []
        stages = self.of_type("AWS::ApiGateway::Stage")
        for logical_id, resource in self.of_type("AWS::ApiGateway::RestApi").items():
            body = self.resolver.resolve(resource["Properties"].get("Body") or {})
            stage_props = next((s["Properties"] for s in stages.values()
                                if s["Properties"].get("RestApiId") == {"Ref": logical_id}), {})
            stage_props = self.resolver.resolve(stage_props)
            api = _rest_api_from_swagger(logical_id, body, stage_props)
            api.name = str(self.resolver.resolve(resource["Properties"].get("Name") or logical_id))
            apis.append(api)
        return apis

    def event_source_mappings(self) -> list[EventSourceMapping]:
        mappings = []
        for logical_id, resource in self.of_type("AWS::Lambda::EventSourceMapping").items():
            props = self.resolver.resolve(resource["Properties"])
            source_arn = props["EventSourceArn"]
            kind = "dynamodb" if ":dynamodb:" in source_arn else "sqs" if ":sqs:" in source_arn else "other"
            if kind == "other":
                raise ValueError(f"{logical_id}: the local stack polls DynamoDB streams and SQS queues only")
            function = props["FunctionName"]
            mappings.append(EventSourceMapping(
                logical_id=logical_id,
                function_name=function.split(":function:", 1)[-1].split(":")[0],
                source_arn=source_arn,
                kind=kind,
                batch_size=int(props.get("BatchSize", 100 if kind == "dynamodb" else 10)),
                batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
                report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                on_failure_arn=((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
                enabled=bool(props.get("Enabled", True)),
            ))
        return mappings

    def websocket_apis(self) -> list[WebSocketApiSpec]:
        apis = []
        for logical_id, resource in self.of_type("AWS::ApiGatewayV2::Api").items():
            if resource["Properties"].get("ProtocolType") != "WEBSOCKET":
                continue
            api_ref = {"Ref": logical_id}
            integrations = {self.resolver.resolve({"Ref": i}): _function_of_uri(
                self.resolver.resolve(r["Properties"]["IntegrationUri"]))
                for i, r in self.of_type("AWS::ApiGatewayV2::Integration").items()
                if r["Properties"].get("ApiId") == api_ref}
            routes = {}
            for route in self.of_type("AWS::ApiGatewayV2::Route").values():
                if route["Properties"].get("ApiId") == api_ref:
                    target = self.resolver.resolve(route["Properties"].get("Target", ""))
                    routes[route["Properties"]["RouteKey"]] = integrations[target.removeprefix("integrations/")]
            stage = next((self.resolver.resolve({"Ref": k}) for k, r in self.of_type("AWS::ApiGatewayV2::Stage").items()
                          if r["Properties"].get("ApiId") == api_ref), "$default")
            apis.append(WebSocketApiSpec(
                logical_id=logical_id, api_id=self.resolver.resolve(api_ref), stage=stage,
                route_selection_expression=resource["Properties"].get("RouteSelectionExpression",
                                                                      "$request.body.action"),
                routes=routes))
        return apis

    def execute_api_rewrites(self, gateway_url: str) -> dict[str, str]:
        """AWS URLs of this template's APIs -> where the local gateway serves them.

        Functions get e.g. WEBSOCKET_ENDPOINT=https://<api>.execute-api.<region>.amazonaws.com/<stage>
        from the template; locally that is the gateway's management API for the socket connections.
        """
        rewrites = {}
        for ws in self.websocket_apis():
            rewrites[f"https://{ws.api_id}.execute-api.{REGION}.amazonaws.com/{ws.stage}"] = (
                f"{gateway_url}/_local/ws-management/{ws.api_id}")
        for api in self.rest_apis():
            rewrites[f"https://{LOCAL_API_ID}.execute-api.{REGION}.amazonaws.com/{api.stage}"] = gateway_url
        return rewrites

    def queues(self) -> list[QueueSpec]:
        """Every SQS queue of the template; dead-letter and failure-destination queues are marked as such."""
        import json

        queues = self.of_type("AWS::SQS::Queue")
        by_arn = {self._get_att(logical_id, "Arn"): logical_id for logical_id in queues}
        dead_letter_for: dict[str, list[str]] = {}
        failure_for: dict[str, list[str]] = {}
        feeds: dict[str, list[str]] = {}
        for logical_id, resource in queues.items():
            policy = self.resolver.resolve((resource.get("Properties") or {}).get("RedrivePolicy"))
            if isinstance(policy, str):
                policy = json.loads(policy)
            target = (policy or {}).get("deadLetterTargetArn")
            if target in by_arn:
                dead_letter_for.setdefault(by_arn[target], []).append(logical_id)
        functions = {spec.name: spec.logical_id for spec in self.functions().values()}
        for mapping in self.event_source_mappings():
            if mapping.on_failure_arn in by_arn:
                failure_for.setdefault(by_arn[mapping.on_failure_arn], []).append(mapping.logical_id)
            if mapping.kind == "sqs" and mapping.source_arn in by_arn:
                feeds.setdefault(by_arn[mapping.source_arn], []).append(
                    functions.get(mapping.function_name, mapping.function_name))
        for logical_id, resource in {**self.of_type("AWS::Lambda::Function"),
                                     **self.of_type("AWS::Lambda::EventInvokeConfig")}.items():
            props = resource.get("Properties") or {}
            targets = [((props.get("DeadLetterConfig") or {}).get("TargetArn")),
                       (((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"))]
            for target in targets:
                target = self.resolver.resolve(target) if target is not None else None
                if target in by_arn:
                    failure_for.setdefault(by_arn[target], []).append(logical_id)
        return [QueueSpec(logical_id=logical_id, name=self._get_att(logical_id, "QueueName"),
                          url=self.resolver.resolve({"Ref": logical_id}), arn=self._get_att(logical_id, "Arn"),
                          dead_letter_for=tuple(dead_letter_for.get(logical_id, ())),
                          failure_destination_for=tuple(failure_for.get(logical_id, ())),
                          feeds=tuple(feeds.get(logical_id, ())))
                for logical_id in queues]

    def table_names(self) -> dict[str, str]:
        """Logical id -> physical name of every table."""
        return {logical_id: self.resolver.resolve({"Ref": logical_id})
                for logical_id in self.of_type("AWS::DynamoDB::Table")}


def _rewrite(value: str, rewrites: dict[str, str] | None) -> str:
    for aws_url, local_url in (rewrites or {}).items():
        value = value.replace(aws_url, local_url)
    return value


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_FUNCTION_IN_URI = re.compile(r"functions/arn:aws:lambda:[^:]+:[^:]+:function:([^/:]+)")


def _function_of_uri(uri: str) -> str:
    match = _FUNCTION_IN_URI.search(uri or "")
    if not match:
        raise ValueError(f"unsupported integration uri {uri!r}: the local gateway runs Lambda proxy integrations")
    return match.group(1)


def _rest_api_from_swagger(logical_id: str, body: dict[str, Any], stage: dict[str, Any]) -> RestApiSpec:
    authorizers: dict[str, Authorizer] = {}
    for name, definition in (body.get("securityDefinitions") or {}).items():
        spec = definition.get("x-amazon-apigateway-authorizer")
        if not spec:
            continue
        authorizers[name] = Authorizer(
            name=name,
            kind=spec.get("type", "token").lower(),
            function_name=_function_of_uri(spec["authorizerUri"]),
            header=definition.get("name", "Authorization"),
            validation_expression=spec.get("identityValidationExpression"),
            ttl_seconds=int(spec.get("authorizerResultTtlInSeconds", 300)),
        )
    routes = []
    for path, methods in (body.get("paths") or {}).items():
        for method, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration") or {}
            if integration.get("type") != "aws_proxy":
                continue
            security = operation.get("security", body.get("security")) or []
            names = [name for requirement in security for name in requirement if name in authorizers]
            routes.append(Route(method=method.upper().replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY"),
                                resource=path, function_name=_function_of_uri(integration["uri"]),
                                authorizer=names[0] if names else None))
    rate = burst = None
    for setting in stage.get("MethodSettings") or []:
        if setting.get("ResourcePath") == "/*" and setting.get("HttpMethod") == "*":
            rate = float(setting["ThrottlingRateLimit"]) if "ThrottlingRateLimit" in setting else None
            burst = int(setting["ThrottlingBurstLimit"]) if "ThrottlingBurstLimit" in setting else None
    responses = {}
    for kind, spec in (body.get("x-amazon-apigateway-gateway-responses") or {}).items():
        headers = {k.removeprefix("gatewayresponse.header."): v
                   for k, v in (spec.get("responseParameters") or {}).items()
                   if k.startswith("gatewayresponse.header.")}
        templates = spec.get("responseTemplates") or {}
        responses[kind] = GatewayResponse(status=int(spec["statusCode"]) if "statusCode" in spec else None,
                                          headers=headers, body=next(iter(templates.values()), None))
    return RestApiSpec(logical_id=logical_id, stage=stage.get("StageName", "local"), routes=routes,
                       authorizers=authorizers, rate_limit=rate, burst_limit=burst, gateway_responses=responses)
