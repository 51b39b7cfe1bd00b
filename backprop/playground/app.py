"""The playground's web app (Starlette): the page, its static files and a small JSON API.

Routes (every answer is JSON unless said otherwise; an error is ``{"error": message}``):

==========================================  ==========================================================
``GET /``                                    the page (``static/index.html``)
``GET /static/...``                          its script and style sheet, from the package
``GET /api/options``                         the choices the page offers, read from the library
``POST /api/csv``                            ``{"csv": text}`` → the upload's columns
``POST /api/sessions``                       ``{"settings": {...}, "csv": text?}`` → a new run (201)
``GET /api/sessions/{id}``                   the run's description and state
``POST /api/sessions/{id}/train``            ``{"epochs": k}`` → trains up to k epochs, then the state
``POST /api/sessions/{id}/trace``            ``{"split": "train", "index": i}`` → ``bp.trace`` of one example
``POST /api/sessions/{id}/apply``            the same example → one update W ← W − α ∂J/∂W, then the state
``GET /api/sessions/{id}/model.safetensors`` the model file (``backprop predict`` reads it)
==========================================  ==========================================================

Status codes: 400 for a body that is not a JSON object, 413 for a body over the limit, 422
for a value the playground cannot use (the message names it), 404 for an unknown session
(the store forgets the least recently used ones), 409 for what the run's state does not
allow (stepping through batch normalisation, saving NaN weights).
"""

from __future__ import annotations

import json
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from backprop.playground.data import MAX_CSV_BYTES, read_csv_columns
from backprop.playground.session import MAX_EPOCHS_PER_REQUEST, Session, SessionStore, UnavailableError
from backprop.playground.settings import SettingsError, options, parse_settings

__all__ = ["create_app", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = MAX_CSV_BYTES + 64 * 1024  # a CSV upload and its settings


class RequestError(Exception):
    """A request the API refuses: its status code and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def _json_object(request: Request, allowed: tuple) -> dict:
    """The body as a JSON object with only ``allowed`` keys; read up to MAX_BODY_BYTES."""
    body, size = bytearray(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
        body.extend(chunk)
    if not body.strip():
        return {}
    try:
        data = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RequestError(400, f"the request body must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise RequestError(422, f"unknown field(s) {unknown[:5]}; this request takes {list(allowed)}")
    return data


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(max_sessions: int = 16) -> Starlette:
    """The Starlette app, with its own store of at most ``max_sessions`` sessions."""
    store = SessionStore(max_sessions)

    def session_of(request: Request) -> Session:
        session = store.get(request.path_params["session_id"])
        if session is None:
            raise RequestError(404, "no such session (the server keeps the most recent ones only): "
                               "reload the page to start again")
        return session

    async def page(request: Request) -> HTMLResponse:
        html = resources.files("backprop.playground").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html)

    async def get_options(request: Request) -> JSONResponse:
        return JSONResponse(options())

    async def csv_columns(request: Request) -> JSONResponse:
        data = await _json_object(request, ("csv",))
        return JSONResponse(await run_in_threadpool(read_csv_columns, data.get("csv")))

    async def create_session(request: Request) -> JSONResponse:
        data = await _json_object(request, ("settings", "csv"))
        settings = parse_settings(data.get("settings", {}))
        csv_text = data.get("csv")
        if csv_text is not None and not isinstance(csv_text, str):
            raise RequestError(422, f"csv must be the text of a CSV file, got {type(csv_text).__name__}")

        def build():
            session = Session(settings, csv_text)
            store.add(session)
            with session.lock:
                return {**session.describe(), "state": session.state()}

        return JSONResponse(await run_in_threadpool(build), status_code=201)

    async def get_session(request: Request) -> JSONResponse:
        session = session_of(request)

        def read():
            with session.lock:
                return {**session.describe(), "state": session.state()}

        return JSONResponse(await run_in_threadpool(read))

    async def train(request: Request) -> JSONResponse:
        session = session_of(request)
        data = await _json_object(request, ("epochs",))
        epochs = data.get("epochs", 1)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS_PER_REQUEST:
            raise RequestError(422, f"epochs must be an integer from 1 to {MAX_EPOCHS_PER_REQUEST}, got {epochs!r}")

        def run():
            with session.lock:
                session.train(epochs)
                return session.state()

        return JSONResponse(await run_in_threadpool(run))

    async def example_request(request: Request):
        data = await _json_object(request, ("split", "index"))
        return data.get("split", "train"), data.get("index", 0)

    async def trace(request: Request) -> JSONResponse:
        session = session_of(request)
        split, index = await example_request(request)

        def run():
            with session.lock:
                return session.trace(split, index)

        return JSONResponse(await run_in_threadpool(run))

    async def apply(request: Request) -> JSONResponse:
        session = session_of(request)
        split, index = await example_request(request)

        def run():
            with session.lock:
                traced = session.apply_step(split, index)
                return {"trace": traced, "state": session.state()}

        return JSONResponse(await run_in_threadpool(run))

    async def model_file(request: Request) -> Response:
        session = session_of(request)

        def run():
            with session.lock:
                return session.model_file()

        content = await run_in_threadpool(run)
        return Response(content, media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="playground.safetensors"'})

    async def request_error(request: Request, error: RequestError) -> JSONResponse:
        return _error(error.status, str(error))

    async def settings_error(request: Request, error: SettingsError) -> JSONResponse:
        return _error(422, str(error))

    async def unavailable(request: Request, error: UnavailableError) -> JSONResponse:
        return _error(409, str(error))

    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        return _error(500, f"{type(error).__name__}: {error}")

    routes = [
        Route("/", page),
        Route("/api/options", get_options),
        Route("/api/csv", csv_columns, methods=["POST"]),
        Route("/api/sessions", create_session, methods=["POST"]),
        Route("/api/sessions/{session_id}", get_session),
        Route("/api/sessions/{session_id}/train", train, methods=["POST"]),
        Route("/api/sessions/{session_id}/trace", trace, methods=["POST"]),
        Route("/api/sessions/{session_id}/apply", apply, methods=["POST"]),
        Route("/api/sessions/{session_id}/model.safetensors", model_file),
        Mount("/static", StaticFiles(packages=[("backprop.playground", "static")]), name="static"),
    ]
    # The library refuses bad input with a ValueError naming the problem: 422 like our own checks.
    handlers = {RequestError: request_error, SettingsError: settings_error, ValueError: settings_error,
                UnavailableError: unavailable, HTTPException: http_error, Exception: unexpected}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.sessions = store
    return app
