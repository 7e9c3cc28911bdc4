"""What the pages show beyond ClinicalTrials.gov, read from the graph with SPARQL.

ClinicalTrials.gov sections come from :func:`acse_kg.ctgov.export.export_study`
(one derivation for every consumer); this module asks the graph, through
:meth:`GraphStore.select`, for what the registry knows and ClinicalTrials.gov
does not show: the cohorts with their OncoTree pathologies, HGNC genes,
alteration types, populations and two-stage designs; the criteria with their
computable components and thresholds; the dosing regimens; curation notes; and
the IRI of every item, so that each can link to its node in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Literal
from rdflib.term import Node

from ..namespaces import ACSE, PROV, study_iri
from ..store import GraphStore
from .expressions import ExpressionGraph, Threshold, number_text, unit_text


def _s(v: Node | None) -> str:
    return "" if v is None else str(v)


def _num(v: Node | None) -> float | None:
    if v is None:
        return None
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _bool(v: Node | None) -> bool | None:
    if v is None:
        return None
    py = v.toPython() if isinstance(v, Literal) else str(v)
    return py if isinstance(py, bool) else str(py).lower() == "true"


# ------------------------------------------------------------------ model
@dataclass
class Ref:
    """An item with a name and the IRI it links to."""

    iri: str
    label: str
    code: str = ""
    root: bool = False  # the root of its classification (OncoTree's TISSUE: any tumour type)


@dataclass
class Population:
    iri: str
    label: str
    min_age: float | None
    max_age: float | None

    @property
    def ages(self) -> str:
        """Age bounds as the ontology states them: minimum inclusive, maximum exclusive ("≥ 1 year")."""
        lo = f"{self.min_age:g}" if self.min_age is not None else None
        hi = f"{self.max_age:g}" if self.max_age is not None else None
        if lo and hi:
            return f"≥ {lo} and < {hi} {unit_text('a', hi)}"
        if lo:
            return f"≥ {lo} {unit_text('a', lo)}"
        if hi:
            return f"< {hi} {unit_text('a', hi)}"
        return "any age"


@dataclass
class Cohort:
    iri: str
    number: int
    label: str
    registered_text: str
    kind: str = ""
    pathologies: list[Ref] = field(default_factory=list)
    genes: list[Ref] = field(default_factory=list)
    alterations: list[Ref] = field(default_factory=list)
    co_alterations: list[Ref] = field(default_factory=list)
    population: Population | None = None
    design_iri: str = ""
    design_label: str = ""
    design_kind: str = ""  # the label of the design's class ("two-stage design"); the numbers are alpha and beta
    alpha: float | None = None
    beta: float | None = None
    status: str = ""
    status_iri: str = ""
    is_open: bool | None = None
    max_patients: int | None = None


@dataclass
class Criterion:
    iri: str
    kind: str  # "inclusion" | "exclusion"
    text: str
    position: float
    computable: bool | None
    parent: str = ""
    component_of: str = ""
    cohorts: list[str] = field(default_factory=list)
    comment: str = ""
    requires: str = ""
    applies_when: str = ""
    excludes_when: str = ""
    thresholds: list[Threshold] = field(default_factory=list)
    children: list["Criterion"] = field(default_factory=list)
    components: list["Criterion"] = field(default_factory=list)


@dataclass
class Regimen:
    iri: str
    position: float
    label: str
    registered_text: str
    dose: str
    dose_unit: str
    per_bsa: bool | None
    frequency: Ref | None
    route: Ref | None
    population: Population | None
    intervention: Ref | None


@dataclass
class Curation:
    iri: str
    label: str
    property: str
    registered: str
    curated: str
    rationale: str
    used: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


@dataclass
class StudyGraph:
    """Everything the pages take from the graph directly, for one study."""

    iri: str
    cohorts: list[Cohort]
    inclusion: list[Criterion]
    exclusion: list[Criterion]
    criteria: dict[str, Criterion]
    regimens: list[Regimen]
    curations: list[Curation]
    item_iris: dict[tuple[str, str], str]
    code_labels: dict[tuple[str, str], str]
    drug: Ref | None


# ------------------------------------------------------------------ queries
def _cohorts(store: GraphStore, s: str) -> list[Cohort]:
    rows = store.select(f"""
        SELECT ?c ?n ?label ?text ?kindLabel ?pop ?popLabel ?min ?max ?design ?designLabel ?designKind
               ?alpha ?beta ?status ?statusLabel ?open ?maxPatients WHERE {{
          <{s}> acse:hasCohort ?c . ?c acse:cohortNumber ?n .
          OPTIONAL {{ ?c rdfs:label ?label }}
          OPTIONAL {{ ?c acse:registeredText ?text }}
          OPTIONAL {{ ?c acse:cohortKind/rdfs:label ?kindLabel }}
          OPTIONAL {{ ?c acse:population ?pop . OPTIONAL {{ ?pop rdfs:label ?popLabel }}
                     OPTIONAL {{ ?pop acse:minimumAge ?min }} OPTIONAL {{ ?pop acse:maximumAge ?max }} }}
          OPTIONAL {{ ?c acse:statisticalDesign ?design . OPTIONAL {{ ?design rdfs:label ?designLabel }}
                     OPTIONAL {{ ?design a ?designType . ?designType rdfs:subClassOf acse:StatisticalDesign ;
                                   rdfs:label ?designKind }}
                     OPTIONAL {{ ?design acse:alpha ?alpha }} OPTIONAL {{ ?design acse:beta ?beta }} }}
          OPTIONAL {{ ?c acse:cohortStatus ?status . OPTIONAL {{ ?status rdfs:label ?statusLabel }}
                     OPTIONAL {{ ?status acse:isOpen ?open }} }}
          OPTIONAL {{ ?c acse:maxPatients ?maxPatients }}
        }}""")
    cohorts: dict[str, Cohort] = {}
    for r in rows:
        iri = str(r["c"])
        if iri in cohorts:
            continue
        pop = None
        if r.get("pop") is not None:
            pop = Population(str(r["pop"]), _s(r.get("popLabel")), _num(r.get("min")), _num(r.get("max")))
        cohorts[iri] = Cohort(
            iri=iri,
            number=int(r["n"]),  # type: ignore[arg-type]
            label=_s(r.get("label")),
            registered_text=_s(r.get("text")) or _s(r.get("label")),
            kind=_s(r.get("kindLabel")),
            population=pop,
            design_iri=_s(r.get("design")),
            design_label=_s(r.get("designLabel")),
            design_kind=_s(r.get("designKind")),
            alpha=_num(r.get("alpha")),
            beta=_num(r.get("beta")),
            status=_s(r.get("statusLabel")),
            status_iri=_s(r.get("status")),
            is_open=_bool(r.get("open")),
            max_patients=int(r["maxPatients"]) if r.get("maxPatients") is not None else None,  # type: ignore[arg-type]
        )
    for r in store.select(f"""
        SELECT ?c ?rel ?x ?label ?code ?hgnc ?level WHERE {{
          <{s}> acse:hasCohort ?c .
          VALUES ?rel {{ acse:pathology acse:targetGene acse:acceptsAlterationType acse:allowsCoAlterationType }}
          ?c ?rel ?x .
          OPTIONAL {{ ?x rdfs:label ?label }}
          OPTIONAL {{ ?x acse:oncotreeCode ?code }}
          OPTIONAL {{ ?x acse:hgncId ?hgnc }}
          OPTIONAL {{ ?x acse:oncotreeLevel ?level }}
        }}"""):
        c = cohorts.get(str(r["c"]))
        if c is None:
            continue
        rel = str(r["rel"])
        ref = Ref(str(r["x"]), _s(r.get("label")) or str(r["x"]).rsplit("/", 1)[-1].rsplit("#", 1)[-1],
                  _s(r.get("code")) or _s(r.get("hgnc")), root=_s(r.get("level")) == "0")
        target = {
            str(ACSE.pathology): c.pathologies,
            str(ACSE.targetGene): c.genes,
            str(ACSE.acceptsAlterationType): c.alterations,
            str(ACSE.allowsCoAlterationType): c.co_alterations,
        }[rel]
        if all(x.iri != ref.iri for x in target):
            target.append(ref)
    for c in cohorts.values():
        c.pathologies.sort(key=lambda x: x.code or x.label)
        gene_order = {"ALK": 0, "MET": 1, "ROS1": 2, "MST1R": 3}
        c.genes.sort(key=lambda x: (gene_order.get(x.label, 9), x.label))
        c.alterations.sort(key=lambda x: x.label)
        c.co_alterations.sort(key=lambda x: x.label)
    return sorted(cohorts.values(), key=lambda c: c.number)


def _expression_graph(store: GraphStore, s: str) -> ExpressionGraph:
    eg = ExpressionGraph()
    rows = store.select(f"""
        SELECT DISTINCT ?e ?p ?o WHERE {{
          {{ <{s}> acse:hasCriterion ?c . ?c acse:requires|acse:appliesWhen|acse:excludesWhen ?x }}
          UNION {{ <{s}> acse:hasCohort|acse:hasIntervention/acse:hasDosingRegimen ?y . ?y acse:population/acse:populationCondition ?x }}
          ?x acse:operand* ?e . ?e ?p ?o .
        }}""")
    iris: set[str] = set()
    for r in rows:
        eg.add(r["e"], r["p"], r["o"])  # type: ignore[arg-type]
        if str(r["p"]) in (str(ACSE.variable), str(ACSE.comparator), str(ACSE.tumourType), str(ACSE.gene),
                           str(ACSE.alterationType)):
            iris.add(str(r["o"]))
    if iris:
        values = " ".join(f"<{i}>" for i in sorted(iris))
        for r in store.select(f"""
            SELECT ?i ?label ?symbol ?code ?gene WHERE {{
              VALUES ?i {{ {values} }}
              OPTIONAL {{ ?i rdfs:label ?label }} OPTIONAL {{ ?i acse:symbol ?symbol }}
              OPTIONAL {{ ?i acse:oncotreeCode ?code }} OPTIONAL {{ ?i acse:geneSymbol ?gene }}
            }}"""):
            i = str(r["i"])
            label = _s(r.get("gene")) or _s(r.get("label"))
            if label:
                eg.labels.setdefault(i, label)
            if r.get("symbol") is not None:
                eg.symbols[i] = str(r["symbol"])
            if r.get("code") is not None:
                eg.codes[i] = str(r["code"])
    return eg


def _criteria(store: GraphStore, s: str, eg: ExpressionGraph) -> dict[str, Criterion]:
    crits: dict[str, Criterion] = {}
    for r in store.select(f"""
        SELECT ?c ?kind ?text ?pos ?computable ?parent ?whole ?comment WHERE {{
          <{s}> acse:hasCriterion ?c . ?c a ?kind ; acse:criterionText ?text .
          VALUES ?kind {{ acse:InclusionCriterion acse:ExclusionCriterion }}
          OPTIONAL {{ ?c acse:position ?pos }} OPTIONAL {{ ?c acse:computable ?computable }}
          OPTIONAL {{ ?c acse:subCriterionOf ?parent }} OPTIONAL {{ ?c acse:componentOf ?whole }}
          OPTIONAL {{ ?c rdfs:comment ?comment }}
        }}"""):
        iri = str(r["c"])
        if iri in crits:
            continue
        crits[iri] = Criterion(
            iri=iri,
            kind="inclusion" if r["kind"] == ACSE.InclusionCriterion else "exclusion",
            text=str(r["text"]),
            position=_num(r.get("pos")) or 1e9,
            computable=_bool(r.get("computable")),
            parent=_s(r.get("parent")),
            component_of=_s(r.get("whole")),
            comment=_s(r.get("comment")),
        )
    for r in store.select(f"""
        SELECT ?c ?rel ?x WHERE {{
          <{s}> acse:hasCriterion ?c .
          VALUES ?rel {{ acse:requires acse:appliesWhen acse:excludesWhen acse:appliesToCohort }}
          ?c ?rel ?x .
        }}"""):
        c = crits.get(str(r["c"]))
        if c is None:
            continue
        rel, x = r["rel"], r["x"]
        if rel == ACSE.appliesToCohort:
            c.cohorts.append(str(x))
        elif rel == ACSE.requires:
            c.requires = eg.text(x)  # type: ignore[arg-type]
            c.thresholds = eg.thresholds(x)  # type: ignore[arg-type]
        elif rel == ACSE.appliesWhen:
            c.applies_when = eg.text(x)  # type: ignore[arg-type]
        else:
            c.excludes_when = eg.text(x)  # type: ignore[arg-type]
    for c in crits.values():
        if c.component_of and c.component_of in crits:
            crits[c.component_of].components.append(c)
        elif c.parent and c.parent in crits:
            crits[c.parent].children.append(c)
    for c in crits.values():
        c.children.sort(key=lambda x: (x.position, x.iri))
        c.components.sort(key=lambda x: (x.position, x.iri))
    return crits


def _regimens(store: GraphStore, s: str) -> list[Regimen]:
    out: dict[str, Regimen] = {}
    for r in store.select(f"""
        SELECT ?iv ?ivLabel ?r ?pos ?label ?text ?dose ?unit ?bsa ?freq ?freqLabel ?route ?routeLabel
               ?pop ?popLabel ?min ?max WHERE {{
          <{s}> acse:hasIntervention ?iv . ?iv acse:hasDosingRegimen ?r .
          OPTIONAL {{ ?iv rdfs:label ?ivLabel }}
          OPTIONAL {{ ?r acse:position ?pos }} OPTIONAL {{ ?r rdfs:label ?label }}
          OPTIONAL {{ ?r acse:registeredText ?text }} OPTIONAL {{ ?r acse:doseValue ?dose }}
          OPTIONAL {{ ?r acse:doseUnit ?unit }} OPTIONAL {{ ?r acse:perBodySurfaceArea ?bsa }}
          OPTIONAL {{ ?r acse:frequency ?freq . OPTIONAL {{ ?freq rdfs:label ?freqLabel }} }}
          OPTIONAL {{ ?r acse:route ?route . OPTIONAL {{ ?route rdfs:label ?routeLabel }} }}
          OPTIONAL {{ ?r acse:population ?pop . OPTIONAL {{ ?pop rdfs:label ?popLabel }}
                     OPTIONAL {{ ?pop acse:minimumAge ?min }} OPTIONAL {{ ?pop acse:maximumAge ?max }} }}
        }}"""):
        iri = str(r["r"])
        if iri in out:
            continue
        out[iri] = Regimen(
            iri=iri,
            position=_num(r.get("pos")) or 1e9,
            label=_s(r.get("label")),
            registered_text=_s(r.get("text")) or _s(r.get("label")),
            dose=number_text(r["dose"]) if r.get("dose") is not None else "",  # type: ignore[arg-type]
            dose_unit=_s(r.get("unit")),
            per_bsa=_bool(r.get("bsa")),
            frequency=Ref(str(r["freq"]), _s(r.get("freqLabel"))) if r.get("freq") is not None else None,
            route=Ref(str(r["route"]), _s(r.get("routeLabel"))) if r.get("route") is not None else None,
            population=Population(str(r["pop"]), _s(r.get("popLabel")), _num(r.get("min")), _num(r.get("max")))
            if r.get("pop") is not None else None,
            intervention=Ref(str(r["iv"]), _s(r.get("ivLabel"))),
        )
    return sorted(out.values(), key=lambda x: (x.position, x.iri))


def _curations(store: GraphStore, s: str) -> list[Curation]:
    out: dict[str, Curation] = {}
    for r in store.select(f"""
        SELECT ?cur ?label ?prop ?reg ?val ?why ?rel ?crit WHERE {{
          <{s}> acse:hasCriterion ?crit .
          ?cur a acse:Curation ; ?rel ?crit .
          VALUES ?rel {{ prov:used prov:generated }}
          OPTIONAL {{ ?cur rdfs:label ?label }} OPTIONAL {{ ?cur acse:curatedProperty ?prop }}
          OPTIONAL {{ ?cur acse:registeredValue ?reg }} OPTIONAL {{ ?cur acse:curatedValue ?val }}
          OPTIONAL {{ ?cur acse:rationale ?why }}
        }}"""):
        iri = str(r["cur"])
        cur = out.setdefault(iri, Curation(iri, _s(r.get("label")), _s(r.get("prop")), _s(r.get("reg")),
                                           _s(r.get("val")), _s(r.get("why"))))
        target = cur.used if r["rel"] == PROV.used else cur.generated
        if str(r["crit"]) not in target:
            target.append(str(r["crit"]))
    return sorted(out.values(), key=lambda c: c.iri)


def _item_iris(store: GraphStore, s: str) -> dict[tuple[str, str], str]:
    """IRIs of the items ClinicalTrials.gov shows, keyed by (kind, the text the export gives them)."""
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
          UNION {{ BIND("drug" AS ?kind) <{s}> acse:hasIntervention/acse:drug ?iri . ?iri rdfs:label ?key }}
        }}""")
    out: dict[tuple[str, str], str] = {}
    for r in rows:
        kind, key = r.get("kind"), r.get("key")
        if kind is None or key is None:
            continue
        text = str(key)
        if str(kind) in ("primary", "secondary", "other"):  # outcomes are keyed by position: "1", "2" ...
            text = number_text(key)
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


def study_graph(store: GraphStore, nct: str) -> StudyGraph:
    """Read one study's registry-only content from the graph."""
    s = study_iri(nct)
    eg = _expression_graph(store, s)
    crits = _criteria(store, s, eg)
    top = [c for c in crits.values() if not c.parent and not c.component_of]
    inclusion = sorted((c for c in top if c.kind == "inclusion"), key=lambda x: (x.position, x.iri))
    exclusion = sorted((c for c in top if c.kind == "exclusion"), key=lambda x: (x.position, x.iri))
    items = _item_iris(store, s)
    drug = next(((k[1], v) for k, v in items.items() if k[0] == "drug"), None)
    return StudyGraph(
        iri=s,
        cohorts=_cohorts(store, s),
        inclusion=inclusion,
        exclusion=exclusion,
        criteria=crits,
        regimens=_regimens(store, s),
        curations=_curations(store, s),
        item_iris=items,
        code_labels=code_labels(store),
        drug=Ref(drug[1], drug[0]) if drug else None,
    )


def study_ids(store: GraphStore) -> list[tuple[str, str]]:
    """Every study in the store: (NCT id, brief title), for the index page."""
    rows = store.select("""
        SELECT ?nct ?title WHERE { ?s acse:nctId ?nct . OPTIONAL { ?s acse:briefTitle ?title } }
        ORDER BY ?nct""")
    seen: dict[str, str] = {}
    for r in rows:
        seen.setdefault(str(r["nct"]), _s(r.get("title")))
    return list(seen.items())

