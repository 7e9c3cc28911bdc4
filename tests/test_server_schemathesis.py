"""Property-based run over the app's OpenAPI: no generated request makes the server fail (5xx)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from acse_kg.api.app import create_app
from acse_kg.api.settings import ServerSettings
from acse_kg.store import open_store


@schemathesis.serializer("application/sparql-query", "application/sparql-update", "application/x-ndjson")
def _sparql_text(ctx: object, value: object) -> bytes:
    """SPARQL bodies and JSON lines (the batch routes' example) are plain text: send strings as UTF-8."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode()


app = create_app(open_store("memory"), ServerSettings(query_workers=1, query_timeout=5.0))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_from_the_openapi_makes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
