"""`python -m bot.action_server`: rasa-sdk's action server, serving only callers that present its token.

Rasa sends the token as the `token` query parameter of every call (endpoints.yml's `action_endpoint`:
`token: ${ACTION_SERVER_TOKEN}`, rasa.utils.endpoints.EndpointConfig), but rasa-sdk 3.6 checks no credential.
So this module runs rasa-sdk's app (`rasa_sdk.endpoint.create_app`, the `actions` package) with a request
middleware in front of every route but `GET /health`: a missing or wrong token gets 401 with a JSON error,
and no action runs. The token comes from ACTION_SERVER_TOKEN (bot/tokens.py; the launcher sets it).

Unlike `rasa run actions`, it allows no CORS origin (only Rasa calls it, never a browser page: a preflight
gets an empty answer without any allowance from rasa-sdk's CORS extension, which runs first), binds to
127.0.0.1 unless told otherwise (`--host`), and keeps Sanic's access log off, since that would record the
token in each request's query string.

It also runs the outbox's replayer (actions/api/replayer.py) from its start to its stop, so writes to
cs_backend that were not confirmed, also before a restart, are delivered; serves `GET /metrics` (Prometheus
text, actions/api/metrics.py; token required like every route but /health); and binds each call from Rasa
to its request id and sender id (actions/api/request_context.py): every log line of the call shows them, and
every request to cs_backend carries the request id as `X-Request-ID`.
"""

from __future__ import annotations

import argparse
import hmac
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import coloredlogs
from rasa_sdk import endpoint, utils
from rasa_sdk.constants import DEFAULT_SERVER_PORT
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.api import metrics
from actions.api.outbox import Outbox, default_outbox
from actions.api.replayer import OutboxReplayer
from actions.api.request_context import LOG_FORMAT, bind_action_call, install_log_context
from bot.tokens import required_token
from log_redaction import install_log_redaction

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
# The query parameter Rasa's EndpointConfig puts the token in (its `token_name` default).
TOKEN_PARAMETER = "token"
# Answered without the token: the launcher's and a load balancer's health check.
OPEN_PATHS = frozenset({"/health"})
UNAUTHORIZED_MESSAGE = (
    f"This action server serves Rasa only: the `{TOKEN_PARAMETER}` query parameter is missing or wrong."
)

TokenCheck = Callable[[Request], Coroutine[Any, Any, HTTPResponse | None]]


def token_check(token: str) -> TokenCheck:
    """A Sanic request middleware that answers 401 to any request but OPEN_PATHS without `token`."""
    expected = token.encode()

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        provided = request.args.get(TOKEN_PARAMETER, "")
        # Constant time, so the answer's timing does not tell how much of a guess was right.
        if hmac.compare_digest(provided.encode(), expected):
            return None
        logger.warning("refused %s %s from %s: no valid token", request.method, request.path, request.ip)
        return response.json({"error": UNAUTHORIZED_MESSAGE}, status=401)

    return require_token


async def bind_request_context(request: Request) -> None:
    """A call to run an action: its request id (the message's id) and sender id for logs and cs_backend."""
    if request.method == "POST" and request.path == "/webhook":
        try:
            payload = request.json
        except Exception:  # rasa-sdk answers a body that is not JSON itself; the ids are then new ones
            payload = None
        bind_action_call(payload)


def create_app(token: str, actions_package: str = "actions", outbox: Outbox | None = None) -> Sanic:
    """rasa-sdk's app running `actions_package`, behind the token check, with the outbox's replayer
    (`outbox`, default: ACTIONS_OUTBOX_PATH's) and GET /metrics."""
    if not token:
        raise ValueError("the action server needs a token")
    app = endpoint.create_app(actions_package, cors_origins=None)
    app.register_middleware(token_check(token), "request")
    app.register_middleware(bind_request_context, "request")
    kept = outbox or default_outbox()
    replayer = OutboxReplayer(kept)

    async def start_replayer(app: Sanic, loop: Any) -> None:
        replayer.start()

    async def stop_replayer(app: Sanic, loop: Any) -> None:
        await replayer.stop()

    app.register_listener(start_replayer, "after_server_start")
    app.register_listener(stop_replayer, "before_server_stop")

    async def serve_metrics(request: Request) -> HTTPResponse:
        return response.raw(await metrics.render(kept), content_type=metrics.CONTENT_TYPE)

    app.add_route(serve_metrics, "/metrics", methods=["GET"], name="metrics")
    return app


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actions", default="actions", help="package of the actions (default: actions)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_SERVER_PORT, help="port (default: 5055)")
    utils.add_logging_level_option_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    token = required_token(TOKEN_VARIABLE)
    # Every log record, rasa-sdk's and Sanic's too, with emails, phone and card numbers replaced, and the
    # request id and sender id of the call it belongs to.
    install_log_redaction()
    install_log_context()
    # The logging `rasa run actions` sets up (colored records at the chosen level, Sanic's own at
    # LOG_LEVEL_LIBRARIES, ERROR by default), with the ids in each line.
    coloredlogs.install(level=arguments.loglevel, use_chroot=False, fmt=LOG_FORMAT)
    utils.update_sanic_log_level()
    app = create_app(token, arguments.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    logger.info("action server on http://%s:%s (token required)", arguments.host, arguments.port)
    app.run(arguments.host, arguments.port, workers=utils.number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
