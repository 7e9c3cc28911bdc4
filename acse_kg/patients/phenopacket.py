"""A GA4GH Phenopacket v2 as a tumor profile.

Read with the ``phenopackets`` package (the schema's own protobuf classes):
the JSON is parsed by protobuf's JSON mapping, so a field the schema does not
have is refused, as the schema says. Then, element by element:

- ``subject``: ``timeAtLastEncounter.age`` (ISO 8601 duration) -> ``age_years``,
  ``sex`` -> ``sex``; the id -> the profile's ``id`` (the packet's id if none);
- ``diseases[].term`` (OncoTree, NCIt or UMLS, through the graph's cross-references)
  -> ``diagnosis``; an excluded disease coded with a clinical variable of the
  graph -> that history flag false;
- ``interpretations[].diagnosis.genomicInterpretations[].variantInterpretation
  .variationDescriptor``: gene (``geneContext``), ``structuralType`` (SO, through
  the graph's alteration types), ``expressions`` of syntax ``hgvs.p``
  -> ``alterations[]``; a descriptor with an HGVS expression and no structural
  type is a sequence alteration (SO:0001059);
- ``measurements[]`` whose assay is a LOINC code the profile reads (labs,
  performance, vitals) or a clinical variable of the graph; the quantity's
  ``referenceRange`` gives the upper limit of normal and normal/abnormal;
- ``phenotypicFeatures[]`` coded with a clinical variable of the graph:
  present -> true, ``excluded`` -> false;
- ``medicalActions[].treatment.agent`` -> ``prior_therapies``.

Everything else present (biosamples, files, other phenotypic features,
stages, unmapped codes) is listed in the notes. Prefixes are read from
``metaData.resources`` (``namespacePrefix``), so a packet that declares the
graph's clinical variables under another prefix is read all the same.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.json_format import ParseDict, ParseError
from phenopackets import Phenopacket

from .builder import Converted, PatientRecordError, ProfileBuilder
from .genes import gene_symbol, protein_change
from .vocabulary import LOINC_FIELDS, VARIABLES, Vocabulary

_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?$")
_SEX = {"FEMALE": "female", "MALE": "male"}
#: Prefixes as the Phenopacket documentation writes them, when metaData does not declare them.
_SYSTEMS = {"NCIT": "NCIT", "ONCOTREE": "ONCOTREE", "UMLS": "UMLS", "LOINC": "LOINC", "SO": "SO", "HGNC": "HGNC",
            "RXNORM": "RXNORM", "CHEBI": "CHEBI", "UCUM": "UCUM"}


def years(duration: str) -> float | None:
    """Years of an ISO 8601 duration (``P54Y``, ``P54Y6M``, ``P30W``); None if it is not one."""
    m = _DURATION.match(duration.strip())
    if not m or not any(m.groups()):
        return None
    y, mo, w, d = (float(g) if g else 0.0 for g in m.groups())
    total = y + mo / 12 + (w * 7 + d) / 365.25
    return int(total) if total == int(total) else round(total, 2)


class _Reader:
    def __init__(self, packet: Phenopacket, vocab: Vocabulary) -> None:
        self.p = packet
        self.b = ProfileBuilder(vocab, "phenopacket")
        self.vocab = vocab
        self.prefixes = dict(_SYSTEMS)
        for r in packet.meta_data.resources:
            if r.namespace_prefix and r.iri_prefix == VARIABLES:
                self.prefixes[r.namespace_prefix.upper()] = "ACSE"
        self.prefixes.setdefault("ACSE", "ACSE")

    def split(self, curie: str) -> tuple[str | None, str]:
        prefix, _, local = curie.partition(":")
        return self.prefixes.get(prefix.upper()), local

    def variable_code(self, curie: str) -> str | None:
        system, local = self.split(curie)
        return local if system == "ACSE" and self.vocab.variable(local) is not None else None

    def run(self) -> Converted:
        self.subject()
        self.diseases()
        self.interpretations()
        self.measurements()
        self.features()
        self.actions()
        for b in self.p.biosamples:
            self.b.note(f"biosample {b.id or '(no id)'}: not used by the profile (its tissue and diagnosis are not read)")
        if self.p.files:
            self.b.note(f"{len(self.p.files)} file(s) referenced: not read")
        return self.b.done()

    def unread(self, message: Any, read: set[str], where: str) -> None:
        """Note every field set in ``message`` that the converter does not read (protobuf knows which are set)."""
        for fd, _ in message.ListFields():
            if fd.name not in read:
                self.b.note(f"{where}: {fd.json_name} is not read by the profile")

    def subject(self) -> None:
        s = self.p.subject
        self.unread(s, {"id", "time_at_last_encounter", "sex", "taxonomy"}, "subject")
        self.b.profile["id"] = s.id or self.p.id
        if s.HasField("time_at_last_encounter"):
            t = s.time_at_last_encounter
            age = years(t.age.iso8601duration) if t.HasField("age") else None
            if age is None:
                self.b.note("subject.timeAtLastEncounter: not an ISO 8601 age, so age_years is not set")
            else:
                self.b.set("age_years", age, "subject.timeAtLastEncounter")
        else:
            self.b.note("subject: no timeAtLastEncounter, so age_years is not set")
        sex = Phenopacket.DESCRIPTOR.fields_by_name["subject"].message_type.fields_by_name["sex"].enum_type \
            .values_by_number[s.sex].name
        if sex in _SEX:
            self.b.set("sex", _SEX[sex], "subject.sex")
        elif sex != "UNKNOWN_SEX":
            self.b.note(f"subject.sex {sex}: the profile takes female or male, so sex is not set")

    def diseases(self) -> None:
        for i, d in enumerate(self.p.diseases):
            where = f"diseases[{i}] {d.term.id} {d.term.label}".rstrip()
            if d.excluded:
                code = self.variable_code(d.term.id)
                if code:
                    self.b.variable(code, False, where)
                else:
                    self.b.note(f"{where}: an excluded disease with no clinical variable of the graph, not used")
                continue
            code = self.variable_code(d.term.id)
            if code:
                self.b.variable(code, True, where)
                continue
            system, local = self.split(d.term.id)
            onco = self.vocab.oncotree(system, local)
            if onco is None:
                self.b.note(f"{where}: no OncoTree class matches this code, so it is not the diagnosis")
                continue
            self.b.set("diagnosis", onco, where)
            self.unread(d, {"term", "excluded", "onset"}, where)

    def interpretations(self) -> None:
        for i, interp in enumerate(self.p.interpretations):
            for j, gi in enumerate(interp.diagnosis.genomic_interpretations):
                where = f"interpretations[{i}].genomicInterpretations[{j}]"
                status = gi.DESCRIPTOR.fields_by_name["interpretation_status"].enum_type \
                    .values_by_number[gi.interpretation_status].name
                if status == "REJECTED":
                    self.b.note(f"{where}: a rejected interpretation is not an alteration")
                    continue
                if not gi.HasField("variant_interpretation"):
                    self.b.note(f"{where}: a gene descriptor without a variant is not an alteration, not used")
                    continue
                self.variant(gi.variant_interpretation.variation_descriptor, where)

    def variant(self, vd: Any, where: str) -> None:
        gene = gene_symbol(vd.gene_context.value_id, vd.gene_context.symbol) if vd.HasField("gene_context") else None
        if gene is None:
            self.b.note(f"{where}: no gene context, so the variant is not an alteration")
            return
        self.unread(vd, {"id", "label", "gene_context", "structural_type", "expressions", "molecule_context"}, where)
        hgvs_p = [e.value for e in vd.expressions if e.syntax.lower() == "hgvs.p"]
        if vd.HasField("structural_type"):
            system, local = self.split(vd.structural_type.id)
            kind = self.vocab.alteration_term(local) if system == "SO" else None
            if kind is None:
                self.b.note(f"{where}: structural type {vd.structural_type.id} {vd.structural_type.label} has no "
                            f"alteration type in the graph, so the {gene} variant is not an alteration")
                return
        elif hgvs_p or any(e.syntax.lower().startswith("hgvs") for e in vd.expressions):
            kind = self.vocab.alteration_term("SO:0001059")
        else:
            kind = None
        alt: dict[str, Any] = {"gene": gene}
        if kind:
            alt["type"] = kind
        if hgvs_p:
            alt["protein_change"] = protein_change(hgvs_p[0])
        self.b.add_alteration(alt)
        for e in vd.expressions:
            if e.syntax.lower() not in ("hgvs.p",):
                self.b.note(f"{where}: the {e.syntax} expression {e.value} is not read (the profile takes hgvs.p)")

    def measurements(self) -> None:
        for i, m in enumerate(self.p.measurements):
            where = f"measurements[{i}] {m.assay.id} {m.assay.label}".rstrip()
            system, local = self.split(m.assay.id)
            value = unit = low = high = high_unit = None
            if m.value.HasField("quantity"):
                q = m.value.quantity
                value = q.value
                unit = self.unit(q.unit.id)
                if q.HasField("reference_range"):
                    low, high = q.reference_range.low, q.reference_range.high
                    high_unit = self.unit(q.reference_range.unit.id) or unit
            elif m.value.HasField("ontology_class"):
                self.b.note(f"{where}: a coded value ({m.value.ontology_class.id}) is not read")
                continue
            if system == "LOINC" and local in LOINC_FIELDS:
                self.b.loinc(local, LOINC_FIELDS[local], value=value, unit=unit, low=low, high=high,
                             high_unit=high_unit, interpretation=[], method=m.procedure.code.label if
                             m.HasField("procedure") else "", where=where)
            elif system == "ACSE" and self.vocab.variable(local) is not None:
                self.b.quantity(self.vocab.variables[local].field, value, unit, where)
            else:
                self.b.note(f"{where}: an assay the profile does not read")

    def unit(self, curie: str) -> str | None:
        system, local = self.split(curie)
        return local if system == "UCUM" and local else None

    def features(self) -> None:
        for i, f in enumerate(self.p.phenotypic_features):
            where = f"phenotypicFeatures[{i}] {f.type.id} {f.type.label}".rstrip()
            code = self.variable_code(f.type.id)
            if code is None:
                self.b.note(f"{where}: no clinical variable of the graph, not used")
            else:
                var = self.vocab.variables[code]
                if var.kind != "boolean":
                    self.b.note(f"{where}: {var.field} is not a yes/no fact, not used")
                else:
                    self.b.variable(code, not f.excluded, where)

    def actions(self) -> None:
        therapies = []
        for i, a in enumerate(self.p.medical_actions):
            if not a.HasField("treatment"):
                self.b.note(f"medicalActions[{i}]: only treatments are read (a prior therapy)")
                continue
            system, local = self.split(a.treatment.agent.id)
            drug = f"{system}:{local}" if system in ("NCIT", "RXNORM", "CHEBI") else a.treatment.agent.label
            if drug:
                therapies.append({"drug": drug})
        if therapies:
            self.b.set("prior_therapies", therapies, "medicalActions")


def from_phenopacket(data: dict[str, Any], vocab: Vocabulary) -> Converted:
    """The tumor profile of a Phenopacket v2 JSON object, with notes for what it does not carry."""
    try:
        packet = ParseDict(data, Phenopacket())
    except (ParseError, ValueError, TypeError, RecursionError) as exc:  # protobuf's JSON mapping raises all of these
        raise PatientRecordError(f"not a Phenopacket v2: {exc}") from None
    return _Reader(packet, vocab).run()
