"""What the pages show beyond ClinicalTrials.gov: a thin view over the study model.

ClinicalTrials.gov sections come from :func:`acse_kg.ctgov.export.export_study`
(one derivation for every consumer). What the registry knows and
ClinicalTrials.gov does not show — the cohorts with their OncoTree
pathologies, HGNC genes, alteration types, rules, populations and designs;
the criteria with their computable components and thresholds; the dosing
regimens; curation notes — is the study model (:func:`acse_kg.model.read_study`),
the one reading of a study that matching, exports and the record check share.
This module only arranges it for the templates (the criteria as a tree, the
genes in a reading order, the rules as text) and asks the graph for the
IRIs of the ClinicalTrials.gov items the export shows as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rdflib import Literal

from ..loader import study_graph_name
from ..model import Cohort, Criterion, Curation, Expr, ModelError, Regimen, Study, Term, read_study
from ..namespaces import BASE, normalise_nct, study_iri
from ..store import GraphStore
from ..vocab import ONCOTREE_ROOT
from .expressions import ExpressionText, Threshold, number_text

_ONCOTREE = f"{BASE}id/oncotree/"


def is_oncotree_root(t: Term) -> bool:
    """Whether a pathology is OncoTree's root (any tumour type), which the pages name as such."""
    return t.code == ONCOTREE_ROOT and t.iri.startswith(_ONCOTREE)


def gene_order(study: Study) -> dict[str, int]:
    """A rank for each gene: the order in which the study's cohorts (by number) first name it.

    Why this order: a reader meets the genes in the cohort list in that order,
    so a cohort naming several genes lists them the same way; genes first named
    by the same cohort come alphabetically. Nothing about any trial is fixed here.
    """
    rank: dict[str, int] = {}
    for c in study.cohorts:
        for g in sorted(c.genes, key=lambda t: (t.code or t.label, t.iri)):
            rank.setdefault(g.iri, len(rank))
    return rank


@dataclass(frozen=True)
class StudyGraph:
    """One study as the pages arrange it: the model, its criteria as a tree, and the IRIs of plain-text items."""

    study: Study
    item_iris: dict[tuple[str, str], str]
    code_labels: dict[tuple[str, str], str]
    inclusion: list[Criterion] = field(default_factory=list)  # top-level bullets, registered order
    exclusion: list[Criterion] = field(default_factory=list)
    criteria: dict[str, Criterion] = field(default_factory=dict)  # every criterion by IRI
    curations: list[Curation] = field(default_factory=list)  # those about the criteria
    _children: dict[str, list[Criterion]] = field(default_factory=dict)
    _components: dict[str, list[Criterion]] = field(default_factory=dict)
    _gene_rank: dict[str, int] = field(default_factory=dict)
    texts: ExpressionText = field(default_factory=ExpressionText)
    problem: str = ""  # why the study model could not be read (the page then shows the record without it)

    @property
    def iri(self) -> str:
        return self.study.iri

    @property
    def cohorts(self) -> tuple[Cohort, ...]:
        return self.study.cohorts

    @property
    def regimens(self) -> tuple[Regimen, ...]:
        return self.study.regimens

    @property
    def ruled(self) -> bool:
        """Whether a cohort of the study is defined by a rule (a CTML arm) rather than pathology × gene."""
        return any(c.rule is not None for c in self.study.cohorts)

    def children(self, c: Criterion) -> list[Criterion]:
        """The nested bullets of a registered bullet."""
        return self._children.get(c.iri, [])

    def components(self, c: Criterion) -> list[Criterion]:
        """The computable rules a registered bullet is made of."""
        return self._components.get(c.iri, [])

    def genes(self, cohort: Cohort) -> list[Term]:
        """A cohort's target genes in the study's reading order (:func:`gene_order`)."""
        return sorted(cohort.genes, key=lambda t: (self._gene_rank.get(t.iri, len(self._gene_rank)), t.code, t.iri))

    def text(self, e: Expr | None) -> str:
        """An expression (a criterion's rule, a cohort's rule, a population's condition) as text."""
        return self.texts.text(e)

    def thresholds(self, c: Criterion) -> list[Threshold]:
        return self.texts.thresholds(c.requires)


def _item_iris(store: GraphStore, s: str) -> dict[tuple[str, str], str]:
    """IRIs of the ClinicalTrials.gov items the export gives as text, keyed by (kind, that text).

    The study model holds the protocol (cohorts, criteria, regimens); these are
    the record's other items (identifiers, organisations, conditions, MeSH
    terms, arms, interventions, sites, people, dates, outcomes).
    """
    rows = store.select(f"""
        SELECT ?kind ?key ?iri WHERE {{
          {{ BIND("identifier" AS ?kind) <{s}> acse:identifier ?iri . ?iri acse:identifierValue ?key }}
          UNION {{ BIND("org" AS ?kind)
                   {{ <{s}> acse:leadSponsor|acse:collaborator|acse:responsibleParty ?iri }}
                   UNION {{ <{s}> acse:site/acse:facility ?iri }}
                   UNION {{ <{s}> acse:investigator/acse:affiliation ?iri }}
                   ?iri rdfs:label ?key }}
          UNION {{ BIND("condition" AS ?kind) <{s}> acse:condition ?iri . ?iri rdfs:label ?key }}
          UNION {{ BIND("mesh" AS ?kind) <{s}> acse:meshTerm ?iri . ?iri acse:meshId ?key }}
          UNION {{ BIND("arm" AS ?kind) <{s}> acse:hasArm ?iri . ?iri rdfs:label ?key }}
          UNION {{ BIND("intervention" AS ?kind) <{s}> acse:hasIntervention ?iri . ?iri rdfs:label ?key }}
          UNION {{ BIND("site" AS ?kind) <{s}> acse:site ?iri . ?iri rdfs:label ?key }}
          UNION {{ BIND("investigator" AS ?kind) <{s}> acse:investigator ?inv . ?inv acse:person ?iri .
                   ?iri rdfs:label ?key }}
          UNION {{ BIND("role" AS ?kind) <{s}> acse:investigator ?iri . ?iri acse:person/rdfs:label ?key }}
          UNION {{ <{s}> ?dp ?iri . ?iri a acse:StudyDate .
                   BIND("date" AS ?kind) BIND(STRAFTER(STR(?dp), "#") AS ?key) }}
          UNION {{ <{s}> ?op ?iri . VALUES (?op ?kind) {{ (acse:primaryOutcome "primary") (acse:secondaryOutcome "secondary")
                   (acse:otherOutcome "other") }} ?iri acse:position ?p . BIND(STR(?p) AS ?key) }}
        }}""")
    out: dict[tuple[str, str], str] = {}
    for r in rows:
        kind, key = r.get("kind"), r.get("key")
        if kind is None or key is None:
            continue
        text = str(key)
        if str(kind) in ("primary", "secondary", "other") and isinstance(key, Literal):  # keyed by position: "1" ...
            text = number_text(key.toPython())
        out.setdefault((str(kind), text), str(r["iri"]))
    return out


def code_labels(store: GraphStore) -> dict[tuple[str, str], str]:
    """Display labels of ClinicalTrials.gov API codes, keyed by (enumeration class, code).

    The labels are the graph's: the core ontology names its individuals as
    ClinicalTrials.gov displays them ("Active, not recruiting", "None (Open
    Label)"). Labels generated mechanically from a code (all lower case, ending
    in the code's words) are skipped; the pages humanise the code instead.
    """
    out: dict[tuple[str, str], str] = {}
    for r in store.select("SELECT ?cls ?code ?label WHERE { ?i acse:code ?code ; rdfs:label ?label ; a ?cls }"):
        code, label = str(r["code"]), str(r["label"])
        squashed = label.lower().replace(" ", "").replace("_", "")
        if label == label.lower() and squashed.endswith(code.lower().replace("_", "")):
            continue
        cls = str(r["cls"]).rsplit("#", 1)[-1]
        out.setdefault((cls, code), label)
    return out


def study_view(study: Study, item_iris: dict[tuple[str, str], str],
               labels: dict[tuple[str, str], str]) -> StudyGraph:
    """Arrange a study of the model for the pages (no reading of the graph)."""
    crits = {c.iri: c for c in study.criteria}
    children: dict[str, list[Criterion]] = {}
    components: dict[str, list[Criterion]] = {}
    for c in study.criteria:
        if c.component_of and c.component_of in crits:
            components.setdefault(c.component_of, []).append(c)
        elif c.parent and c.parent in crits:
            children.setdefault(c.parent, []).append(c)
    for kids in (*children.values(), *components.values()):
        kids.sort(key=lambda x: (x.position, x.iri))
    top = [c for c in study.criteria if not c.parent and not c.component_of]
    about_criteria = []
    for cur in study.curations:
        used = tuple(i for i in cur.used if i in crits)
        generated = tuple(i for i in cur.generated if i in crits)
        if used or generated:
            about_criteria.append(Curation(cur.iri, cur.label, cur.property, cur.registered, cur.curated,
                                           cur.rationale, used, generated))
    return StudyGraph(
        study=study,
        item_iris=item_iris,
        code_labels=labels,
        inclusion=sorted((c for c in top if c.kind == "inclusion"), key=lambda x: (x.position, x.iri)),
        exclusion=sorted((c for c in top if c.kind == "exclusion"), key=lambda x: (x.position, x.iri)),
        criteria=crits,
        curations=sorted(about_criteria, key=lambda c: c.iri),
        _children=children,
        _components=components,
        _gene_rank=gene_order(study),
        texts=ExpressionText(d.label or d.name for d in study.drugs),
    )


def study_graph(store: GraphStore, nct: str) -> StudyGraph:
    """One study's registry-only content: the study model, arranged for the pages.

    A record whose structure the model cannot read (an expression with no
    type ...) still has a study page: its ClinicalTrials.gov sections, and the
    record check naming the fault (``problem``), without the registry's sections.
    """
    nct = normalise_nct(nct) or nct
    try:
        study = read_study(store, nct)
        problem = ""
    except ModelError as exc:
        study, problem = Study(study_iri(nct), nct, study_graph_name(nct)), str(exc)
    view = study_view(study, _item_iris(store, study_iri(nct)), code_labels(store))
    return replace(view, problem=problem) if problem else view


def study_ids(store: GraphStore) -> list[tuple[str, str]]:
    """Every study in the store: (NCT id, brief title), for the index page."""
    rows = store.select("""
        SELECT ?nct ?title WHERE { ?s acse:nctId ?nct . OPTIONAL { ?s acse:briefTitle ?title } }
        ORDER BY ?nct""")
    seen: dict[str, str] = {}
    for r in rows:
        seen.setdefault(str(r["nct"]), "" if r.get("title") is None else str(r["title"]))
    return list(seen.items())
