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
        """Defaults, overridden by ACSE_KG_ADMIN_TOKEN / ACSE_KG_QUERY_TIMEOUT / ACSE_KG_MAX_RESULT_BYTES."""
        return cls(
            admin_token=os.environ.get("ACSE_KG_ADMIN_TOKEN") or None,
            query_timeout=float(os.environ.get("ACSE_KG_QUERY_TIMEOUT", "10")),
            max_result_bytes=int(os.environ.get("ACSE_KG_MAX_RESULT_BYTES", "50000000")),
            query_workers=int(os.environ.get("ACSE_KG_QUERY_WORKERS", "2")),
        )
