"""The registry's pages for people: the home page, the search and the match form with its answer.

Only the live server has them (they answer a query); the static site keeps
its plain index. Rendering is here, HTML is in the templates
(``home.html``, ``search.html``, ``match.html``), the form comes from the
profile's JSON Schema (:mod:`.profile_form`) and the answer from the
registry's matcher, read as it returns results (nothing else decides).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..matching.engine import TrialNotFound
from ..model import StudyNotFound, read_study
from ..store import GraphStore
from .profile_form import FORM_ID, FormSpec, flat_fields, form_values, profile_form, rows_for, rows_typed
from .render import ASSETS, Links, environment
from .search import Results, Search, first_cards, gene_symbols, oncotree

#: Scripts the browsing pages load (from /static); each page works without them.
SCRIPTS = ("browse.js",)
#: Criteria statuses in the order the answer shows them: what decides the verdict first.
STATUS_ORDER = {"not_met": 0, "unknown": 1, "met": 2}


@dataclass(frozen=True)
class CohortAnswer:
    """One cohort of the answer: the matcher's result arranged for reading."""

    number: int
    label: str
    verdict: str
    recruiting: bool | None
    deciding: list[dict[str, Any]]  # not met, then unknown
    met: list[dict[str, Any]]
    missing: list[tuple[str, str]]  # (profile field, label) the unknown criteria read and the profile lacks
    to_confirm: list[str]


@dataclass(frozen=True)
class TrialAnswer:
    nct: str
    title: str
    status: str  # the study's recruitment status, as the registry labels it
    recruiting: bool | None
    cohorts: list[CohortAnswer]
    dosing: dict[str, Any] | None
    notes: list[str]


@dataclass
class Answer:
    trials: list[TrialAnswer]
    notes: list[str] = field(default_factory=list)


def observed_text(value: Any, labels: FormSpec | None = None) -> str:
    """The value a criterion read, as a line of text ('' when the profile gave none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        parts = [f"{labels.label(k) if labels else k}: {observed_text(v)}" for k, v in value.items() if v is not None]
        return "; ".join(parts)
    if isinstance(value, (list, tuple)):
        return ", ".join(observed_text(v) for v in value)
    return str(value)


def _missing(criteria: Sequence[dict[str, Any]], fields_of: Mapping[str, list[str]], given: set[str],
             form: FormSpec) -> list[tuple[str, str]]:
    out: dict[str, str] = {}
    for c in criteria:
        if c["status"] != "unknown":
            continue
        for f in fields_of.get(c["iri"], []):
            if f not in given and f not in out:
                out[f] = form.label(f)
    return list(out.items())


def answer_of(store: GraphStore, results: Sequence[dict[str, Any]], profile: Mapping[str, Any],
              form: FormSpec, notes: Sequence[str] = ()) -> Answer:
    """The matcher's v1 results as the answer page shows them, with what is missing read off the study model."""
    given = flat_fields(profile)
    trials = []
    for r in results:
        try:
            study = read_study(store, r["trial"])
        except StudyNotFound:
            continue
        fields_of = {c.iri: c.fields() for c in study.criteria}
        cohorts = []
        for c in r["cohorts"]:
            ordered = [x | {"observed_text": observed_text(x.get("observed"), form)}
                       for x in sorted(c["criteria"], key=lambda x: STATUS_ORDER.get(x["status"], 3))]
            cohorts.append(CohortAnswer(
                c["cohort"], c["label"], c["verdict"], c.get("recruiting"),
                [x for x in ordered if x["status"] != "met"], [x for x in ordered if x["status"] == "met"],
                _missing(c["criteria"], fields_of, given, form), list(c.get("to_confirm", []))))
        status = study.status.label or study.status.code if study.status else ""
        trials.append(TrialAnswer(r["trial"], study.title, status, study.recruiting, cohorts, r.get("dosing"),
                                  list(r.get("notes", []))))
    return Answer(trials, list(notes))


def _base(links: Links) -> dict[str, Any]:
    return {"links": links, "assets": ASSETS, "scripts": SCRIPTS}


#: Studies the home page lists; the rest are a search away (the search page pages through them all).
HOME_STUDIES = 20


def home_page(store: GraphStore, links: Links) -> str:
    """The home page: what is here, a search box, the match form's link, and the first studies with
    their counts (:data:`HOME_STUDIES`; a registry of thousands is paged through on the search page,
    not rendered whole on every visit)."""
    shown, summary = first_cards(store, HOME_STUDIES)
    return environment().get_template("home.html").render(
        _base(links) | {"cards": shown, "total": summary["studies"], "studies": [(c.nct, c.title) for c in shown],
                        "summary": summary, "conditions": oncotree(store).options(),
                        "search": Search()})


def search_page(store: GraphStore, links: Links, results: Results | None, error: str = "",
                search: Search | None = None) -> str:
    return environment().get_template("search.html").render(
        _base(links) | {"results": results, "error": error, "search": search or (results.search if results else Search()),
                        "conditions": oncotree(store).options()})


def match_page(store: GraphStore, links: Links, *, trial: str = "", profile: Mapping[str, Any] | None = None,
               answer: Answer | None = None, errors: Sequence[tuple[str | None, str]] = (),
               pasted: str = "", submitted: Mapping[str, str] | None = None) -> str:
    """The match form (pre-set to ``trial`` when given), filled with ``profile`` (or the ``submitted`` fields
    as typed, when they could not be read); the answer above it when given."""
    profile = profile or {}
    if submitted:
        form = profile_form(store, rows_typed(submitted))
        # A number control shows only a number (the error message quotes what was sent instead).
        values = {k: v for k, v in submitted.items() if k not in _numbers(form) or _is_number(v)}
    else:
        values = form_values(profile) if profile else {"id": FORM_ID}
        form = profile_form(store, rows_for(profile))
    title = ""
    if trial:
        try:
            title = read_study(store, trial).title
        except StudyNotFound as exc:
            raise TrialNotFound(str(exc)) from exc
    profile_json = json.dumps(profile, ensure_ascii=False, indent=1) if profile else ""
    return environment().get_template("match.html").render(
        _base(links) | {
            "form": form, "values": values, "trial": trial, "trial_title": title, "answer": answer,
            "errors": [(f, m, _anchor(form, f)) for f, m in errors], "pasted": pasted,
            "profile_json": profile_json,
            "download": "data:application/json;charset=utf-8," + quote(profile_json) if profile_json else "",
            "conditions": oncotree(store).options(), "genes": gene_symbols(store),
        })


def _numbers(form: FormSpec) -> set[str]:
    return {i.name for i in form.inputs() if i.control == "number"}


def _is_number(text: str) -> bool:
    """A valid value of an HTML number input (what the Nu checker accepts), not any float Python reads."""
    return re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text.strip()) is not None


def _anchor(form: FormSpec, name: str | None) -> str:
    """The id of the control a contract error names (its field, or the field's first control), else ''."""
    if not name:
        return ""
    names = {i.name for i in form.inputs()}
    if name in names:
        return "f-" + name
    first = next((n for n in names if n.startswith(name + ".")), "")
    return "f-" + first if first else ""
