"""Cohorts that compete for the same patients: HermiT on the cohorts' population classes (acse_kg.owl.overlaps)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import NCT, SHARED, require
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from rdflib import Graph
from typer.testing import CliRunner

from acse_kg.cli import app as cli
from acse_kg.ctml.importer import import_ctml
from acse_kg.matching.candidates import Taxonomy as OncoTree
from acse_kg.model import read_study
from acse_kg.owl import classes as K
from acse_kg.owl.classify import OwlEngine
from acse_kg.owl.overlaps import (
    OVERLAPS_GRAPH,
    OverlapPlan,
    _lit,
    compute_overlaps,
    previous_decisions,
    write_overlaps,
)
from acse_kg.owl.reasoner import Hermit
from acse_kg.pages import study_page
from acse_kg.store import open_store
from acse_kg.synthetic import add_copies

PT = "https://w3id.org/acse-kg/ontology/patient#"
CAPTUR = "NCT03297606"
CAPTUR_FILE = SHARED / "reference" / "matchminer" / "ctml_example_CAPTUR_NCT03297606.json"


@pytest.fixture(scope="module")
def acse(store):
    require(shutil.which("java") is not None, "Java (for HermiT)")
    return compute_overlaps(store, [NCT])


def relation(report, a: str, b: str) -> str:
    for p in report.pairs:
        if (p.a, p.b) == (a, b):
            return p.relation
        if (p.b, p.a) == (a, b):
            return {"subsumes": "subsumed_by", "subsumed_by": "subsumes"}.get(p.relation, p.relation)
    raise AssertionError(f"no pair {a} {b}")


def cohort(store, n: int, nct: str = NCT) -> str:
    c = read_study(store, nct).cohort(n)
    assert c is not None
    return c.iri


def test_every_pair_of_the_records_cohorts_gets_one_relation(store, acse) -> None:
    assert acse.cohorts == 23 and len(acse.pairs) == 23 * 22 // 2
    assert {p.relation for p in acse.pairs} <= {"subsumes", "subsumed_by", "overlaps", "disjoint"}


def test_cohorts_of_different_pathologies_are_disjoint(store, acse) -> None:
    assert relation(acse, cohort(store, 5), cohort(store, 8)) == "disjoint"  # NSCLC vs gastric, both MET-amplified


def test_the_two_other_pathology_slots_are_equivalent(store, acse) -> None:
    pair = next(p for p in acse.pairs if {p.a, p.b} == {cohort(store, 22), cohort(store, 23)})
    assert pair.relation == "subsumes" and pair.shared.startswith("equivalent")


def test_a_named_cohort_overlaps_the_other_pathology_slot_with_the_shared_population_described(store, acse) -> None:
    # NSCLC with a MET amplification and, besides, an alteration no named cohort takes with NSCLC.
    pair = next(p for p in acse.pairs if {p.a, p.b} == {cohort(store, 5), cohort(store, 22)})
    assert pair.relation == "overlaps"
    lung = ", ".join(sorted(p.name for p in read_study(store, NCT).cohort(5).pathologies))  # NSCLC and the curated ones
    assert pair.shared == f"diagnosis: {lung}; alteration: MET amplification; age: 18 years and over"


def test_adults_only_and_children_only_cohorts_are_disjoint(store, acse) -> None:
    assert relation(acse, cohort(store, 21), cohort(store, 22)) == "disjoint"  # under 18 vs 18 and over


def test_pruning_and_grouping_give_exactly_what_the_reasoner_gives_on_every_pair(store, acse) -> None:
    # The reference: every pair to HermiT, over a TBox holding every population class.
    full = compute_overlaps(store, [NCT], prune=False)
    assert full.reasoner_pairs == len(full.pairs) == 253
    assert [(p.a, p.b, p.relation, p.shared) for p in full.pairs] == \
        [(p.a, p.b, p.relation, p.shared) for p in acse.pairs]
    assert acse.counts() == full.counts()
    # Asked block by block, a reasoner per few pairs (holding only the classes those pairs name): the same.
    blocks = compute_overlaps(store, [NCT], block=6, per_reasoner=5)
    assert blocks.timings["reasoners"] > 1
    assert [(p.a, p.b, p.relation, p.shared) for p in blocks.pairs] == \
        [(p.a, p.b, p.relation, p.shared) for p in full.pairs]


def test_most_pairs_are_decided_without_the_reasoner_and_copies_are_asked_once(store, acse) -> None:
    assert acse.reasoner_pairs < len(acse.decided) < acse.total  # pruned, then grouped
    assert acse.groups == 22  # the two "another pathology" adult slots are one class written twice
    by_tree = [p for p in acse.pairs if not p.by_reasoner]
    assert by_tree and all(p.relation == "disjoint" for p in by_tree)


def test_cohorts_whose_age_bands_do_not_meet_are_disjoint_without_the_reasoner(store, acse) -> None:
    # Both take any pathology (TISSUE) and the same genes: only the age bands (1-18, 18+) keep them apart.
    pair = next(p for p in acse.pairs if {p.a, p.b} == {cohort(store, 21), cohort(store, 22)})
    assert pair.relation == "disjoint" and not pair.by_reasoner


def test_cohorts_requiring_different_genes_are_not_pruned(store, acse) -> None:
    # NSCLC with MET (5) and NSCLC with ROS1 (6): a patient may carry both alterations.
    pair = next(p for p in acse.pairs if {p.a, p.b} == {cohort(store, 5), cohort(store, 6)})
    assert pair.by_reasoner and pair.relation == "overlaps"


def test_the_relations_are_written_into_their_own_graph_for_sparql(acse) -> None:
    s = open_store("memory")
    write_overlaps(s, acse)
    rows = s.select(f"SELECT ?a ?b WHERE {{ GRAPH <{OVERLAPS_GRAPH}> {{ ?a <{PT}subsumesCohort> ?b }} }}")
    subsumes = {(str(r["a"]).rsplit("/", 1)[1], str(r["b"]).rsplit("/", 1)[1]) for r in rows}
    assert {("22", "23"), ("23", "22")} <= subsumes


def test_the_readme_query_finds_the_open_cohorts_that_compete_for_gastric_met_amplified_patients(acse) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    query = readme.split("```sparql\n", 1)[1].split("```", 1)[0]
    s = open_store("memory")
    write_overlaps(s, acse)
    labels = sorted(str(r["label"]) for r in s.select(query))
    assert labels == ["Another pathology (1 of 2), adults, any crizotinib-target alteration not covered by cohorts 1-20",
                      "Another pathology (2 of 2), adults, any crizotinib-target alteration not covered by cohorts 1-20"]


@pytest.mark.slow
def test_cohorts_of_two_trials_are_compared_and_written_back_for_sparql(growing, acse) -> None:
    s = open_store("memory")
    (copy,) = add_copies(s, 1, [NCT])  # the registry `growing` decided whole as its second step
    report = growing["added_full"]
    across = [p for p in report.pairs if (NCT in p.a) != (NCT in p.b) and p.relation != "disjoint"]
    assert across, "a varied copy shares some pathology and gene with the original"
    write_overlaps(s, report)
    rows = s.select(f"SELECT ?a ?b WHERE {{ GRAPH <{OVERLAPS_GRAPH}> {{ ?a <{PT}overlapsCohort> ?b }} }}")
    got = {(str(r["a"]), str(r["b"])) for r in rows}
    assert {(p.a, p.b) for p in across} <= got and {(p.b, p.a) for p in across} <= got
    # Regenerated on each write: a report of AcSé alone leaves no pair of the copy behind.
    write_overlaps(s, acse)
    rows = s.select(f"SELECT ?a WHERE {{ GRAPH <{OVERLAPS_GRAPH}> {{ ?a <{PT}overlapsCohort> ?b }} }}")
    assert rows and not [r for r in rows if copy in str(r["a"])]


@pytest.fixture(scope="module")
def with_captur():
    """AcSé and CAPTUR (imported from its CTML), their overlaps computed and written back."""
    require(shutil.which("java") is not None, "Java (for HermiT)")
    s = open_store("memory")
    import_ctml(s, json.loads(CAPTUR_FILE.read_text(encoding="utf-8")))
    report = compute_overlaps(s, [NCT, CAPTUR])
    write_overlaps(s, report)
    return s, report


def crizotinib_arm(s):
    return next(c for c in read_study(s, CAPTUR).cohorts if any(d.name == "crizotinib" for d in c.drugs))


def test_captur_crizotinib_arm_is_disjoint_from_acse_nsclc_and_overlaps_acse_gastric(with_captur) -> None:
    s, report = with_captur
    arm = crizotinib_arm(s)
    assert relation(report, cohort(s, 8), arm.iri) == "overlaps"  # MET-amplified gastric cancer
    # The arm excludes NSCLC: no NSCLC patient of AcSé's MET-amplified lung cohort is in it. That cohort
    # also takes the lung pathologies its curation added beside NSCLC (LUNE, SARCL), which the arm does
    # not exclude: on those the two overlap, and the shared population says "not NSCLC".
    lung = read_study(s, NCT).cohort(5)
    nsclc = "https://w3id.org/acse-kg/id/oncotree/2025_10_03/NSCLC"
    only_nsclc = [p for p in lung.pathologies if nsclc not in OncoTree.load(s).ancestors(p.iri)]
    pair = next(p for p in report.pairs if {p.a, p.b} == {lung.iri, arm.iri})
    if not only_nsclc:
        assert pair.relation == "disjoint"
    else:
        assert pair.relation == "overlaps" and "(not NSCLC)" in pair.shared
    engine = OwlEngine(s, [NCT, CAPTUR])
    more = [(f"EquivalentClasses(<urn:test:nsclc-lung> ObjectIntersectionOf(<{K.cohort_population(lung)}> "
             f"ObjectSomeValuesFrom({K.HAS_DIAGNOSIS} <{nsclc}>)))")]
    with Hermit(engine.ontology(populations_only=True, more=more)) as h:
        assert h.abox(None)
        assert not h.sat("urn:test:nsclc-lung", K.cohort_population(arm))
        assert h.sat(K.cohort_population(read_study(s, NCT).cohort(8)), K.cohort_population(arm))


@pytest.mark.slow  # a HermiT run of its own; GET /overlaps covers the same computation by default
def test_the_command_prints_json_pairs(tmp_path) -> None:
    require(shutil.which("java") is not None, "Java (for HermiT)")
    out = CliRunner().invoke(cli, ["overlaps", NCT, "--json", "--no-write", "--store", "memory"])
    assert out.exit_code == 0, out.output
    pairs = json.loads(out.stdout)
    assert len(pairs) == 253 and set(pairs[0]) == {"a", "b", "relation", "shared"}


def test_the_command_refuses_what_is_not_an_nct_number() -> None:
    out = CliRunner().invoke(cli, ["overlaps", "NCT-what", "--store", "memory"])
    assert out.exit_code == 2 and "not an NCT number" in out.output


def test_get_overlaps_answers_the_pairs_and_refuses_a_bad_nct(store) -> None:
    require(shutil.which("java") is not None, "Java (for HermiT)")
    from acse_kg.api.app import create_app

    client = TestClient(create_app(store))
    got = client.get("/overlaps", params={"nct": NCT})
    assert got.status_code == 200 and len(got.json()) == 253
    assert client.get("/overlaps", params={"nct": "bad"}).status_code == 400
    assert client.get("/overlaps", params={"nct": "NCT00000001"}).status_code == 404


def competing_section(html: str) -> str:
    return html.split('<section id="competing"', 1)[1].split("</section>", 1)[0] if 'id="competing"' in html else ""


def test_the_study_page_lists_the_cohorts_of_other_trials_that_overlap_each_cohort(with_captur) -> None:
    s, report = with_captur
    arm = crizotinib_arm(s)
    section = competing_section(study_page(s, NCT))
    gastric = section.split('<a href="/study/NCT02034981/cohort/8">Cohort 8</a>', 1)[1].split("<dt>", 1)[0]
    assert f'<a href="/study/{CAPTUR}/cohort/{arm.number}">cohort {arm.number} of {CAPTUR}</a>' in gastric
    # Every cohort of CAPTUR the reasoner found overlapping AcSé's cohort 8 is listed under it, and nothing else.
    eight = cohort(s, 8)
    across = {(p.b if p.a == eight else p.a).rsplit("/", 1)[1] for p in report.pairs
              if p.relation != "disjoint" and eight in (p.a, p.b) and CAPTUR in p.a + p.b}
    listed = set(re.findall(rf'<dd class="competitor">[^<]*<a href="/study/{CAPTUR}/cohort/(\d+)">', gastric))
    assert across and listed == across
    # And the other way round: CAPTUR's page names AcSé's gastric cohort under the crizotinib arm.
    theirs = competing_section(study_page(s, CAPTUR))
    assert '<a href="/study/NCT02034981/cohort/8">cohort 8 of NCT02034981</a>' in theirs


def test_the_study_page_has_no_competing_section_when_nothing_overlaps_across_trials(store, acse) -> None:
    assert 'id="competing"' not in study_page(store, NCT)  # the overlaps were never computed
    s = open_store("memory")
    write_overlaps(s, acse)  # computed, but AcSé's cohorts only meet each other
    assert 'id="competing"' not in study_page(s, NCT)


# ------------------------------------------------------------------ incremental: only the pairs whose digests changed
def candidates(s) -> list[tuple[str, str]]:
    """The pairs (by IRI) of the registry's cohorts that the shortcuts leave to the reasoner."""
    engine = OwlEngine(s)
    members = [c for st in engine.studies for c in st.cohorts]
    return [(members[i].iri, members[j].iri) for i, j in OverlapPlan(engine, members).candidates()]


def fresh_pairs(report) -> set[tuple[str, str]]:
    return {(report.members[i].iri, report.members[j].iri) for i, j in report.fresh}


def answers(report) -> list[tuple[str, str, str, str]]:
    return [(p.a, p.b, p.relation, p.shared) for p in report.pairs]


@pytest.fixture(scope="module")
def growing(acse):
    """AcSé's overlaps written; a copy added and decided incrementally; then the copy changed and decided again.

    Each step's incremental report beside a full recomputation of the same registry (for the first,
    reasoners of at most 20 pairs asked by two HermiT processes side by side, so that path is compared too).
    """
    s = open_store("memory")
    alone = acse  # AcSé's overlaps, decided once for the module
    write_overlaps(s, alone)
    (copy,) = add_copies(s, 1, [NCT])
    added = compute_overlaps(s, incremental=True)
    added_full = compute_overlaps(s, block=10, per_reasoner=20, workers=2)
    added_candidates = candidates(s)
    write_overlaps(s, added)
    before = dict(zip((c.iri for c in added.members), added.digests, strict=True))
    add_copies(s, 1, [NCT], seed=7)  # the same NCT number, other draws: the copy's cohorts change
    changed = compute_overlaps(s, incremental=True)
    changed_full = compute_overlaps(s)
    now = dict(zip((c.iri for c in changed.members), changed.digests, strict=True))
    return {"store": s, "copy": copy, "alone": alone, "added": added, "added_full": added_full,
            "added_candidates": added_candidates, "changed": changed, "changed_full": changed_full,
            "changed_candidates": candidates(s), "edited": {iri for iri, d in now.items() if before.get(iri) != d}}


def test_a_rerun_with_nothing_changed_keeps_every_pair_and_asks_the_reasoner_nothing(acse) -> None:
    s = open_store("memory")
    write_overlaps(s, acse)
    again = compute_overlaps(s, [NCT], incremental=True)
    assert again.reasoner_pairs == 0 and again.fresh == []
    assert again.reused == len(acse.decided) == len(again.decided)
    assert answers(again) == answers(acse)


def test_adding_a_study_decides_only_the_pairs_with_its_cohorts(growing) -> None:
    added, copy = growing["added"], growing["copy"]
    assert sum(copy in c.iri for c in added.members) == 23
    # Every pair of AcSé's cohorts is kept from the graph; HermiT decides exactly the pairs with a
    # cohort of the copy that the shortcuts leave (counted: 23 x 23 + 23 x 22 / 2 pairs have one, of 1,035).
    assert added.reused == len(growing["alone"].decided)
    theirs = {(a, b) for a, b in growing["added_candidates"] if copy in a + b}
    assert fresh_pairs(added) == theirs and 0 < len(theirs) < 23 * 23 + 23 * 22 // 2
    assert len(added.fresh) + added.reused == len(added.decided) == len(growing["added_candidates"])


def test_changing_a_study_decides_again_only_the_pairs_of_its_changed_cohorts(growing) -> None:
    changed, edited = growing["changed"], growing["edited"]
    assert edited and all(growing["copy"] in iri for iri in edited)  # only the copy was written
    assert fresh_pairs(changed) == {(a, b) for a, b in growing["changed_candidates"] if edited & {a, b}}
    assert changed.reused == len(changed.decided) - len(changed.fresh) > 0


@pytest.mark.parametrize("step", ["added", "changed"])
def test_the_incremental_answers_equal_a_full_recomputation_pair_by_pair(growing, step) -> None:
    incremental, full = growing[step], growing[f"{step}_full"]
    assert full.reused == 0 and incremental.reused > 0
    assert step != "added" or full.timings["reasoners"] > 1  # two JVMs had work side by side
    assert answers(incremental) == answers(full)
    assert incremental.counts() == full.counts()


def direct(s) -> set[tuple[str, str, str]]:
    rows = s.select(f"SELECT ?a ?p ?b WHERE {{ GRAPH <{OVERLAPS_GRAPH}> {{ ?a ?p ?b "
                    f"FILTER(?p IN (<{PT}overlapsCohort>, <{PT}subsumesCohort>)) }} }}")
    return {(str(r["a"]), str(r["p"]), str(r["b"])) for r in rows}


def test_an_incremental_write_leaves_the_graph_a_whole_write_of_a_full_run_gives(growing) -> None:
    s, report = growing["store"], growing["changed"]
    assert report.stale  # the copy's changed pairs, taken out
    written = write_overlaps(s, report)  # takes out the stale pairs, puts in the fresh ones
    whole = open_store("memory")
    assert written < write_overlaps(whole, growing["changed_full"])
    assert direct(s) == direct(whole)
    kept = previous_decisions(s)
    assert len(kept) == len(report.decided) == len(previous_decisions(whole))
    for (i, j), o in report.decided.items():  # a kept pair may be held the other way round
        k, flipped = (kept[o.a, o.b], False) if (o.a, o.b) in kept else (kept[o.b, o.a], True)
        relation = {"subsumes": "subsumed_by", "subsumed_by": "subsumes"}.get(k.relation, k.relation) \
            if flipped else k.relation
        digests = (k.digest_b, k.digest_a) if flipped else (k.digest_a, k.digest_b)
        assert (relation, k.shared, digests) == (o.relation, o.shared, (report.digests[i], report.digests[j]))


@given(st.text())
def test_a_shared_population_of_any_text_reads_back_as_written(text) -> None:
    g = Graph().parse(data=f"<urn:a> <urn:b> {_lit(text, 'en')} .\n", format="nt")
    assert [str(o) for o in g.objects()] == [text]


@pytest.mark.parametrize("workers", ["0", "9"])
def test_the_command_bounds_the_reasoner_processes_it_starts(workers: str) -> None:
    out = CliRunner().invoke(cli, ["overlaps", NCT, "--workers", workers, "--no-write", "--store", "memory"])
    assert out.exit_code == 2 and "--workers" in out.output
