""".github/workflows: actionlint-clean (with shellcheck on the `run:` scripts), every function under CI's per-function
filter and matrix, deploys gated on green tests and main, releases on vX.Y.Z tags only.

Offline and fast: actionlint and shellcheck come from the virtualenv (requirements-dev.txt); nothing reaches GitHub.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from careforall_local.template import load_yaml

from tests.delivery.support import (
    CI_WORKFLOW,
    FUNCTION_MATRIX_SCRIPT,
    REPO_ROOT,
    evaluate_condition,
    github_filter_regex,
    load_workflow,
    missing_function_filters,
    path_filters,
    run_tool,
    steps_using,
    workflow_files,
)

TEST_JOBS = {"test", "template", "changes", "function"}
RELEASE_TAG_PATTERN = "v[0-9]+.[0-9]+.[0-9]+"
EXACT_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")
MAJOR_ONLY = re.compile(r"(uses:\s*[\w.-]+/[\w./-]+@v\d+)\.\d+\.\d+")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load_workflow(CI_WORKFLOW)


@pytest.fixture(scope="module")
def function_matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("function_matrix", FUNCTION_MATRIX_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_workflow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".github" / "workflows" / "probe.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ actionlint
def test_actionlint_on_repository_workflows_exits_zero() -> None:
    files = workflow_files()
    assert files, "no workflow under .github/workflows"
    result = run_tool("actionlint", "-no-color", *files)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}"


def test_actionlint_on_workflows_with_major_version_refs_exits_zero(tmp_path: Path) -> None:
    # actionlint knows the inputs, outputs and runtime of popular actions by major tag (@v6), not by exact pin
    # (@v6.0.0): lint a copy at the major tags so a misspelled `with:` input or a Node 20 action is caught too.
    copies = []
    for path in workflow_files():
        copy = tmp_path / ".github" / "workflows" / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(MAJOR_ONLY.sub(r"\1", path.read_text(encoding="utf-8")), encoding="utf-8")
        copies.append(copy)
    result = run_tool("actionlint", "-no-color", *copies, cwd=tmp_path)
    assert result.returncode == 0, f"actionlint (major refs):\n{result.stdout}"


def test_actionlint_on_broken_workflow_exits_nonzero(tmp_path: Path) -> None:
    path = _write_workflow(tmp_path, """\
name: broken
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-24.04
    needs: missing-job
    steps:
      - uses: actions/setup-python@v6
        with:
          pyhton-version: "3.11"
""")
    result = run_tool("actionlint", "-no-color", path, cwd=tmp_path)
    assert result.returncode != 0
    assert 'needs job "missing-job" which does not exist' in result.stdout
    assert '"pyhton-version" is not defined' in result.stdout


def test_actionlint_on_unquoted_run_variable_reports_shellcheck_finding(tmp_path: Path) -> None:
    # Proves shellcheck is on actionlint's PATH: without it, actionlint skips the run: scripts silently.
    path = _write_workflow(tmp_path, """\
name: unquoted
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - run: echo $HOME
""")
    result = run_tool("actionlint", "-no-color", path, cwd=tmp_path)
    assert result.returncode != 0
    assert "shellcheck reported issue" in result.stdout and "SC2086" in result.stdout, result.stdout


# ------------------------------------------------------------------------------------------------ hygiene
def test_actions_in_workflows_are_pinned_to_exact_versions() -> None:
    loose = []
    for path in workflow_files():
        for job_name, job in load_workflow(path)["jobs"].items():
            for step in job.get("steps", []):
                uses = step.get("uses")
                if uses and not uses.startswith("./") and not EXACT_PIN.match(uses):
                    loose.append(f"{path.name} {job_name}: {uses}")
    assert not loose, f"pin actions to vX.Y.Z or a commit SHA: {loose}"


def test_jobs_in_workflows_have_timeouts() -> None:
    untimed = [f"{path.name} {name}" for path in workflow_files()
               for name, job in load_workflow(path)["jobs"].items()
               if "uses" not in job and "timeout-minutes" not in job]
    assert not untimed


def test_workflow_default_permissions_are_read_only(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}


def test_write_permissions_in_workflow_are_granted_to_deploy_and_release_only(workflow: dict[str, Any]) -> None:
    writers = {name: {scope for scope, level in job.get("permissions", {}).items() if level == "write"}
               for name, job in workflow["jobs"].items()}
    assert {name: scopes for name, scopes in writers.items() if scopes} == {
        "deploy-dev": {"id-token"},
        "release": {"contents"},
    }


def test_ci_on_push_and_pull_request_runs(workflow: dict[str, Any]) -> None:
    assert workflow["on"]["push"]["branches"] == ["**"]
    assert "pull_request" in workflow["on"]


def test_ci_concurrency_group_is_per_ref(workflow: dict[str, Any]) -> None:
    assert "github.ref" in workflow["concurrency"]["group"]


# ------------------------------------------------------------------------------------------------ per function
def test_function_filters_cover_every_function_code_directory(workflow: dict[str, Any]) -> None:
    assert missing_function_filters(REPO_ROOT / "functions", path_filters(workflow)) == []


def test_function_filter_check_on_new_function_directory_reports_it_missing(
    workflow: dict[str, Any], tmp_path: Path
) -> None:
    functions = tmp_path / "functions"
    shutil.copytree(REPO_ROOT / "functions", functions, ignore=shutil.ignore_patterns("__pycache__"))
    (functions / "receipts" / "receipts_service").mkdir(parents=True)
    (functions / "receipts" / "receipts_service" / "handler.py").write_text("def lambda_handler(e, c): ...\n")
    assert missing_function_filters(functions, path_filters(workflow)) == ["receipts"]


def test_function_matrix_for_every_code_directory_names_its_tests_and_template_resource(
    function_matrix: ModuleType,
) -> None:
    template = load_yaml(REPO_ROOT / "template.yaml")
    directories = function_matrix.code_directories()
    include = function_matrix.matrix(directories)["include"]
    assert [entry["function"] for entry in include] == directories
    for entry in include:
        assert (REPO_ROOT / entry["tests"]).is_dir(), entry
        properties = template["Resources"][entry["resource"]]["Properties"]
        assert properties.get("CodeUri", properties.get("ContentUri")) == f"functions/{entry['function']}", entry


def test_function_matrix_given_non_code_filter_names_ignores_them(function_matrix: ModuleType) -> None:
    assert function_matrix.matrix(["shared", "users"])["include"] == [
        {"function": "users", "tests": "tests/unit/users", "resource": "UsersFunction"}]


def test_function_matrix_given_no_changes_is_empty(function_matrix: ModuleType) -> None:
    assert function_matrix.matrix([]) == {"include": []}


def test_function_matrix_on_code_directory_without_template_resource_fails(
    function_matrix: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "functions" / "orphan").mkdir(parents=True)
    (tmp_path / "functions" / "orphan" / "handler.py").write_text("")
    (tmp_path / "template.yaml").write_text("Resources:\n  Other:\n    Properties:\n      CodeUri: functions/other\n")
    with pytest.raises(SystemExit, match="functions/orphan"):
        function_matrix.matrix(["orphan"], repo_root=tmp_path)


def test_function_job_runs_unit_tests_and_uploads_sam_build(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["function"]
    scripts = "\n".join(step.get("run", "") for step in job["steps"])
    assert job["needs"] == "changes"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.changes.outputs.matrix) }}"
    assert 'pytest "$TESTS"' in scripts
    assert 'sam build "$RESOURCE"' in scripts
    assert steps_using(job, "actions/upload-artifact")


# ------------------------------------------------------------------------------------------------ deploy
def test_deploy_job_needs_every_test_job(workflow: dict[str, Any]) -> None:
    assert set(workflow["jobs"]["deploy-dev"]["needs"]) >= TEST_JOBS


def _deploy_context(event: str = "push", ref: str = "refs/heads/main", **results: str) -> dict[str, Any]:
    needs = {job: {"result": "success"} for job in TEST_JOBS}
    needs.update({job: {"result": result} for job, result in results.items()})
    return {"github": {"event_name": event, "ref": ref, "ref_type": "branch"}, "needs": needs}


@pytest.mark.parametrize(("context", "deploys"), [
    (_deploy_context(), True),
    (_deploy_context(function="skipped"), True),  # no function code changed: nothing to unit-test separately
    (_deploy_context(event="pull_request"), False),
    (_deploy_context(ref="refs/heads/feature"), False),
    (_deploy_context(ref="refs/tags/v1.2.3"), False),
    (_deploy_context(test="failure"), False),
    (_deploy_context(template="failure"), False),
    (_deploy_context(changes="skipped"), False),
    (_deploy_context(function="failure"), False),
    (_deploy_context(function="cancelled"), False),
], ids=["main-green", "main-no-function-change", "pull-request", "other-branch", "tag", "tests-failed",
        "template-failed", "changes-skipped", "function-failed", "function-cancelled"])
def test_deploy_job_condition_on_event_ref_and_results_deploys_only_green_main(
    workflow: dict[str, Any], context: dict[str, Any], deploys: bool
) -> None:
    assert evaluate_condition(workflow["jobs"]["deploy-dev"]["if"], context) is deploys


def test_deploy_job_assumes_role_by_oidc_in_dev_environment(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["deploy-dev"]
    (credentials,) = steps_using(job, "aws-actions/configure-aws-credentials")
    assert job["environment"] == "dev"
    assert job["permissions"]["id-token"] == "write"
    assert credentials["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])


def test_deploy_job_runs_deploy_script_for_dev(workflow: dict[str, Any]) -> None:
    runs = [step.get("run", "") for step in workflow["jobs"]["deploy-dev"]["steps"]]
    assert any(run.startswith("scripts/deploy dev") and "--dry-run" not in run for run in runs)


def test_deploy_job_never_runs_concurrently(workflow: dict[str, Any]) -> None:
    assert workflow["jobs"]["deploy-dev"]["concurrency"] == {"group": "deploy-dev", "cancel-in-progress": False}


# ------------------------------------------------------------------------------------------------ release
@pytest.mark.parametrize(("tag", "triggers"), [
    ("v1.2.3", True), ("v10.20.300", True), ("v0.0.1", True),
    ("v1.2", False), ("1.2.3", False), ("v1.2.3-rc1", False), ("v1.2.3.4", False), ("vx.y.z", False),
    ("release-v1.2.3", False),
])
def test_release_tag_filter_on_tag_matches_only_semantic_versions(
    workflow: dict[str, Any], tag: str, triggers: bool
) -> None:
    patterns = workflow["on"]["push"]["tags"]
    assert patterns == [RELEASE_TAG_PATTERN]
    assert bool(github_filter_regex(RELEASE_TAG_PATTERN).match(tag)) is triggers


def test_release_job_runs_only_on_tags_after_tests(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["release"]
    assert set(job["needs"]) >= {"test", "template"}
    assert job["permissions"] == {"contents": "write"}
    on_tag = {"github": {"event_name": "push", "ref_type": "tag", "ref_name": "v1.2.3"}}
    on_branch = {"github": {"event_name": "push", "ref_type": "branch", "ref_name": "main"}}
    assert evaluate_condition(job["if"], on_tag) is True
    assert evaluate_condition(job["if"], on_branch) is False


def test_release_job_attaches_sam_build_and_template_to_release(workflow: dict[str, Any]) -> None:
    scripts = "\n".join(step.get("run", "") for step in workflow["jobs"]["release"]["steps"])
    assert "sam build --template-file template.yaml" in scripts
    assert ".aws-sam/build" in scripts and "template.yaml" in scripts
    assert "gh release create" in scripts
