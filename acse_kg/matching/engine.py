"""The matcher: built once from the graph, then a pure function of a profile.

Everything the graph says (criteria, cohorts, OncoTree, genes, regimens) is
read with a handful of SPARQL queries when the :class:`Matcher` is built;
matching a profile then touches no store. Per profile the work is: build
the facts (a flat dict of the fields the criteria read), find the candidate
cohorts, evaluate each criterion that applies to any of them once, and
assemble the result per the contract. Each cohort's explanations are built
by one generated function (static parts as constants), shared by the
cohorts that have the same criteria.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..derived import DerivedCache
from ..namespaces import ID, NCT_HINT, normalise_nct
from ..store import GraphStore
from .candidates import CandidateFinder, Cohort, Taxonomy, load_cohorts, pair_set
from .dosing import Regimen, dosing_for, load_regimens
from .profile import ProfileError, TumorProfile, parse_profile
from .rules import (
    ALTS,
    DX,
    Criterion,
    Facts,
    GraphModelError,
    Source,
    _local,
    compile_expr,
    compile_status,
    load_criteria,
    load_expressions,
    load_variables,
)

VERDICT_RANK = {"eligible": 0, "unknown": 1, "ineligible": 2}
OPEN_TEXT = "cohort open to accrual"


@dataclass
class _CohortPlan:
    """What is static about one cohort's part of a result.

    ``key`` names the set of criteria and of to-confirm items: cohorts with the
    same key (in this record, all of them) share one evaluation per profile.
    """

    cohort: Cohort
    criteria: list[tuple[int, dict[str, Any]]]  # (index into Matcher.decidable, static fields)
    to_confirm: list[tuple[Callable[[Facts], Any] | None, str]]  # (applies-when closure, text)
    open_item: dict[str, Any]
    key: tuple[str, ...]
    explain: Callable[[Facts], tuple[list[dict[str, Any]], int]]  # facts -> (criteria items, worst rank)


VERDICTS = ("eligible", "unknown", "ineligible")


class Matcher:
    """Matches tumor profiles against one study of the graph."""

    def __init__(self, store: GraphStore, nct: str | None = None) -> None:
        self.study, self.trial = _pick_study(store, nct)
        variables = load_variables(store)
        exprs = load_expressions(store, variables)
        self.criteria: list[Criterion] = load_criteria(store, self.study, exprs)
        self.decidable = [c for c in self.criteria if c.decidable]
        self._status: list[Callable[[Facts], str]] = [compile_status(c) for c in self.decidable]
        self.taxonomy = Taxonomy.load(store)
        self.cohorts = load_cohorts(store, self.study, exprs)
        if not self.cohorts:
            raise GraphModelError(f"study {self.trial} has no cohorts in the graph")
        self.regimens: list[Regimen] = load_regimens(store, self.study, exprs)
        self.genes, self.symbols = _genes(store)
        self.alteration_types = _alteration_types(store)
        targets = frozenset(
            str(r["g"]) for r in store.select(
                f"SELECT DISTINCT ?g WHERE {{ <{self.study}> (acse:hasArm/acse:hasIntervention)|acse:hasIntervention"
                " ?iv . ?iv acse:drug/acse:targetsGene ?g }")
        )
        self.finder = CandidateFinder.build(
            self.cohorts, self.criteria, targets, self.alteration_types.get("overexpression"), self.symbols
        )
        fields = {v.field for v in variables.values()} - {"diagnosis", "alterations"}
        self._getters = [(f, operator.attrgetter(f)) for f in sorted(fields)]
        self._conditions = {c.iri: compile_expr(c.applies_when) for c in self.criteria
                            if not c.computable and c.applies_when is not None}
        self._plans = {c.iri: self._plan(c) for c in self.cohorts}

    # ------------------------------------------------------------ building
    def _plan(self, cohort: Cohort) -> _CohortPlan:
        crit = []
        for i, c in enumerate(self.decidable):
            if not c.cohorts or cohort.iri in c.cohorts:
                crit.append((i, {"id": c.id, "iri": c.iri, "text": c.text, "kind": c.kind}))
        # A criterion no field decides is to be confirmed, unless its condition is known false
        # (e.g. "for patients with a cerebral disease ..." for a patient without one).
        pending = [c for c in self.criteria if not c.computable and (not c.cohorts or cohort.iri in c.cohorts)]
        confirm = [(self._conditions[c.iri] if c.applies_when is not None else None, c.text) for c in pending]
        key = tuple(self.decidable[i].iri for i, _ in crit) + ("|",) + tuple(c.iri for c in pending)
        open_item = {
            "id": f"cohort-{cohort.number}-open",
            "iri": cohort.status_iri or cohort.iri,
            "text": OPEN_TEXT,
            "kind": "inclusion",
            "status": "met" if cohort.is_open else "not_met",
            "observed": cohort.status_label,
        }
        return _CohortPlan(cohort, crit, confirm, open_item, key, self._explainer(crit))

    def _explainer(self, crit: list[tuple[int, dict[str, Any]]]) -> Callable[[Facts], tuple[list[dict[str, Any]], int]]:
        """A generated function: the explanation of each criterion (status and value observed) and the worst rank.

        One function per set of criteria, with the items written as dict literals, is
        about twice as fast as assembling them criterion by criterion; the statuses
        come from the compiled criterion functions. Graph values are constants of the
        function's namespace, never source text.
        """
        src = Source()
        lines, items, names = [], [], []
        for n, (i, static) in enumerate(crit):
            s = f"s{n}"
            names.append(s)
            lines.append(f"    {s} = {src.const(self._status[i])}(F)")
            fields = self.decidable[i].fields()
            if len(fields) == 1:
                observed = f"F.get({src.const(fields[0])})"
            else:
                observed = "{" + ", ".join(f"{k}: F.get({k})" for k in (src.const(f) for f in fields)) + "}"
            pairs = ", ".join(f"{src.const(k)}: {src.const(v)}" for k, v in static.items())
            items.append(f"{{{pairs}, 'status': {s}, 'observed': {observed}}}")
        statuses = "(" + "".join(f"{s}, " for s in names) + ")"
        body = "\n".join(lines) + (
            f"\n    ss = {statuses}\n"
            f"    return [{', '.join(items)}], (2 if 'not_met' in ss else 1 if 'unknown' in ss else 0)\n")
        return src.function("explain", body)

    # ------------------------------------------------------------ matching
    def facts(self, p: TumorProfile) -> tuple[Facts, list[tuple[str, str]]]:
        """The flat facts the rules read, and the profile's (gene IRI, type IRI) alterations."""
        dx = self.taxonomy.resolve(p.diagnosis)
        if dx is None:
            raise ProfileError(
                "diagnosis",
                f"unknown diagnosis code {p.diagnosis!r}: expected an OncoTree code (any level) "
                "or an NCIt code that OncoTree maps, such as NCIT:C3512",
                p.id,
            )
        f: Facts = {name: get(p) for name, get in self._getters}
        alts: list[tuple[str, str]] = []
        shown: list[str] = []
        for a in p.alterations:
            sym = self.symbols.get(a.gene, a.gene)
            gene = self.genes.get(sym) or f"{ID}gene/{sym}"
            t = self.alteration_types.get(a.type)
            if t is None:
                raise ProfileError("alterations.type", f"alteration type {a.type!r} is not in the graph", p.id)
            alts.append((gene, t))
            shown.append(f"{sym} {a.type}")
        f[DX] = self.taxonomy.ancestors(dx)
        f[ALTS] = pair_set(alts)
        f["diagnosis"] = p.diagnosis
        f["alterations"] = shown
        return f, alts

    def match(self, profile: TumorProfile | bytes | str | dict[str, Any]) -> dict[str, Any]:
        """The match result of one profile, exactly per the contract.

        Cohorts that share their criteria share one evaluation (and the same
        explanation objects) per profile; treat a result as read-only.
        """
        p = profile if isinstance(profile, TumorProfile) else parse_profile(profile)
        facts, alts = self.facts(p)
        found, notes = self.finder.find(facts, p.age_years, alts)
        shared: dict[tuple[str, ...], tuple[list[dict[str, Any]], int, list[str]]] = {}
        cohorts_out = []
        for cohort in found:
            plan = self._plans[cohort.iri]
            done = shared.get(plan.key)
            if done is None:
                items, worst = plan.explain(facts)
                confirm = [text for cond, text in plan.to_confirm if cond is None or cond(facts) is not False]
                done = shared[plan.key] = (items, worst, confirm)
            items, worst, confirm = done
            if not cohort.is_open:
                worst = 2
                notes.append(f"cohort {cohort.number} ({cohort.label}) is not open to accrual: {cohort.status_label}")
            cohorts_out.append({
                "cohort": cohort.number,
                "iri": cohort.iri,
                "label": cohort.label,
                "verdict": VERDICTS[worst],
                "criteria": [plan.open_item, *items],
                "to_confirm": confirm,
            })
        cohorts_out.sort(key=lambda c: (VERDICT_RANK[c["verdict"]], c["cohort"]))
        dosing = dosing_for(self.regimens, p.age_years, facts, p.height_cm, p.weight_kg) if found else None
        return {"profile_id": p.id, "trial": self.trial, "cohorts": cohorts_out, "dosing": dosing, "notes": notes}

    def match_json(self, data: bytes | str) -> bytes:
        """Validate JSON bytes and return the result as JSON bytes (the batch hot path)."""
        return orjson.dumps(self.match(parse_profile(data)))

    def document(self, p: TumorProfile) -> dict[str, Any]:
        """The profile normalised for RDF: OncoTree code for the diagnosis, approved gene symbols."""
        dx = self.taxonomy.resolve(p.diagnosis)
        if dx is None:
            self.facts(p)  # raises the ProfileError naming the diagnosis
        d = p.model_dump(exclude_none=True)
        d["diagnosis"] = self.taxonomy.code_of[dx]  # type: ignore[index]
        for a in d.get("alterations", []):
            a["gene"] = self.symbols.get(a["gene"], a["gene"])
        return d

    def statuses(self, profile: TumorProfile) -> dict[str, str]:
        """Status of every decidable criterion (by IRI), whatever the cohort: for checks and tests."""
        facts, _ = self.facts(profile)
        return {c.iri: st(facts) for c, st in zip(self.decidable, self._status)}


def _pick_study(store: GraphStore, nct: str | None) -> tuple[str, str]:
    """(study IRI, NCT number) of the study asked for, or of the graph's first study with cohorts.

    ``nct`` is read as the registry reads it (any case, leading zeros optional:
    ``nct2034981`` is NCT02034981); the graph holds the canonical spelling.
    """
    if nct:
        wanted = normalise_nct(nct)
        if wanted is None:
            raise GraphModelError(f"{nct!r} is not an NCT number ({NCT_HINT})")
        nct = wanted
    rows = store.select(
        "SELECT DISTINCT ?s ?nct WHERE { ?s acse:hasCohort ?c . OPTIONAL { ?s acse:nctId ?nct } } ORDER BY ?s"
    )
    studies = [(str(r["s"]), str(r.get("nct") or _local(r["s"]))) for r in rows]
    if nct:
        studies = [s for s in studies if s[1] == nct]
    if not studies:
        raise GraphModelError(f"no study with cohorts in the graph{' for ' + nct if nct else ''}")
    return studies[0]


def _genes(store: GraphStore) -> tuple[dict[str, str], dict[str, str]]:
    """symbol -> gene IRI, and alias/symbol (upper case) -> approved symbol (so RON means MST1R)."""
    genes: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for r in store.select("SELECT ?g ?sym ?alt WHERE { ?g a acse:Gene ; acse:geneSymbol ?sym . "
                          "OPTIONAL { ?g skos:altLabel ?alt } }"):
        sym = str(r["sym"])
        genes[sym] = str(r["g"])
        aliases[sym.upper()] = sym
        if r.get("alt") is not None:
            aliases.setdefault(str(r["alt"]).upper(), sym)
    for sym in genes:  # an approved symbol always wins over another gene's alias
        aliases[sym.upper()] = sym
    symbols_by_iri = {iri: sym for sym, iri in genes.items()}
    aliases.update(symbols_by_iri)
    return genes, aliases


def _alteration_types(store: GraphStore) -> dict[str, str]:
    """Contract word (and synonyms: fusion, rearrangement) -> acse:AlterationType IRI."""
    out: dict[str, str] = {}
    for r in store.select("SELECT ?t ?term ?alt WHERE { ?t a acse:AlterationType ; acse:profileTerm ?term . "
                          "OPTIONAL { ?t skos:altLabel ?alt } }"):
        out[str(r["term"])] = str(r["t"])
        if r.get("alt") is not None:
            out.setdefault(str(r["alt"]), str(r["t"]))
    return out


def match_line(matcher: Matcher, line: bytes, lineno: int) -> tuple[bytes, bool]:
    """One JSON line -> (result line, ok). A bad line yields the contract's error object in its place."""
    try:
        return matcher.match_json(line), True
    except ProfileError as exc:
        return orjson.dumps({"id": exc.profile_id, "line": lineno, "error": exc.as_dict()}), False


_matchers = DerivedCache()


def matcher_for(store: GraphStore, nct: str | None = None) -> Matcher:
    """The matcher of a store, built once per store and study, and again after the store is written.

    The graph is read when a matcher is built, so the matcher is a value derived
    from the store: a record imported or edited through the server is matched
    against from the next request on (a rebuild is ~50 ms). How a change is told
    (write counter, or size and graph names for a remote endpoint) is
    :func:`acse_kg.derived.store_version`'s business.
    """
    return _matchers.get(store, f"matcher-{nct}", lambda: Matcher(store, nct))
