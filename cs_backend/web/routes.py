"""Pages served by cs_backend: `GET /` (the demo website with the chat widget), `GET /console` (the agent
console) and `GET /dashboard` (the support metrics and customer health), shells whose scripts sign in and
read everything through the API, and `/static/*` (their assets)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template

from aiohttp import web
from aiohttp.typedefs import Handler

from cs_backend.api.registry import PUBLIC
from cs_backend.app_keys import ROUTE_ACCESS
from cs_backend.identities.website_hash import user_hash

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
PAGE_TEMPLATE = Template((WEB_DIR / "templates" / "index.html").read_text(encoding="utf-8"))
# Static: the staff pages (console, dashboard) hold no data of their own; their scripts sign in and read
# through the API. Only their own scripts and styles run, they talk only to this site (the API, its
# websocket and event stream), and no other site may frame them (clickjacking of their buttons).
STAFF_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
STAFF_PAGES = {
    "console": (WEB_DIR / "templates" / "console.html").read_text(encoding="utf-8"),
    "dashboard": (WEB_DIR / "templates" / "dashboard.html").read_text(encoding="utf-8"),
}


DEMO_ACCOUNT_TEMPLATE = Template((WEB_DIR / "templates" / "signed_in.html").read_text(encoding="utf-8"))


def render_index(rasa_url: str, account: str = "") -> str:
    # The Rasa URL comes from configuration, but it still lands in an HTML attribute: escape it.
    return PAGE_TEMPLATE.substitute(rasa_url=html.escape(rasa_url, quote=True), account=account)


def signed_in_account(website_secret: str, user_id: str) -> str:
    """The signed-in part of the demo page: the widget's config with the user's id and HMAC (made here, on the
    site's server, as Intercom's and Chatwoot's identity verification asks), and the "link Slack/Telegram"
    box that asks cs_backend for a link code with the same proof."""
    identity = {"userId": user_id, "userHash": user_hash(website_secret, user_id)}
    # JSON inside a <script>: "<" escaped so no value can close the element.
    config = json.dumps(identity).replace("<", "\\u003c")
    return DEMO_ACCOUNT_TEMPLATE.substitute(config=config, user=html.escape(user_id))


def setup_web(
    app: web.Application,
    *,
    rasa_url: str,
    website_secret: str | None = None,
    demo_user: str | None = None,
) -> None:
    """Serve the demo page, whose widget connects to the Rasa server's socket.io channel at `rasa_url`, and,
    with `website_secret` and `demo_user` both set, its variant with that user signed in (GET
    /demo/signed-in): what a real site's server does for its users. Anyone who opens it is that user, so it
    exists only where DEMO_WEBSITE_USER says so (the launcher's demo, with a secret generated for the run)."""
    page = render_index(rasa_url)
    pages = [("/", "index", page)]
    if website_secret and demo_user:
        signed_in = render_index(rasa_url, signed_in_account(website_secret, demo_user))
        pages.append(("/demo/signed-in", "signed_in", signed_in))

    static = app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
    # Public on purpose: the pages and their files are what a visitor's browser loads (the staff pages'
    # data is behind the API's sign-in).
    for route in static:
        app[ROUTE_ACCESS][route] = PUBLIC
    for path, name, text in pages:
        page_resource = app.router.add_resource(path, name=name)
        handler = demo_page_handler(text)
        for method in ("GET", "HEAD"):
            app[ROUTE_ACCESS][page_resource.add_route(method, handler)] = PUBLIC
    for name, text in STAFF_PAGES.items():
        resource = app.router.add_resource(f"/{name}", name=name)
        handler = staff_page_handler(text)
        for method in ("GET", "HEAD"):
            app[ROUTE_ACCESS][resource.add_route(method, handler)] = PUBLIC


def demo_page_handler(text: str) -> Handler:
    async def demo_page(_: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-cache"})

    return demo_page


def staff_page_handler(text: str) -> Handler:
    async def staff_page(_: web.Request) -> web.Response:
        return web.Response(
            text=text,
            content_type="text/html",
            headers={"Cache-Control": "no-cache", "Content-Security-Policy": STAFF_PAGE_POLICY},
        )

    return staff_page
