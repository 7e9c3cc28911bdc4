"""An mCODE FHIR Bundle (R4B, parsed and validated with ``fhir.resources``) as a tumor profile.

The resources read, by what they are rather than by the profile they claim:

- ``Patient``: ``gender`` -> ``sex``; ``birthDate`` -> ``age_years`` in completed
  years on the Bundle's ``timestamp`` (the day the record was put together;
  without one, the age is not set and a note says why — a converter that
  used today's date would give a different answer tomorrow);
- ``Condition``: a code in OncoTree, NCIt or UMLS (mCODE's
  PrimaryCancerCondition codes in SNOMED CT and allows more codings) ->
  ``diagnosis`` through the graph's OncoTree cross-references; a condition
  coded with a clinical variable of the graph -> that flag, true when
  confirmed, false when ``verificationStatus`` is ``refuted``;
- ``Observation`` with LOINC 69548-6 (mCODE GenomicVariant): gene studied
  (48018-6, HGNC), DNA change type (48019-4, Sequence Ontology, through the
  graph's alteration types), amino-acid change (48005-3, HGVS) ->
  ``alterations[]``; other components are noted;
- an mCODE TumorMarkerTest about a gene (an HGNC coding in its code or a
  gene-studied component), positive by immunohistochemistry -> that gene's
  ``overexpression`` with ``method: IHC``; negative, or positive by a method
  that does not say which alteration (FISH, PCR), is noted;
- ``Observation`` coded in LOINC as :data:`.vocabulary.LOINC_FIELDS` lists
  (ECOG 89247-1, Karnofsky 89243-0, the labs with their UCUM units and
  reference ranges, vitals), or with a clinical variable of the graph;
- ``MedicationStatement`` / ``MedicationAdministration``: a drug taken ->
  ``prior_therapies``; ``not-taken`` of a drug that a history flag stands
  for (``acse:impliedByPriorTherapy``) -> that flag false.

Every other resource, and every coding or component that could not be
placed, is a note.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from .builder import Converted, PatientRecordError, ProfileBuilder
from .genes import gene_symbol, protein_change
from .vocabulary import (
    AMINO_ACID_CHANGE,
    DNA_CHANGE_TYPE,
    GENE_STUDIED,
    HGNC,
    ICDO3,
    LOINC,
    LOINC_FIELDS,
    NCIT,
    RXNORM,
    SNOMED,
    SO,
    UCUM,
    VARIABLES,
    Vocabulary,
)

GENOMIC_VARIANT = "69548-6"
#: Positive / negative answers of a tumor marker test: SNOMED CT 10828004 / 260385009, LOINC LA6576-8 / LA6577-6.
POSITIVE = frozenset({(SNOMED, "10828004"), (LOINC, "LA6576-8")})
NEGATIVE = frozenset({(SNOMED, "260385009"), (LOINC, "LA6577-6")})
#: LOINC answer "Absent" of a genetic variant assessment (69548-6; "Present" is LA9633-4).
ABSENT = "LA9634-2"
_SO_SYSTEMS = (SO, SO + "/", "http://www.sequenceontology.org/id/", "http://purl.obolibrary.org/obo/so.owl")
_DRUG_SCHEMES = {RXNORM: "RXNORM", NCIT: "NCIT"}
_NAMES = {SNOMED: "SNOMED CT", ICDO3: "ICD-O-3", LOINC: "LOINC", VARIABLES: "acse"}

def _codings(concept: Any) -> list[Any]:
    return list(concept.coding or []) if concept is not None else []

def _show(concept: Any) -> str:
    if concept is None:
        return "(no code)"
    words = [f"{_NAMES.get(c.system or '', c.system)} {c.code}" + (f" {c.display}" if c.display else "")
             for c in _codings(concept)]
    return "; ".join(words) or concept.text or "(no code)"

def _variable(b: ProfileBuilder, concept: Any) -> str | None:
    for c in _codings(concept):
        if c.system == VARIABLES and c.code and b.vocab.variable(c.code) is not None:
            return str(c.code)
    return None

def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))

class _Reader:
    def __init__(self, bundle: Any, vocab: Vocabulary) -> None:
        self.bundle = bundle
        self.b = ProfileBuilder(vocab, "mcode")
        self.vocab = vocab

    def run(self) -> Converted:
        patients = []
        for i, entry in enumerate(self.bundle.entry or []):
            r = entry.resource
            if r is None:
                self.b.note(f"entry[{i}]: no resource, nothing to read")
                continue
            kind = r.get_resource_type()
            where = f"{kind}/{r.id}" if r.id else f"entry[{i}] {kind}"
            read = getattr(self, f"_{kind}", None)
            if kind == "Patient":
                patients.append((r, where))
            elif read is None:
                self.b.note(f"{where}: a {kind} is not read by the profile")
            else:
                read(r, where)
        if not patients:
            raise PatientRecordError("the mCODE Bundle has no Patient")
        for extra in patients[1:]:
            self.b.note(f"{extra[1]}: a second Patient; only {patients[0][1]} is read")
        self.patient(*patients[0])
        return self.b.done()

    def patient(self, p: Any, where: str) -> None:
        self.b.profile = {"id": self.bundle.id or p.id or "patient", **self.b.profile}
        if p.gender in ("female", "male"):
            self.b.set("sex", p.gender, f"{where}.gender")
        elif p.gender:
            self.b.note(f"{where}.gender {p.gender}: the profile takes female or male, so sex is not set")
        if p.birthDate is None:
            self.b.note(f"{where}: no birthDate, so age_years is not set")
        elif self.bundle.timestamp is None:
            self.b.note(f"{where}: the Bundle has no timestamp to count the age on, so age_years is not set")
        else:
            birth = p.birthDate if isinstance(p.birthDate, date) else date.fromisoformat(str(p.birthDate)[:10])
            self.b.set("age_years", _age(birth, self.bundle.timestamp.date()), f"{where}.birthDate")

    # ------------------------------------------------------------------ resources
    def _Condition(self, c: Any, where: str) -> None:
        status = {x.code for x in _codings(c.verificationStatus) if x.code}
        var = _variable(self.b, c.code)
        if c.verificationStatus is not None and not status:
            self.b.note(f"{where}: a verification status without a code ({_show(c.code)}); not read")
            return
        if var is not None:
            if "refuted" in status:
                self.b.variable(var, False, where)
            elif status & {"confirmed"} or not status:
                self.b.variable(var, True, where)
            else:
                self.b.note(f"{where}: verification status {', '.join(sorted(status))} is neither confirmed nor refuted")
            return
        if "refuted" in status or "entered-in-error" in status:
            self.b.note(f"{where}: a {', '.join(sorted(status))} condition ({_show(c.code)}) is not read")
            return
        for coding in _codings(c.code):
            onco = self.vocab.oncotree(coding.system, coding.code or "")
            if onco is not None:
                self.b.set("diagnosis", onco, where)
                break
        else:
            self.b.note(f"{where}: {_show(c.code)} has no coding in OncoTree, NCIt or UMLS that the graph's "
                        "OncoTree matches, so it is not read (and is not the diagnosis)")
            return
        for ext in c.extension or []:
            self.b.note(f"{where}: extension {ext.url.rsplit('/', 1)[-1]} ({_show(ext.valueCodeableConcept)}) is not read")
        for site in c.bodySite or []:
            self.b.note(f"{where}: body site {_show(site)} is not read (the diagnosis carries the site)")
        for stage in c.stage or []:
            self.b.note(f"{where}: stage {_show(stage.summary)} is not read by the profile")

    def _Observation(self, o: Any, where: str) -> None:
        if o.status in ("entered-in-error", "cancelled"):
            self.b.note(f"{where}: status {o.status}, not read")
            return
        loinc = [c.code for c in _codings(o.code) if c.system == LOINC]
        if GENOMIC_VARIANT in loinc:
            self.genomic_variant(o, where)
            return
        var = _variable(self.b, o.code)
        if var is not None:
            value, unit = self.value(o)
            if o.valueBoolean is not None:
                self.b.variable(var, o.valueBoolean, where)
            else:
                self.b.quantity(self.vocab.variables[var].field, value, unit, where)
            return
        for code in loinc:
            if code in LOINC_FIELDS:
                value, unit = self.value(o)
                low = high = high_unit = None
                for rr in o.referenceRange or []:
                    low = float(rr.low.value) if rr.low and rr.low.value is not None else None
                    if rr.high and rr.high.value is not None:
                        high, high_unit = float(rr.high.value), rr.high.code if rr.high.system == UCUM else None
                    break
                interp = [c.code for x in o.interpretation or [] for c in _codings(x) if c.code]
                method = " ".join(filter(None, [o.method.text if o.method else None,
                                                *(c.display or "" for c in _codings(o.method))]))
                self.b.loinc(code, LOINC_FIELDS[code], value=value, unit=unit, low=low, high=high,
                             high_unit=high_unit, interpretation=interp, method=method, where=f"{where} (LOINC {code})")
                return
        gene = self.marker_gene(o)
        if gene is not None:
            self.tumor_marker(o, gene, where)
            return
        kind = "a tumor marker test" if any("tumor-marker" in str(p) for p in (o.meta.profile if o.meta else None) or []) \
            else "an observation"
        self.b.note(f"{where}: {kind} the profile does not read ({_show(o.code)})")

    def marker_gene(self, o: Any) -> str | None:
        """The gene a tumor marker test is about: an HGNC coding of its code, or of a gene-studied component."""
        concepts = [o.code] + [comp.valueCodeableConcept for comp in o.component or []
                               if any(c.code == GENE_STUDIED for c in _codings(comp.code))]
        for concept in concepts:
            for c in _codings(concept):
                if c.system == HGNC or (c.code or "").upper().startswith("HGNC:"):
                    return gene_symbol(c.code, c.display)
        return None

    def tumor_marker(self, o: Any, gene: str, where: str) -> None:
        """A protein marker by immunohistochemistry: positive is the gene's overexpression (contract: method IHC).

        Positive by another method (FISH, PCR) says an alteration but not which (a FISH break-apart is a
        rearrangement, a FISH ratio an amplification), so it is noted, not guessed; a negative test is no alteration.
        """
        answer = {(c.system, c.code) for c in _codings(o.valueCodeableConcept)}
        interp = {c.code for x in o.interpretation or [] for c in _codings(x) if c.code}
        positive = bool(answer & POSITIVE or interp & {"POS", "DET", "H", "HH", "A"})
        negative = bool(answer & NEGATIVE or interp & {"NEG", "ND", "N"})
        method = " ".join(filter(None, [o.method.text if o.method else None,
                                        *(c.display or c.code or "" for c in _codings(o.method))])).casefold()
        if negative and not positive:
            self.b.note(f"{where}: {gene} negative ({_show(o.code)}): not an alteration")
        elif not positive:
            self.b.note(f"{where}: {gene} tumor marker without a positive or negative result, not read")
        elif method and not any(w in method for w in ("ihc", "immunohisto")):
            self.b.note(f"{where}: {gene} positive by {method}: the method does not say which alteration, not read")
        elif "overexpression" not in self.vocab.alteration_terms:
            self.b.note(f"{where}: {gene} positive by IHC, but the graph has no overexpression type")
        else:
            self.b.add_alteration({"gene": gene, "type": "overexpression", "method": "IHC"})

    def value(self, o: Any) -> tuple[float | None, str | None]:
        if o.valueQuantity is not None:
            q = o.valueQuantity
            unit = q.code if q.system == UCUM and q.code else None
            return (float(q.value) if q.value is not None else None), unit
        if o.valueInteger is not None:
            return float(o.valueInteger), None
        return None, None

    def genomic_variant(self, o: Any, where: str) -> None:
        answer = {(c.system, c.code) for c in _codings(o.valueCodeableConcept)}
        if answer & (NEGATIVE | {(LOINC, ABSENT)}):
            self.b.note(f"{where}: a variant reported absent is not an alteration")
            return
        gene = kind = change = None
        for comp in o.component or []:
            codes = {c.code for c in _codings(comp.code) if c.system == LOINC}
            vc = comp.valueCodeableConcept
            if GENE_STUDIED in codes:
                for c in _codings(vc):
                    if c.system == HGNC or (c.code or "").upper().startswith("HGNC:"):
                        gene = gene_symbol(c.code, c.display)
            elif DNA_CHANGE_TYPE in codes:
                for c in _codings(vc):
                    if c.system in _SO_SYSTEMS and c.code:
                        kind = self.vocab.alteration_term(c.code)
                if kind is None:
                    self.b.note(f"{where}: DNA change type {_show(vc)} has no alteration type in the graph")
            elif AMINO_ACID_CHANGE in codes:
                texts = [c.code for c in _codings(vc) if c.code] or ([vc.text] if vc and vc.text else [])
                change = protein_change(texts[0]) if texts else None
            else:
                self.b.note(f"{where}: component {_show(comp.code)} is not read")
        if gene is None:
            self.b.note(f"{where}: a genomic variant without an HGNC gene studied (48018-6) is not an alteration")
            return
        if kind is None and change is not None:
            kind = self.vocab.alteration_term("SO:0001059")
        alt: dict[str, Any] = {"gene": gene}
        if kind:
            alt["type"] = kind
        if change:
            alt["protein_change"] = change
        self.b.add_alteration(alt)

    def _MedicationStatement(self, m: Any, where: str) -> None:
        self.medication(m.status, m.medicationCodeableConcept, where)

    def _MedicationAdministration(self, m: Any, where: str) -> None:
        self.medication(m.status, m.medicationCodeableConcept, where)

    def medication(self, status: str | None, concept: Any, where: str) -> None:
        keys = [(_DRUG_SCHEMES[c.system], str(c.code)) for c in _codings(concept) if c.system in _DRUG_SCHEMES and c.code]
        if concept is not None and concept.text:
            keys.append(("name", concept.text))
        if not keys:
            self.b.note(f"{where}: no RxNorm or NCIt code nor name for the drug, not read")
            return
        if status == "not-taken":
            flags = [v for k in keys for v in self.vocab.flags_of_drug(*k)]
            for v in dict.fromkeys(flags):
                self.b.set(v.field, False, where)
            if not flags:
                self.b.note(f"{where}: a drug not taken ({_show(concept)}) that no history flag stands for, not read")
            return
        if status in ("entered-in-error", "intended", "not-done"):
            self.b.note(f"{where}: status {status}, not a prior therapy")
            return
        scheme, code = keys[0]
        drug = code if scheme == "name" else f"{scheme}:{code}"
        therapies = self.b.profile.setdefault("prior_therapies", [])
        if {"drug": drug} not in therapies:
            therapies.append({"drug": drug})


def from_mcode(data: dict[str, Any], vocab: Vocabulary) -> Converted:
    """The tumor profile of an mCODE FHIR Bundle (JSON object), with notes for what it does not carry."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        bundle = Bundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PatientRecordError(f"not a valid FHIR R4B Bundle: {where}: {first['msg']}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise PatientRecordError(f"not a valid FHIR R4B Bundle: {exc}") from None
    return _Reader(bundle, vocab).run()
