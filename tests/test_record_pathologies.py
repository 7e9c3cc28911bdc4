"""The pathology audit of NCT02034981: which OncoTree codes each of the 23 cohorts takes.

The accepted codes are computed from the study model (a cohort's
``acse:pathology`` classes with their subtypes, minus its
``acse:excludedPathology`` classes) over the shipped OncoTree release, and
compared with the lists written out below: a change to the record or to the
OncoTree release that moves a code in or out of a cohort fails here until it
is decided again, with a curation note in the record. The lists below are the
audit's outcome (the reasons are the curations' rationales in the record).
"""

from __future__ import annotations

import pytest

from acse_kg.model import Study, read_study
from acse_kg.namespaces import ACSE, ONCO
from acse_kg.store import GraphStore
from acse_kg.vocab import oncotree_nodes

NCT = "NCT02034981"

NSCLC = ["BLCLC", "CCLC", "GCLC", "LCLC", "LECLC", "LUACC", "LUAD", "LUAS", "LUMEC", "LUNE", "LUPC", "LUSC",
         "NSCLC", "NSCLCPD", "NUTCL", "RLCLC", "SARCL", "SGTTL", "SPCC"]
COLORECTAL = ["CMC", "COAD", "COADREAD", "MACR", "READ", "SRCCR"]
CLEAR_CELL_RCC = ["CCRCC", "SCCRCC"]

#: What the named cohorts 1-20 take, code by code.
ACCEPTED: dict[int, list[str]] = {
    1: ["ALCL", "ALCLALKP"],
    2: COLORECTAL,
    3: COLORECTAL,
    4: COLORECTAL,
    5: NSCLC,
    6: NSCLC,
    7: ["ACBC", "BRCA", "BRCANOS", "BRCNOS", "BRSRCC", "CCHM", "COM", "CSNOS", "EMBC", "IBC", "IDC", "ILC", "IMMC",
        "JSCB", "MASC", "MASCC", "MBC", "MCS", "MDLC", "MMBC", "MSCC", "SPC"],
    8: ["DSTAD", "GEJ", "GRC", "ISTAD", "MSTAD", "PSTAD", "SPDAC", "SSRCC", "STAD", "STAS", "STSC", "TSTAD", "USTAD"],
    9: ["CHOL", "EHCH", "IHCH", "PHCH"],
    10: ["BTMOV", "CCOV", "EOV", "HGONEC", "HGSFT", "HGSOC", "LGSOC", "MOV", "MXOV", "OCNOS", "OCS", "OOVC", "OSMCA",
         "OVT", "PSEC", "SCCO", "SOC"],
    11: CLEAR_CELL_RCC,
    12: CLEAR_CELL_RCC,
    13: ["PRCC"],
    14: ["FLC", "HCC"],
    15: ["GNBL", "NBL"],
    16: ["IMT", "IMTB", "IMTL"],
    17: ["ARMS", "ERMS"],
    18: ["GB", "GSARC", "SCGBM"],
    19: ["THAP"],
    20: ["THFO", "THHC", "THME", "THPA", "WDTC"],
}

#: The OncoTree entities that are not malignant (benign, borderline, in situ, precursor, reactive, work-up):
#: cohorts 21-23 take every other code of the release.
NON_MALIGNANT = [
    "AA", "ACA", "ACPG", "AIS", "ALT", "AN", "APTAD", "BFN", "BLPT", "BMT", "BPT", "BRAME", "BTBEOV", "BTBOV", "BTOV",
    "CAIS", "CCBOV", "CCPRC", "CEAIS", "CHBL", "CHM", "CMPT", "CPP", "CSCHW", "DCIS", "DES", "DF", "DNT", "DTE",
    "EBOV", "EBVMCU", "FA", "FHPTLD", "FT", "GCT", "GCTB", "GN", "GNC", "HEMA", "HTAT", "ICPN", "IMPTLD", "IMS",
    "IOPN", "IPMN", "IPN", "ISFN", "ISMCL", "ITPN", "IUP", "LAIS", "LAMN", "LATL", "LBGN", "LCIS", "LDD", "LIAD",
    "LM", "MATPL", "MBGN", "MBOV", "MCBCL", "MCN", "MDSWP", "MF", "MGUS", "MGUSIGA", "MGUSIGG", "MGUSIGM", "MNG",
    "MP", "MPNWP", "MYXO", "NFIB", "NVRINT", "OAT", "OFMT", "OMT", "OSMAD", "OSMBT", "PACT", "PADA", "PCGP", "PD",
    "PHM", "PHPTLD", "PINC", "PORO", "PPCT", "PSC", "PT", "PTAD", "PTCY", "RAML", "ROCY", "SBMOV", "SBOV", "SCHW",
    "SCOAH", "SGO", "SKCN", "SPIR", "SUBE", "TAC", "TAM", "TGCT", "ULM", "UPA", "USTUMP", "VMT", "XGA",
]

_NODES = oncotree_nodes()
_PARENT = {n["code"]: n.get("parent") for n in _NODES}
ALL_CODES = sorted(_PARENT)


def lineage(code: str) -> list[str]:
    """The class of an OncoTree code and every class above it, as IRIs."""
    out: list[str] = []
    at: str | None = code
    while at:
        out.append(str(ONCO[at]))
        at = _PARENT[at]
    return out


def accepted(study: Study, number: int) -> list[str]:
    cohort = study.cohort(number)
    assert cohort is not None
    return [c for c in ALL_CODES if cohort.takes_diagnosis(str(ONCO[c]), lineage(c))]


@pytest.fixture(scope="module")
def study(store: GraphStore) -> Study:
    return read_study(store, NCT)


@pytest.mark.parametrize("number", sorted(ACCEPTED))
def test_a_named_cohort_takes_exactly_its_audited_codes(study: Study, number: int) -> None:
    assert accepted(study, number) == sorted(ACCEPTED[number])


@pytest.mark.parametrize("number", [21, 22, 23])
def test_an_any_pathology_cohort_takes_every_code_but_the_non_malignant_ones(study: Study, number: int) -> None:
    assert accepted(study, number) == sorted(set(ALL_CODES) - set(NON_MALIGNANT))


@pytest.mark.parametrize("number", range(1, 24))
def test_no_cohort_takes_a_non_malignant_entity(study: Study, number: int) -> None:
    assert set(accepted(study, number)) & set(NON_MALIGNANT) == set()


def test_a_malignant_subtype_filed_under_an_excluded_precursor_stays_taken(study: Study) -> None:
    """IPN (a precursor) is excluded from cohort 22, CHOL under it is not: an exclusion names one class."""
    cohort = study.cohort(22)
    assert cohort is not None
    assert not cohort.takes_diagnosis(str(ONCO.IPN), lineage("IPN"))
    assert cohort.takes_diagnosis(str(ONCO.CHOL), lineage("CHOL"))


def test_every_excluded_pathology_falls_under_one_of_the_cohorts_pathologies(study: Study) -> None:
    """An exclusion outside the cohort's pathologies would exclude nothing: a mistake in the record."""
    code = {str(ONCO[c]): c for c in ALL_CODES}
    for cohort in study.cohorts:
        mine = {t.iri for t in cohort.pathologies}
        for t in cohort.excluded_pathologies:
            assert mine & set(lineage(code[t.iri])), (cohort.number, t.code)


def test_every_audited_cohort_pathology_has_a_curation_note(study: Study) -> None:
    """A cohort with exclusions or several pathologies has a curation of its pathology, with a rationale."""
    curated = {i for c in study.curations if c.property == "pathology" and c.rationale for i in c.used + c.generated}
    unexplained = [c.number for c in study.cohorts
                   if (c.excluded_pathologies or len(c.pathologies) > 1) and c.iri not in curated]
    assert unexplained == []


def test_each_non_malignant_exclusion_is_named_in_its_curation(study: Study) -> None:
    """The rationale of cohorts 21-23's curation names every class they exclude."""
    note = next(c for c in study.curations if study.cohort(22).iri in c.used and c.property == "pathology")  # type: ignore[union-attr]
    words = set(note.rationale.replace(",", " ").replace(")", " ").replace("(", " ").replace(":", " ").split())
    assert [c for c in NON_MALIGNANT if c not in words] == []


def test_the_excluded_pathology_property_is_declared(store: GraphStore) -> None:
    assert store.ask(f"ASK {{ <{ACSE.excludedPathology}> a owl:AnnotationProperty ; skos:definition ?d }}")
