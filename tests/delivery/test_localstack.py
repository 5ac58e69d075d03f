"""localstack/: the Docker path. No Docker engine here, so these check it statically and run its scripts on stubs:
the compose file against the Compose Specification schema, loopback-only ports, the pinned image and what the
template needs; shellcheck and strict mode on every shell script; executable ready hooks; seed-admin.sh's
behaviour with a stub awslocal.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.delivery.support import (
    COMPOSE_FILE,
    COMPOSE_SCHEMA,
    LOCALSTACK_DIR,
    READY_HOOKS_DIR,
    REPO_ROOT,
    loopback_violations,
    run_tool,
)

SEED_ADMIN = READY_HOOKS_DIR / "seed-admin.sh"
# What template.yaml deploys to (plus sesv2, which the functions' boto3 clients call).
TEMPLATE_SERVICES = {"lambda", "dynamodb", "dynamodbstreams", "sqs", "stepfunctions", "apigateway", "secretsmanager",
                     "ses", "sesv2", "s3", "events", "logs", "cloudwatch", "sns", "kms", "iam", "sts",
                     "cloudformation"}


def shell_scripts() -> list[Path]:
    return sorted([*LOCALSTACK_DIR.rglob("*.sh"), *(REPO_ROOT / "scripts").rglob("*.sh")])


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
            for error in validator.iter_errors(document)]


# ------------------------------------------------------------------------------------------------ shell scripts
def test_shellcheck_on_repository_scripts_exits_zero() -> None:
    scripts = shell_scripts()
    assert scripts, "no shell script under localstack/"
    result = run_tool("shellcheck", "--external-sources", *scripts)
    assert result.returncode == 0, f"shellcheck:\n{result.stdout}"


def test_shellcheck_on_broken_script_exits_nonzero(tmp_path: Path) -> None:
    script = tmp_path / "broken.sh"
    script.write_text('#!/usr/bin/env bash\nset -euo pipefail\nfor file in $(ls *.txt); do cat $file; done\n')
    result = run_tool("shellcheck", script)
    assert result.returncode != 0
    assert "SC2045" in result.stdout and "SC2086" in result.stdout, result.stdout


def test_shell_scripts_set_strict_mode() -> None:
    lax = [str(path.relative_to(REPO_ROOT)) for path in shell_scripts()
           if "set -euo pipefail" not in path.read_text(encoding="utf-8")]
    assert not lax


def test_ready_hooks_are_executable() -> None:
    hooks = sorted(READY_HOOKS_DIR.glob("*.sh"))
    assert hooks
    for hook in hooks:
        assert hook.stat().st_mode & stat.S_IXUSR, f"{hook.name} is not executable: git add --chmod=+x"


# ------------------------------------------------------------------------------------------------ compose file
def test_compose_file_matches_compose_specification_schema(
    compose: dict[str, Any], compose_validator: jsonschema.protocols.Validator
) -> None:
    assert _schema_errors(compose_validator, compose) == []


def test_compose_schema_on_malformed_compose_file_reports_errors(
    compose_validator: jsonschema.protocols.Validator,
) -> None:
    broken = {"services": {"localstack": {"imagee": "localstack/localstack:4.14.0", "ports": "4566:4566",
                                          "healthcheck": {"interval": 5}}}}
    errors = "\n".join(_schema_errors(compose_validator, broken))
    assert any("'imagee'" in line and "unexpected" in line for line in errors.splitlines()), errors
    assert "services/localstack/ports" in errors
    assert "services/localstack/healthcheck/interval" in errors


def test_compose_ports_bind_loopback_only(compose: dict[str, Any]) -> None:
    assert compose["services"]["localstack"]["ports"]
    assert loopback_violations(compose) == []


def test_loopback_check_on_wildcard_ports_reports_them() -> None:
    compose = {"services": {"a": {"ports": ["4566:4566", "127.0.0.1:1:1", {"target": 80, "host_ip": "0.0.0.0"}]}}}
    assert loopback_violations(compose) == ["a: 4566:4566", "a: {'target': 80, 'host_ip': '0.0.0.0'}"]


def test_compose_localstack_image_is_pinned_to_a_release(compose: dict[str, Any]) -> None:
    image = compose["services"]["localstack"]["image"]
    repository, _, tag = image.partition(":")
    assert repository == "localstack/localstack"
    assert tag and tag[0].isdigit() and tag.count(".") == 2, image


def test_compose_localstack_services_cover_the_template(compose: dict[str, Any]) -> None:
    services = set(compose["services"]["localstack"]["environment"]["SERVICES"].split(","))
    assert services >= TEMPLATE_SERVICES


def test_compose_localstack_mounts_docker_socket_and_ready_hooks(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["localstack"]["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in volumes
    assert "./init/ready.d:/etc/localstack/init/ready.d:ro" in volumes


def test_compose_deployer_waits_for_healthy_localstack(compose: dict[str, Any]) -> None:
    assert compose["services"]["localstack"]["healthcheck"]["test"]
    assert compose["services"]["deployer"]["depends_on"] == {"localstack": {"condition": "service_healthy"}}


def test_compose_deployer_mounts_repository_read_only(compose: dict[str, Any]) -> None:
    assert "..:/src:ro" in compose["services"]["deployer"]["volumes"]
    assert compose["services"]["deployer"]["command"] == ["bash", "/src/localstack/deploy.sh"]


def test_deployer_sam_cli_pin_matches_workflows() -> None:
    def sam_pin(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if line.startswith("aws-sam-cli==")]

    deployer = sam_pin(LOCALSTACK_DIR / "deployer-requirements.txt")
    assert len(deployer) == 1
    assert deployer == sam_pin(REPO_ROOT / ".github" / "sam-requirements.txt")


# ------------------------------------------------------------------------------------------------ seed-admin.sh
STUB_AWSLOCAL = """#!/usr/bin/env bash
# awslocal stand-in: records each call's arguments (one per line) and answers like LocalStack would.
printf '%s\\n' "$@" > "$STUB_DIR/$1-$2.args"
case "$1 $2" in
  "cloudformation describe-stacks")
    if [[ -n "${STUB_FUNCTION:-}" ]]; then echo "$STUB_FUNCTION"; else echo "Stack does not exist" >&2; exit 254; fi ;;
  "lambda invoke")
    for last; do :; done
    echo '{"id": "u-1", "role": "ADMIN"}' > "$last"
    echo "${STUB_FUNCTION_ERROR:-None}" ;;
  *) echo "unexpected awslocal $*" >&2; exit 2 ;;
esac
"""
STUB_AWS = "#!/usr/bin/env bash\necho 'aws-cli/1.46.3 Python/3.11.7 Linux botocore/1.43.127'\n"


def _run_seed_admin(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("awslocal", STUB_AWSLOCAL), ("aws", STUB_AWS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    environment = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STUB_DIR": str(tmp_path),
                   "HOME": str(tmp_path), **env}
    return subprocess.run(["bash", str(SEED_ADMIN)], env=environment, text=True, capture_output=True,
                          timeout=60, check=False)


def _invoke_args(tmp_path: Path) -> list[str]:
    return (tmp_path / "lambda-invoke.args").read_text().splitlines()


def test_seed_admin_without_stack_exits_zero_and_invokes_nothing(tmp_path: Path) -> None:
    result = _run_seed_admin(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no stack careforall yet" in result.stdout
    assert not (tmp_path / "lambda-invoke.args").exists()


def test_seed_admin_without_stack_when_required_exits_nonzero(tmp_path: Path) -> None:
    result = _run_seed_admin(tmp_path, CAREFORALL_SEED_REQUIRED="1")
    assert result.returncode == 1
    assert "is it deployed?" in result.stderr


def test_seed_admin_with_stack_invokes_seed_function_with_admin_credentials(tmp_path: Path) -> None:
    result = _run_seed_admin(tmp_path, STUB_FUNCTION="careforall-SeedAdminFunction",
                             CAREFORALL_ADMIN_EMAIL='ops"lead@example.org', CAREFORALL_ADMIN_PASSWORD="p@ss word")
    assert result.returncode == 0, result.stderr
    args = _invoke_args(tmp_path)
    assert args[args.index("--function-name") + 1] == "careforall-SeedAdminFunction"
    assert json.loads(args[args.index("--payload") + 1]) == {"email": 'ops"lead@example.org', "password": "p@ss word"}
    assert "--cli-binary-format" not in args  # AWS CLI v1 takes the payload raw and does not know the option


def test_seed_admin_on_function_error_exits_nonzero(tmp_path: Path) -> None:
    result = _run_seed_admin(tmp_path, STUB_FUNCTION="careforall-SeedAdminFunction", STUB_FUNCTION_ERROR="Unhandled")
    assert result.returncode == 1
    assert "failed (Unhandled)" in result.stderr
