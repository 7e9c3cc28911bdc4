"""Server settings: what an operator may change when starting ``acse-kg serve``."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSettings:
    """Limits and secrets of one running server.

    ``admin_token`` is None on a public server: SPARQL Update is then refused
    outright. ``query_workers`` processes answer /sparql queries; each query has
    ``query_timeout`` seconds and ``max_result_bytes`` of serialised answer.
    """

    admin_token: str | None = None
    query_timeout: float = 10.0
    max_result_bytes: int = 50_000_000
    query_workers: int = 2

    @classmethod
    def from_env(cls) -> "ServerSettings":
        """The defaults above, overridden by the environment variables in ENV (as ``acse-kg serve`` does)."""
        env = os.environ
        return cls(
            admin_token=env.get(ENV["admin_token"]) or None,
            query_timeout=float(env.get(ENV["query_timeout"], cls.query_timeout)),
            max_result_bytes=int(env.get(ENV["max_result_bytes"], cls.max_result_bytes)),
            query_workers=int(env.get(ENV["query_workers"], cls.query_workers)),
        )


#: The environment variable that sets each setting, for the app and for ``acse-kg serve``'s options.
ENV = {
    "admin_token": "ACSE_KG_ADMIN_TOKEN",
    "query_timeout": "ACSE_KG_QUERY_TIMEOUT",
    "max_result_bytes": "ACSE_KG_MAX_RESULT_BYTES",
    "query_workers": "ACSE_KG_QUERY_WORKERS",
}
