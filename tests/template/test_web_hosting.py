"""template.yaml's web app hosting: a private bucket only CloudFront reads, and one distribution that
serves the app and forwards /<stage>/* to the REST API on the same origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from careforall_local.stack import LocalStackModel
from careforall_local.template import Transformed, transform
from moto import mock_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


@pytest.fixture(scope="module")
def transformed() -> Transformed:
    return transform(TEMPLATE, {})


@pytest.fixture(scope="module")
def resources(transformed) -> dict[str, dict[str, Any]]:
    return transformed.cfn["Resources"]


@pytest.fixture(scope="module")
def distribution(resources) -> dict[str, Any]:
    return resources["WebAppDistribution"]["Properties"]["DistributionConfig"]


def _origin(distribution: dict[str, Any], origin_id: str) -> dict[str, Any]:
    (origin,) = [o for o in distribution["Origins"] if o["Id"] == origin_id]
    return origin


def _api_behaviour(distribution: dict[str, Any]) -> dict[str, Any]:
    (behaviour,) = distribution["CacheBehaviors"]
    return behaviour


def _model(stage_name: str) -> LocalStackModel:
    """The template resolved the way the local stack resolves it, with this StageName."""
    parameters = {"Environment": "local", "StageName": stage_name}
    return LocalStackModel(TEMPLATE, parameters, transformed=transform(TEMPLATE, parameters))


# ---------------------------------------------------------------------------------------- the bucket
def test_web_app_bucket_in_template_blocks_every_public_access(resources):
    assert resources["WebAppBucket"]["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}


def test_web_app_bucket_in_template_is_encrypted_at_rest(resources):
    (rule,) = resources["WebAppBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_web_app_bucket_in_template_disables_acls(resources):
    assert resources["WebAppBucket"]["Properties"]["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_web_app_bucket_in_template_keeps_versions(resources):
    assert resources["WebAppBucket"]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def _statements(resources, with_distribution: bool = True) -> list[dict[str, Any]]:
    """The bucket policy's statements with HasWebAppDistribution decided (an absent one is AWS::NoValue)."""
    chosen = []
    for statement in resources["WebAppBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement:
            condition, when_true, when_false = statement["Fn::If"]
            assert condition == "HasWebAppDistribution"
            statement = when_true if with_distribution else when_false
        if statement != {"Ref": "AWS::NoValue"}:
            chosen.append(statement)
    return chosen


def test_web_app_bucket_policy_in_template_lets_only_the_distribution_read(resources):
    policy = resources["WebAppBucketPolicy"]["Properties"]
    allows = [s for s in _statements(resources) if s["Effect"] == "Allow"]

    assert policy["Bucket"] == {"Ref": "WebAppBucket"}
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Sub": "${WebAppBucket.Arn}/*"}
    assert allow["Condition"] == {"StringEquals": {"aws:SourceArn": {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebAppDistribution}"}}}


@pytest.mark.parametrize("with_distribution", [True, False])
def test_web_app_bucket_policy_in_template_denies_requests_without_tls(resources, with_distribution):
    statements = _statements(resources, with_distribution)

    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert (deny["Principal"], deny["Action"]) == ("*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_web_app_bucket_policy_without_distribution_allows_nothing(resources):
    assert [s for s in _statements(resources, with_distribution=False) if s["Effect"] == "Allow"] == []


@pytest.mark.parametrize("logical_id", ["WebAppDistribution", "WebAppOriginAccessControl"])
def test_cloudfront_resources_in_template_are_left_out_when_deploy_web_app_distribution_is_false(
        transformed, resources, logical_id):
    # LocalStack Community has no CloudFront: localstack/deploy.sh passes DeployWebAppDistribution=false.
    assert resources[logical_id]["Condition"] == "HasWebAppDistribution"
    assert transformed.cfn["Conditions"]["HasWebAppDistribution"] == {
        "Fn::Equals": [{"Ref": "DeployWebAppDistribution"}, "true"]}


def test_distribution_outputs_in_template_exist_only_with_the_distribution(transformed):
    outputs = transformed.cfn["Outputs"]

    assert {name: outputs[name].get("Condition") for name in ("WebAppUrl", "WebAppDistributionId")} == {
        "WebAppUrl": "HasWebAppDistribution", "WebAppDistributionId": "HasWebAppDistribution"}
    assert "Condition" not in outputs["WebAppBucketName"]  # the bucket is always there


def test_bucket_policies_in_template_cover_only_web_app_bucket(resources):
    policies = [r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert [p["Properties"]["Bucket"] for p in policies] == [{"Ref": "WebAppBucket"}]


# ---------------------------------------------------------------------------------------- static files
def test_distribution_in_template_answers_root_with_index_html(distribution):
    assert distribution["DefaultRootObject"] == "index.html"


def test_distribution_default_behaviour_reads_bucket_through_origin_access_control(resources, distribution):
    origin = _origin(distribution, distribution["DefaultCacheBehavior"]["TargetOriginId"])
    control = resources["WebAppOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]

    assert origin["DomainName"] == {"Fn::GetAtt": ["WebAppBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebAppOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"], control["SigningProtocol"]) == (
        "s3", "always", "sigv4")


def test_distribution_default_behaviour_redirects_http_to_https(distribution):
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_distribution_default_behaviour_caches_compressed_files(distribution):
    behaviour = distribution["DefaultCacheBehavior"]
    assert (behaviour["CachePolicyId"], behaviour["Compress"]) == (CACHING_OPTIMIZED, True)


def test_distribution_default_behaviour_sends_security_headers(distribution):
    assert distribution["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == SECURITY_HEADERS


def test_distribution_in_template_speaks_http2_and_http3(distribution):
    assert distribution["HttpVersion"] == "http2and3"


# ---------------------------------------------------------------------------------------- the API, same origin
@pytest.mark.parametrize("stage_name", ["v1", "beta2"])
def test_distribution_api_behaviour_path_matches_stage_name(stage_name):
    model = _model(stage_name)
    config = model.resources["WebAppDistribution"]["Properties"]["DistributionConfig"]
    (api,) = model.rest_apis()

    assert model.resolver.resolve(_api_behaviour(config)["PathPattern"]) == f"/{api.stage}/*" == f"/{stage_name}/*"


def test_distribution_api_behaviour_targets_rest_api_over_https_only(distribution):
    behaviour = _api_behaviour(distribution)
    origin = _origin(distribution, behaviour["TargetOriginId"])

    assert origin["DomainName"] == {"Fn::Sub": "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "OriginPath" not in origin  # the viewer's /<stage>/... is the API's own path
    assert behaviour["ViewerProtocolPolicy"] == "https-only"


def test_distribution_api_behaviour_never_caches(distribution):
    assert _api_behaviour(distribution)["CachePolicyId"] == CACHING_DISABLED


def test_distribution_api_behaviour_forwards_viewer_headers_except_host(distribution):
    assert _api_behaviour(distribution)["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER


def test_distribution_api_behaviour_allows_every_method(distribution):
    assert set(_api_behaviour(distribution)["AllowedMethods"]) == ALL_METHODS


# ---------------------------------------------------------------------------------------- outputs and links
def test_outputs_in_template_name_web_app_url_bucket_and_websocket_url(transformed):
    outputs = transformed.cfn["Outputs"]

    assert outputs["WebAppUrl"]["Value"] == {"Fn::Sub": "https://${WebAppDistribution.DomainName}"}
    assert outputs["WebAppBucketName"]["Value"] == {"Ref": "WebAppBucket"}
    assert outputs["WebSocketUrl"]["Value"] == {
        "Fn::Sub": "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${WebSocketStage}"}


def test_pledges_function_in_template_takes_email_links_from_web_app_url_parameter(transformed):
    variables = transformed.cfn["Resources"]["PledgesFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["WEB_APP_URL"] == {"Ref": "WebAppUrl"}


def test_local_stack_model_with_web_app_resources_provisions_and_wires_functions():
    # CloudFront and S3 have no local counterpart: the model must give them placeholders, not fail
    with mock_aws():
        model = _model("v1")
        model.provision(boto3.Session(region_name="us-east-1"))

        functions = model.functions()
        references = [model.resolver.resolve({"Ref": logical_id}) for logical_id in (
            "WebAppBucket", "WebAppBucketPolicy", "WebAppOriginAccessControl", "WebAppDistribution")]

    assert functions and model.rest_apis()
    assert all(isinstance(reference, str) and reference for reference in references)
