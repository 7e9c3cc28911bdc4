"""Render the pages with Jinja2 (autoescape on) and write the static site."""

from __future__ import annotations

import json
import re
import shutil
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ..ctgov.export import StudyNotFound, export_study
from ..derived import DerivedCache
from ..errors import AcseError
from ..loader import study_graph_name
from ..model import Cohort, Criterion, Population
from ..model import StudyNotFound as NoSuchStudy
from ..namespaces import ACSE, BASE, NCT_HINT, compact_iri, is_nct
from ..paths import STATIC_DIR, TEMPLATES_DIR
from ..record_check import check_study
from ..store import GraphStore
from . import ctgov_view as cv
from .competing import competing_cohorts
from .drafts import place
from .expressions import ages_text, number_text, unit_text
from .graph import StudyGraph, is_oncotree_root, study_graph, study_ids
from .jsonld import study_jsonld

#: Assets the pages need, all in acse_kg/static (no external asset: pages work offline).
ASSETS = ("style.css",)



class PageNotFound(AcseError, LookupError):
    """No such study or cohort; the message names what is missing."""


#: The registry's own services (label, path below the server root) in every page's site header.
SERVICES: tuple[tuple[str, str], ...] = (
    ("Search", "search"),
    ("Match a patient", "match"),
    ("SPARQL", "sparql"),
    ("Ontology", "ontology"),
    ("Data dump", "dumps/acse-kg.ttl.gz"),
    ("API docs", "docs"),
)


@dataclass(frozen=True)
class Links:
    """Where a page's links point: the live server, or a static site read from files.

    ``static``: relative links to ``.../index.html`` files (work from a file
    system and on any host). A static site has no SPARQL endpoint, ontology
    page or dumps beside it, so it links them only when ``registry`` names a
    running registry (``https://host/path/``), and its IRI links then go to
    that registry's ``/id/...``; without one, IRIs are linked as they are
    (identifiers; they dereference once their w3id.org redirect exists).
    ``server``: paths from the site root, and registry IRIs to the server's
    ``/id/...`` path (ontology terms to ``/ontology#Term``), where they
    dereference.
    """

    static: bool = False
    root: str = "/"
    registry: str = ""

    def for_depth(self, depth: int) -> Links:
        """The links of a static page ``depth`` directories below the site root."""
        return Links(self.static, "../" * depth if self.static else self.root, self.registry)

    def index(self) -> str:
        return self.root + ("index.html" if self.static else "")

    def study(self, nct: str) -> str:
        return f"{self.root}study/{nct}" + ("/index.html" if self.static else "")

    def cohort(self, nct: str, n: int) -> str:
        return f"{self.root}study/{nct}/cohort/{n}" + ("/index.html" if self.static else "")

    def asset(self, name: str) -> str:
        return f"{self.root}static/{name}"

    @property
    def server(self) -> str:
        """Base URL of the registry that serves /sparql, /id/... and the rest; "" for a static site without one."""
        return self.registry if self.static else self.root

    def services(self) -> list[tuple[str, str]]:
        """(label, URL) of the registry's services, only where they exist: none for a bare static site."""
        return [(label, self.server + path) for label, path in SERVICES] if self.server else []

    def iri(self, iri: str) -> str | None:
        """Where an IRI links, or None: never to an IRI that does not resolve.

        The registry's IRIs (https://w3id.org/acse-kg/…) do not dereference until their w3id.org
        redirect is registered, so they open on a registry's ``/id/…`` (ontology terms on its
        ``/ontology#Term``); a static site without a registry links a study's or a cohort's IRI to
        its own page and leaves the others unlinked. Other IRIs (OBO, identifiers.org, …) are linked
        as they are.
        """
        if not iri.startswith(BASE):
            return iri
        if not self.server:
            m = _OWN_PAGE.match(iri[len(BASE):])
            if m is None:
                return None
            return self.cohort(m.group(1), int(m.group(2))) if m.group(2) else self.study(m.group(1))
        if iri.startswith(BASE + "id/"):
            return self.server + iri[len(BASE):]
        if iri.startswith(str(ACSE)):
            return self.server + "ontology#" + iri[len(str(ACSE)):]
        return iri

    def href(self, iri: str | None) -> Markup:
        """`` href="…"`` for an ``<a>`` when the IRI links somewhere (see :meth:`iri`), else nothing:
        an ``<a>`` without href is text, not a dead link."""
        target = self.iri(iri) if iri else None
        return Markup(' href="{}"').format(target) if target else Markup("")


#: The registry IRIs a static site has a page for: a study, a cohort.
_OWN_PAGE = re.compile(r"^id/study/(NCT\d{8})(?:/cohort/(\d+))?$")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(("html", "xml"), default_for_string=True, default=True),
        undefined=ChainableUndefined,  # API v2 fields are optional: a missing one renders empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date_text"] = cv.date_text
    env.filters["paragraphs"] = cv.paragraphs
    env.filters["humanise"] = cv.humanise
    env.filters["unit_text"] = unit_text
    env.filters["num"] = number_text
    env.filters["ages"] = ages_text
    env.tests["oncotree_root"] = is_oncotree_root
    env.filters["compact"] = lambda v: compact_iri(v) or v
    env.filters["pct"] = lambda v: f"{v * 100:g}%" if isinstance(v, (int, float)) else ""  # none, or no design
    env.globals["iri_base"] = BASE
    return env


def _norm(text: str) -> str:
    return " ".join(text.split())


def _attach_iris(items: list[cv.Item], by_text: dict[str, Criterion]) -> None:
    """Link each registered bullet to its criterion individual (same text after whitespace normalisation)."""
    for it in items:
        c = by_text.get(_norm(it.text))
        if c is not None:
            it.iri = c.iri
        _attach_iris(it.children, by_text)


def _check_nct(nct: str) -> None:
    if not is_nct(nct):
        raise PageNotFound(f"not an NCT number: {nct!r} (expected {NCT_HINT})")


_derived = DerivedCache()


def _study_data(store: GraphStore, nct: str) -> tuple[dict[str, Any], StudyGraph]:
    """The study's export and graph reading (about 40 ms), kept until the store changes.

    Shared by every request for the study's pages, so the pages only read them:
    nothing here or in the templates and helpers changes the dict or the StudyGraph.
    """
    _check_nct(nct)

    def read() -> tuple[dict[str, Any], StudyGraph]:
        from ..model import ModelError, read_study

        graph = store.graph(study_graph_name(nct))  # read once: the export and the study model both come from it
        try:
            exported = export_study(store, nct, graph=graph)
            with suppress(ModelError):  # study_graph says what is wrong with a record the model cannot read
                read_study(store, nct, graph=graph)  # the model study_graph reads next, from the same triples
            return exported, study_graph(store, nct)
        except (StudyNotFound, NoSuchStudy) as exc:
            raise PageNotFound(str(exc)) from exc

    return _derived.get(store, "study-" + nct, read, graph=study_graph_name(nct))


def bullet_name(g: StudyGraph, iri: str) -> str:
    """A criterion as a reader finds it in the lists: "inclusion criterion 6", "item 2 of exclusion criterion 7".

    Positions are the registered ones (acse:position), counted within the list or
    the bullet that holds the item; a computable rule inside a bullet is named after that bullet.
    """
    c = g.criteria.get(iri)
    if c is None:
        return iri.rsplit("/", 1)[-1]
    if c.component_of:
        return "a rule of " + bullet_name(g, c.component_of)
    number = f" {c.position:g}" if c.position > 0 else ""  # no acse:position (read as 0): no number to give
    if c.parent:
        return f"item{number} of {bullet_name(g, c.parent)}"
    return f"{c.kind} criterion{number}"


def _common(links: Links, g: StudyGraph) -> dict[str, Any]:
    curated = {i: c.label for c in g.curations for i in c.used + c.generated}
    return {"links": links, "g": g, "label": cv.Labels(g.code_labels), "assets": ASSETS, "curated": curated,
            "bullet_name": lambda iri: bullet_name(g, iri)}


def _jsonld_markup(data: dict[str, Any]) -> Markup:
    """JSON for a <script> element: '<', '>' and '&' escaped so no text can close the element."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def study_page(store: GraphStore, nct: str, links: Links | None = None,
               data: tuple[dict[str, Any], StudyGraph] | None = None) -> str:
    """The study page: ClinicalTrials.gov sections, then cohorts, dosing and curation.

    ``data`` (the export and the graph reading) lets the static site read a study once for all its pages.
    """
    links = links or Links()
    exported, g = data or _study_data(store, nct)
    m = cv.modules(exported)
    by_text = {_norm(c.text): c for c in g.criteria.values() if not c.component_of and c.review_state is None}
    eligibility = cv.eligibility_sections(m["eligibilityModule"].get("eligibilityCriteria"))
    for section in eligibility:
        for block in section.blocks:
            _attach_iris(block.items, by_text)
    structured, unplaced = place(eligibility, _drafts(store, nct))
    ctx = _common(links, g) | {
        "nct": nct,
        "m": m,
        "description_blocks": cv.blocks(m["descriptionModule"].get("detailedDescription")),
        "eligibility": eligibility,
        "age_text": cv.age_text(m["eligibilityModule"].get("minimumAge"), m["eligibilityModule"].get("maximumAge")),
        "jsonld": _jsonld_markup(study_jsonld(exported, g, nct)),
        "iri_of": lambda kind, key: g.item_iris.get((kind, str(key)), ""),
        "findings": check_study(store, nct),  # SHACL only (cached); the reasoner's verdict is on the check page
        "drafted_fields": structured,
        "drafted_unplaced": unplaced,
        "drafted_any": any(c.review_state is not None for c in g.criteria.values()),
        "competing": _derived.get(store, "competing-" + nct, lambda: competing_cohorts(store, nct)),
    }
    return environment().get_template("study.html").render(ctx)


def _drafts(store: GraphStore, nct: str) -> list[dict[str, Any]]:
    """The study's stored drafts (criteria JSON), kept until the study's graph (or the vocabularies) changes."""
    from ..drafting.review import stored_items

    return _derived.get(store, "drafts-" + nct, lambda: stored_items(store, nct), graph=study_graph_name(nct))


def cohort_page(store: GraphStore, nct: str, number: int, links: Links | None = None,
                data: tuple[dict[str, Any], StudyGraph] | None = None) -> str:
    """One cohort: its definition (pathology, gene and alteration, population) and every criterion it applies."""
    links = links or Links()
    exported, g = data or _study_data(store, nct)
    cohort: Cohort | None = g.study.cohort(number)
    if cohort is None:
        if g.problem:
            raise PageNotFound(f"study {nct}'s cohorts cannot be read: {g.problem}")
        raise PageNotFound(f"study {nct} has no cohort {number} (cohorts: 1-{len(g.cohorts)})")

    specific = [c for c in g.criteria.values() if cohort.iri in c.cohorts and not c.parent and not c.component_of]
    ctx = _common(links, g) | {
        "nct": nct,
        "m": cv.modules(exported),
        "cohort": cohort,
        "inclusion": [c for c in g.inclusion if not c.cohorts],
        "exclusion": [c for c in g.exclusion if not c.cohorts],
        "specific": sorted(specific, key=lambda c: (c.kind, c.position)),
        "previous": number - 1 if any(c.number == number - 1 for c in g.cohorts) else None,
        "next": number + 1 if any(c.number == number + 1 for c in g.cohorts) else None,
        "regimens": [r for r in g.regimens if _regimen_fits(r.population, cohort)],
    }
    return environment().get_template("cohort.html").render(ctx)


def _regimen_fits(pop: Population | None, cohort: Cohort) -> bool:
    """Whether a dosing regimen's age band overlaps the cohort's population."""
    if pop is None or cohort.population is None:
        return True
    lo = max(pop.min_age or 0.0, cohort.population.min_age or 0.0)
    hi = min(pop.max_age or 1e9, cohort.population.max_age or 1e9)
    return lo < hi


def index_page(store: GraphStore, links: Links | None = None) -> str:
    """The list of studies in the store."""
    links = links or Links()
    return environment().get_template("index.html").render(
        {"links": links, "studies": study_ids(store), "assets": ASSETS}
    )


def registry_base(url: str) -> str:
    """A registry's base URL for a static site's links, with its final '/'; ValueError names a bad one."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        raise ValueError(f"registry URL must be an absolute http(s) URL without query or fragment: {url!r}")
    return url if url.endswith("/") else url + "/"


def write_site(store: GraphStore, ncts: list[str], out: Path, registry: str = "") -> list[Path]:
    """Write the pages of ``ncts`` and their assets under ``out``; return the files written.

    Layout: ``index.html``, ``study/NCT.../index.html``,
    ``study/NCT.../cohort/N/index.html``, ``static/style.css``; links between
    pages are relative, so the folder can be hosted anywhere or opened from
    disk. ``registry`` (a running registry's base URL) adds links to its
    SPARQL endpoint, ontology, dumps and docs, and sends IRI links to its /id/...
    """
    for nct in ncts:
        _check_nct(nct)
    pages: list[tuple[Path, str]] = []
    base = Links(static=True, registry=registry_base(registry) if registry else "")
    for nct in ncts:
        data = _study_data(store, nct)
        pages.append((Path("study", nct, "index.html"), study_page(store, nct, base.for_depth(2), data)))
        for c in data[1].cohorts:
            pages.append((Path("study", nct, "cohort", str(c.number), "index.html"),
                          cohort_page(store, nct, c.number, base.for_depth(4), data)))
    pages.append((Path("index.html"), index_page(store, base.for_depth(0))))
    written: list[Path] = []
    for rel, text in pages:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    (out / "static").mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copyfile(STATIC_DIR / name, out / "static" / name)
        written.append(out / "static" / name)
    return written
