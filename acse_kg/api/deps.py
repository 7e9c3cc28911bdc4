"""What every router shares through FastAPI's dependency injection: the store, the admin check."""

from __future__ import annotations

import hmac

from fastapi import Request

from acse_kg.store import GraphStore

from .errors import ApiError


def get_store(request: Request) -> GraphStore:
    return request.app.state.store


def require_admin(request: Request, what: str) -> None:
    """Raise ApiError unless the request carries the server's admin token (403 when the server has none).

    ``what`` names the privileged operation in the message ("the OWL reasoner").
    """
    settings = getattr(request.app.state, "settings", None)
    token = getattr(settings, "admin_token", None)
    if not token:
        raise ApiError(f"{what} is disabled on this server (no admin token configured)", status=403)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(f"{what} needs the admin token: Authorization: Bearer <token>", status=401,
                       headers={"WWW-Authenticate": 'Bearer realm="acse-kg"'})
