"""Server settings: what an operator may change when starting ``acse-kg serve``.

One object, read from (highest priority first) the ``acse-kg serve`` flags, the
environment (``ACSE_KG_<FIELD>``, e.g. ``ACSE_KG_QUERY_TIMEOUT``), a TOML file
(``--settings FILE`` or ``ACSE_KG_SETTINGS_FILE``) and the defaults below. The
admin token may come from a file (``admin_token_file``) so that it never shows
in ``ps`` or a shell history.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ..matching.engine import COMPILED_KEPT

#: The environment variable naming a TOML settings file.
SETTINGS_FILE_ENV = "ACSE_KG_SETTINGS_FILE"

#: Routes with a body of their own size; every other request may carry at most ``max_other_body``.
_BODY_ROUTES = {
    "/sparql": "max_sparql_body",
    "/match": "max_match_body",
    "/match/trials": "max_match_body",
    "/match/form": "max_match_body",
    "/match/batch": "max_batch_body",
    "/match/trials/batch": "max_batch_body",
    "/api/v2/studies": "max_import_body",
    "/api/v2/studies/bulk": "max_bulk_body",
}


class SettingsError(ValueError):
    """A setting has a value the server cannot run with; the message names it."""


class ServerSettings(BaseSettings):
    """Limits and secrets of one running server: a budget for every request.

    ``admin_token`` is None on a public server: SPARQL Update, imports and the
    on-demand reasoner are then refused outright.
    """

    model_config = SettingsConfigDict(env_prefix="ACSE_KG_", frozen=True, extra="forbid")

    admin_token: str | None = Field(None, description="Bearer token for SPARQL Update, imports and the reasoner.")
    admin_token_file: Path | None = Field(None, description="A file holding the admin token (first line).")
    query_timeout: float = Field(10.0, gt=0, description="Seconds a /sparql query may run before it is stopped.")
    reasoner_budget: float = Field(
        120.0, gt=0, description="Seconds HermiT may take for one request (POST /match?engine=owl, GET /overlaps; "
        "beyond: 504).")
    max_result_bytes: int = Field(50_000_000, ge=1, description="Largest /sparql answer, in bytes.")
    query_workers: int = Field(2, ge=1, description="Query processes answering /sparql queries at once.")
    quick_query_seconds: float = Field(
        0.1, ge=0, description="A /sparql request that finished within this many seconds in a query process runs "
        "in a thread the next time, while the store is unchanged (0: every query in a process).")
    inline_query_seconds: float = Field(
        0.005, ge=0, description="A quick /sparql request that took at most this many seconds runs on the event "
        "loop itself when no other query is running (no hop to a thread); 0: always in a thread.")
    worker_memory_bytes: int = Field(
        1 << 30, ge=0, description="Memory a query process may allocate beyond the server's own "
        "(RLIMIT_AS over its size at the fork); 0: no limit.")
    queries_per_client: int | None = Field(
        None, ge=0,
        description="/sparql queries one client address may have running at once (beyond: 429); "
        "0: no limit; default: one less than the workers, so that no client holds them all.")
    max_header_bytes: int = Field(65_536, ge=1024, description="Largest request line plus headers (beyond: 431).")
    max_sparql_body: int = Field(262_144, ge=1, description="Largest body of POST /sparql (beyond: 413).")
    max_match_body: int = Field(1_000_000, ge=1, description="Largest body of POST /match, /match/trials and /match/form.")
    max_batch_body: int = Field(20_000_000, ge=1, description="Largest body of POST /match/batch and /match/trials/batch.")
    max_import_body: int = Field(5_000_000, ge=1, description="Largest body of POST /api/v2/studies.")
    max_bulk_body: int = Field(
        2_000_000_000, ge=1, description="Largest body of POST /api/v2/studies/bulk (spooled to a temporary file).")
    bulk_jobs: int | None = Field(
        None, ge=0, description="Worker processes mapping the records of a bulk import (default: one per CPU; "
        "0: in the server process).")
    max_other_body: int = Field(65_536, ge=0, description="Largest body of any other request.")
    cors_origins: list[str] = Field(
        ["*"], description="Origins allowed to call /sparql from a browser (CORS); [] turns CORS off.")
    access_log: bool = Field(True, description="Log one line per request (logger acse_kg.access).")
    warm_up: bool = Field(
        True, description="At start-up, read the matching vocabulary and compile every matchable study in a "
        "background thread (GET /match/status says how far it got), so the first POST /match/trials does not.")
    warm_up_max_studies: int = Field(
        5_000, ge=0, description="The most studies the warm-up compiles (memory: about 0.26 MB each at 1,000 "
        "structured trials; never more than matcher_max_studies); beyond it the warm-up stops, says so, and the "
        "rest compile on request.")
    matcher_max_studies: int = Field(
        COMPILED_KEPT, ge=1, description="The most compiled studies matching keeps in memory, the most recently "
        "used (about 0.26 MB each at 1,000 structured trials); a study evicted is compiled again when a profile "
        "next reaches it.")

    @model_validator(mode="after")
    def _token_from_file(self) -> ServerSettings:
        if self.admin_token_file is not None and self.admin_token is None:
            try:
                token = self.admin_token_file.read_text(encoding="utf-8").strip().splitlines()
            except OSError as exc:
                raise SettingsError(f"admin_token_file: cannot read {self.admin_token_file}: {exc.strerror}") from None
            if not token or not token[0].strip():
                raise SettingsError(f"admin_token_file: {self.admin_token_file} is empty")
            object.__setattr__(self, "admin_token", token[0].strip())
        if self.admin_token is not None and not self.admin_token.strip():
            object.__setattr__(self, "admin_token", None)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        file = os.environ.get(SETTINGS_FILE_ENV)
        if file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(file)))
        return tuple(sources)

    @classmethod
    def from_env(cls) -> ServerSettings:
        """The defaults, overridden by the settings file and the environment (as ``acse-kg serve`` does)."""
        return cls()

    @classmethod
    def load(cls, file: Path | None = None, **flags: Any) -> ServerSettings:
        """Settings from flags (those not None), the environment, then ``file`` (or ACSE_KG_SETTINGS_FILE)."""
        given = {k: v for k, v in flags.items() if v is not None}
        if file is None:
            return cls(**given)
        if not file.is_file():
            raise SettingsError(f"settings file {file} does not exist")
        previous = os.environ.get(SETTINGS_FILE_ENV)
        os.environ[SETTINGS_FILE_ENV] = str(file)
        try:
            return cls(**given)
        finally:
            if previous is None:
                del os.environ[SETTINGS_FILE_ENV]
            else:
                os.environ[SETTINGS_FILE_ENV] = previous

    @property
    def per_client_limit(self) -> int:
        """Queries one client may run at once; 0 for no limit."""
        if self.queries_per_client is not None:
            return self.queries_per_client
        return max(1, self.query_workers - 1)

    def body_limit(self, path: str) -> int:
        """The largest body, in bytes, accepted on ``path``."""
        field = _BODY_ROUTES.get(path.rstrip("/") or "/")
        return int(getattr(self, field)) if field else self.max_other_body


#: The environment variable that sets each setting (pydantic-settings reads them; listed for the CLI's help).
ENV = {name: "ACSE_KG_" + name.upper() for name in ServerSettings.model_fields}
