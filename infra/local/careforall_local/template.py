"""Read template.yaml the way CloudFormation does: SAM transform first, then intrinsic resolution.

Both the offline template check and the local stack use this module, so the stack runs exactly
what `sam deploy` would create: tables, routes, environments, policies are never repeated in Python.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import cfn_yaml

# Local code locations are replaced by placeholders for the transform (what `sam package` does
# with real S3 uploads) and mapped back afterwards.
PLACEHOLDER_BUCKET = "careforall-local-code"
_LOCAL_URI_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


class _NoManagedPolicies:
    """The translator asks IAM for AWS managed policy ARNs; offline we have none to give."""

    def load(self) -> dict[str, str]:
        return {}


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse CloudFormation YAML with short-form intrinsics (`!Ref`, `!Sub`, ...) as plain dicts."""
    return cfn_yaml.load(str(path))


def _plain(obj: Any) -> Any:
    """cfn-lint's decoder returns str/dict subclasses with line marks; the translator wants plain types."""
    return json.loads(json.dumps(obj))


@dataclass
class Transformed:
    """The template after the SAM transform, with local paths remembered."""

    root: Path
    sam: dict[str, Any]
    cfn: dict[str, Any]
    local_paths: dict[str, Path] = field(default_factory=dict)  # placeholder key -> local folder/file

    def local_path(self, location: Any) -> Path | None:
        """Map a transformed Code/Content/DefinitionS3Location back to the folder or file in the repo."""
        if isinstance(location, dict):
            key = location.get("S3Key") or location.get("Key")
            return self.local_paths.get(key)
        if isinstance(location, str) and location.startswith(f"s3://{PLACEHOLDER_BUCKET}/"):
            return self.local_paths.get(location.split("/", 3)[3])
        return None


def transform(template_path: Path, parameter_values: dict[str, Any] | None = None) -> Transformed:
    """Run aws-sam-translator's transform (what `sam validate`/`sam deploy` run) fully offline."""
    from samtranslator.translator.transform import transform as sam_transform

    template_path = Path(template_path).resolve()
    root = template_path.parent
    sam = _plain(load_yaml(template_path))
    rewritten = copy.deepcopy(sam)
    local_paths: dict[str, Path] = {}
    for logical_id, resource in rewritten.get("Resources", {}).items():
        prop = _LOCAL_URI_PROPERTIES.get(resource.get("Type", ""))
        value = (resource.get("Properties") or {}).get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            key = f"{logical_id}/{value}"
            local_paths[key] = (root / value).resolve()
            resource["Properties"][prop] = f"s3://{PLACEHOLDER_BUCKET}/{key}"
    global_function = (rewritten.get("Globals") or {}).get("Function") or {}
    if isinstance(global_function.get("CodeUri"), str) and not global_function["CodeUri"].startswith("s3://"):
        key = f"Globals/{global_function['CodeUri']}"
        local_paths[key] = (root / global_function["CodeUri"]).resolve()
        global_function["CodeUri"] = f"s3://{PLACEHOLDER_BUCKET}/{key}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    cfn = sam_transform(rewritten, dict(parameter_values or {}), _NoManagedPolicies())
    return Transformed(root=root, sam=sam, cfn=cfn, local_paths=local_paths)


class Resolver:
    """Evaluates CloudFormation intrinsic functions against physical ids the caller supplies.

    `ref(logical_id)` and `get_att(logical_id, attribute)` are callbacks, so the local stack can
    create a resource the first time something refers to it (dependency order falls out naturally).
    """

    def __init__(
        self,
        parameters: dict[str, Any],
        pseudo: dict[str, str],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        conditions: dict[str, Any] | None = None,
    ) -> None:
        self._parameters = parameters
        self._pseudo = pseudo
        self._ref = ref
        self._get_att = get_att
        self._conditions = conditions or {}
        self._condition_values: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            self._condition_values[name] = bool(self.resolve(self._conditions[name]))
        return self._condition_values[name]

    def resolve_ref(self, name: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        return self._ref(name)

    def resolve(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic reads best here
        if isinstance(node, list):
            return [self.resolve(item) for item in node if not _is_no_value(item)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.resolve_ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._get_att(logical_id, self.resolve(attribute))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, values = arg
                return separator.join(str(v) for v in self.resolve(values))
            if key == "Fn::Select":
                index, values = arg
                return self.resolve(values)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, value = arg
                return self.resolve(value).split(separator)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return {k: self.resolve(v) for k, v in node.items() if not _is_no_value(v)}

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.index("}", start)
            name = text[start + 2 : end]
            if name.startswith("!"):  # ${!Literal} renders as ${Literal}
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                out.append(str(self._get_att(logical_id, attribute)))
            else:
                out.append(str(self.resolve_ref(name)))
            i = end + 1
        return "".join(out)


def _is_no_value(node: Any) -> bool:
    return isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}


def parameter_defaults(cfn: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parameter values as CloudFormation would take them: the override, else the Default."""
    values: dict[str, Any] = {}
    for name, spec in cfn.get("Parameters", {}).items():
        if overrides and name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            values[name] = spec["Default"]
        else:
            raise ValueError(f"template parameter {name} has no default and no value was given")
    return values
