"""Which cohorts a profile is a candidate for, from the cohorts the graph states.

A profile is a candidate for a named-pathology cohort (1-20) when its
diagnosis falls under one of the cohort's OncoTree pathologies (subtypes
included: the hierarchy is pulled from the store once), it carries one of the
cohort's target genes with an accepted alteration type, and its age fits the
cohort's population (minimum inclusive, maximum exclusive).

Cohorts 21-23 are stated in the graph with the OncoTree root as pathology and
every crizotinib target; what sets them apart is that they take a
pathology-alteration pair that cohorts 1-20 do not cover. Decision
(documented here and in the record's comments): an alteration is *covered*
when a named cohort would take this patient with it (pathology, alteration
and age); cohort 21 (children 1-17) and cohorts 22/23 (adults) take an
uncovered qualifying alteration in their own age range. Cohorts 22 and 23 are
two slots for the same rule, since the protocol has not named their pairs: a
profile that fits one fits both.

An uncovered pair that an exclusion criterion of the protocol rejects on its
own (e.g. NSCLC with an ALK translocation) makes no candidacy; the criterion
is named in the result's notes. Overexpression qualifies only where a cohort
accepts it (cohort 1: ALK positive by IHC in ALCL).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..store import GraphStore
from .rules import ALTS, DX, Criterion, Expr, Facts, _local, _py, compile_expr, compile_status

NAMED = "NamedPathologyCohort"


@dataclass
class Taxonomy:
    """The OncoTree hierarchy, read once: codes, NCIt matches and ancestor sets."""

    by_code: dict[str, str]
    by_ncit: dict[str, str]
    parents: dict[str, list[str]]
    code_of: dict[str, str]
    _anc: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: GraphStore) -> Taxonomy:
        rows = store.select(
            "SELECT ?c ?code ?parent ?ncit WHERE { ?c acse:oncotreeCode ?code . "
            "OPTIONAL { ?c rdfs:subClassOf ?parent } OPTIONAL { ?c skos:exactMatch ?ncit } }"
        )
        by_code: dict[str, str] = {}
        by_ncit: dict[str, str] = {}
        parents: dict[str, list[str]] = defaultdict(list)
        code_of: dict[str, str] = {}
        for r in rows:
            c = str(r["c"])
            code = str(r["code"])
            by_code[code.upper()] = c
            code_of[c] = code
            if r.get("parent") is not None and str(r["parent"]) not in parents[c]:
                parents[c].append(str(r["parent"]))
            if r.get("ncit") is not None and "NCIT_" in str(r["ncit"]):
                by_ncit.setdefault(str(r["ncit"]).rsplit("NCIT_", 1)[1].upper(), c)
        return cls(by_code, by_ncit, dict(parents), code_of)

    def resolve(self, code: str) -> str | None:
        """The OncoTree class IRI of an OncoTree code or an NCIt code (NCIT:C3512), else None."""
        c = code.strip().upper()
        if c.startswith(("NCIT:", "NCIT_")):
            return self.by_ncit.get(c[5:])
        return self.by_code.get(c)

    def ancestors(self, iri: str) -> frozenset[str]:
        """The class and every class above it (what a TumourTypeTest on it may name)."""
        got = self._anc.get(iri)
        if got is None:
            out = {iri}
            stack = [iri]
            while stack:
                for p in self.parents.get(stack.pop(), ()):
                    if p not in out:
                        out.add(p)
                        stack.append(p)
            got = self._anc[iri] = frozenset(out)
        return got


@dataclass(eq=False)  # identity: cohorts are compared in the per-profile hot path
class Cohort:
    iri: str
    number: int
    label: str
    kind: str
    pathologies: frozenset[str]
    genes: frozenset[str]
    accepts: frozenset[str]
    min_age: float | None
    max_age: float | None
    condition: Callable[[Facts], Any] | None
    status_iri: str | None
    is_open: bool
    status_label: str

    @property
    def named(self) -> bool:
        return self.kind == NAMED

    def age_fits(self, age: float) -> bool:
        return (self.min_age is None or age >= self.min_age) and (self.max_age is None or age < self.max_age)

    def takes(self, facts: Facts, age: float, pairs: frozenset[tuple[str | None, str | None]]) -> bool:
        """Pathology, one qualifying alteration among ``pairs``, age and population condition."""
        if not self.age_fits(age) or self.pathologies.isdisjoint(facts[DX]):
            return False
        if not any((g, t) in pairs for g in self.genes for t in self.accepts):
            return False
        return self.condition is None or self.condition(facts) is True


def load_cohorts(store: GraphStore, study: str, exprs: dict[tuple[str, str], list[Expr]]) -> list[Cohort]:
    rows = store.select(
        f"""SELECT ?c ?n ?label ?text ?kind ?path ?gene ?type ?pop ?min ?max ?status ?open ?slabel WHERE {{
          <{study}> acse:hasCohort ?c . ?c acse:cohortNumber ?n .
          OPTIONAL {{ ?c rdfs:label ?label }} OPTIONAL {{ ?c acse:registeredText ?text }}
          OPTIONAL {{ ?c acse:cohortKind ?kind }}
          OPTIONAL {{ ?c acse:pathology ?path }} OPTIONAL {{ ?c acse:targetGene ?gene }}
          OPTIONAL {{ ?c acse:acceptsAlterationType ?type }}
          OPTIONAL {{ ?c acse:population ?pop OPTIONAL {{ ?pop acse:minimumAge ?min }} OPTIONAL {{ ?pop acse:maximumAge ?max }} }}
          OPTIONAL {{ ?c acse:cohortStatus ?status OPTIONAL {{ ?status acse:isOpen ?open }}
                      OPTIONAL {{ ?status rdfs:label ?slabel }} }}
        }}"""
    )
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = str(r["c"])
        d = acc.setdefault(c, {"path": set(), "gene": set(), "type": set()})
        d["n"] = int(_py(r["n"]))
        for k in ("label", "text", "kind", "pop", "min", "max", "status", "open", "slabel"):
            if r.get(k) is not None:
                d[k] = r[k]
        for k in ("path", "gene", "type"):
            if r.get(k) is not None:
                d[k].add(str(r[k]))
    out = []
    for c, d in acc.items():
        cond = exprs.get((str(d["pop"]), "populationCondition"), []) if "pop" in d else []
        out.append(
            Cohort(
                iri=c,
                number=d["n"],
                label=str(d.get("label") or d.get("text") or f"cohort {d['n']}"),
                kind=_local(d["kind"]) if "kind" in d else NAMED,
                pathologies=frozenset(d["path"]),
                genes=frozenset(d["gene"]),
                accepts=frozenset(d["type"]),
                min_age=_py(d.get("min")),
                max_age=_py(d.get("max")),
                condition=_all(compile_expr(e) for e in cond) if cond else None,
                status_iri=str(d["status"]) if "status" in d else None,
                is_open=bool(_py(d["open"])) if "open" in d else True,
                status_label=str(d.get("slabel") or ("open" if _py(d.get("open")) is not False else "closed")),
            )
        )
    out.sort(key=lambda c: c.number)
    return out


def _all(fs: Any) -> Callable[[Facts], Any]:
    fs = list(fs)
    return lambda f: True if all(g(f) is True for g in fs) else None


def pair_set(alts: list[tuple[str, str]]) -> frozenset[tuple[str | None, str | None]]:
    """(gene, type) pairs with wildcards, so an AlterationTest without gene or type is one lookup."""
    out: set[tuple[str | None, str | None]] = set()
    for g, t in alts:
        out.update(((g, t), (None, t), (g, None), (None, None)))
    return frozenset(out)


@dataclass
class CandidateFinder:
    """Candidate cohorts of a profile, with notes when there are none."""

    cohorts: list[Cohort]
    pair_exclusions: list[tuple[Criterion, Callable[[Facts], str]]]
    targets: frozenset[str]
    overexpression: str | None
    symbols: dict[str, str]
    by_pair: dict[tuple[str, str], list[Cohort]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Index the named cohorts by the (gene, alteration type) pairs they accept: a profile
        # then only looks at the few cohorts its alterations can qualify for.
        for c in self.cohorts:
            if c.named:
                for g in c.genes:
                    for t in c.accepts:
                        self.by_pair.setdefault((g, t), []).append(c)
        self.others = [c for c in self.cohorts if not c.named]

    def _named_for(self, alts: list[tuple[str, str]]) -> list[Cohort]:
        seen: list[Cohort] = []
        for a in alts:
            for c in self.by_pair.get(a, ()):
                if c not in seen:
                    seen.append(c)
        return seen

    @classmethod
    def build(cls, cohorts: list[Cohort], criteria: list[Criterion], targets: frozenset[str],
              overexpression: str | None, symbols: dict[str, str]) -> CandidateFinder:
        # Exclusion criteria common to all cohorts that read only the diagnosis and the
        # alterations reject a pathology-alteration pair on their own.
        pair_exc = [
            (c, compile_status(c))
            for c in criteria
            if c.kind == "exclusion" and c.decidable and not c.cohorts
            and set(c.fields()) <= {"diagnosis", "alterations"}
        ]
        return cls(cohorts, pair_exc, targets, overexpression, symbols)

    def find(self, facts: Facts, age: float, alts: list[tuple[str, str]]) -> tuple[list[Cohort], list[str]]:
        pairs = facts[ALTS]
        named = sorted((c for c in self._named_for(alts) if c.takes(facts, age, pairs)), key=lambda c: c.number)
        notes: list[str] = []
        uncovered: list[tuple[str, str]] = []
        for a in alts:
            single = pair_set([a])
            if any(c.takes(facts, age, single) for c in self.by_pair.get(a, ())):
                continue
            rejected = self._rejected_by(facts, single)
            if rejected is not None:
                note = f"{self._show(a)} with this diagnosis is excluded by the protocol: {rejected.text}"
                if note not in notes:
                    notes.append(note)
                continue
            uncovered.append(a)
        found = named
        if uncovered:
            upairs = pair_set(uncovered)
            found = named + [c for c in self.others if c.takes(facts, age, upairs)]
        if not found and not notes:
            notes.append(self._why_none(age, alts))
        return found, notes

    def _rejected_by(self, facts: Facts, single: frozenset[Any]) -> Criterion | None:
        f = {DX: facts[DX], ALTS: single}
        for crit, status in self.pair_exclusions:
            if status(f) == "not_met":
                return crit
        return None

    def _show(self, a: tuple[str, str]) -> str:
        return f"{self.symbols.get(a[0], _local(a[0]))} {_local(a[1]).lower()}"

    def _why_none(self, age: float, alts: list[tuple[str, str]]) -> str:
        min_age = min((c.min_age for c in self.cohorts if c.min_age is not None), default=None)
        if min_age is not None and age < min_age:
            return f"age {age:g} years is below the protocol's minimum of {min_age:g} years"
        on_target = [a for a in alts if a[0] in self.targets]
        names = ", ".join(sorted(self.symbols.get(g, _local(g)) for g in self.targets))
        if not on_target:
            return f"no alteration of a target gene of the study drug ({names})"
        if self.overexpression and all(a[1] == self.overexpression for a in on_target):
            return ("an alteration limited to overexpression does not qualify "
                    "(the protocol accepts ALK positive by immunohistochemistry only in ALCL)")
        return "no cohort takes this pathology with these alterations at this age"
