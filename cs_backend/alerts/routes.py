"""HTTP routes of /api/tasks."""

from __future__ import annotations

from aiohttp import web

from cs_backend.alerts import service
from cs_backend.alerts.schemas import TaskOut, TaskPage, TaskQuery
from cs_backend.api.registry import SERVICE_AND_STAFF, STAFF, ApiRoute, Response
from cs_backend.api.requests import parse_id, parse_query
from cs_backend.api.responses import model_response
from cs_backend.app_keys import CURRENT_ACCOUNT, DATABASE, LIVE_EVENTS
from cs_backend.live_events import publish_safely


async def list_tasks(request: web.Request) -> web.Response:
    query = parse_query(request.query, TaskQuery)
    page = await service.list_tasks(request.app[DATABASE], query)
    return model_response(TaskPage, page)


async def mark_done(request: web.Request) -> web.Response:
    task_id = parse_id(request, "task")
    task, changed = await service.mark_done(request.app[DATABASE], task_id, request[CURRENT_ACCOUNT].id)
    if changed:
        await publish_safely(request.app[LIVE_EVENTS], "task.done", service.task_payload(task))
    return model_response(TaskOut, task)


ROUTES = [
    ApiRoute(
        "GET",
        "/api/tasks",
        list_tasks,
        summary="List follow-up tasks raised by alerts, newest first",
        tag="tasks",
        query=TaskQuery,
        responses={200: Response("A page of tasks.", TaskPage)},
        errors=(400,),
        access=SERVICE_AND_STAFF,
    ),
    ApiRoute(
        "POST",
        "/api/tasks/{id}/done",
        mark_done,
        summary="Mark a follow-up task done",
        tag="tasks",
        description="Records who and when, and publishes task.done. A task already done is answered as it "
        "is (the first completion stands).",
        responses={200: Response("The task, done.", TaskOut)},
        errors=(404,),
        access=STAFF,
    ),
]
