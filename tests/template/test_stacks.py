"""stacks/*.json and samconfig.toml: every value a stacks file gives is a parameter of template.yaml that
CloudFormation would accept, and samconfig.toml deploys exactly the environments stacks/ describes, taking
their parameters from there only (scripts/deploy passes them; samconfig.toml keeps no copy)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from careforall_local.template import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
STACKS = REPO_ROOT / "stacks"
SAMCONFIG = REPO_ROOT / "samconfig.toml"
STACK_FILES = sorted(STACKS.glob("*.json"))
DEPLOYED = {"dev", "prod"}  # local is the embedded stack (make run), never `sam deploy`ed
INLINE_TEMPLATE_LIMIT = 51_200  # bytes CloudFormation accepts as a template body; beyond, it must come from S3
EXPECTED_RETENTION = {"local": "7", "dev": "14", "prod": "90"}


@pytest.fixture(scope="module")
def parameters() -> dict[str, dict[str, Any]]:
    return json.loads(json.dumps(load_yaml(TEMPLATE)))["Parameters"]


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    return tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))


def _stacks(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def value_problems(name: str, value: Any, spec: dict[str, Any]) -> list[str]:
    """Why CloudFormation would refuse `value` for the parameter `spec` (empty: it accepts it)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return [f"{name}: {value!r} is not a string or a number"]
    text, problems = str(value), []
    if spec.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError:
            return [f"{name}: {text!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(f"{name}: {text} < MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(f"{name}: {text} > MaxValue {spec['MaxValue']}")
    if "AllowedValues" in spec:
        allowed = {str(v) for v in spec["AllowedValues"]}
        if text not in allowed and not (spec.get("Type") == "Number" and any(
                float(text) == float(v) for v in allowed)):
            problems.append(f"{name}: {text!r} is not one of {spec['AllowedValues']}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], text):
        problems.append(f"{name}: {text!r} does not match {spec['AllowedPattern']}")
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        problems.append(f"{name}: shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        problems.append(f"{name}: longer than MaxLength {spec['MaxLength']}")
    return problems


# ---------------------------------------------------------------------------------------- stacks/*.json
def test_stacks_folder_holds_local_and_every_deployed_environment() -> None:
    assert {path.stem for path in STACK_FILES} == DEPLOYED | {"local"}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stacks_file_holds_a_description_and_string_parameters_only(path: Path) -> None:
    document = _stacks(path)
    assert set(document) == {"Description", "Parameters"}, sorted(document)
    assert isinstance(document["Description"], str) and len(document["Description"]) > 40
    assert all(isinstance(value, str) for value in document["Parameters"].values()), document["Parameters"]


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stacks_file_keys_are_template_parameters(path: Path, parameters: dict[str, dict[str, Any]]) -> None:
    unknown = set(_stacks(path)["Parameters"]) - set(parameters)
    assert not unknown, f"{path.name}: not parameters of template.yaml: {sorted(unknown)}"


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stacks_file_values_are_valid_for_their_parameter(path: Path, parameters: dict[str, dict[str, Any]]) -> None:
    problems = [problem for name, value in _stacks(path)["Parameters"].items() if name in parameters
                for problem in value_problems(name, value, parameters[name])]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stacks_file_sets_environment_to_its_own_name(path: Path) -> None:
    assert _stacks(path)["Parameters"]["Environment"] == path.stem


@pytest.mark.parametrize("env, days", sorted(EXPECTED_RETENTION.items()))
def test_stacks_file_keeps_logs_for_its_environment_retention(env: str, days: str) -> None:
    assert _stacks(STACKS / f"{env}.json")["Parameters"]["LogRetentionDays"] == days


@pytest.mark.parametrize("env", sorted(DEPLOYED))
def test_deployed_stacks_file_sets_alarm_email_and_secrets_prefix(env: str) -> None:
    values = _stacks(STACKS / f"{env}.json")["Parameters"]
    assert "AlarmEmail" in values, f"{env}: say who gets the alarms (empty: nobody by email)"
    assert values.get("SecretsPrefix"), f"{env}: name the secrets"


def test_value_check_on_sample_values_flags_what_cloudformation_refuses(
    parameters: dict[str, dict[str, Any]]
) -> None:
    assert value_problems("LogRetentionDays", "13", parameters["LogRetentionDays"])
    assert value_problems("AlarmEmail", "not an address", parameters["AlarmEmail"])
    assert value_problems("ApiThrottlingRateLimit", "0", parameters["ApiThrottlingRateLimit"])
    assert value_problems("ApiThrottlingRateLimit", "many", parameters["ApiThrottlingRateLimit"])
    assert value_problems("Environment", "qa", parameters["Environment"])
    assert value_problems("SecretsPrefix", "/careforall", parameters["SecretsPrefix"])
    assert not value_problems("LogRetentionDays", "14", parameters["LogRetentionDays"])
    assert not value_problems("AlarmEmail", "", parameters["AlarmEmail"])


# ---------------------------------------------------------------------------------------- samconfig.toml
def test_samconfig_deploy_environments_are_the_deployed_stacks_files(samconfig: dict[str, Any]) -> None:
    deployable = {env for env, commands in samconfig.items() if isinstance(commands, dict) and "deploy" in commands}
    assert deployable == DEPLOYED


def test_samconfig_keeps_no_parameter_overrides(samconfig: dict[str, Any]) -> None:
    # stacks/<env>.json is the one source of the parameters: scripts/deploy passes them to sam deploy.
    copies = [f"{env}.{command}" for env, commands in samconfig.items() if isinstance(commands, dict)
              for command, section in commands.items() if "parameter_overrides" in section.get("parameters", {})]
    assert not copies, f"parameter_overrides in samconfig.toml (keep them in stacks/ only): {copies}"


@pytest.mark.parametrize("env", sorted(DEPLOYED))
def test_samconfig_deploy_section_names_stack_and_uploads_template_to_s3(samconfig: dict[str, Any], env: str) -> None:
    deploy = samconfig[env]["deploy"]["parameters"]
    assert deploy["stack_name"] == f"careforall-{env}"
    assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", deploy["region"])
    assert "CAPABILITY_IAM" in deploy["capabilities"].split()
    assert deploy["fail_on_empty_changeset"] is False
    assert TEMPLATE.stat().st_size > INLINE_TEMPLATE_LIMIT and deploy["resolve_s3"] is True
    assert f'environment="{env}"' in deploy["tags"]


def test_samconfig_prod_confirms_the_change_set_and_dev_does_not(samconfig: dict[str, Any]) -> None:
    assert samconfig["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert samconfig["dev"]["deploy"]["parameters"]["confirm_changeset"] is False


@pytest.mark.parametrize("env", sorted(DEPLOYED | {"default"}))
def test_samconfig_build_section_is_cached_and_parallel(samconfig: dict[str, Any], env: str) -> None:
    assert samconfig[env]["build"]["parameters"] == {"cached": True, "parallel": True}
