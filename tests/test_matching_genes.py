"""A profile's genes are HGNC genes: approved, previous and alias symbols resolve to the approved one, others are refused.

Real data: the shipped HGNC symbol file (``vocab/hgnc_symbols.tsv``, HGNC
export of 2022-10 with HGNC's previous symbols), checked here against facts of
the HGNC release (MLL became KMT2A; CD246 is an alias of ALK; C7 is a gene of
its own and also an alias of CXCL10).
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from matching_fixtures import profile
from typer.testing import CliRunner

from acse_kg.cli import app as cli_app
from acse_kg.matching.gene_symbols import UnknownGeneSymbol, gene_symbols, read_gene_symbols, resolve_symbol
from acse_kg.matching.profile import ProfileError, parse_profile
from acse_kg.store import GraphStore
from acse_kg.vocab import HGNC_SYMBOLS_FILE, VocabularyError


def genes_of(doc: dict) -> list[str]:
    return [a.gene for a in parse_profile(doc).alterations]


def error_of(doc: dict) -> ProfileError:
    with pytest.raises(ProfileError) as e:
        parse_profile(doc)
    return e.value


# ------------------------------------------------------------------ the symbol file
def test_the_symbol_file_holds_every_hgnc_gene_of_its_release_once() -> None:
    rows = HGNC_SYMBOLS_FILE.read_text(encoding="utf-8").splitlines()[1:]
    ids = [r.split("\t")[0] for r in rows]
    assert len(rows) == 39824 and len(set(ids)) == len(ids)
    assert len(gene_symbols().approved) == 39824  # no two genes share an approved symbol


def test_every_gene_of_the_graph_is_the_same_hgnc_gene_in_the_symbol_file(store: GraphStore) -> None:
    """Gene IRIs agree: the graph's genes resolve to their own symbol and HGNC id."""
    rows = store.select("SELECT ?sym ?hgnc WHERE { ?g a acse:Gene ; acse:geneSymbol ?sym ; acse:hgncId ?hgnc }").rows
    assert rows
    for r in rows:
        assert resolve_symbol(str(r["sym"])) == str(r["sym"])
        assert gene_symbols().hgnc_id(str(r["sym"])) == str(r["hgnc"])


def test_a_symbol_file_without_its_header_is_a_vocabulary_error(tmp_path) -> None:
    bad = tmp_path / "genes.tsv"
    bad.write_text("HGNC:5\tA1BG\t\t\n")
    with pytest.raises(VocabularyError, match="header"):
        read_gene_symbols(bad)


# ------------------------------------------------------------------ resolution
def test_a_previous_symbol_resolves_to_the_approved_one() -> None:
    assert resolve_symbol("MLL") == "KMT2A"


def test_an_alias_symbol_resolves_to_the_approved_one() -> None:
    assert resolve_symbol("CD246") == "ALK"


def test_the_protocols_ron_is_mst1r() -> None:
    assert resolve_symbol("RON") == "MST1R"


def test_an_approved_symbol_wins_over_another_genes_alias() -> None:
    assert resolve_symbol("C7") == "C7"
    assert "CXCL10" in gene_symbols().alias["C7"]


def test_symbols_are_read_without_regard_to_case_and_given_back_in_hgnc_case() -> None:
    assert resolve_symbol("c1orf112") == "C1orf112"


def test_a_symbol_shared_by_several_genes_is_refused_naming_them() -> None:
    with pytest.raises(UnknownGeneSymbol, match=r"ambiguous gene symbol 'ACT'.*SERPINA3"):
        resolve_symbol("ACT")


# ------------------------------------------------------------------ the profile
def test_a_profile_gene_reads_as_its_approved_symbol() -> None:
    doc = profile(alterations=[{"gene": "mll", "type": "translocation"}, {"gene": "RON", "type": "amplification"}])
    assert genes_of(doc) == ["KMT2A", "MST1R"]


def test_an_unknown_gene_is_an_error_naming_the_alteration_and_the_symbol() -> None:
    e = error_of(profile(alterations=[{"gene": "MET", "type": "amplification"},
                                      {"gene": "NOTAGENE1", "type": "mutation"}]))
    assert e.field == "alterations.1.gene"
    assert "NOTAGENE1" in e.message and "HGNC" in e.message


def test_a_typo_of_a_target_is_not_silently_another_gene() -> None:
    assert error_of(profile(alterations=[{"gene": "ALKK", "type": "translocation"}])).field == "alterations.0.gene"


def test_an_alias_of_a_target_matches_the_targets_cohort(matcher) -> None:
    """CD246 is ALK: an adult with ALCL and a CD246 translocation is a candidate for cohort 1."""
    result = matcher.match(profile(diagnosis="ALCL", alterations=[{"gene": "CD246", "type": "translocation"}]))
    assert 1 in [c["cohort"] for c in result["cohorts"]]


def test_the_cli_exits_2_on_an_unknown_gene_naming_the_field() -> None:
    r = CliRunner().invoke(cli_app, ["match", "-", "--store", "memory"],
                           input=json.dumps(profile(alterations=[{"gene": "NOTAGENE1", "type": "mutation"}])))
    assert r.exit_code == 2 and "alterations.0.gene" in r.stderr and r.stdout == ""


def test_http_answers_422_on_an_unknown_gene_naming_the_field(store: GraphStore) -> None:
    from acse_kg.api.app import create_app

    r = TestClient(create_app(store)).post("/match", json=profile(alterations=[{"gene": "NOTAGENE1", "type": "mutation"}]))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "alterations.0.gene"
