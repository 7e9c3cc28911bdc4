"""Realistic ClinicalTrials.gov API v2 study records at any N, for bulk import tests and the scale bench.

Why a generator: the registry must be measured at 1,000 to 100,000 studies,
and the project holds two real API v2 records. Each generated record is
built from those real records (their modules as skeletons, their sponsors,
outcomes, officials, eligibility bullets and sites with geo points) and from
OncoTree (conditions, keywords and the cancer named in titles and criteria),
with ClinicalTrials.gov's own enumerations for statuses and phases. The mix
is seeded: ``generate_records(n, seed=s)`` is the same list every time, and
record ``i`` does not depend on ``n`` (a bigger run extends a smaller one).

Every record is valid against the spec (the import validates it), so the
only refused records a bulk import meets are ones a test breaks on purpose.
"""

from __future__ import annotations

import copy
import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..paths import ROOT

REFERENCE = ROOT / "tests" / "data" / "shared" / "reference"
CTGOV_RECORDS = (REFERENCE / "ctgov" / "example_v2_NCT02513394.json",
                 REFERENCE / "ctgov" / "example_v2_NCT06171568_APHP_french.json")
ONCOTREE = REFERENCE / "oncotree" / "oncotree_2025_10_03_flat.tsv"

#: First generated NCT number: far above any number ClinicalTrials.gov has given (NCT07… in 2026),
#: so a generated study can never be mistaken for, or collide with, a real one.
FIRST_NCT = 90_000_000

#: Weights of overall statuses, roughly ClinicalTrials.gov's oncology mix.
STATUSES = {"RECRUITING": 30, "COMPLETED": 25, "ACTIVE_NOT_RECRUITING": 15, "NOT_YET_RECRUITING": 8,
            "TERMINATED": 8, "UNKNOWN": 6, "WITHDRAWN": 3, "SUSPENDED": 2, "ENROLLING_BY_INVITATION": 3}
PHASES = {("PHASE2",): 35, ("PHASE1",): 25, ("PHASE1", "PHASE2"): 15, ("PHASE3",): 15,
          ("EARLY_PHASE1",): 4, ("PHASE4",): 3, ("NA",): 3}
#: Targeted and standard oncology drugs (INNs), the interventions of generated arms.
DRUGS = ("crizotinib", "osimertinib", "alectinib", "lorlatinib", "entrectinib", "larotrectinib", "dabrafenib",
         "trametinib", "vemurafenib", "cobimetinib", "sotorasib", "adagrasib", "capmatinib", "tepotinib",
         "selpercatinib", "pralsetinib", "olaparib", "niraparib", "palbociclib", "ribociclib", "abemaciclib",
         "trastuzumab", "pertuzumab", "lapatinib", "tucatinib", "erlotinib", "gefitinib", "afatinib",
         "everolimus", "alpelisib", "pembrolizumab", "nivolumab", "atezolizumab", "durvalumab", "ipilimumab",
         "carboplatin", "cisplatin", "pemetrexed", "docetaxel", "paclitaxel", "gemcitabine", "capecitabine")
#: Markers named in the eligibility text of a targeted arm.
MARKERS = ("ALK rearrangement", "ROS1 fusion", "MET exon 14 skipping", "MET amplification", "BRAF V600E",
           "EGFR exon 19 deletion", "EGFR L858R", "KRAS G12C", "HER2 amplification", "NTRK fusion",
           "RET fusion", "BRCA1/2 mutation", "PIK3CA mutation", "high tumour mutational burden")
#: Cancers the bench's condition search is about are made common on purpose (``query.cond=lung``).
FAVOURED_ONCOTREE = ("NSCLC", "LUAD", "LUSC", "SCLC", "BRCA", "COADREAD", "MEL", "PAAD", "PRAD", "OVT")


@dataclass(frozen=True)
class Cancer:
    code: str
    name: str
    main_type: str
    tissue: str


@dataclass(frozen=True)
class Material:
    """What records are drawn from: the real records' parts and OncoTree."""

    interventional: dict[str, Any]  # protocolSection of a real interventional record, sites left out
    observational: dict[str, Any]
    sites: list[dict[str, Any]]  # real sites, each with a geo point
    sponsors: list[dict[str, str]]
    officials: list[dict[str, str]]
    outcomes: list[dict[str, str]]
    inclusion: list[str]  # eligibility bullets of the real records
    cancers: list[Cancer]
    favoured: list[Cancer]


def _bullets(text: str) -> list[str]:
    return [line[2:].strip() for line in text.splitlines() if line.startswith("* ") and len(line) < 300]


@lru_cache(maxsize=1)
def material() -> Material:
    """The real records and OncoTree, read once."""
    protocols = [json.loads(p.read_text(encoding="utf-8"))["protocolSection"] for p in CTGOV_RECORDS]
    interventional = next(p for p in protocols if p["designModule"]["studyType"] == "INTERVENTIONAL")
    observational = next(p for p in protocols if p["designModule"]["studyType"] == "OBSERVATIONAL")
    sites = [s for p in protocols for s in p.get("contactsLocationsModule", {}).get("locations", []) if s.get("geoPoint")]
    sponsors = []
    for p in protocols:
        m = p["sponsorCollaboratorsModule"]
        sponsors += [m["leadSponsor"], *m.get("collaborators", [])]
    officials = [o for p in protocols for o in p.get("contactsLocationsModule", {}).get("overallOfficials", [])]
    outcomes = [o for p in protocols for k in ("primaryOutcomes", "secondaryOutcomes")
                for o in p.get("outcomesModule", {}).get(k, [])]
    inclusion = [b for p in protocols for b in _bullets(p["eligibilityModule"].get("eligibilityCriteria", ""))]
    with ONCOTREE.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["level"] not in ("0", "1") and r["mainType"]]
    cancers = [Cancer(r["code"], r["name"], r["mainType"], r["tissue"]) for r in rows]
    by_code = {c.code: c for c in cancers}
    favoured = [by_code[c] for c in FAVOURED_ONCOTREE if c in by_code]
    for p in (interventional, observational):
        p.get("contactsLocationsModule", {}).pop("locations", None)
        p.get("contactsLocationsModule", {}).pop("locations_nested", None)  # not a field of the spec
    return Material(interventional, observational, sites, sponsors, officials, outcomes, inclusion, cancers, favoured)


def nct_id(i: int) -> str:
    return f"NCT{FIRST_NCT + i:08d}"


def _day(rng: random.Random, start: date, span_days: int) -> date:
    return start + timedelta(days=rng.randrange(max(span_days, 1)))


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate_record(i: int, seed: int = 0) -> dict[str, Any]:
    """Record ``i`` of the seeded series: a study that reads like an oncology trial."""
    m = material()
    rng = random.Random(f"{seed}:{i}")
    nct = nct_id(i)
    observational = rng.random() < 0.12
    ps = copy.deepcopy(m.observational if observational else m.interventional)
    cancers = [rng.choice(m.favoured) if rng.random() < 0.5 else rng.choice(m.cancers)
               for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    drugs = rng.sample(DRUGS, rng.choice((1, 1, 2, 2, 3)))
    marker = rng.choice(MARKERS)
    main = cancers[0]
    drug_title = " and ".join(d.capitalize() for d in drugs)

    ident = ps["identificationModule"]
    ident["nctId"] = nct
    ident["orgStudyIdInfo"] = {"id": f"GEN-{seed}-{i:06d}"}
    ident.pop("secondaryIdInfos", None)
    if observational:
        ident["briefTitle"] = f"Outcomes of Patients With {main.name} ({main.code}) Cohort {i}"
        ident["officialTitle"] = f"A Prospective Cohort Study of {main.name} Treated in Routine Care"
    else:
        ident["briefTitle"] = f"{drug_title} in {marker} {main.name} ({main.code})"
        ident["officialTitle"] = (f"A Study of {drug_title} in Patients With {marker}-Positive "
                                  f"{', '.join(c.name for c in cancers)}")
    ident["acronym"] = f"GEN{i}" if rng.random() < 0.4 else ident.get("acronym", "")
    if not ident["acronym"]:
        ident.pop("acronym")

    start = _day(rng, date(2012, 1, 1), 13 * 365)
    status = ps["statusModule"]
    status.clear()
    overall = _weighted(rng, STATUSES)
    future = overall in ("NOT_YET_RECRUITING",)
    first_submit = start - timedelta(days=rng.randrange(10, 200))
    primary = start + timedelta(days=rng.randrange(365, 6 * 365))
    done = overall in ("COMPLETED", "TERMINATED", "WITHDRAWN")
    last_update = min(max(first_submit + timedelta(days=rng.randrange(30, 3000)), first_submit), date(2026, 11, 30))
    status.update({
        "statusVerifiedDate": last_update.strftime("%Y-%m"),
        "overallStatus": overall,
        "expandedAccessInfo": {"hasExpandedAccess": False},
        "startDateStruct": {"date": start.isoformat(), "type": "ESTIMATED" if future else "ACTUAL"},
        "primaryCompletionDateStruct": {"date": primary.strftime("%Y-%m"), "type": "ACTUAL" if done else "ESTIMATED"},
        "completionDateStruct": {"date": (primary + timedelta(days=rng.randrange(0, 730))).strftime("%Y-%m"),
                                 "type": "ACTUAL" if done else "ESTIMATED"},
        "studyFirstSubmitDate": first_submit.isoformat(),
        "studyFirstSubmitQcDate": (first_submit + timedelta(days=3)).isoformat(),
        "studyFirstPostDateStruct": {"date": (first_submit + timedelta(days=5)).isoformat(), "type": "ACTUAL"},
        "lastUpdateSubmitDate": last_update.isoformat(),
        "lastUpdatePostDateStruct": {"date": (last_update + timedelta(days=2)).isoformat(), "type": "ACTUAL"},
    })
    if overall in ("TERMINATED", "WITHDRAWN", "SUSPENDED"):
        status["whyStopped"] = rng.choice(("Slow accrual", "Sponsor decision", "Funding withdrawn",
                                           "Safety review by the data monitoring committee"))

    sponsors = rng.sample(m.sponsors, min(len(m.sponsors), rng.choice((1, 1, 2, 3))))
    ps["sponsorCollaboratorsModule"] = {"responsibleParty": {"type": "SPONSOR"},
                                        "leadSponsor": dict(sponsors[0]),
                                        **({"collaborators": [dict(s) for s in sponsors[1:]]} if sponsors[1:] else {})}
    ps["descriptionModule"] = {"briefSummary": (
        f"This study evaluates {drug_title} in adults with {main.name} ({main.main_type}) "
        f"whose tumour carries {marker}. It is record {i} of a generated series drawn from real "
        "ClinicalTrials.gov records and OncoTree.")}
    ps["conditionsModule"] = {
        "conditions": list(dict.fromkeys(c.name for c in cancers)),
        "keywords": list(dict.fromkeys([*(c.code for c in cancers), main.main_type, marker, *drugs])),
    }

    if observational:
        ps["designModule"]["enrollmentInfo"] = {"count": rng.randrange(20, 2000), "type": "ESTIMATED"}
        iv = ps["armsInterventionsModule"]["interventions"][0]
        iv["description"] = f"Follow-up of patients with {main.name}."
    else:
        design = ps["designModule"]
        design["phases"] = list(_weighted(rng, PHASES))
        design["enrollmentInfo"] = {"count": rng.randrange(10, 1200), "type": "ACTUAL" if done else "ESTIMATED"}
        single = len(drugs) == 1 or rng.random() < 0.5
        design["designInfo"] = {"allocation": "NA" if single else "RANDOMIZED",
                                "interventionModel": "SINGLE_GROUP" if single else "PARALLEL",
                                "primaryPurpose": "TREATMENT", "maskingInfo": {"masking": "NONE"}}
        arms = [[d] for d in drugs] if not single else [drugs]
        ps["armsInterventionsModule"] = {
            "armGroups": [{"label": f"Arm {chr(65 + k)}: {' + '.join(a)}", "type": "EXPERIMENTAL",
                           "description": f"{' plus '.join(a).capitalize()} until progression or unacceptable toxicity.",
                           "interventionNames": [f"Drug: {d}" for d in a]} for k, a in enumerate(arms)],
            "interventions": [{"type": "DRUG", "name": d,
                               "armGroupLabels": [f"Arm {chr(65 + k)}: {' + '.join(a)}" for k, a in enumerate(arms) if d in a]}
                              for d in drugs],
        }
    outs = rng.sample(m.outcomes, min(len(m.outcomes), rng.randrange(2, 6)))
    ps["outcomesModule"] = {"primaryOutcomes": [dict(outs[0])],
                            **({"secondaryOutcomes": [dict(o) for o in outs[1:]]} if outs[1:] else {})}

    inclusion = [f"Histologically confirmed {c.name}" for c in cancers] + [
        f"Documented {marker} by a validated assay", *rng.sample(m.inclusion, min(len(m.inclusion), rng.randrange(3, 8)))]
    exclusion = [f"Prior treatment with {rng.choice(drugs)}", "Symptomatic untreated brain metastases",
                 rng.choice(("Pregnancy or breast feeding", "QTc above 470 ms", "Active hepatitis B or C infection"))]
    elig = ps["eligibilityModule"]
    elig.update({"eligibilityCriteria": "Inclusion Criteria:\n\n" + "\n".join(f"* {x}" for x in inclusion)
                 + "\n\nExclusion Criteria:\n\n" + "\n".join(f"* {x}" for x in exclusion),
                 "healthyVolunteers": False, "sex": rng.choice(("ALL", "ALL", "ALL", "FEMALE", "MALE")),
                 "minimumAge": rng.choice(("18 Years", "18 Years", "12 Years", "16 Years")),
                 "stdAges": ["ADULT", "OLDER_ADULT"]})

    contacts = ps.setdefault("contactsLocationsModule", {})
    contacts["overallOfficials"] = [dict(o) for o in rng.sample(m.officials, min(len(m.officials), rng.choice((1, 1, 2))))]
    n_sites = min(len(m.sites), max(1, int(rng.lognormvariate(2.7, 0.8))))
    site_status = "RECRUITING" if overall == "RECRUITING" else None
    contacts["locations"] = [{**s, **({"status": site_status} if site_status else {})}
                             for s in rng.sample(m.sites, n_sites)]
    ps.pop("referencesModule", None)
    return {"protocolSection": ps, "hasResults": False}


def generate_records(n: int, seed: int = 0, start: int = 0) -> Iterator[dict[str, Any]]:
    """Records ``start`` .. ``start + n - 1`` of the seeded series, one at a time (bounded memory)."""
    for i in range(start, start + n):
        yield generate_record(i, seed)


def write_jsonl(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` generated records in one JSON Lines file (the input of ``acse-kg import --bulk``)."""
    with path.open("w", encoding="utf-8") as f:
        for rec in generate_records(n, seed):
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    return path
