"""Pages served by cs_backend: `GET /` (the demo website with the chat widget), `GET /console` (the agent
console, a shell whose script reads everything through the API) and `/static/*` (their assets)."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from aiohttp import web

from cs_backend.api.registry import PUBLIC
from cs_backend.app_keys import ROUTE_ACCESS

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
PAGE_TEMPLATE = Template((WEB_DIR / "templates" / "index.html").read_text(encoding="utf-8"))
# Static: the console holds no data of its own; its script signs in and reads through the API.
# Only its own script and styles run, it talks only to this site (the API and its websocket), and no other
# site may frame it (clickjacking of its buttons).
CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
CONSOLE_PAGE = (WEB_DIR / "templates" / "console.html").read_text(encoding="utf-8")


def render_index(rasa_url: str) -> str:
    # The Rasa URL comes from configuration, but it still lands in an HTML attribute: escape it.
    return PAGE_TEMPLATE.substitute(rasa_url=html.escape(rasa_url, quote=True))


def setup_web(app: web.Application, *, rasa_url: str) -> None:
    """Serve the demo page, whose widget connects to the Rasa server's socket.io channel at `rasa_url`."""
    page = render_index(rasa_url)

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def console(_: web.Request) -> web.Response:
        return web.Response(
            text=CONSOLE_PAGE,
            content_type="text/html",
            headers={"Cache-Control": "no-cache", "Content-Security-Policy": CONSOLE_POLICY},
        )

    page_resource = app.router.add_resource("/", name="index")
    page_resource.add_route("GET", index)
    page_resource.add_route("HEAD", index)
    console_resource = app.router.add_resource("/console", name="console")
    console_resource.add_route("GET", console)
    console_resource.add_route("HEAD", console)
    static = app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
    # Public on purpose: the pages and their files are what a visitor's browser loads (the console's data
    # is behind the API's sign-in).
    for route in (*page_resource, *console_resource, *static):
        app[ROUTE_ACCESS][route] = PUBLIC
