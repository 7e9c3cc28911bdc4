"""HTML pages: the study list, a study, a cohort, and the stylesheet they use.

The same templates as the static site (``acse-kg render``); here links are
paths on this server and registry IRIs point at ``/id/...``, where the linked
data router dereferences them.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from acse_kg.pages import Links, PageNotFound, cohort_page, study_page
from acse_kg.pages.browse import SCRIPTS, home_page
from acse_kg.pages.render import ASSETS
from acse_kg.paths import STATIC_DIR
from acse_kg.store import GraphStore

from .deps import get_store

router = APIRouter(tags=["pages"])

_MEDIA = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


def _links(root_path: str) -> Links:
    return Links(static=False, root=root_path.rstrip("/") + "/")


def _not_found(exc: PageNotFound) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=404)


@router.get("/", response_class=HTMLResponse,
            summary="The home page: what is here, a search box, and the registry's studies with their counts (HTML)")
async def index(store: GraphStore = Depends(get_store)) -> Response:
    """Where a new reader starts: search the studies, match a patient, or query the graph."""
    html = await asyncio.to_thread(home_page, store, _links(""))
    return HTMLResponse(html)


@router.get("/study/{nct}", response_class=HTMLResponse, summary="A study's page (HTML, with schema.org JSON-LD)")
async def study(nct: str, store: GraphStore = Depends(get_store)) -> Response:
    """The study's cohorts, eligibility, dosing, status and sources, with tabs for its record history and check."""
    try:
        html = await asyncio.to_thread(study_page, store, nct, _links(""))
    except PageNotFound as exc:
        return _not_found(exc)
    return HTMLResponse(html)


@router.get("/study/{nct}/cohort/{number}", response_class=HTMLResponse,
            summary="One cohort's page: definition, criteria with thresholds and units (HTML)")
async def cohort(nct: str, number: int, store: GraphStore = Depends(get_store)) -> Response:
    """One cohort: who it takes (pathology, alterations), its criteria with thresholds and units, its dose."""
    try:
        html = await asyncio.to_thread(cohort_page, store, nct, number, _links(""))
    except PageNotFound as exc:
        return _not_found(exc)
    return HTMLResponse(html)


@router.get("/static/{name}", summary="The pages' assets (stylesheet, progressive-enhancement script)", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in ASSETS + SCRIPTS:  # only the pages' own assets, never an arbitrary path
        return JSONResponse({"error": f"no asset {name!r}"}, status_code=404)
    return FileResponse(STATIC_DIR / name, media_type=_MEDIA.get(name.rsplit(".", 1)[-1]),
                        headers={"Cache-Control": "public, max-age=3600"})
