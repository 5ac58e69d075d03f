"""The web app's static files on the local gateway's public port: `/` and `/app/...`, with their content types,
no-cache, 404 problems for anything else, and no way out of web/ (requests sent byte for byte, unnormalised)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from careforall_local.__main__ import LocalStack
from careforall_local.settings import LocalSettings
from careforall_local.webapp import WebApp

SECRET = "top-secret-not-for-the-web"
FILES = {  # path under the web root -> (bytes, expected Content-Type)
    "index.html": (b"<!doctype html><title>app</title>", "text/html; charset=utf-8"),
    "app/main.js": (b"export const x = 1;", "text/javascript; charset=utf-8"),
    "app/pages/campaign.js": (b"export default 1;", "text/javascript; charset=utf-8"),
    "app/styles.css": (b"body{}", "text/css; charset=utf-8"),
    "app/favicon.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    "app/logo.png": (b"\x89PNG\r\n\x1a\n", "image/png"),
    "app/data.json": (b"{}", "application/json"),
    "app/about.html": (b"<p>about</p>", "text/html; charset=utf-8"),
}


@pytest.fixture
def web_root(tmp_path) -> Path:
    root = tmp_path / "web"
    for name, (content, _) in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    (root / "secret.txt").write_text(SECRET)            # in web/ but not under web/app/
    (tmp_path / "outside.js").write_text(SECRET)         # outside web/ altogether
    (root / "app" / ".env.js").write_text(SECRET)        # a dotfile
    (root / "app" / "notes.md").write_text(SECRET)       # a kind of file that is not served
    (root / "app" / "link.js").symlink_to(tmp_path / "outside.js")
    return root


def serve(app: web.Application, scenario):
    async def main():
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


def web_app(root: Path) -> web.Application:
    app = web.Application()
    WebApp(root).routes(app)
    return app


async def raw_get(client: TestClient, target: str) -> tuple[int, dict[str, str], bytes]:
    """GET `target` exactly as written (no client-side normalisation of `..` or %2e%2e)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("name", sorted(FILES))
def test_get_web_app_file_serves_it_with_content_type_and_no_cache(web_root, name):
    url = "/" if name == "index.html" else f"/{name}"

    async def scenario(client):
        response = await client.get(url)
        return response.status, response.headers, await response.read()

    status, headers, body = serve(web_app(web_root), scenario)

    assert status == 200
    assert body == FILES[name][0]
    assert headers["Content-Type"] == FILES[name][1]
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_get_index_sends_content_security_policy_of_own_origin_only(web_root):
    async def scenario(client):
        return (await client.get("/")).headers

    policy = serve(web_app(web_root), scenario)["Content-Security-Policy"]

    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "object-src 'none'" in policy


def test_head_of_web_app_file_answers_without_body(web_root):
    async def scenario(client):
        response = await client.head("/app/main.js")
        return response.status, response.headers["Content-Type"]

    assert serve(web_app(web_root), scenario) == (200, "text/javascript; charset=utf-8")


@pytest.mark.parametrize("target", [
    "/app/../secret.txt",
    "/app/../../outside.js",
    "/app/%2e%2e/secret.txt",
    "/app/%2E%2E/%2E%2E/outside.js",
    "/app/..%2fsecret.txt",
    "/app/..%2F..%2Foutside.js",
    "/app/pages/../../secret.txt",
    "/app/%2e%2e%5csecret.txt",
    "/app//etc/passwd",
    "/app/%2fetc%2fpasswd",
    "/app/link.js",
    "/app/.env.js",
    "/app/notes.md",
    "/app/%00main.js",
])
def test_get_outside_web_app_or_unserved_file_is_refused(web_root, target):
    async def scenario(client):
        return await raw_get(client, target)

    status, headers, body = serve(web_app(web_root), scenario)

    assert status in (400, 404), (status, body[:200])
    assert SECRET.encode() not in body
    assert b"root:" not in body
    if status == 404:
        assert headers["content-type"].startswith("application/problem+json")


def test_get_missing_web_app_file_is_404_problem(web_root):
    async def scenario(client):
        response = await client.get("/app/nope.js")
        return response.status, response.headers["Content-Type"], await response.text()

    status, content_type, text = serve(web_app(web_root), scenario)

    assert status == 404
    assert content_type.startswith("application/problem+json")
    body = json.loads(text)
    assert body["status"] == 404 and body["title"] == "Not Found" and body["type"].endswith("/not-found")


def test_get_app_directory_itself_is_404(web_root):
    async def scenario(client):
        return (await client.get("/app/pages")).status

    assert serve(web_app(web_root), scenario) == 404


@pytest.mark.filterwarnings("ignore:returning HTTPException object is deprecated")
def test_public_app_serves_web_app_before_api_catch_all_which_keeps_other_paths(web_root):
    stack = LocalStack(LocalSettings(web_root=web_root))  # not started: no gateway, so API paths answer 404

    async def scenario(client):
        index, script = await client.get("/"), await client.get("/app/main.js")
        api = await client.get("/campaigns")
        return (index.status, await index.read(), script.headers["Content-Type"], api.status,
                index.headers.get("X-Correlation-Id"))

    index_status, index_body, script_type, api_status, correlation_id = serve(stack._public_app(), scenario)

    assert (index_status, index_body) == (200, FILES["index.html"][0])
    assert script_type == "text/javascript; charset=utf-8"
    assert api_status == 404  # reached the API route (nothing serves it in this unstarted stack)
    assert correlation_id  # the public app's middleware stamps the web app's answers too


def test_banner_names_web_app_url():
    stack = LocalStack(LocalSettings(port=18123))

    assert "web app       http://127.0.0.1:18123/" in stack._banner()


def test_parameter_overrides_point_web_app_url_at_own_port_unless_overridden(tmp_path):
    missing = tmp_path / "none.json"

    assert LocalSettings(port=18123, parameters_file=missing).parameter_overrides()["WebAppUrl"] == \
        "http://127.0.0.1:18123"
    assert LocalSettings(port=18123, parameters_file=missing, extra_parameters="WebAppUrl=https://app.example.org"
                         ).parameter_overrides()["WebAppUrl"] == "https://app.example.org"
