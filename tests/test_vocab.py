"""The reference vocabularies as the graph holds them: OncoTree, SO, HGNC."""

from __future__ import annotations

import csv
import re

import pytest
from conftest import SHARED

from acse_kg import vocab
from acse_kg.paths import DATA_DIR, ONTOLOGY_DIR
from acse_kg.store import GraphStore

FLAT_TSV = SHARED / "reference" / "oncotree" / "oncotree_2025_10_03_flat.tsv"
PATHOLOGIES_TSV = SHARED / "reference" / "vocab" / "acse_pathologies_oncotree_ncit.tsv"
RELEASE = "id:oncotree\\/2025_10_03"


def _tsv(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_every_oncotree_node_is_a_tumour_type_class(store: GraphStore) -> None:
    n = store.select(
        "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?c a owl:Class ; rdfs:subClassOf* acse:TumourType ; acse:oncotreeCode ?code }"
    ).values("n")[0]
    assert n == len(vocab.oncotree_nodes()) == 898
    assert n >= 800


def test_lung_adenocarcinoma_is_under_non_small_cell_lung_cancer(store: GraphStore) -> None:
    assert store.ask("ASK { onco:LUAD rdfs:subClassOf+ onco:NSCLC }")
    assert not store.ask("ASK { onco:NSCLC rdfs:subClassOf+ onco:LUAD }")


def test_alveolar_and_embryonal_rhabdomyosarcoma_are_under_rhabdomyosarcoma(store: GraphStore) -> None:
    rows = store.select("SELECT ?code WHERE { ?c rdfs:subClassOf+ onco:RMS ; acse:oncotreeCode ?code }")
    assert {"ARMS", "ERMS"} <= set(rows.values("code"))


def test_lung_and_bladder_imt_lie_outside_the_imt_subtree(store: GraphStore) -> None:
    for code in ("IMTL", "IMTB"):
        assert store.ask(f"ASK {{ onco:{code} a owl:Class }}")
        assert not store.ask(f"ASK {{ onco:{code} rdfs:subClassOf+ onco:IMT }}")


def test_the_release_is_recorded_with_every_code(store: GraphStore) -> None:
    assert not store.ask(
        f"ASK {{ ?c acse:oncotreeCode ?code . FILTER NOT EXISTS {{ ?c acse:oncotreeRelease {RELEASE} }} }}"
    )
    row = store.select(
        f"SELECT ?date ?src WHERE {{ {RELEASE} a acse:OncoTreeRelease ; dcterms:issued ?date ; dcterms:source ?src }}"
    ).rows
    assert len(row) == 1
    assert str(row[0]["date"]) == "2025-10-03"
    assert "cBioPortal/oncotree" in str(row[0]["src"])


def test_glioblastoma_has_its_2025_code_gb_and_the_retired_gbm_is_absent(store: GraphStore) -> None:
    assert store.ask('ASK { onco:GB rdfs:label "Glioblastoma, IDH-Wildtype"@en ; acse:oncotreeCode "GB" }')
    assert not store.ask("ASK { onco:GBM ?p ?o }")


def test_the_root_tissue_is_the_only_direct_subclass_of_tumour_type(store: GraphStore) -> None:
    rows = store.select("SELECT ?c WHERE { ?c rdfs:subClassOf acse:TumourType }")
    assert [str(c) for c in rows.values("c")] == [str(vocab.ONCO["TISSUE"])]


def test_the_hierarchy_matches_the_flat_release_file_node_by_node(store: GraphStore) -> None:
    """Parent, level, main type, tissue and cross-references of all 898 nodes, against the flat TSV."""
    rows = _tsv(FLAT_TSV)
    got = {
        r["code"].toPython(): r
        for r in store.select(
            """SELECT ?code ?parentCode ?level ?main ?tissue
                      (GROUP_CONCAT(DISTINCT ?ncit; separator=",") AS ?ncits)
                      (GROUP_CONCAT(DISTINCT ?umls; separator=",") AS ?umlss)
               WHERE { ?c acse:oncotreeCode ?code ; acse:oncotreeLevel ?level .
                       OPTIONAL { ?c rdfs:subClassOf ?p . ?p acse:oncotreeCode ?parentCode }
                       OPTIONAL { ?c acse:mainType ?main } OPTIONAL { ?c acse:tissue ?tissue }
                       OPTIONAL { ?c skos:exactMatch ?x . BIND(STRAFTER(STR(?x), "NCIT_") AS ?ncit) }
                       OPTIONAL { ?c acse:umlsCui ?umls } }
               GROUP BY ?code ?parentCode ?level ?main ?tissue"""
        )
    }
    assert len(got) == len(rows)

    def text(g, k: str):
        return g[k].toPython() if g[k] is not None else ""

    for row in rows:
        g = got[row["code"]]
        assert text(g, "parentCode") == row["parent"], row["code"]
        assert text(g, "level") == int(row["level"]), row["code"]
        assert text(g, "main") == row["mainType"], row["code"]
        assert text(g, "tissue") == row["tissue"], row["code"]
        assert sorted(filter(None, text(g, "ncits").split(","))) == sorted(filter(None, row["NCI"].split("|"))), row["code"]
        assert sorted(filter(None, text(g, "umlss").split(","))) == sorted(filter(None, row["UMLS"].split("|"))), row["code"]


def test_the_acse_pathologies_have_their_ncit_codes(store: GraphStore) -> None:
    for row in _tsv(PATHOLOGIES_TSV):
        code, ncit = row["oncotree_code"], row["NCIt_xref"]
        assert store.ask(f"ASK {{ onco:{code} skos:exactMatch ncit:{ncit} ; rdfs:label ?l }}"), code


def test_every_so_term_the_ontology_or_record_mentions_is_a_labelled_so_class(store: GraphStore) -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in [*ONTOLOGY_DIR.glob("*.ttl"), *DATA_DIR.glob("*.ttl")])
    used = set(re.findall(r"purl\.obolibrary\.org/obo/(SO_\d{7})", text))
    assert used, "the ontology aligns alteration types to SO"
    for term in sorted(used | {"SO_0001019", "SO_0001742", "SO_0001565", "SO_0000199", "SO_0001583",
                               "SO_0001059", "SO_0001060", "SO_0001880"}):
        assert store.ask(f"ASK {{ obo:{term} a owl:Class ; rdfs:label ?l ; skos:definition ?d }}"), (
            f"{term} missing: regenerate vocab/so_subset.obo (see vocab/ORIGIN.md)"
        )


def test_so_terms_keep_their_is_a_hierarchy(store: GraphStore) -> None:
    assert store.ask('ASK { so:0001742 rdfs:label "copy_number_gain"@en ; rdfs:subClassOf so:0001019 }')
    assert store.ask("ASK { so:0001742 rdfs:subClassOf+ so:0001059 }")  # a gain is a sequence alteration
    assert store.ask("ASK { so:0001565 rdfs:subClassOf+ so:0001060 }")  # gene_fusion is a sequence variant
    assert store.ask("ASK { so:0001583 rdfs:subClassOf+ so:0001060 }")  # missense_variant too


@pytest.mark.parametrize("row", vocab.hgnc_rows(), ids=lambda r: r["Approved Symbol"])
def test_each_hgnc_gene_is_an_identified_individual(store: GraphStore, row: dict[str, str]) -> None:
    symbol, hgnc_id = row["Approved Symbol"], row["HGNC ID"]
    number = hgnc_id.split(":")[1]
    assert store.ask(
        f'''ASK {{ id:gene\\/{symbol} a acse:Gene ; rdfs:label "{symbol}" ; acse:geneSymbol "{symbol}" ;
                 acse:hgncId "{hgnc_id}" ; skos:exactMatch hgnc:{number} ;
                 acse:approvedName "{row["Approved Name"].strip()}" }}'''
    )
    for synonym in filter(None, (s.strip() for s in row["Synonyms"].split(","))):
        assert store.ask(f'ASK {{ id:gene\\/{symbol} skos:altLabel "{synonym}" }}')


def test_the_five_crizotinib_targets_are_present_and_mst1r_is_also_called_ron(store: GraphStore) -> None:
    symbols = store.select("SELECT ?s WHERE { ?g a acse:Gene ; acse:geneSymbol ?s } ORDER BY ?s").values("s")
    assert symbols == ["ALK", "AXL", "MET", "MST1R", "ROS1"]
    assert store.ask('ASK { id:gene\\/MST1R skos:altLabel "RON" }')
    assert store.ask('ASK { id:gene\\/ALK acse:entrezGeneId "238" }')


def test_a_missing_vocabulary_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(vocab.VocabularyError, match=r"nothing\.json"):
        vocab.oncotree_graph(tmp_path / "nothing.json")
    bad = tmp_path / "hgnc.tsv"
    bad.write_text("HGNC ID\tApproved Symbol\nnot-an-id\tX\n", encoding="utf-8")
    with pytest.raises(vocab.VocabularyError, match="HGNC id"):
        vocab.hgnc_graph(bad)
