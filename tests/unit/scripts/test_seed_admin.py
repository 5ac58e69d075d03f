"""scripts/seed-admin ENV --email E: refuses a password on the command line, validates its arguments, and invokes
the stack's SeedAdminFunction with the password only in a private file, never printing it (fake aws here)."""

from __future__ import annotations

import json
import shlex

PASSWORD = "correct horse battery staple"
FUNCTION = "careforall-dev-SeedAdminFunction-AbC123"
ADMIN = {"id": "usr_01", "email": "ops@careforall.example", "name": "Ops", "role": "ADMIN",
         "created_at": "2026-01-01T00:00:00Z"}


def _env(**extra: str) -> dict[str, str]:
    outputs = [{"OutputKey": "SeedAdminFunctionName", "OutputValue": FUNCTION},
               {"OutputKey": "WebAppUrl", "OutputValue": "https://d111111abcdef8.cloudfront.net"}]
    return {"FAKE_OUTPUTS": json.dumps(outputs), "FAKE_INVOKE_RESPONSE": json.dumps(ADMIN), **extra}


def _printed_commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith("+ ")]


# ---------------------------------------------------------------------------------------- dry run
def test_seed_admin_dry_run_prints_output_lookup_and_invoke_without_running_them(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "--dry-run")
    assert result.returncode == 0, result.stderr
    describe, invoke = _printed_commands(result.stdout)
    assert describe[:5] == ["aws", "cloudformation", "describe-stacks", "--stack-name", "careforall-dev"]
    assert invoke[:5] == ["aws", "lambda", "invoke", "--function-name", "<SeedAdminFunctionName output>"]
    assert invoke[invoke.index("--payload") + 1].startswith("fileb://")
    assert result.calls == []


def test_seed_admin_dry_run_does_not_read_the_password(tools) -> None:
    result = tools.run("seed-admin", "prod", "--email", "ops@careforall.example", "--password-stdin", "--dry-run",
                       stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert '"password": "<from stdin>"' in result.stdout


# ---------------------------------------------------------------------------------------- argument errors
def test_seed_admin_password_argument_exits_2_without_echoing_it(tools) -> None:
    for args in (["--password", PASSWORD], [f"--password={PASSWORD}"]):
        result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", *args)
        assert result.returncode == 2
        assert "never a command-line argument" in result.stderr
        assert PASSWORD not in result.stdout + result.stderr
        assert result.calls == []


def test_seed_admin_unrecognized_argument_exits_2_without_echoing_it(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "hunter2-secret")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr and "hunter2-secret" not in result.stderr


def test_seed_admin_invalid_email_exits_2(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "not-an-address", "--dry-run")
    assert result.returncode == 2
    assert "not an email address" in result.stderr


def test_seed_admin_without_email_exits_2(tools) -> None:
    result = tools.run("seed-admin", "dev", "--dry-run")
    assert result.returncode == 2
    assert "--email" in result.stderr


def test_seed_admin_unknown_env_exits_2(tools) -> None:
    result = tools.run("seed-admin", "qa", "--email", "ops@careforall.example", "--dry-run")
    assert result.returncode == 2
    assert "unknown environment 'qa'" in result.stderr


def test_seed_admin_local_env_exits_2_pointing_to_make_run(tools) -> None:
    result = tools.run("seed-admin", "local", "--email", "ops@careforall.example")
    assert result.returncode == 2
    assert "make run" in result.stderr


def test_seed_admin_short_password_from_stdin_exits_2_before_any_call(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "--password-stdin",
                       stdin="short\n", env=_env())
    assert result.returncode == 2
    assert "8 to 256 characters" in result.stderr
    assert result.calls == []


def test_seed_admin_without_terminal_or_password_stdin_exits_2(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", stdin="", env=_env())
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr


# ---------------------------------------------------------------------------------------- a real run, faked
def test_seed_admin_invokes_seed_function_with_password_in_a_private_file_only(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "--name", "Ops",
                       "--password-stdin", stdin=PASSWORD + "\n", env=_env())
    assert result.returncode == 0, result.stderr
    describe, invoke = result.calls
    assert describe["argv"][:2] == ["cloudformation", "describe-stacks"]
    assert invoke["argv"][:4] == ["lambda", "invoke", "--function-name", FUNCTION]
    assert invoke["payload"] == {"email": "ops@careforall.example", "password": PASSWORD, "name": "Ops"}
    assert invoke["payload_mode"] == "0o600"
    assert not any(PASSWORD in arg for call in result.calls for arg in call["argv"])


def test_seed_admin_success_prints_the_admin_but_never_the_password(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "--password-stdin",
                       stdin=PASSWORD + "\n", env=_env())
    assert "ADMIN ready in careforall-dev: ops@careforall.example (id usr_01, role ADMIN)" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_seed_admin_function_error_exits_1_with_the_password_redacted(tools) -> None:
    error = {"errorMessage": f"1 validation error: input_value='{PASSWORD}'", "errorType": "ValidationError"}
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "--password-stdin",
                       stdin=PASSWORD + "\n",
                       env=_env(FAKE_INVOKE_RESPONSE=json.dumps(error), FAKE_FUNCTION_ERROR="Unhandled"))
    assert result.returncode == 1
    assert "SeedAdminFunctionName failed (Unhandled)" in result.stderr and "********" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_seed_admin_stack_without_seed_output_exits_1_saying_deploy_first(tools) -> None:
    result = tools.run("seed-admin", "dev", "--email", "ops@careforall.example", "--password-stdin",
                       stdin=PASSWORD + "\n", env={"FAKE_OUTPUTS": "[]"})
    assert result.returncode == 1
    assert "no SeedAdminFunctionName output" in result.stderr and "scripts/deploy dev" in result.stderr
