"""The reference vocabularies (OncoTree, Sequence Ontology, HGNC) as RDF.

The project ships each vocabulary as its publisher released it (``vocab/``,
origins in ``vocab/ORIGIN.md``) and turns it into triples at load time, so
that the shipped file stays reviewable against its source and the mapping to
RDF lives in one place: here.

- OncoTree: every tumour type becomes an ``owl:Class`` under its parent, so
  that a cohort on NSCLC covers LUAD through ``rdfs:subClassOf`` (for SPARQL
  property paths and for the reasoner alike). Codes change between releases
  (GBM became GB in 2025), so every class carries the release it comes from.
- SO: the used alteration terms and their ``is_a`` ancestors, as classes.
- HGNC: the crizotinib target genes as individuals of ``acse:Gene``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from .errors import AcseError
from .namespaces import ACSE, HGNC, ID, NCIT, OBO, ONCO, ONCOTREE_RELEASE_ID, PREFIXES
from .paths import VOCAB_DIR

ONCOTREE_FILE = VOCAB_DIR / f"oncotree_{ONCOTREE_RELEASE_ID}.json"
SO_FILE = VOCAB_DIR / "so_subset.obo"
HGNC_FILE = VOCAB_DIR / "hgnc_crizotinib_targets.tsv"
#: Every HGNC gene with its alias and previous symbols: what a profile's gene is checked against
#: (read by acse_kg.matching.gene_symbols, not loaded into the graph).
HGNC_SYMBOLS_FILE = VOCAB_DIR / "hgnc_symbols.tsv"

#: The OncoTree release the shipped tree is, as an individual of acse:OncoTreeRelease.
ONCOTREE_RELEASE = URIRef(f"{ID}oncotree/{ONCOTREE_RELEASE_ID}")
ONCOTREE_RELEASE_DATE = "2025-10-03"
ONCOTREE_SOURCE = URIRef("https://github.com/cBioPortal/oncotree")
ONCOTREE_ROOT = "TISSUE"

#: Names the trial protocol uses for a gene that HGNC does not list as a synonym.
#: The AcSé protocol calls MST1R "RON" (its protein's name).
PROTOCOL_ALIASES: dict[str, tuple[str, ...]] = {"MST1R": ("RON",)}


class VocabularyError(AcseError, ValueError):
    """A shipped vocabulary file is missing or does not have the expected shape."""


def _new_graph() -> Graph:
    g = Graph()
    for prefix, iri in PREFIXES.items():
        g.bind(prefix, iri, override=True)
    return g


# --------------------------------------------------------------- OncoTree
def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in (node.get("children") or {}).values():
        yield from _walk(child)


def oncotree_nodes(path: Path = ONCOTREE_FILE) -> list[dict[str, Any]]:
    """Every node of the shipped OncoTree tree, root first (depth-first)."""
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise VocabularyError(f"cannot read the OncoTree file {path}: {exc}") from exc
    if ONCOTREE_ROOT not in tree:
        raise VocabularyError(f"{path}: no {ONCOTREE_ROOT} root node")
    return list(_walk(tree[ONCOTREE_ROOT]))


def oncotree_graph(path: Path = ONCOTREE_FILE) -> Graph:
    """The OncoTree release as an OWL class hierarchy under acse:TumourType."""
    g = _new_graph()
    rel = ONCOTREE_RELEASE
    g.add((rel, RDF.type, ACSE.OncoTreeRelease))
    g.add((rel, RDFS.label, Literal(f"OncoTree release {ONCOTREE_RELEASE_ID}", lang="en")))
    g.add((rel, DCTERMS.issued, Literal(ONCOTREE_RELEASE_DATE, datatype=XSD.date)))
    g.add((rel, DCTERMS.source, ONCOTREE_SOURCE))
    g.add((rel, OWL.versionInfo, Literal(ONCOTREE_RELEASE_ID)))
    for node in oncotree_nodes(path):
        code = node["code"]
        cls = ONCO[code]
        g.add((cls, RDF.type, OWL.Class))
        parent = node.get("parent")
        g.add((cls, RDFS.subClassOf, ONCO[parent] if parent else ACSE.TumourType))
        g.add((cls, RDFS.label, Literal(node["name"], lang="en")))
        g.add((cls, ACSE.oncotreeCode, Literal(code)))
        g.add((cls, ACSE.oncotreeRelease, rel))
        g.add((cls, ACSE.oncotreeLevel, Literal(int(node["level"]), datatype=XSD.integer)))
        if node.get("mainType"):
            g.add((cls, ACSE.mainType, Literal(node["mainType"])))
        if node.get("tissue"):
            g.add((cls, ACSE.tissue, Literal(node["tissue"])))
        refs = node.get("externalReferences") or {}
        for ncit in refs.get("NCI", []):
            g.add((cls, SKOS.exactMatch, NCIT[ncit]))
        for cui in refs.get("UMLS", []):
            g.add((cls, ACSE.umlsCui, Literal(cui)))
    return g


# --------------------------------------------------------------- SO
_DEF_RE = re.compile(r'^def: "((?:[^"\\]|\\.)*)"', re.M)


def so_terms(path: Path = SO_FILE) -> list[dict[str, Any]]:
    """The [Term] stanzas of an OBO file: id, name, definition, is_a parents, obsolete flag."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VocabularyError(f"cannot read the SO file {path}: {exc}") from exc
    terms = []
    for block in re.split(r"\n(?=\[)", text):
        if not block.startswith("[Term]"):
            continue
        ident = re.search(r"^id: (\S+)", block, re.M)
        name = re.search(r"^name: (.+)$", block, re.M)
        if not ident or not name:
            raise VocabularyError(f"{path}: a [Term] without id or name")
        definition = _DEF_RE.search(block)
        terms.append(
            {
                "id": ident.group(1),
                "name": name.group(1).strip(),
                "definition": definition.group(1).replace('\\"', '"') if definition else None,
                "is_a": re.findall(r"^is_a: (\S+)", block, re.M),
                "obsolete": bool(re.search(r"^is_obsolete: true", block, re.M)),
            }
        )
    return terms


def obo_iri(curie: str) -> URIRef:
    """SO:0001742 -> http://purl.obolibrary.org/obo/SO_0001742."""
    return OBO[curie.replace(":", "_", 1)]


def so_graph(path: Path = SO_FILE) -> Graph:
    """The used Sequence Ontology terms and their ancestors as OWL classes."""
    g = _new_graph()
    for term in so_terms(path):
        if term["obsolete"]:
            continue
        cls = obo_iri(term["id"])
        g.add((cls, RDF.type, OWL.Class))
        g.add((cls, RDFS.label, Literal(term["name"], lang="en")))
        if term["definition"]:
            g.add((cls, SKOS.definition, Literal(term["definition"], lang="en")))
        g.add((cls, SKOS.notation, Literal(term["id"])))
        for parent in term["is_a"]:
            g.add((cls, RDFS.subClassOf, obo_iri(parent)))
    return g


# --------------------------------------------------------------- HGNC
def hgnc_rows(path: Path = HGNC_FILE) -> list[dict[str, str]]:
    """The rows of the HGNC export, as dicts keyed by its header."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise VocabularyError(f"cannot read the HGNC file {path}: {exc}") from exc
    for row in rows:
        if not (row.get("HGNC ID") or "").startswith("HGNC:") or not row.get("Approved Symbol"):
            raise VocabularyError(f"{path}: row without an HGNC id or symbol: {row}")
    return rows


def gene_iri(symbol: str) -> URIRef:
    return URIRef(f"{ID}gene/{symbol}")


def hgnc_graph(path: Path = HGNC_FILE) -> Graph:
    """Each gene of the HGNC export as an individual of acse:Gene."""
    g = _new_graph()
    for row in hgnc_rows(path):
        symbol = row["Approved Symbol"].strip()
        hgnc_id = row["HGNC ID"].strip()
        gene = gene_iri(symbol)
        g.add((gene, RDF.type, ACSE.Gene))
        g.add((gene, RDFS.label, Literal(symbol)))
        g.add((gene, ACSE.geneSymbol, Literal(symbol)))
        g.add((gene, ACSE.hgncId, Literal(hgnc_id)))
        g.add((gene, SKOS.exactMatch, HGNC[hgnc_id.split(":", 1)[1]]))
        if row.get("Approved Name"):
            g.add((gene, ACSE.approvedName, Literal(row["Approved Name"].strip())))
        if (row.get("Entrez Gene ID") or "").strip():
            g.add((gene, ACSE.entrezGeneId, Literal(row["Entrez Gene ID"].strip())))
        synonyms = [s.strip() for s in (row.get("Synonyms") or "").split(",") if s.strip()]
        for alias in [*synonyms, *PROTOCOL_ALIASES.get(symbol, ())]:
            g.add((gene, SKOS.altLabel, Literal(alias)))
    return g
