"""What a patient's codes mean to the profile, read from the graph (and the few code tables no graph holds).

From the graph, once per store version: the OncoTree classes with their
NCIt (``skos:exactMatch``) and UMLS (``acse:umlsCui``) cross-references, so a
diagnosis coded in OncoTree, NCIt or UMLS becomes an OncoTree code; the
alteration types with their Sequence Ontology matches (``skos:exactMatch``,
``closeMatch``, ``narrowMatch`` — never ``broadMatch``: a copy-number variation
may be a gain or a loss), so a structural type becomes a profile term. The SO
hierarchy is not climbed: above most terms stands ``sequence_alteration``,
which the graph matches to *mutation*, and a copy-number variation or a
translocation read as a mutation would be a wrong answer, not a cautious one; the clinical variables (``acse:ClinicalVariable``),
whose IRIs are a code system of their own for facts no public code names
(life expectancy, a history flag); the drugs, and the history flags a drug
stands for (``acse:impliedByPriorTherapy``).

Not in the graph, so written here: the LOINC codes of the observations the
profile reads (each with the kind of reading it needs) and the code-system
URIs FHIR and Phenopackets use. SNOMED CT and ICD-O-3 codes have no
cross-reference in OncoTree, so a diagnosis coded only in them is reported as
not mapped rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..derived import DerivedCache
from ..matching.candidates import Taxonomy
from ..matching.profile_schema import (
    Variable,
    drug_key,
    read_alteration_words,
    read_drugs,
    read_variables,
)
from ..namespaces import ACSE
from ..store import GraphStore

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
UMLS = "http://www.nlm.nih.gov/research/umls"
ONCOTREE = "http://oncotree.info"
HGNC = "http://www.genenames.org/geneId"
SO = "http://www.sequenceontology.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
#: The clinical variables of the graph as a code system: the code is the variable's local name (``var_qtcf``).
VARIABLES = str(ACSE)

Reading = Literal["quantity", "score", "uln", "flag", "qtc"]


@dataclass(frozen=True)
class Loinc:
    """A LOINC observation the profile reads: into which field, and how its value is read."""

    field: str
    reading: Reading
    display: str
    unit: str | None = None  # the UCUM unit a FHIR Group states for it


#: quantity: value and UCUM unit, converted by the profile; score: a whole number;
#: uln: the value over the upper limit of its reference range; flag: normal or abnormal
#: (interpretation, else the reference range); qtc: a QTc whose method names Fridericia.
LOINC_FIELDS: dict[str, Loinc] = {
    "751-8": Loinc("labs.anc", "quantity", "Neutrophils [#/volume] in Blood by Automated count", "10*9/L"),
    "777-3": Loinc("labs.platelets", "quantity", "Platelets [#/volume] in Blood by Automated count", "10*9/L"),
    "718-7": Loinc("labs.hemoglobin", "quantity", "Hemoglobin [Mass/volume] in Blood", "g/dL"),
    "2164-2": Loinc("labs.creatinine_clearance", "quantity", "Creatinine renal clearance", "mL/min"),
    "1975-2": Loinc("labs.bilirubin_uln", "uln", "Bilirubin.total [Mass/volume] in Serum or Plasma", "{ULN}"),
    "1920-8": Loinc("labs.ast_uln", "uln", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "{ULN}"),
    "1742-6": Loinc("labs.alt_uln", "uln", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "{ULN}"),
    "17861-6": Loinc("labs.calcium", "flag", "Calcium [Mass/volume] in Serum or Plasma"),
    "19123-9": Loinc("labs.magnesium", "flag", "Magnesium [Mass/volume] in Serum or Plasma"),
    "2823-3": Loinc("labs.potassium", "flag", "Potassium [Moles/volume] in Serum or Plasma"),
    "89247-1": Loinc("performance.ecog", "score", "ECOG Performance Status score"),
    "89243-0": Loinc("performance.karnofsky", "score", "Karnofsky Performance Status score"),
    "8867-4": Loinc("heart_rate_bpm", "quantity", "Heart rate", "/min"),
    "8302-2": Loinc("height_cm", "quantity", "Body height", "cm"),
    "29463-7": Loinc("weight_kg", "quantity", "Body weight", "kg"),
    "8636-3": Loinc("qtcf_ms", "qtc", "Q-T interval corrected", "ms"),
    "30525-0": Loinc("age_years", "quantity", "Age", "a"),
}
#: The field -> LOINC code, for the way out (a Group characteristic of a lab criterion).
LOINC_OF_FIELD = {v.field: code for code, v in LOINC_FIELDS.items()}

#: mCODE GenomicVariant components (LOINC).
GENE_STUDIED, DNA_CHANGE_TYPE, AMINO_ACID_CHANGE, VARIATION_CODE = "48018-6", "48019-4", "48005-3", "81252-9"

#: HL7 v3 ObservationInterpretation codes: N is normal, these are outside the reference range.
ABNORMAL = frozenset({"A", "AA", "H", "HH", "HU", "L", "LL", "LU", "<", ">"})


@dataclass(frozen=True)
class Vocabulary:
    """The graph's side of the mapping (see the module docstring)."""

    taxonomy: Taxonomy
    by_umls: dict[str, str]
    so_terms: dict[str, str]  # SO id (0001742) -> profile alteration term
    alteration_terms: frozenset[str]  # every profile term of the graph's alteration types
    variables: dict[str, Variable]  # local name (var_qtcf) -> variable
    by_field: dict[str, Variable]
    drugs: dict[str, frozenset[str]]

    def oncotree(self, system: str | None, code: str) -> str | None:
        """The OncoTree code of a diagnosis coded in OncoTree, NCIt or UMLS; None when it has no match."""
        code = code.strip()
        iri = None
        if system in (ONCOTREE, "ONCOTREE"):
            iri = self.taxonomy.resolve(code)
        elif system in (NCIT, "NCIT"):
            iri = self.taxonomy.resolve("NCIT:" + code)
        elif system in (UMLS, "UMLS"):
            iri = self.by_umls.get(code.upper())
        return self.taxonomy.code_of.get(iri) if iri else None

    def alteration_term(self, so_id: str) -> str | None:
        """The profile term of a Sequence Ontology term (``SO:0001880`` or ``0001880``) the graph matches, else None."""
        return self.so_terms.get(so_id.strip().upper().removeprefix("SO:").removeprefix("SO_"))

    def variable(self, code: str) -> Variable | None:
        """A clinical variable by its code in the graph's code system (local name or full IRI)."""
        return self.variables.get(code.rsplit("#", 1)[-1])

    def flags_of_drug(self, scheme: str, code: str) -> list[Variable]:
        """The history flags a drug stands for (``RXNORM``/``NCIT``/``CHEBI`` code, or ``name``)."""
        drugs = self.drugs.get(drug_key(code if scheme == "name" else f"{scheme}:{code}"), frozenset())
        return [v for v in self.by_field.values() if v.implied_by & drugs]


_QUERY_SO = """
SELECT ?term ?so WHERE { ?t a acse:AlterationType ; acse:profileTerm ?term ;
  skos:exactMatch|skos:closeMatch|skos:narrowMatch ?so . FILTER(STRSTARTS(STR(?so), "http://purl.obolibrary.org/obo/SO_")) }"""
_QUERY_UMLS = "SELECT ?c ?cui WHERE { ?c acse:oncotreeCode ?code ; acse:umlsCui ?cui }"
_cache = DerivedCache()


def _so(iri: object) -> str:
    return str(iri).rsplit("SO_", 1)[1]


def _read(store: GraphStore) -> Vocabulary:
    so_terms: dict[str, str] = {}
    for r in store.select(_QUERY_SO):
        so_terms.setdefault(_so(r["so"]), str(r["term"]))
    by_umls: dict[str, str] = {}
    for r in store.select(_QUERY_UMLS):
        by_umls.setdefault(str(r["cui"]).upper(), str(r["c"]))
    variables = read_variables(store)
    return Vocabulary(
        taxonomy=Taxonomy.load(store), by_umls=by_umls, so_terms=so_terms,
        alteration_terms=frozenset(term for term, _ in read_alteration_words(store).values()),
        variables={v.iri.rsplit("#", 1)[-1]: v for v in variables}, by_field={v.field: v for v in variables},
        drugs=read_drugs(store),
    )


def vocabulary(store: GraphStore) -> Vocabulary:
    """The vocabulary of the store as it is now, read once per store version."""
    return _cache.get(store, "patient-vocabulary", lambda: _read(store))
