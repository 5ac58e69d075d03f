"""scripts/deploy ENV: validates its arguments and stacks/ENV.json, prints exactly what it runs, and runs sam
build/deploy then the web upload in order (here against fake sam and aws executables)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
WEB_FILES = sorted(str(p.relative_to(REPO_ROOT / "web")) for p in (REPO_ROOT / "web").rglob("*")
                   if p.is_file() and p.name != "README.md" and "__pycache__" not in p.parts)
STACK_OUTPUTS = {"WebSocketUrl": "wss://abc123.execute-api.us-east-1.amazonaws.com/live",
                 "WebAppBucketName": "careforall-dev-webappbucket-1x2y3z",
                 "WebAppDistributionId": "E2EXAMPLE123", "WebAppUrl": "https://d111111abcdef8.cloudfront.net"}
# sam's own reading of --parameter-overrides: Key="value" (or Key=value) pairs separated by spaces.
_OVERRIDE = re.compile(r'(?:^| )([A-Za-z0-9]+)=(?:"((?:\\.|[^"\\])*)"|([^ "\\]+))')


def _parameters(env: str) -> dict[str, str]:
    return json.loads((REPO_ROOT / "stacks" / f"{env}.json").read_text())["Parameters"]


def _printed_commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith("+ ")]


def _overrides(command: list[str]) -> dict[str, str]:
    text = command[command.index("--parameter-overrides") + 1]
    return {m.group(1): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
            for m in _OVERRIDE.finditer(text)}


def _sam(commands: list[list[str]], subcommand: str) -> list[str]:
    (command,) = [c for c in commands if c[:2] == ["sam", subcommand]]
    return command


def _env(**extra: str) -> dict[str, str]:
    outputs = [{"OutputKey": k, "OutputValue": v} for k, v in STACK_OUTPUTS.items()]
    return {"FAKE_OUTPUTS": json.dumps(outputs), **extra}


# ---------------------------------------------------------------------------------------- dry run
def test_deploy_dry_run_dev_prints_sam_build_and_deploy_with_config_env_dev(tools) -> None:
    result = tools.run("deploy", "--dry-run", "dev")
    assert result.returncode == 0, result.stderr
    commands = _printed_commands(result.stdout)
    assert _sam(commands, "build")[2:] == ["--config-env", "dev"]
    assert _sam(commands, "deploy")[2:4] == ["--config-env", "dev"]


def test_deploy_dry_run_dev_passes_every_dev_parameter_to_sam_deploy(tools) -> None:
    result = tools.run("deploy", "--dry-run", "dev")
    assert _overrides(_sam(_printed_commands(result.stdout), "deploy")) == _parameters("dev")


def test_deploy_dry_run_dev_lists_every_dev_parameter_with_its_value(tools) -> None:
    result = tools.run("deploy", "--dry-run", "dev")
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    for name, value in _parameters("dev").items():
        assert name in rows and (value or "(empty)") in rows[name] and "stacks/dev.json" in rows[name], name


def test_deploy_dry_run_prints_web_upload_with_output_placeholders(tools) -> None:
    result = tools.run("deploy", "--dry-run", "dev")
    commands = _printed_commands(result.stdout)
    (sync,) = [c for c in commands if c[:3] == ["aws", "s3", "sync"]]
    (invalidation,) = [c for c in commands if c[:3] == ["aws", "cloudfront", "create-invalidation"]]
    assert sync[4] == "s3://<WebAppBucketName output>/" and "--delete" in sync
    assert sync[sync.index("--cache-control") + 1] == "no-cache"
    assert invalidation[invalidation.index("--distribution-id") + 1] == "<WebAppDistributionId output>"
    assert invalidation[invalidation.index("--paths") + 1] == "/*"
    assert 'window.CAREFORALL_CONFIG = {apiBase: "/v1", wsUrl: "<WebSocketUrl output>"};' in result.stdout


def test_deploy_dry_run_without_tools_runs_nothing(tools) -> None:
    # no sam, no aws on PATH at all: the dry run still prints everything
    result = tools.run("deploy", "--dry-run", "dev", tools=False)
    assert result.returncode == 0, result.stderr
    assert _sam(_printed_commands(result.stdout), "deploy")


def test_deploy_dry_run_with_tools_on_path_calls_none_of_them(tools) -> None:
    result = tools.run("deploy", "--dry-run", "prod", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.calls == []


def test_deploy_dry_run_with_region_passes_it_to_every_aws_call(tools) -> None:
    result = tools.run("deploy", "--dry-run", "dev", "--region", "eu-west-1")
    commands = [c for c in _printed_commands(result.stdout) if c[0] in ("sam", "aws")]
    regional = [c for c in commands if c[:2] not in (["sam", "build"], ["aws", "cloudfront"])]
    assert all(c[c.index("--region") + 1] == "eu-west-1" for c in regional), regional


def test_deploy_dry_run_prod_warns_about_placeholder_values(tools) -> None:
    result = tools.run("deploy", "--dry-run", "prod")
    assert result.returncode == 0
    assert "AlarmEmail=ops-alerts@careforall.example is a placeholder" in result.stderr


# ---------------------------------------------------------------------------------------- argument errors
def test_deploy_unknown_env_exits_2_naming_the_choices(tools) -> None:
    result = tools.run("deploy", "--dry-run", "staging")
    assert result.returncode == 2
    assert "unknown environment 'staging'" in result.stderr and "dev, prod" in result.stderr
    assert result.calls == []


def test_deploy_local_env_exits_2_pointing_to_make_run(tools) -> None:
    result = tools.run("deploy", "local")
    assert result.returncode == 2
    assert "make run" in result.stderr


def test_deploy_malformed_stacks_file_exits_2_naming_the_file(tools, repo_copy: Path) -> None:
    (repo_copy / "stacks" / "dev.json").write_text('{"Parameters": {"Environment": "dev",}')
    result = tools.run(repo_copy / "scripts" / "deploy", "dev")
    assert result.returncode == 2
    assert "stacks/dev.json is not valid JSON" in result.stderr
    assert result.calls == []


def test_deploy_stacks_file_without_parameters_object_exits_2(tools, repo_copy: Path) -> None:
    (repo_copy / "stacks" / "dev.json").write_text('{"Parameters": ["Environment=dev"]}')
    result = tools.run(repo_copy / "scripts" / "deploy", "--dry-run", "dev")
    assert result.returncode == 2
    assert '"Parameters": {"Name": "value"' in result.stderr


def test_deploy_stacks_file_with_unknown_parameter_exits_2_naming_it(tools, repo_copy: Path) -> None:
    document = {"Description": "x", "Parameters": {**_parameters("dev"), "LogRetentionDay": "14"}}
    (repo_copy / "stacks" / "dev.json").write_text(json.dumps(document))
    result = tools.run(repo_copy / "scripts" / "deploy", "--dry-run", "dev")
    assert result.returncode == 2
    assert "not parameters of template.yaml: LogRetentionDay" in result.stderr


# ---------------------------------------------------------------------------------------- a real run, faked
def test_deploy_dev_runs_sam_then_uploads_web_with_generated_config(tools) -> None:
    result = tools.run("deploy", "dev", env=_env())
    assert result.returncode == 0, result.stderr
    assert [c[:3] for c in result.commands] == [
        ["sam", "validate", "--lint"], ["sam", "build", "--config-env"], ["sam", "deploy", "--config-env"],
        ["aws", "cloudformation", "describe-stacks"], ["aws", "s3", "sync"],
        ["aws", "cloudfront", "create-invalidation"]]
    assert _overrides(result.commands[2]) == _parameters("dev")
    assert result.commands[-1][result.commands[-1].index("--distribution-id") + 1] == "E2EXAMPLE123"
    assert result.commands[4][4] == "s3://careforall-dev-webappbucket-1x2y3z/"


def test_deploy_dev_uploads_web_without_readme_and_with_config_for_the_stack(tools) -> None:
    result = tools.run("deploy", "dev", env=_env())
    (sync,) = [call for call in result.calls if call["argv"][:2] == ["s3", "sync"]]
    assert sync["files"] == WEB_FILES
    assert sync["config_js"] == ('window.CAREFORALL_CONFIG = {apiBase: "/v1", '
                                 'wsUrl: "wss://abc123.execute-api.us-east-1.amazonaws.com/live"};\n')
    assert "window.CAREFORALL_CONFIG = {apiBase: \"\"" in (REPO_ROOT / "web" / "app" / "config.js").read_text()


def test_deploy_failing_build_exits_1_before_deploying(tools) -> None:
    result = tools.run("deploy", "dev", env=_env(FAKE_FAIL="sam build"))
    assert result.returncode == 1
    assert "sam build failed" in result.stderr
    assert [c[:2] for c in result.commands] == [["sam", "validate"], ["sam", "build"]]


def test_deploy_without_sam_on_path_exits_1_saying_so(tools) -> None:
    result = tools.run("deploy", "dev", tools=False)
    assert result.returncode == 1
    assert "sam not found on PATH" in result.stderr


def test_deploy_stack_without_web_outputs_exits_1_before_uploading(tools) -> None:
    result = tools.run("deploy", "dev", env={"FAKE_OUTPUTS": "[]"})
    assert result.returncode == 1
    assert "no output WebSocketUrl" in result.stderr
    assert not [c for c in result.commands if c[:2] == ["aws", "s3"]]


# ---------------------------------------------------------------------------------------- Python < 3.11
def test_deploy_samconfig_reader_without_tomllib_reads_what_tomllib_reads(monkeypatch) -> None:
    # CI runners may have a Python without tomllib: the script's own reader must agree with it on samconfig.toml.
    import importlib.machinery
    import importlib.util
    import sys
    import tomllib

    loader = importlib.machinery.SourceFileLoader("careforall_deploy_under_test", str(REPO_ROOT / "scripts" / "deploy"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` now raises ImportError
    samconfig = REPO_ROOT / "samconfig.toml"
    assert module.read_samconfig(samconfig) == tomllib.loads(samconfig.read_text())
