"""Routes of the demo website: `GET /` (the page with the chat widget) and `/static/*` (widget assets)."""

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


def render_index(rasa_url: str) -> str:
    # The Rasa URL comes from configuration, but it still lands in an HTML attribute: escape it.
    return PAGE_TEMPLATE.substitute(rasa_url=html.escape(rasa_url, quote=True))


def setup_web(app: web.Application, *, rasa_url: str) -> None:
    """Serve the demo page, whose widget connects to the Rasa server's socket.io channel at `rasa_url`."""
    page = render_index(rasa_url)

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})

    page_resource = app.router.add_resource("/", name="index")
    page_resource.add_route("GET", index)
    page_resource.add_route("HEAD", index)
    static = app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
    # Public on purpose: the page and the widget's files are what a visitor's browser loads.
    for route in (*page_resource, *static):
        app[ROUTE_ACCESS][route] = PUBLIC
