"""A study's structured fields mapped to the registry's vocabularies: conditions to OncoTree, interventions to drugs.

Why from the study's graph and not the record: the import and a later re-draft
(``acse-kg draft NCT… --save``) read the same thing, the graph being the
single source of truth; the record's conditions, keywords and condition MeSH
terms (``acse:condition``, ``acse:keyword``, ``acse:meshTerm``) and its
interventions are all there.

How a term meets OncoTree, first match wins (each mapping says which):

1. ``name``: the term is an OncoTree name once normalised (case, punctuation,
   and the generic heads *cancer*, *neoplasm*, *tumour*, *malignancy* read as
   one word, so MeSH's "Breast Neoplasms" is "breast cancer");
2. ``code``: the term is an OncoTree code written in capitals ("NSCLC");
3. ``ncit`` / ``umls``: the term is an NCIt code (C3512) or a UMLS CUI
   (C0007131) that OncoTree carries;
4. ``main type``: the term is an OncoTree main type ("Breast Cancer") and one
   class is the shallowest of that main type (Breast, not its subtypes).

No fuzzy matching: a term that says more than a class ("HR+/HER2- breast
cancer") maps to nothing rather than to a guess, and a study whose terms map
to nothing gets no drafted cohort (it is not matched).

An intervention meets a drug by its name or another name equal to the
drug's label or name, or by a code the drug carries (NCIt, DrugBank, RxNorm,
ChEBI, ATC) written as another name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

import rdflib
from rdflib import RDF, RDFS, URIRef

from ..namespaces import ACSE
from ..store import GraphStore

_GENERIC = {"cancer", "cancers", "neoplasm", "neoplasms", "tumor", "tumors", "tumour", "tumours", "malignancy",
            "malignancies"}
_NCIT = re.compile(r"C\d{3,7}")
_UMLS = re.compile(r"C\d{7}")


def normalise(term: str) -> str:
    """Lower case, words only, generic heads as "cancer": the key a condition and an OncoTree name meet on."""
    words = re.findall(r"[a-z0-9]+", term.lower())
    return " ".join("cancer" if w in _GENERIC else w for w in words)


@dataclass(frozen=True)
class Mapped:
    """One term of the record mapped to a vocabulary entry: which term, from where, to what, and how."""

    term: str
    source: str  # condition | keyword | mesh | intervention
    iri: str
    code: str
    label: str
    how: str  # name | code | ncit | umls | main type | code of the drug


class OncoTreeIndex:
    """OncoTree's names, codes, NCIt and UMLS references and main types, from the store, for lookups.

    :meth:`of` keeps one index per OncoTree release the store holds: an import changes the
    store (so a per-version cache would be read again for every record), never the release.
    """

    _by_release: ClassVar[dict[tuple[str, ...], OncoTreeIndex]] = {}

    @classmethod
    def of(cls, store: GraphStore) -> OncoTreeIndex:
        releases = tuple(sorted(str(r["r"]) for r in store.select("SELECT ?r WHERE { ?r a acse:OncoTreeRelease }")))
        got = cls._by_release.get(releases)
        if got is None:
            got = cls._by_release[releases] = cls(store)
        return got

    def __init__(self, store: GraphStore) -> None:
        self.names: dict[str, set[str]] = defaultdict(set)
        self.codes: dict[str, str] = {}
        self.refs: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.info: dict[str, tuple[str, str]] = {}
        by_main: dict[str, list[tuple[int, str]]] = defaultdict(list)
        rows = store.select("""
            SELECT ?c ?code ?label ?level ?main ?ncit ?umls WHERE {
              ?c acse:oncotreeCode ?code ; rdfs:label ?label ; acse:oncotreeLevel ?level .
              OPTIONAL { ?c acse:mainType ?main } OPTIONAL { ?c skos:exactMatch ?ncit } OPTIONAL { ?c acse:umlsCui ?umls } }""")
        for r in rows:
            c, code = str(r["c"]), str(r["code"])
            self.info[c] = (code, str(r["label"]))
            self.codes[code] = c
            self.names[normalise(str(r["label"]))].add(c)
            if r.get("main") is not None:
                entry = (int(str(r["level"])), c)
                if entry not in by_main[normalise(str(r["main"]))]:
                    by_main[normalise(str(r["main"]))].append(entry)
            if r.get("ncit") is not None and "NCIT_" in str(r["ncit"]):
                self.refs[("ncit", str(r["ncit"]).rsplit("NCIT_", 1)[1])].add(c)
            if r.get("umls") is not None:
                self.refs[("umls", str(r["umls"]).strip())].add(c)
        self.main: dict[str, str] = {}
        for key, entries in by_main.items():
            top = min(level for level, _ in entries)
            shallowest = [c for level, c in entries if level == top]
            if len(shallowest) == 1:
                self.main[key] = shallowest[0]

    def lookup(self, term: str) -> list[tuple[str, str]]:
        """The OncoTree classes a term names, with how it was matched (empty: none)."""
        text = term.strip()
        key = normalise(text)
        if key in self.names:
            return [(c, "name") for c in sorted(self.names[key])]
        if text in self.codes:
            return [(self.codes[text], "code")]
        if _UMLS.fullmatch(text) and ("umls", text) in self.refs:
            return [(c, "umls") for c in sorted(self.refs[("umls", text)])]
        if _NCIT.fullmatch(text) and ("ncit", text) in self.refs:
            return [(c, "ncit") for c in sorted(self.refs[("ncit", text)])]
        if key in self.main:
            return [(self.main[key], "main type")]
        return []


def conditions_to_oncotree(g: rdflib.Graph, study: URIRef, index: OncoTreeIndex) -> list[Mapped]:
    """The study's conditions, keywords and condition MeSH terms that name an OncoTree class, in that order."""
    terms: list[tuple[str, str]] = []
    conditions = sorted(g.objects(study, ACSE.condition), key=lambda n: (g.value(n, ACSE.position) or 0, str(n)))
    terms += [(str(g.value(n, RDFS.label)), "condition") for n in conditions if g.value(n, RDFS.label) is not None]
    terms += [(str(k), "keyword") for k in sorted(g.objects(study, ACSE.keyword), key=str)]
    for n in sorted(g.objects(study, ACSE.meshTerm), key=str):
        if str(g.value(n, ACSE.meshBranch)) == "condition" and g.value(n, ACSE.meshAncestor) is None:
            heading = g.value(n, RDFS.label)
            if heading is not None:
                terms.append((str(heading), "mesh"))
    out: list[Mapped] = []
    seen: set[str] = set()
    for term, source in terms:
        for c, how in index.lookup(term):
            if c not in seen:
                seen.add(c)
                code, label = index.info[c]
                out.append(Mapped(term, source, c, code, label, how))
    return out


_DRUG_CODES = (ACSE.ncitCode, ACSE.drugbankId, ACSE.rxnormCui, ACSE.chebiId, ACSE.atcCode)


def drug_index(store: GraphStore) -> dict[str, tuple[str, str, str]]:
    """Lower-cased label, name or code -> (drug IRI, label, how) for every drug of the registry."""
    out: dict[str, tuple[str, str, str]] = {}
    rows = store.select("SELECT ?d ?label ?name WHERE { ?d a acse:Drug ; rdfs:label ?label . OPTIONAL { ?d schema:name ?name } }")
    for r in rows:
        d, label = str(r["d"]), str(r["label"])
        out.setdefault(label.lower(), (d, label, "name"))
        if r.get("name") is not None:
            out.setdefault(str(r["name"]).lower(), (d, label, "name"))
    for p in _DRUG_CODES:
        for r in store.select(f"SELECT ?d ?label ?code WHERE {{ ?d a acse:Drug ; rdfs:label ?label ; <{p}> ?code }}"):
            out.setdefault(str(r["code"]).lower(), (str(r["d"]), str(r["label"]), "code of the drug"))
    return out


def interventions_to_drugs(g: rdflib.Graph, study: URIRef, drugs: dict[str, tuple[str, str, str]]) -> list[Mapped]:
    """The study's drug interventions whose name, or one of their other names, is a drug of the registry."""
    out: list[Mapped] = []
    seen: set[str] = set()
    for iv in sorted(g.objects(study, ACSE.hasIntervention), key=str):
        if (iv, RDF.type, ACSE.DrugIntervention) not in g:
            continue
        names = [str(x) for x in g.objects(iv, RDFS.label)] + sorted(str(x) for x in g.objects(iv, ACSE.otherName))
        for name in names:
            hit = drugs.get(name.strip().lower())
            if hit is not None and hit[0] not in seen:
                seen.add(hit[0])
                out.append(Mapped(name, "intervention", hit[0], hit[1], hit[1], hit[2]))
                break
    return out


@dataclass(frozen=True)
class ArmCohort:
    """An arm (or group) that names a tumour type and an alteration: one basket of a basket or umbrella trial."""

    number: int
    label: str
    pathologies: tuple[Mapped, ...]
    alterations: tuple[tuple[str, str | None], ...]  # (HGNC symbol, alteration: mutation, fusion ... or a protein change)


def arm_cohorts(g: rdflib.Graph, study: URIRef, index: OncoTreeIndex) -> list[ArmCohort]:
    """The study's arms whose label and description name a tumour type and a gene's alteration, in arm order.

    Read with the criteria parser's own biomarker rules (a gene and an alteration, the tumour
    types named in the same clause), so "Cohort A: NSCLC with ALK rearrangement" is NSCLC ×
    ALK fusion; an arm naming only a drug ("Arm A: Palbociclib 125 mg") is none.
    """
    from .parser import draft_bullet
    from .sections import Bullet

    out = []
    arms = sorted(g.objects(study, ACSE.hasArm), key=lambda a: (int(str(g.value(a, ACSE.position) or 0)), str(a)))
    for n, arm in enumerate(arms, start=1):
        label = str(g.value(arm, RDFS.label) or "")
        text = ". ".join(t for t in (label, str(g.value(arm, ACSE.description) or "")) if t)
        items = [i for i in draft_bullet(Bullet(0, "inclusion", 0, None, text, 0, len(text)))
                 if i.variable == "biomarker" and i.comparator == "present" and i.gene]
        tumours: dict[str, Mapped] = {}
        for it in items:
            for words in re.split(r"[;,]\s*", it.condition or ""):
                for c, how in index.lookup(words) if words else []:
                    code, name = index.info[c]
                    tumours.setdefault(c, Mapped(words, "arm", c, code, name, how))
        if items and tumours:
            alts = tuple(dict.fromkeys((i.gene or "", i.alteration) for i in items))
            out.append(ArmCohort(n, label or f"arm {n}", tuple(tumours.values()), alts))
    return out
