"""careforall.deferred and the deferred tracer: an entry point validates settings at import and loads the function's
module with its first invocation; every template function's entry loads nothing heavy at import.

Imports are checked in fresh interpreters, each with the function's own template environment, as Lambda's INIT
would run them. What is checked is which modules are loaded, never how long it took (that is make bench's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from careforall.observability import DeferredTracer

REPO_ROOT = Path(__file__).resolve().parents[3]
LAYER = REPO_ROOT / "functions" / "layer"
# Loaded by the first invocation, never by an entry point's import.
HEAVY = ("boto3", "botocore", "aws_xray_sdk", "aws_lambda_powertools.event_handler",
         "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.data_classes", "jose", "argon2",
         "email_validator")


def run_python(code: str, path: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", ""), **env,
                   "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    """A function package: `work` (the module an entry defers to, noting its import) and `entry` (its entry)."""
    package = tmp_path / "fake_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(textwrap.dedent("""
        from pydantic import Field
        from careforall.config import BaseSettings

        class Settings(BaseSettings):
            table_name: str = Field(alias="TABLE_NAME", min_length=1)
    """))
    (package / "work.py").write_text(textwrap.dedent("""
        import sys
        sys.modules["__main__"].imports.append("work")
        app = "the resolver"

        def lambda_handler(event, context):
            return {"handled": event}

        def other_handler(event, context):
            return {"other": event}
    """))
    (package / "entry.py").write_text(textwrap.dedent("""
        from careforall.deferred import entry_point
        from fake_service.settings import Settings

        lambda_handler, other_handler, __getattr__ = entry_point(
            "fake_service.work", Settings, "lambda_handler", "other_handler")
    """))
    return tmp_path


def run_entry(function_dir: Path, after_import: str, **env: str) -> subprocess.CompletedProcess:
    return run_python(f"""
        import json, sys
        imports = []
        import fake_service.entry as entry
        imports.append("entry imported")
        {after_import}
        print(json.dumps(imports))
    """, [function_dir, LAYER], {"TABLE_NAME": "t", **env})


def test_entry_point_import_does_not_load_the_deferred_module(function_dir):
    done = run_entry(function_dir, "")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["entry imported"]


def test_entry_point_first_invocation_loads_module_and_calls_its_handler(function_dir):
    done = run_entry(function_dir, "imports.append(entry.lambda_handler(1, None)); "
                                   "imports.append(entry.other_handler(2, None))")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["entry imported", "work", {"handled": 1}, {"other": 2}]


def test_entry_point_module_attribute_is_read_from_the_deferred_module(function_dir):
    done = run_entry(function_dir, "imports.append(entry.app)")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["entry imported", "work", "the resolver"]


def test_entry_point_missing_setting_fails_at_import(function_dir):
    done = run_entry(function_dir, "", TABLE_NAME="")

    assert done.returncode != 0
    assert "ValidationError" in done.stderr and "TABLE_NAME" in done.stderr


@pytest.mark.parametrize("initialization", ["provisioned-concurrency", "snap-start"])
def test_entry_point_pre_initialized_environment_loads_module_at_import(function_dir, initialization):
    done = run_entry(function_dir, "", AWS_LAMBDA_INITIALIZATION_TYPE=initialization)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["work", "entry imported"]


def test_entry_point_on_demand_environment_defers_module(function_dir):
    done = run_entry(function_dir, "", AWS_LAMBDA_INITIALIZATION_TYPE="on-demand")

    assert json.loads(done.stdout) == ["entry imported"]


# ------------------------------------------------------------------------- every function of the template
def template_functions():
    sys.path.insert(0, str(REPO_ROOT / "infra" / "local"))
    from careforall_local.settings import LocalSettings
    from careforall_local.stack import LocalStackModel

    model = LocalStackModel(REPO_ROOT / "template.yaml", LocalSettings.from_env().parameter_overrides())
    return sorted(model.functions().values(), key=lambda spec: spec.logical_id)


FUNCTIONS = template_functions()


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[spec.logical_id for spec in FUNCTIONS])
def test_function_handler_import_loads_no_heavy_module(spec):
    from careforall_local.runtime import lambda_environment

    module, _, attribute = spec.handler.rpartition(".")
    done = run_python(f"""
        import importlib, json, sys
        handler = getattr(importlib.import_module({module!r}), {attribute!r})
        assert callable(handler)
        print(json.dumps(sorted(name for name in sys.modules if name.startswith({HEAVY!r}))))
    """, [spec.code_dir, *spec.layer_dirs], lambda_environment(spec, "http://127.0.0.1:1"))

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# ------------------------------------------------------------------------- the deferred tracer
class RecordingTracer:
    def __init__(self) -> None:
        self.wrapped: list[str] = []

    def capture_lambda_handler(self, function, **options):
        self.wrapped.append(f"handler {function.__name__} {options}")
        return lambda *args, **kwargs: ("traced", function(*args, **kwargs))

    def capture_method(self, function, **options):
        self.wrapped.append(f"method {function.__name__} {options}")
        return lambda *args, **kwargs: ("traced method", function(*args, **kwargs))


@pytest.fixture
def deferred(monkeypatch) -> tuple[DeferredTracer, list[RecordingTracer]]:
    built: list[RecordingTracer] = []
    tracer = DeferredTracer()

    def build():
        built.append(RecordingTracer())
        return built[-1]

    monkeypatch.setattr(tracer, "get", lambda: built[0] if built else build())
    return tracer, built


def test_deferred_tracer_decorating_builds_no_tracer(deferred):
    tracer, built = deferred

    @tracer.capture_lambda_handler
    def handler(event, context):
        return event

    assert built == []


def test_deferred_tracer_first_call_traces_the_handler(deferred):
    tracer, built = deferred

    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event, context):
        return event

    assert handler("e", None) == ("traced", "e")
    assert handler("f", None) == ("traced", "f")
    assert built[0].wrapped == ["handler handler {'capture_response': False}"]


def test_deferred_tracer_method_is_traced_by_the_same_tracer(deferred):
    tracer, built = deferred

    @tracer.capture_method
    def step(value):
        return value * 2

    assert step(2) == ("traced method", 4)
    assert len(built) == 1 and built[0].wrapped == ["method step {}"]
