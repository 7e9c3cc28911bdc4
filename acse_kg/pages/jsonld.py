"""schema.org ``MedicalTrial`` JSON-LD embedded in the study page, for search engines and crawlers.

Built from the same two derivations as the page (the API v2 JSON, and the
study model with the graph's IRIs). The context is inline (``@vocab``), never a remote URL, so that
the JSON-LD parses as RDF offline.
"""

from __future__ import annotations

from typing import Any

from .graph import StudyGraph

SCHEMA = "https://schema.org/"

#: ClinicalTrials.gov overall status -> schema.org MedicalStudyStatus member.
_STATUS = {
    "NOT_YET_RECRUITING": "NotYetRecruiting",
    "RECRUITING": "Recruiting",
    "ENROLLING_BY_INVITATION": "EnrollingByInvitation",
    "ACTIVE_NOT_RECRUITING": "ActiveNotRecruiting",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "COMPLETED": "Completed",
    "WITHDRAWN": "Withdrawn",
}


def _org(name: str, g: StudyGraph) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Organization", "name": name}
    iri = g.item_iris.get(("org", name))
    if iri:
        out["@id"] = iri
    return out


def _drug_iri(g: StudyGraph, name: str) -> str:
    """The IRI of the drug an intervention of that name gives (the model's intervention, else a drug of that label)."""
    for iv in g.study.interventions:
        if iv.drug is not None and iv.label.lower() == name.lower():
            return iv.drug.iri
    return next((d.iri for d in g.study.drugs if name.lower() in (d.label.lower(), d.name.lower())), "")


def study_jsonld(study: dict[str, Any], g: StudyGraph, nct: str) -> dict[str, Any]:
    """The study as a schema.org MedicalTrial node (with its sponsors, conditions, drug and location)."""
    ps = study.get("protocolSection", {})
    ident = ps.get("identificationModule", {})
    status = ps.get("statusModule", {})
    sponsors = ps.get("sponsorCollaboratorsModule", {})
    conds = ps.get("conditionsModule", {})
    design = ps.get("designModule", {})
    arms = ps.get("armsInterventionsModule", {})
    contacts = ps.get("contactsLocationsModule", {})
    out: dict[str, Any] = {
        "@context": {"@vocab": SCHEMA, "schema": SCHEMA},
        "@id": g.iri,
        "@type": "MedicalTrial",
        "name": ident.get("briefTitle", nct),
        "identifier": [{"@type": "PropertyValue", "propertyID": "NCT", "value": nct}],
        "code": {"@type": "MedicalCode", "codeValue": nct, "codingSystem": "ClinicalTrials.gov"},
        "sameAs": f"https://clinicaltrials.gov/study/{nct}",
    }
    alt = [v for v in (ident.get("officialTitle"), ident.get("acronym")) if v]
    if alt:
        out["alternateName"] = alt
    org_id = ident.get("orgStudyIdInfo", {}).get("id")
    if org_id:
        out["identifier"].append({"@type": "PropertyValue", "propertyID": "org_study_id", "value": org_id})
    for sec in ident.get("secondaryIdInfos", []):
        out["identifier"].append({"@type": "PropertyValue", "propertyID": sec.get("type", "OTHER"),
                                  "value": sec.get("id", "")})
    summary = ps.get("descriptionModule", {}).get("briefSummary")
    if summary:
        out["description"] = summary
    member = _STATUS.get(status.get("overallStatus", ""))
    if member:
        out["status"] = {"@id": SCHEMA + member}
    phases = design.get("phases", [])
    if phases:
        out["phase"] = [p.replace("PHASE", "Phase ").replace("EARLY_Phase ", "Early Phase ") for p in phases]
    masking = design.get("designInfo", {}).get("maskingInfo", {}).get("masking")
    if masking == "NONE":
        out["trialDesign"] = {"@id": SCHEMA + "OpenTrial"}
    lead = sponsors.get("leadSponsor", {}).get("name")
    orgs = ([lead] if lead else []) + [c["name"] for c in sponsors.get("collaborators", []) if c.get("name")]
    if orgs:
        out["sponsor"] = [_org(n, g) for n in orgs]
    if conds.get("conditions"):
        out["healthCondition"] = [
            {"@type": "MedicalCondition", "name": c, **({"@id": g.item_iris[("condition", c)]}
                                                      if ("condition", c) in g.item_iris else {})}
            for c in conds["conditions"]
        ]
    drugs = [i for i in arms.get("interventions", []) if i.get("type") == "DRUG"]
    if drugs:
        subjects = []
        for d in drugs:
            node: dict[str, Any] = {"@type": "Drug", "name": d.get("name", "")}
            drug = _drug_iri(g, str(d.get("name", "")))
            if drug:
                node["@id"] = drug
            if d.get("otherNames"):
                node["alternateName"] = d["otherNames"]
            subjects.append(node)
        out["studySubject"] = subjects
    locs = []
    for loc in contacts.get("locations", []):
        parts = [loc.get(k) for k in ("facility", "city", "state", "country") if loc.get(k)]
        locs.append({"@type": "AdministrativeArea", "name": ", ".join(parts)})
    if locs:
        out["studyLocation"] = locs
    return out
