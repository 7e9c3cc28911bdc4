"""The application factory: one app over one store."""

from __future__ import annotations

from fastapi import FastAPI

from acse_kg import __version__
from acse_kg.store import GraphStore, open_store

from . import ctgov, linked_data, match, pages, sparql


def create_app(store: GraphStore | None = None) -> FastAPI:
    app = FastAPI(title="acse-kg registry", version=__version__)
    app.state.store = store if store is not None else open_store()
    for module in (sparql, match, ctgov, pages, linked_data):
        app.include_router(module.router)
    return app
