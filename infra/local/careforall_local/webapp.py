"""The web app's static files on the local gateway's port: `GET /` is web/index.html, `GET /app/{path}` a file
under web/app/. Plain files, nothing is built; registered before the API's catch-all route, which keeps every
other path. Deployed, the same files sit in S3 behind CloudFront (web/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

# Only these kinds of file are served; anything else under web/app/ answers 404 like a missing file.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# The app loads scripts and styles from its own origin only, and talks to the API and /ws on the same origin.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                           "form-action 'self'")


class WebApp:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.app_dir = self.root / "app"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/app/{path:.+}", self.asset)

    async def index(self, _: web.Request) -> web.StreamResponse:
        return self._file(self.root / "index.html", self.root)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        return self._file(self.app_dir / request.match_info["path"], self.app_dir)

    def _file(self, path: Path, inside: Path) -> web.StreamResponse:
        relative = path.relative_to(inside) if path.is_relative_to(inside) else None
        if relative is None or any(part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\0" in part
                                   for part in relative.parts):
            return not_found(path.name)
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return not_found(path.name)
        content_type = CONTENT_TYPES.get(resolved.suffix.lower())
        if not resolved.is_relative_to(inside) or not resolved.is_file() or content_type is None:
            return not_found(path.name)
        headers = {"Content-Type": content_type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return web.Response(body=resolved.read_bytes(), headers=headers)


def not_found(name: str) -> web.Response:
    body = {"type": "https://careforall.org/problems/not-found", "title": "Not Found", "status": 404,
            "detail": f"No such file of the web app: {name or '/'}"}
    return web.Response(status=404, text=json.dumps(body), content_type="application/problem+json")
