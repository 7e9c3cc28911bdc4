"""The store the app serves, shared by every router through FastAPI's dependency injection."""

from __future__ import annotations

from fastapi import Request

from acse_kg.store import GraphStore


def get_store(request: Request) -> GraphStore:
    return request.app.state.store
