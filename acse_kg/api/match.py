"""POST /match and /match/batch: the matching contract over HTTP.

The body is read as bytes and validated by the same code as the CLI. A body
that is not JSON is 400; a profile that breaks the contract is 422 with every
offending field named; nothing is stored. A batch answers item by item, as
the CLI batch does: 200 with one answer per profile in order, a bad profile's
answer being an error object (``{"id", "index", "error", "errors"}``) in
place of its result, so one bad profile does not lose the others' results. The matcher is built once per
store (the graph is read at build time), so a request only validates,
decides and serialises. The JSON Schemas of the profile and of the result,
and the JSON-LD context, are published beside the endpoints.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from acse_kg import patients
from acse_kg.derived import DerivedCache
from acse_kg.matching import shacl
from acse_kg.matching.engine import Matcher, RegistryMatcher, TrialNotFound, matcher_for, registry_matcher_for
from acse_kg.matching.profile import ProfileError, json_schema
from acse_kg.matching.profile_schema import ProfileSchemaError, profile_schema
from acse_kg.matching.result import result_schema, trials_result_schema
from acse_kg.matching.rules import GraphModelError
from acse_kg.namespaces import NCT_HINT, normalise_nct
from acse_kg.reasoning import ReasonerError

from .deps import get_store
from .reasoner import reasoner_problem
from .warm_up import OFF

router = APIRouter(tags=["matching"])
JSON = "application/json"
#: The shapes served are generated from the live graph, once per store version (~100s of ms each).
_shapes = DerivedCache()


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with its local $refs expanded, so it stands alone inside the OpenAPI document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in ("$defs", "$schema", "$id")}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_SCHEMA = json_schema()
_PROFILE_SCHEMA = _inline(_SCHEMA, _SCHEMA.get("$defs", {}))
_RESULT = result_schema()
_RESULT_SCHEMA = _inline(_RESULT, _RESULT.get("$defs", {}))
_FIELD_ERROR = {
    "type": "object",
    "required": ["field", "message"],
    "properties": {
        "index": {"type": "integer", "description": "position in the batch (POST /match/batch only)"},
        "id": {"description": "the profile's id when it could be read"},
        "field": {"type": ["string", "null"], "description": "dotted path of the offending field"},
        "message": {"type": "string"},
    },
}
_ITEM_ERROR = {
    "type": "object",
    "required": ["index", "error", "errors"],
    "description": "a batch item that breaks the contract, in place of its result",
    "properties": {
        "id": {"description": "the profile's id when it could be read"},
        "index": {"type": "integer", "description": "position in the batch"},
        "error": {"type": "object", "required": ["field", "message"], "description": "the first error",
                  "properties": {"field": {"type": ["string", "null"]}, "message": {"type": "string"}}},
        "errors": {"type": "array", "description": "every error of the profile, each with its field",
                   "items": {"type": "object", "required": ["field", "message"],
                             "properties": {"field": {"type": ["string", "null"]}, "message": {"type": "string"}}}},
    },
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body is not JSON (nor JSON lines, for a batch)",
          "content": {JSON: {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}}},
    422: {"description": "a profile breaks the contract: the offending field is named",
          "content": {JSON: {"schema": {"type": "object",
                                        "properties": {"detail": {"type": "array", "items": _FIELD_ERROR}}}}}},
}
_ONE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the match result", "content": {JSON: {"schema": _RESULT_SCHEMA}}}, **_ERRORS}
_BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "one answer per profile, in order: its match result, or an error object for a profile "
                         "that breaks the contract",
          "content": {JSON: {"schema": {"type": "array", "items": {"oneOf": [_RESULT_SCHEMA, _ITEM_ERROR]}}}}},
    400: _ERRORS[400]}
_TRIALS = trials_result_schema()
_TRIALS_SCHEMA = _inline(_TRIALS, _TRIALS.get("$defs", {}))
_TRIALS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "a v1 result per trial with a candidate cohort, best first",
          "content": {JSON: {"schema": _TRIALS_SCHEMA}}}, **_ERRORS}
_TRIALS_BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "one answer per profile, in order: its cross-trial result, or an error object for a "
                         "profile that breaks the contract",
          "content": {JSON: {"schema": {"type": "array", "items": {"oneOf": [_TRIALS_SCHEMA, _ITEM_ERROR]}}}}},
    400: _ERRORS[400]}
#: The example OpenAPI shows: a lung adenocarcinoma with a MET amplification (cohort 5 of NCT02034981).
_EXAMPLE_PROFILE: dict[str, Any] = {
    "id": "P-example", "age_years": 63, "sex": "female", "diagnosis": "LUAD",
    "alterations": [{"gene": "MET", "type": "amplification"}], "measurable_disease": True,
    "performance": {"ecog": 1},
}
_BODY_DOC = {"requestBody": {"required": True, "content": {JSON: {"schema": _PROFILE_SCHEMA,
                                                                  "example": _EXAMPLE_PROFILE}}}}
_BATCH_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"type": "array", "items": _PROFILE_SCHEMA},
                   "example": [_EXAMPLE_PROFILE, {**_EXAMPLE_PROFILE, "id": "P-example-2", "diagnosis": "COAD"}]},
            "application/x-ndjson": {"schema": {"type": "string", "description": "one profile a line"},
                                     "example": orjson.dumps(_EXAMPLE_PROFILE).decode() + "\n"},
        },
    }
}


def _json(status: int, body: Any) -> Response:
    try:
        data = orjson.dumps(body)
    except TypeError:  # a lone surrogate echoed from the caller's text: JSON can still escape it
        data = json.dumps(body, ensure_ascii=True).encode("ascii")
    return Response(data, status_code=status, media_type=JSON)


def _trial(request: Request) -> str | None:
    """``?trial=NCT…`` read as the registry reads it; BadTrial (400) when it is not an NCT number.

    Both engines read the parameter here, so that a malformed id is a 400 whichever engine is asked.
    """
    trial = request.query_params.get("trial")
    if trial is not None and normalise_nct(trial) is None:
        raise BadTrial(f"trial {trial!r} is not an NCT number ({NCT_HINT})")
    return normalise_nct(trial) if trial else None


def _matcher(request: Request) -> Matcher:
    """The matcher of the study named by ``?trial=NCT…`` (default: the registry's first study with cohorts)."""
    return matcher_for(get_store(request), _trial(request))


def _owl_answer(request: Request) -> Any:
    """``engine=owl``: HermiT classifies the profile within the server's reasoner budget (acse_kg.owl.classify)."""
    from acse_kg.owl.classify import owl_matcher_for

    budget = request.app.state.settings.reasoner_budget

    def answer(body: bytes) -> bytes:
        return owl_matcher_for(get_store(request), _trial(request)).match_json(body, budget=budget)
    return answer


def _registry(request: Request) -> RegistryMatcher:
    return registry_matcher_for(get_store(request))


def _invalid(errors: list[dict[str, Any]]) -> Response:
    return _json(422, {"detail": errors})


class BadTrial(ValueError):
    """``?trial=`` is not an NCT number: answered 400."""


class NotJSON(ValueError):
    """The body (or one of its lines) is not JSON: answered 400."""


def _loads(data: bytes) -> Any:
    """Parse JSON; NotJSON with the parser's reason when it is not.

    orjson refuses a few documents that are JSON all the same (integers beyond
    64 bits, numbers beyond a double); those are retried with the standard
    library, so that they reach validation and get a 422 naming the field.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
    try:
        return json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise NotJSON(reason) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _batch_items(body: bytes) -> list[Any]:
    """The profiles of a batch body: a JSON array, or JSON lines (one profile a line).

    A body that is one JSON document is taken whole (an array is the batch, an
    object is a batch of one, however it is laid out); otherwise every
    non-blank line must be a JSON document. An empty body is not JSON.
    """
    if not body.strip():
        raise NotJSON("the body is empty (expected a JSON array of profiles or JSON lines)")
    try:
        whole = _loads(body)
    except NotJSON:
        lines = body.splitlines()
        if len([x for x in lines if x.strip()]) < 2:
            raise
        items = []
        for n, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    items.append(_loads(line))
                except NotJSON as bad:
                    raise NotJSON(f"line {n}: {bad}") from None
        return items
    return whole if isinstance(whole, list) else [whole]


@router.post("/match", summary="Match one tumor profile against a trial's cohorts (?trial=NCT…)",
             openapi_extra=_BODY_DOC, responses=_ONE_RESPONSES)
async def match_one(request: Request) -> Response:
    """The body is parsed once, by the validator; only a refused body is read again by the JSON
    parser, to tell a body that is not JSON (400, the parser's reason) from one that breaks the
    contract (422, the field named). Whatever pydantic accepts is JSON (a property test compares)."""
    if request.query_params.get("engine") == "owl":
        return await _answer_one(request, _owl_answer(request))
    return await _answer_one(request, lambda body: _matcher(request).match_json(body))


@router.post("/match/trials", summary="Match one tumor profile against every trial of the registry",
             openapi_extra=_BODY_DOC, responses=_TRIALS_RESPONSES)
async def match_trials(request: Request) -> Response:
    """A v1 result per trial with a candidate cohort, best first; candidate trials come from the
    registry's gene index, so the cost grows with the trials a profile can enter, not the registry."""
    return await _answer_one(request, lambda body: _registry(request).match_all_json(body))


async def _answer_one(request: Request, answer: Any) -> Response:
    body = await request.body()
    store, content_type = get_store(request), request.headers.get("content-type")

    def convert_then_answer() -> bytes:
        # A Phenopacket or an mCODE Bundle becomes a profile first; what it could not carry joins the notes.
        profile, notes = patients.profile_bytes(store, body, content_type)
        return patients.add_notes(answer(profile), notes)

    try:
        # Conversion and matching are CPU work: off the event loop, so other requests are served meanwhile;
        # in one trip to the thread pool, not two (each trip is a wake-up of a worker and of the loop).
        return Response(await run_in_threadpool(convert_then_answer), media_type=JSON)
    except patients.PatientRecordError as exc:
        return _invalid([{"id": None, "field": None, "message": str(exc)}])
    except ProfileError as exc:
        refused = _invalid([{"id": exc.profile_id, **e} for e in exc.errors])
    except BadTrial as exc:
        return _json(400, {"detail": str(exc)})
    except TrialNotFound as exc:
        return _json(404, {"detail": str(exc)})
    except GraphModelError as exc:
        refused = _json(503, {"detail": f"the graph cannot be matched against: {exc}"})
    except ReasonerError as exc:  # engine=owl: out of time (504) or HermiT could not run (503)
        raise reasoner_problem(exc) from exc
    try:
        _loads(body)
    except NotJSON as exc:
        return _json(400, {"detail": f"body is not JSON: {exc}"})
    return refused


@router.post("/match/batch", summary="Match profiles given as a JSON array or JSON lines; results in order",
             description="Each profile is matched as by `POST /match`; a profile that breaks the contract gets "
                         "an error object in its place and the others are still answered.",
             openapi_extra=_BATCH_DOC, responses=_BATCH_RESPONSES)
async def match_batch(request: Request) -> Response:
    return await _answer_batch(request, lambda: _matcher(request).match)


@router.post("/match/trials/batch", summary="Match profiles against every trial; one cross-trial result each",
             description="Each profile is matched as by `POST /match/trials`; a profile that breaks the contract "
                         "gets an error object in its place and the others are still answered.",
             openapi_extra=_BATCH_DOC, responses=_TRIALS_BATCH_RESPONSES)
async def match_trials_batch(request: Request) -> Response:
    return await _answer_batch(request, lambda: _registry(request).match_all)


async def _answer_batch(request: Request, matcher: Any) -> Response:
    body = await request.body()
    try:
        items = _batch_items(body)
    except NotJSON as exc:
        return _json(400, {"detail": f"body is not a JSON array or JSON lines: {exc}"})
    try:
        match = matcher()
    except BadTrial as exc:
        return _json(400, {"detail": str(exc)})
    except TrialNotFound as exc:
        return _json(404, {"detail": str(exc)})
    except GraphModelError as exc:
        return _json(503, {"detail": f"the graph cannot be matched against: {exc}"})
    return await run_in_threadpool(_batch, match, items)


def _batch(match: Any, items: list[Any]) -> Response:
    """200 with one answer per item, in order: its result, or an error object in place of a bad profile."""
    answers: list[Any] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ProfileError(None, "a profile must be a JSON object")
            answers.append(match(item))
        except ProfileError as exc:
            answers.append({"id": exc.profile_id, "index": i, "error": exc.as_dict(), "errors": exc.errors})
    return _json(200, answers)


def _status_schema(states: list[str]) -> dict[str, Any]:
    return {
        "type": "object", "required": ["warm_up", "studies", "matchable", "failures", "seconds", "error"],
        "properties": {
            "warm_up": {"enum": states},
            "studies": {"type": "integer",
                        "description": "studies gone through so far (compiled, found unmatchable, or failed)"},
            "matchable": {"type": ["integer", "null"], "description": "the registry's matchable studies"},
            "failures": {"type": "integer", "description": "studies that could not be compiled (the last named in "
                                                           "error)"},
            "seconds": {"type": ["number", "null"], "description": "how long the warm-up took, once it ended"},
            "error": {"type": ["string", "null"]},
        },
    }


@router.get("/match/status", summary="How far the matcher's warm-up at start-up got (503 while it runs)",
            description="`warm_up`: `off` (the setting), `pending` (not started yet), `running`, `ready` (every "
            "matchable study gone through: compiled, found unmatchable, or counted in `failures`), `failed` "
            "(`error` says why; matching reads what it needs on request) or `stopped` (the server stopped first, "
            "the store kept changing, or the registry has more matchable studies than `warm_up_max_studies` or `matcher_max_studies`; "
            "`error` says which). 503 while `pending` or `running`, 200 otherwise: a readiness probe (or a "
            "benchmark) waits for 200 before the first match. The server answers every request meanwhile.",
            responses={200: {"content": {JSON: {"schema": _status_schema(["off", "ready", "failed", "stopped"])}}},
                       503: {"description": "the warm-up has not ended",
                             "content": {JSON: {"schema": _status_schema(["pending", "running"])}}}})
async def match_status(request: Request) -> Response:
    warm = getattr(request.app.state, "warm_up", None)
    if warm is None:
        return _json(200, OFF)
    return _json(503 if warm.busy else 200, warm.report())


@router.get("/match/schema", summary="JSON Schema of the tumor profile (generated from the graph's clinical variables)")
async def profile_json_schema(request: Request) -> Response:
    """Generated from the store's clinical variables, once per store version: a variable added to
    the graph is a field here after the write."""
    try:
        schema = profile_schema(get_store(request)).json_schema()
    except ProfileSchemaError as exc:
        return _json(503, {"detail": f"the graph's clinical variables make no profile: {exc}"})
    return Response(orjson.dumps(schema), media_type="application/schema+json")


@router.get("/match/result-schema", summary="JSON Schema of the match result",
            description="What `POST /match` answers: per cohort, the verdict, the deciding criteria, what is "
                        "missing and what to confirm.")
async def match_result_schema() -> Response:
    return Response(orjson.dumps(result_schema()), media_type="application/schema+json")


@router.get("/match/context", summary="JSON-LD context that makes a tumor profile RDF")
async def profile_context(request: Request) -> Response:
    """The alteration words of the store's graph (profile terms and synonyms), once per store version."""
    try:
        ctx = profile_schema(get_store(request)).context()
    except ProfileSchemaError as exc:
        return _json(503, {"detail": f"the graph's clinical variables make no profile: {exc}"})
    return Response(orjson.dumps(ctx), media_type="application/ld+json")


@router.get("/match/shapes", summary="The SHACL eligibility shapes (Turtle), generated from the criteria")
async def eligibility_shapes(request: Request) -> Response:
    """The shapes of the graph as it is now, not the committed file: after an import or an
    edit they carry the criteria that POST /match decides by."""
    store = get_store(request)
    try:
        turtle = _shapes.get(store, "eligibility-shapes", lambda: shacl.generate(store).serialize(format="turtle"))
    except GraphModelError as exc:
        return _json(503, {"detail": f"the graph has no shapes to generate: {exc}"})
    return Response(turtle.encode("utf-8"), media_type="text/turtle")
