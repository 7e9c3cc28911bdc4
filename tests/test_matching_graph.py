"""The matcher takes its rules from the graph: change the graph and the decision changes with it."""

from __future__ import annotations

import io

import orjson
import pytest
from matching_fixtures import CRIT, profile

from acse_kg.commands.match_cmds import run_batch
from acse_kg.matching import shacl
from acse_kg.matching.engine import Matcher
from acse_kg.matching.profile import TumorProfile, parse_profile


def test_every_profile_field_the_graph_names_is_in_the_contract_model(store) -> None:
    fields = {str(r["f"]) for r in store.select("SELECT ?f WHERE { ?v acse:profileField ?f }")}
    for f in fields:
        model = TumorProfile
        head, _, tail = f.partition(".")
        assert head in model.model_fields, f
        if tail:
            sub = model.model_fields[head].annotation
            assert tail in sub.model_fields, f  # type: ignore[union-attr]


def test_a_threshold_changed_in_the_graph_changes_the_decision_and_the_shapes(fresh_store) -> None:
    p = parse_profile(profile(labs={"anc": 1.2}))
    assert Matcher(fresh_store).statuses(p)[CRIT + "inc-06-anc"] == "met"
    fresh_store.update(f"""
        DELETE {{ GRAPH ?g {{ ?cmp acse:threshold ?old }} }}
        INSERT {{ GRAPH ?g {{ ?cmp acse:threshold 1.5 }} }}
        WHERE {{ GRAPH ?g {{ <{CRIT}inc-06-anc> acse:requires ?cmp . ?cmp acse:threshold ?old }} }}""")
    assert Matcher(fresh_store).statuses(p)[CRIT + "inc-06-anc"] == "not_met"
    assert shacl.canonical(shacl.generate(fresh_store)) != shacl.canonical(shacl.load_shapes())


def test_a_cohort_opened_in_the_graph_is_open_in_the_result(fresh_store) -> None:
    gb = profile(diagnosis="GB")
    assert Matcher(fresh_store).match(gb)["cohorts"][0]["criteria"][0]["status"] == "not_met"
    fresh_store.update("""
        DELETE { GRAPH ?g { ?c acse:cohortStatus acse:CohortPendingAmendment } }
        INSERT { GRAPH ?g { ?c acse:cohortStatus acse:CohortOpen } }
        WHERE { GRAPH ?g { ?c acse:cohortNumber 18 ; acse:cohortStatus acse:CohortPendingAmendment } }""")
    assert Matcher(fresh_store).match(gb)["cohorts"][0]["criteria"][0]["status"] == "met"


def test_the_progress_bar_goes_to_stderr_only_when_asked(matcher, capsys) -> None:
    data = b"\n".join(orjson.dumps(profile(id=f"P{i}")) for i in range(3))
    out = io.BytesIO()
    assert run_batch(matcher, io.BytesIO(data), out, progress=True) == (3, 0)
    assert "matching" in capsys.readouterr().err
    assert len(out.getvalue().splitlines()) == 3
    run_batch(matcher, io.BytesIO(data), io.BytesIO(), progress=False)
    assert capsys.readouterr().err == ""


def test_the_server_matches_against_the_graph_as_it_is_after_a_write(fresh_store) -> None:
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app

    client = TestClient(create_app(fresh_store))
    body = profile(labs={"anc": 1.2})

    def anc_status() -> str:
        (c5,) = client.post("/match", json=body).json()["cohorts"]
        return next(c["status"] for c in c5["criteria"] if c["id"] == "inc-06-anc")

    assert anc_status() == "met"
    fresh_store.update(f"""
        DELETE {{ GRAPH ?g {{ ?cmp acse:threshold ?old }} }}
        INSERT {{ GRAPH ?g {{ ?cmp acse:threshold 1.5 }} }}
        WHERE {{ GRAPH ?g {{ <{CRIT}inc-06-anc> acse:requires ?cmp . ?cmp acse:threshold ?old }} }}""")
    assert anc_status() == "not_met"


def test_the_matcher_is_built_once_while_the_store_is_unchanged(store) -> None:
    from acse_kg.matching.engine import matcher_for

    assert matcher_for(store) is matcher_for(store)


def test_values_from_the_graph_are_constants_of_the_compiled_rules_never_source() -> None:
    from acse_kg.matching.rules import compile_expr
    from acse_kg.model import Comparison, Variable

    sneaky = "normal' or True or '"  # spliced into source, this would make every comparison true
    var = Variable("v", "labs.calcium", None, "code")
    rule = compile_expr(Comparison(var, "eq", sneaky))
    assert rule({"labs.calcium": "normal"}) is False
    assert rule({"labs.calcium": sneaky}) is True
    assert rule({}) is None


def test_compiled_kleene_logic_matches_the_truth_tables() -> None:
    import itertools

    from acse_kg.matching.rules import compile_expr
    from acse_kg.model import And, Comparison, Not, Or, Variable

    def leaf(name: str) -> Comparison:
        return Comparison(Variable(name, name, None, "boolean"), "eq", True)

    a, b = leaf("a"), leaf("b")
    conj = compile_expr(And((a, b)))
    disj = compile_expr(Or((a, b)))
    neg = compile_expr(Not(a))
    values = [True, False, None]
    for x, y in itertools.product(values, values):
        facts = {k: v for k, v in (("a", x), ("b", y)) if v is not None}
        assert conj(facts) == (False if False in (x, y) else None if None in (x, y) else True)
        assert disj(facts) == (True if True in (x, y) else None if None in (x, y) else False)
        assert neg(facts) == (None if x is None else not x)


def test_alternatives_of_alterations_answer_as_each_alternative_asked_in_turn() -> None:
    """A CTML arm's OR of alteration tests is asked only of the profile's (gene, type) pairs; its
    answer must be the Kleene OR of every alternative asked on its own, wildcards and unknowns included."""
    import itertools

    from acse_kg.matching.candidates import pair_set
    from acse_kg.matching.rules import ALTS, VARIANTS, alteration_status, compile_expr, variant_test
    from acse_kg.model import AlterationTest, Or, Term

    met, kras, amp, mut = (Term(f"urn:{x}") for x in ("MET", "KRAS", "amp", "mut"))
    alternatives = (
        AlterationTest(gene=met, alteration_type=amp),  # the pair alone
        AlterationTest(gene=kras, alteration_type=mut, protein_change="p.G12C"),
        AlterationTest(gene=kras, alteration_type=mut, function="activating"),
        AlterationTest(gene=None, alteration_type=amp, cnv_call="high level amplification"),  # any gene
        AlterationTest(gene=met, alteration_type=None, exon=14),  # any type
    )
    # (gene, type, protein, exon, classification, cnv call, partner, function, wild type): the facts' variants
    pool = [
        ("urn:MET", "urn:amp", None, None, None, None, None, None, False),
        ("urn:MET", "urn:mut", None, 14, None, None, None, None, False),
        ("urn:MET", "urn:mut", None, None, None, None, None, None, False),  # exon not reported: unknown
        ("urn:KRAS", "urn:mut", "G12C", None, None, None, None, None, False),
        ("urn:KRAS", "urn:mut", "G12D", None, None, None, None, None, False),
        ("urn:ERBB2", "urn:amp", None, None, None, "high level amplification", None, None, False),
        ("urn:ERBB2", "urn:amp", None, None, None, None, None, None, False),
        ("urn:KRAS", None, None, None, None, None, None, None, True),  # wild type
    ]
    for n in range(1, len(alternatives) + 1):
        for chosen in itertools.combinations(alternatives, n):
            rule = compile_expr(Or(chosen)) if n > 1 else compile_expr(chosen[0])
            for k in range(3):
                for variants in itertools.combinations(pool, k):
                    pairs = pair_set([(v[0], v[1]) for v in variants if not v[8]])
                    each = [alteration_status(variant_test(t), variants) if t.variant_level
                            else (t.gene.iri if t.gene else None,
                                  t.alteration_type.iri if t.alteration_type else None) in pairs for t in chosen]
                    expected = True if True in each else None if None in each else False
                    assert rule({ALTS: pairs, VARIANTS: variants}) is expected, (chosen, variants)


def test_a_rule_is_false_for_a_profile_without_one_of_the_pairs_it_needs() -> None:
    """``needed_pairs``: where it names pairs, a profile that carries none of them makes the rule false,
    whatever else the rule asks (ANDs, ORs, NOTs, a wild type, a diagnosis), unknowns included."""
    import itertools

    from acse_kg.matching.candidates import pair_set
    from acse_kg.matching.rules import ALTS, DX, VARIANTS, compile_expr, needed_pairs
    from acse_kg.model import AlterationTest, And, Not, Or, Term, TumourTypeTest

    met, kras, amp, mut = (Term(f"urn:{x}") for x in ("MET", "KRAS", "amp", "mut"))
    leaves = (
        AlterationTest(gene=met, alteration_type=amp),
        AlterationTest(gene=kras, alteration_type=mut, function="activating"),
        AlterationTest(gene=None, alteration_type=mut),  # any gene
        AlterationTest(gene=kras, alteration_type=None, wildtype=True),
        TumourTypeTest(Term("urn:LUAD")),
    )
    exprs = [*leaves, *(Not(x) for x in leaves)]
    exprs += [k(pair) for k in (And, Or) for pair in itertools.combinations(exprs, 2)]
    pool = [
        ("urn:MET", "urn:amp", None, None, None, None, None, None, False),
        ("urn:KRAS", "urn:mut", None, None, None, None, None, "activating", False),
        ("urn:KRAS", "urn:mut", None, None, None, None, None, None, False),  # function not reported
        ("urn:ERBB2", "urn:amp", None, None, None, None, None, None, False),
        ("urn:KRAS", None, None, None, None, None, None, None, True),  # wild type
    ]
    told = 0
    for e in exprs:
        needs = needed_pairs(e)
        if needs is None:
            continue
        told += 1
        rule = compile_expr(e)
        for k in range(3):
            for variants in itertools.combinations(pool, k):
                pairs = pair_set([(v[0], v[1]) for v in variants if not v[8]])
                for dx in (frozenset({"urn:LUAD"}), frozenset()):
                    if needs.isdisjoint(pairs):
                        assert rule({ALTS: pairs, VARIANTS: variants, DX: dx}) is False, (e, variants)
    assert told > len(exprs) // 4


def test_the_published_shapes_follow_the_graph_after_a_write(fresh_store) -> None:
    import rdflib
    from fastapi.testclient import TestClient

    from acse_kg.api.app import create_app

    client = TestClient(create_app(fresh_store))
    anc = rdflib.URIRef("https://w3id.org/acse-kg/id/study/NCT02034981/shape/inc-06-anc/met-1")

    def anc_minimum() -> float:
        r = client.get("/match/shapes")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
        g = rdflib.Graph().parse(data=r.text, format="turtle")
        return float(g.value(anc, shacl.SH.minInclusive))

    assert anc_minimum() == 1.0
    fresh_store.update(f"""
        DELETE {{ GRAPH ?g {{ ?cmp acse:threshold ?old }} }}
        INSERT {{ GRAPH ?g {{ ?cmp acse:threshold 1.5 }} }}
        WHERE {{ GRAPH ?g {{ <{CRIT}inc-06-anc> acse:requires ?cmp . ?cmp acse:threshold ?old }} }}""")
    assert anc_minimum() == 1.5


def test_the_trial_is_read_as_the_registry_reads_an_nct_number(store) -> None:
    m = Matcher(store, "nct2034981")
    assert m.trial == "NCT02034981" and m.study == "https://w3id.org/acse-kg/id/study/NCT02034981"


def test_a_trial_that_is_not_an_nct_number_is_refused_saying_what_one_looks_like(store) -> None:
    from acse_kg.matching.rules import GraphModelError
    from acse_kg.namespaces import NCT_HINT

    with pytest.raises(GraphModelError, match="'ALK-basket' is not an NCT number") as exc:
        Matcher(store, "ALK-basket")
    assert NCT_HINT in str(exc.value)


class _Streamed:
    """Profiles arriving through a pipe, one at a time: before handing out the next line it reads what
    has reached the output pipe's other end, and notes how many answers it holds by then."""

    def __init__(self, lines: list[bytes], answers: int) -> None:
        import os

        self._in_r, self._in_w = os.pipe()  # only to be a pipe: what fstat of the source says
        self.lines, self.answers, self.received, self.seen = list(lines), answers, b"", []

    def fileno(self) -> int:
        return self._in_r

    def __iter__(self) -> _Streamed:
        return self

    def __next__(self) -> bytes:
        import os
        import select

        while select.select([self.answers], [], [], 0)[0]:
            self.received += os.read(self.answers, 1 << 20)
        self.seen.append(self.received.count(b"\n"))
        if not self.lines:
            raise StopIteration
        return self.lines.pop(0)


def test_each_result_of_profiles_sent_through_a_pipe_can_be_read_before_the_next_profile_is_sent(matcher) -> None:
    """A program that feeds profiles through a pipe reads each answer before it sends the next: the
    answer leaves the (buffered) output at once, even a short one (an invalid profile's error)."""
    import os

    out_r, out_w = os.pipe()
    src = _Streamed([b'{"id": "bad"}\n', orjson.dumps(profile(id="P2")) + b"\n"], out_r)
    with os.fdopen(out_w, "wb") as out:  # buffered, as sys.stdout.buffer is
        assert run_batch(matcher, src, out, progress=False) == (2, 1)
    assert src.seen == [0, 1, 2]  # each answer there before the next profile is taken
    os.close(out_r)


class _Writes(io.BytesIO):
    """An output that counts the writes it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, b) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(b)


def test_a_file_of_profiles_is_answered_in_large_writes(matcher, tmp_path) -> None:
    """At 1,000 trials a result line is ~47 kB: a file's results are written a chunk at a time."""
    data = b"\n".join(orjson.dumps(profile(id=f"P{i}")) for i in range(3)) + b"\n"
    path = tmp_path / "profiles.jsonl"
    path.write_bytes(data)
    filed = _Writes()
    with path.open("rb") as src:
        assert run_batch(matcher, src, filed, progress=False) == (3, 0)
    assert filed.writes == 1 and len(filed.getvalue().splitlines()) == 3


def test_what_was_matched_is_written_when_a_batch_stops_on_an_error(matcher) -> None:
    class Breaks(io.BytesIO):
        def __next__(self) -> bytes:
            line = self.readline()
            if not line:
                raise OSError("the input went away")
            return line

    out = io.BytesIO()
    with pytest.raises(OSError, match="went away"):
        run_batch(matcher, Breaks(orjson.dumps(profile(id="P1")) + b"\n"), out, progress=False)
    assert orjson.loads(out.getvalue().splitlines()[0])["profile_id"] == "P1"
