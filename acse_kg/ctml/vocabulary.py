"""CTML's controlled values and the registry's vocabularies a CTML file is resolved against.

Two kinds of vocabulary meet here. CTML's own values (variant categories, CNV
calls, molecular functions, MAF variant classifications, trial statuses,
phases) are MatchMiner's, as its curation tool CTIMS offers them; they are
stated once below and both the schema (:mod:`.schema`) and the mapping read
them. Genes, tumour types, drugs, frequencies and enumerated individuals are
the registry's: they are looked up in the store (the OncoTree release loaded in
every store, the ontology's individuals; vocabulary, never a study's record)
and, for gene symbols the store does
not describe, in the registry's HGNC symbol list (``vocab/hgnc_symbols.tsv``,
origin in ``vocab/ORIGIN.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rdflib import URIRef

from ..ctgov.import_ import enum_index
from ..model import Variable, read_variables
from ..store import GraphStore

HERE = Path(__file__).resolve().parent

#: variant_category values and the alteration type each stands for (None: any alteration).
VARIANT_CATEGORIES: dict[str, str | None] = {
    "Mutation": "Mutation",
    "Copy Number Variation": None,  # by cnv_call: amplification or copy-number loss
    "Structural Variation": "Translocation",
    "Any Variation": None,
}
#: CNV calls and the alteration type each is.
CNV_CALLS: dict[str, str] = {
    "High level amplification": "Amplification",
    "Gain": "Amplification",
    "Homozygous deletion": "CopyNumberLoss",
    "Heterozygous deletion": "CopyNumberLoss",
}
#: Curators' names for CNV calls that MatchMiner's own engine reads as the canonical call.
CNV_CALL_ALIASES: dict[str, str] = {
    "high amplification": "High level amplification",
    "low amplification": "Gain",
}
MOLECULAR_FUNCTIONS = ("Activating", "Inactivating")
#: The MAF variant classifications CTIMS offers.
VARIANT_CLASSIFICATIONS = (
    "Frame_Shift_Del", "Frame_Shift_Ins", "In_Frame_Del", "In_Frame_Ins", "Missense_Mutation",
    "Nonsense_Mutation", "Splice_Site", "Translation_Start_Site", "Nonstop_Mutation", "RNA",
    "Targeted_Region", "De_novo_Start_InFrame", "De_novo_Start_OutOfFrame", "Splice_Region", "Unknown",
)
MS_STATUSES = ("MSI-H", "MSI-L", "MSS")
MMR_STATUSES = ("MMR-Proficient", "MMR-Deficient")
#: Receptor statuses (er_status, pr_status, her2_status) as MatchMiner writes them.
RECEPTOR_STATUSES = ("Positive", "Negative")
SEXES = ("Male", "Female")

#: CTIMS trial statuses -> ClinicalTrials.gov overall-status codes (the registry's individuals carry them).
STATUS_CODES: dict[str, str] = {
    "Open to Accrual": "RECRUITING",
    "Closed to Accrual": "ACTIVE_NOT_RECRUITING",
    "Not yet recruiting": "NOT_YET_RECRUITING",
    "Recruiting": "RECRUITING",
    "Enrolling by invitation": "ENROLLING_BY_INVITATION",
    "Active, not recruiting": "ACTIVE_NOT_RECRUITING",
    "Suspended": "SUSPENDED",
    "Terminated": "TERMINATED",
    "Completed": "COMPLETED",
    "Withdrawn": "WITHDRAWN",
    "Unknown status": "UNKNOWN",
}
#: The way back: each code as the CTIMS status that names it in ClinicalTrials.gov's words.
STATUS_NAMES: dict[str, str] = {
    "RECRUITING": "Recruiting", "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting", "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "SUSPENDED": "Suspended", "TERMINATED": "Terminated", "COMPLETED": "Completed", "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status",
}
PHASE_CODES: dict[str, str] = {"I": "PHASE1", "II": "PHASE2", "III": "PHASE3", "IV": "PHASE4"}

#: MatchMiner's meta-diagnoses: liquid tumours are the OncoTree tissues Lymphoid and Myeloid, solid all others.
SOLID, LIQUID = "_SOLID_", "_LIQUID_"
LIQUID_TISSUES = ("LYMPH", "MYELOID")

#: Clinical fields and the registry variable each is compared on (valueKind of the variable decides the value).
CLINICAL_VARIABLES: dict[str, str] = {
    "age_numerical": "var_age",
    "gender": "var_sex",
    "sex": "var_sex",
    "tmb_numerical": "var_tmb",
    "ms_status": "var_msi",
    "mmr_status": "var_mmr",
}
#: MatchMiner clinical fields the ontology has no variable for: the import declares one in the study graph.
DECLARED_VARIABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "er_status": ("oestrogen receptor status", RECEPTOR_STATUSES),
    "pr_status": ("progesterone receptor status", RECEPTOR_STATUSES),
    "her2_status": ("HER2 status", RECEPTOR_STATUSES),
}


@lru_cache(maxsize=1)
def hgnc_symbols() -> dict[str, str]:
    """HGNC approved symbol -> HGNC id, from the registry's one HGNC symbol file (read once).

    The file and its origin are :mod:`acse_kg.matching.gene_symbols`'s (``vocab/hgnc_symbols.tsv``).
    """
    from ..matching.gene_symbols import gene_symbols

    return {sym: hid for sym, hid in gene_symbols().approved.values()}


@dataclass(frozen=True)
class TumourType:
    iri: str
    label: str
    code: str
    level: int | None


@dataclass
class Vocabulary:
    """What a CTML file's names resolve to in one store (read once per import or export)."""

    genes: dict[str, str]  # symbol -> IRI, of the genes the store describes
    tumour_types: list[TumourType]
    enums: dict[tuple[str, str], URIRef]  # (class local name, code) -> individual
    frequencies: dict[str, str]  # lower-case label or alias -> IRI
    variables: dict[str, Variable]
    _by_label: dict[str, TumourType] = field(default_factory=dict)
    _by_code: dict[str, TumourType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for t in sorted(self.tumour_types, key=lambda t: t.iri):
            self._by_label.setdefault(t.label.casefold(), t)
            self._by_code.setdefault(t.code.casefold(), t)

    def tumour_type(self, name: str) -> TumourType | None:
        """An OncoTree class by its name (case aside), else by its code ("Ovary" is the tissue OVARY)."""
        key = name.strip().casefold()
        return self._by_label.get(key) or self._by_code.get(key)

    def tissues(self, *, liquid: bool) -> list[TumourType]:
        """The OncoTree tissues (level 1) that are liquid (Lymphoid, Myeloid) or solid (every other)."""
        return sorted((t for t in self.tumour_types if t.level == 1 and (t.code in LIQUID_TISSUES) == liquid),
                      key=lambda t: t.code)

    def tissue_sets(self) -> dict[frozenset[str], str]:
        """The IRI sets of _SOLID_ and _LIQUID_, for the writer to recognise them."""
        return {frozenset(t.iri for t in self.tissues(liquid=False)): SOLID,
                frozenset(t.iri for t in self.tissues(liquid=True)): LIQUID}


def read_vocabulary(store: GraphStore) -> Vocabulary:
    """The registry's genes, OncoTree classes, enumerated individuals, frequencies and variables.

    Genes and OncoTree come from the matching vocabulary (one reading of them for the registry,
    kept per vocabulary version); what only CTML needs (frequencies, enumerated individuals) is
    read here."""
    from ..matching.engine import vocabulary_for

    shared = vocabulary_for(store)
    tax = shared.taxonomy
    tts = [TumourType(c, tax.label_of.get(c, code), code, tax.level_of.get(c)) for c, code in tax.code_of.items()]
    freqs: dict[str, str] = {}
    for r in store.select("SELECT ?f ?l WHERE { ?f a acse:Frequency ; rdfs:label|skos:altLabel ?l }"):
        freqs.setdefault(str(r["l"]).casefold(), str(r["f"]))
    return Vocabulary(dict(shared.genes), tts, enum_index(store), freqs, read_variables(store))
