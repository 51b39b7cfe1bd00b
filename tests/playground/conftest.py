"""Fixtures for the playground: a TestClient on a fresh app, and sessions made through the API."""

from __future__ import annotations

import importlib.util
import warnings

import pytest

pytest.importorskip("pandas")
pytest.importorskip("starlette", reason="the playground extra (starlette) is not installed")
if not any(importlib.util.find_spec(name) for name in ("httpx2", "httpx")):
    pytest.skip("Starlette's TestClient needs httpx (the dev extra)", allow_module_level=True)

with warnings.catch_warnings():
    # Starlette >= 1 prefers the httpx2 package and says so; httpx works with every version.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient  # noqa: E402

from backprop.playground import create_app  # noqa: E402


@pytest.fixture
def client():
    with TestClient(create_app(max_sessions=4), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def make_session(client):
    """``make_session(**settings)`` → the JSON of a new session (asserts it was created)."""

    def make(csv=None, **settings):
        body = {"settings": settings}
        if csv is not None:
            body["csv"] = csv
        response = client.post("/api/sessions", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def live_session(client):
    """``live_session(id)`` → the server's Session behind an id, to compare the API's numbers with the library's."""
    return client.app.state.sessions.get
