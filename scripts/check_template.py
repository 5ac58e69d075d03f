#!/usr/bin/env python3
"""Offline check of template.yaml: exits non-zero, printing what failed, on any problem.

    python scripts/check_template.py [template.yaml] [--write-transformed out.json]

Steps (all offline; no AWS credentials or network needed):
  1. cfn-lint on the SAM template.
  2. The SAM transform (aws-sam-translator, via careforall_local.template, which the local stack uses too).
  3. cfn-lint on the transformed CloudFormation. cfn-lint's own pass over a SAM template misses
     errors that only exist after the transform: a dangling !GetAtt inside Events, a bad Runtime
     in Globals, and it skips W2001 (unused parameters) on SAM templates altogether.
  4. API routes in the transformed REST API bodies: well-formed paths and real HTTP methods
     (neither the translator nor cfn-lint rejects `Method: postt`).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "infra" / "local"))

from careforall_local.template import Transformed, transform  # noqa: E402

DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
LINT_REGIONS = ["us-east-1"]
MAX_MESSAGE = 300  # cfn-lint's enum messages list every allowed value (e.g. all Lambda runtimes)

# Methods an API Gateway REST API accepts as Swagger path-item keys (SAM `Method: any` becomes the last one).
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}
PATH_ITEM_NON_OPERATIONS = {"parameters", "$ref"}
# A literal segment, a `{param}`, or a greedy `{proxy+}`.
PATH_SEGMENT = re.compile(r"^(?:[A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\+?\})$")

Problems = list[str]
CUSTOM_RULES = Path(__file__).resolve().parent.parent / "infra" / "lint_rules"


# ---------------------------------------------------------------------------------------- cfn-lint
def _lint(path: Path) -> list[Any]:
    from cfnlint.api import ManualArgs, lint_file

    # CareForAll's own rules (infra/lint_rules): every async event source keeps its failures.
    return lint_file(path, ManualArgs(regions=LINT_REGIONS, append_rules=[str(CUSTOM_RULES)]))


def _format_match(match: Any, location: str) -> str:
    message = " ".join(str(match.message).split())
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " ..."
    return f"{match.rule.id} {location}: {message}"


def _referenced_names(node: Any) -> set[str]:
    """Every name a node refers to with Ref or inside a Fn::Sub string."""
    names: set[str] = set()
    if isinstance(node, list):
        for item in node:
            names |= _referenced_names(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                names.add(value)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    names |= {n.split(".")[0] for n in re.findall(r"\$\{([^!}][^}]*)\}", text)}
            names |= _referenced_names(value)
    return names


def _transformed_noise(sam: dict[str, Any]) -> dict[str, Callable[[Any], bool]]:
    """Rule ids ignored on the transformed template, each only where it is an artefact of the transform.

    W2001 (parameter not used): the translator resolves `!Ref Param` inside some SAM properties to
    the parameter's value (e.g. Auth.Identity.ReauthorizeEvery -> authorizerResultTtlInSeconds: 300),
    so a parameter the SAM template does use can look unused afterwards. Ignored only for parameters
    the SAM template references; a parameter referenced nowhere still fails (cfn-lint skips W2001 on
    SAM templates, so this is the only place an unused parameter is caught).
    """
    used_in_sam = _referenced_names({k: v for k, v in sam.items() if k != "Parameters"})

    def inlined_parameter(match: Any) -> bool:
        path = getattr(match, "path", None) or []
        return len(path) == 2 and path[0] == "Parameters" and path[1] in used_in_sam

    return {"W2001": inlined_parameter}


def step_lint_sam(template: Path, _: dict[str, Any]) -> Problems:
    problems = []
    for match in _lint(template):
        problems.append(_format_match(match, f"{match.filename}:{match.linenumber}:{match.columnnumber}"))
    return problems


def step_transform(template: Path, state: dict[str, Any]) -> Problems:
    from samtranslator.model.exceptions import InvalidDocumentException

    try:
        state["transformed"] = transform(template, {})
    except InvalidDocumentException as exc:
        return [_cause_message(cause) for cause in exc.causes] or [_cause_message(exc)]
    except Exception as exc:  # YAML parse errors, translator bugs: report, don't crash the check
        return [f"{type(exc).__name__}: {' '.join(str(exc).split())}"]
    return []


def _cause_message(cause: Exception) -> str:
    # The translator's exceptions carry a formatted `message` ("Resource with id [X] is invalid. ...").
    return str(getattr(cause, "message", None) or cause)


def step_lint_transformed(template: Path, state: dict[str, Any]) -> Problems:
    transformed: Transformed = state["transformed"]
    noise = _transformed_noise(transformed.sam)
    with tempfile.TemporaryDirectory(prefix="check-template-") as tmp:
        out = Path(tmp) / f"{template.stem}.transformed.json"
        out.write_text(json.dumps(transformed.cfn, indent=2), encoding="utf-8")
        matches = _lint(out)
    problems = []
    for match in matches:
        ignore = noise.get(match.rule.id)
        if ignore and ignore(match):
            continue
        location = getattr(match, "path_string", None) or f"line {match.linenumber}"
        problems.append(_format_match(match, f"transformed {location}"))
    return problems


# ---------------------------------------------------------------------------------------- routes
def iter_routes(cfn: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(RestApi logical id, path, method key, operation) for every operation of every inline REST API body."""
    for logical_id, resource in cfn.get("Resources", {}).items():
        if resource.get("Type") != "AWS::ApiGateway::RestApi":
            continue
        body = (resource.get("Properties") or {}).get("Body") or {}
        for path, item in (body.get("paths") or {}).items():
            for method, operation in (item or {}).items():
                yield logical_id, path, method, operation


def path_problem(path: str) -> str | None:
    if not isinstance(path, str) or not path.startswith("/"):
        return "must start with '/'"
    if path == "/":
        return None
    for segment in path[1:].split("/"):
        if not PATH_SEGMENT.match(segment):
            return f"bad segment {segment!r} (a literal, {{name}} or {{name+}}; no empty segments)"
    return None


def step_routes(_: Path, state: dict[str, Any]) -> Problems:
    problems = []
    for api, path, method, _operation in iter_routes(state["transformed"].cfn):
        if method in PATH_ITEM_NON_OPERATIONS or (method.startswith("x-") and method not in HTTP_METHODS):
            continue  # shared parameters, references, vendor extensions
        if method not in HTTP_METHODS:
            problems.append(f"{api} {path}: {method!r} is not an HTTP method ({', '.join(sorted(HTTP_METHODS))})")
        reason = path_problem(path)
        if reason:
            problems.append(f"{api} {path!r}: {reason}")
    return problems


# ---------------------------------------------------------------------------------------- runner
STEPS: list[tuple[str, Callable[[Path, dict[str, Any]], Problems], bool]] = [
    # (label, step, needs the transform's output)
    ("cfn-lint on SAM template", step_lint_sam, False),
    ("SAM transform", step_transform, False),
    ("cfn-lint on transformed template", step_lint_transformed, True),
    ("API routes", step_routes, True),
]


def run(template: Path, write_transformed: Path | None = None) -> bool:
    state: dict[str, Any] = {}
    ok = True
    width = max(len(label) for label, _, _ in STEPS)
    for label, step, needs_transform in STEPS:
        if needs_transform and "transformed" not in state:
            print(f"{label:<{width}}  SKIPPED (transform failed)")
            continue
        started = time.perf_counter()
        problems = step(template, state)
        elapsed = time.perf_counter() - started
        status = "ok" if not problems else f"FAILED ({len(problems)} problem{'s' * (len(problems) != 1)})"
        print(f"{label:<{width}}  {status}  [{elapsed:.2f}s]")
        for problem in problems:
            print(f"    {problem}")
        ok = ok and not problems
    if write_transformed and "transformed" in state:
        write_transformed.write_text(json.dumps(state["transformed"].cfn, indent=2), encoding="utf-8")
        print(f"transformed template written to {write_transformed}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--write-transformed", type=Path, metavar="FILE", help="also save the transformed JSON")
    args = parser.parse_args(argv)

    # The translator's metrics object warns about never being published when garbage-collected.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

    template = args.template.resolve()
    if not template.is_file():
        print(f"template not found: {template}")
        return 2
    print(f"checking {template}")
    started = time.perf_counter()
    ok = run(template, args.write_transformed)
    print(f"{'PASSED' if ok else 'FAILED'} in {time.perf_counter() - started:.2f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
