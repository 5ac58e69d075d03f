"""The local stack's own settings, from the environment (README lists them with their defaults)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# Documented local defaults: not secrets, and never used outside the local stack.
DEFAULT_ADMIN_EMAIL = "admin@careforall.local"
DEFAULT_ADMIN_PASSWORD = "careforall-admin"
DEFAULT_JWT_SECRET = "careforall-local-jwt-signing-key-not-for-production-000000"
DEFAULT_WEBHOOK_SECRET = "whsec_careforall_local"


@dataclass(frozen=True)
class LocalSettings:
    port: int = 8080
    aws_port: int = 4566
    internal_port: int = 4567
    xray_port: int = 2000  # UDP: the local X-Ray daemon the functions send their segments to
    admin_email: str = DEFAULT_ADMIN_EMAIL
    admin_password: str = DEFAULT_ADMIN_PASSWORD
    jwt_secret: str = DEFAULT_JWT_SECRET
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    max_concurrency: int = 8
    request_path_first: bool = True  # CAREFORALL_REQUEST_PATH_FIRST=0: the pipeline competes with requests as equals
    template: Path = REPO_ROOT / "template.yaml"
    parameters_file: Path = REPO_ROOT / "stacks" / "local.json"
    extra_parameters: str = ""
    stack_name: str = "careforall"
    external_emulator: bool = False
    provider_autopilot: str | None = None  # CAREFORALL_PROVIDER_AUTOPILOT -> the ProviderAutopilot parameter
    state_dir: Path = REPO_ROOT / ".local-state"
    web_root: Path = REPO_ROOT / "web"  # the web app's static files, served at / and /app/

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def xray_daemon_address(self) -> str:
        return f"127.0.0.1:{self.xray_port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "LocalSettings":
        env = dict(os.environ if env is None else env)
        aws_port = int(env.get("CAREFORALL_AWS_PORT", "4566"))
        return cls(
            port=int(env.get("CAREFORALL_PORT", "8080")),
            aws_port=aws_port,
            internal_port=int(env.get("CAREFORALL_INTERNAL_PORT", str(aws_port + 1))),
            xray_port=int(env.get("CAREFORALL_XRAY_PORT", "2000")),
            admin_email=env.get("CAREFORALL_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL),
            admin_password=env.get("CAREFORALL_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD),
            jwt_secret=env.get("CAREFORALL_JWT_SECRET", DEFAULT_JWT_SECRET),
            webhook_secret=env.get("CAREFORALL_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET),
            max_concurrency=int(env.get("CAREFORALL_LOCAL_MAX_CONCURRENCY", "8")),
            request_path_first=env.get("CAREFORALL_REQUEST_PATH_FIRST", "1") != "0",
            template=Path(env.get("CAREFORALL_TEMPLATE", str(REPO_ROOT / "template.yaml"))),
            parameters_file=Path(env.get("CAREFORALL_STACK_PARAMETERS", str(REPO_ROOT / "stacks" / "local.json"))),
            extra_parameters=env.get("CAREFORALL_PARAMETER_OVERRIDES", ""),
            external_emulator=env.get("CAREFORALL_AWS_EXTERNAL", "0") == "1",
            provider_autopilot=env.get("CAREFORALL_PROVIDER_AUTOPILOT"),
            state_dir=Path(env.get("CAREFORALL_STATE_DIR", str(REPO_ROOT / ".local-state"))),
        )

    def parameter_overrides(self) -> dict[str, str]:
        """stacks/local.json, then `Key=Value` pairs from CAREFORALL_PARAMETER_OVERRIDES (as `sam deploy` takes them).

        WebAppUrl (the base of links sent by email) defaults to the web app this stack serves on its own port.
        """
        values: dict[str, str] = {"WebAppUrl": f"http://127.0.0.1:{self.port}"}
        if self.parameters_file.exists():
            values.update({k: str(v) for k, v in json.loads(self.parameters_file.read_text())["Parameters"].items()})
        if self.provider_autopilot is not None:
            values["ProviderAutopilot"] = self.provider_autopilot
        for pair in self.extra_parameters.split():
            key, _, value = pair.partition("=")
            values[key] = value
        return values
