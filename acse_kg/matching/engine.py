"""The matcher: compiled once from the study model, then a pure function of a profile.

Two levels. A :class:`StudyMatcher` is one study's cohorts, criteria and
regimens compiled into Python functions (:mod:`.rules`); a
:class:`RegistryMatcher` holds one per matchable study and an index from
gene to the studies whose cohorts can take an alteration of it, so the cost
of a profile grows with the studies it is a candidate for, not with the size
of the registry. Everything registry-wide — OncoTree, gene symbols,
alteration types, clinical variables, drugs — is the :class:`Vocabulary`,
read once per store version; a profile's facts (the flat dict the rules read)
are built once per profile, whatever the number of trials.

Per study and profile the work is: find the candidate cohorts, evaluate each
criterion that applies to any of them once, and assemble the result per the
contract. A criterion's explanation is decided once per profile for every
cohort and trial that states it alike (:mod:`.decisions`); the trial adds its
own words (ids, IRIs, texts).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import orjson

from ..derived import DerivedCache, InStep
from ..loader import STUDY_GRAPH_PREFIX, study_graph_name
from ..model import (
    CohortKey,
    Criterion,
    ModelError,
    Study,
    cohort_keys,
    cohort_keys_of_genes,
    cohort_keys_of_graphs,
    cohort_keys_without_genes,
    matchable_count,
    read_study,
    read_variables,
    structured_studies,
)
from ..namespaces import ID, NCT_HINT, normalise_nct
from ..store import GraphStore
from .candidates import Basket, CandidateFinder, Taxonomy, pair_set
from .completion import build_groups, read_correspondences, variables_plain
from .decisions import CriterionPart, Decided, Decision, Memo, Shared, ToConfirm, shape
from .dosing import Regimen, compile_regimens, dosing_for, dosing_shared
from .profile import ProfileError, ProfileModel
from .profile_schema import profile_schema
from .rules import (
    ALTS,
    DRUGS,
    DX,
    DX_CLASS,
    VARIANTS,
    Facts,
    GraphModelError,
    Source,
    Variant,
    compile_expr,
    compile_status,
    protein_key,
)

VERDICT_RANK = {"eligible": 0, "unknown": 1, "ineligible": 2}
VERDICTS = ("eligible", "unknown", "ineligible")
#: Each verdict, serialized, and the key of the cohort's criteria after it (see :meth:`StudyMatcher.result`).
VERDICTS_JSON = tuple(orjson.dumps(v) + b',"criteria":' for v in VERDICTS)
#: The memo's key of the profile's alterations serialized (the value a rule item observed).
_OBSERVED = object()
OPEN_TEXT = "cohort open to accrual"
#: How many distinct sets of to-confirm items a cohort keeps serialized (a bound; in practice a handful).
CONFIRM_SETS_KEPT = 64
#: How many (pair, diagnosis, age) answers the registry's index keeps before starting afresh.
REACH_KEPT = 16384
#: Compiled studies a store's matcher keeps, the most recently used, unless told otherwise (:func:`keep_compiled`):
#: about 0.26 MB each at 1,000 structured trials, so about 2.6 GB at most.
COMPILED_KEPT = 10_000
#: Profile fields that are not plain values: the facts builder turns them into sets and pairs.
STRUCTURED_FIELDS = frozenset({"diagnosis", "alterations", "prior_therapies"})

__all__ = [
    "GraphModelError",
    "Matcher",
    "RegistryMatcher",
    "StudyMatcher",
    "TrialNotFound",
    "Vocabulary",
    "keep_compiled",
    "match_line",
    "matcher_for",
    "registry_matcher_for",
]


# ------------------------------------------------------------------ the vocabulary
def _path_getter(path: str) -> Callable[[Any], Any]:
    """A getter of a dotted profile field that answers None where any step is missing."""
    parts = path.split(".")
    if len(parts) == 1:
        (a,) = parts
        return lambda p: getattr(p, a, None)
    if len(parts) == 2:
        a, b = parts
        return lambda p: getattr(getattr(p, a, None), b, None)

    def get(p: Any) -> Any:
        for part in parts:
            p = getattr(p, part, None)
        return p
    return get


class TrialNotFound(GraphModelError, LookupError):
    """No study with cohorts has the NCT number asked for (HTTP 404), or the number is malformed."""


class Vocabulary:
    """What the registry's trials share: OncoTree, genes, alteration types, variables, drugs.

    Read once per store version; builds a profile's facts once for every trial, and
    holds the table of compiled criteria that studies stated alike share (:mod:`.decisions`).
    """

    def __init__(self, store: GraphStore, share: bool = True) -> None:
        #: Compiled criteria, groups and decisions by structural key, shared by every study (off: one each).
        self.shared = Shared(share)
        self.taxonomy = Taxonomy.load(store)
        self.genes, self.symbols = _genes(store)
        self.alteration_types, self.type_words = _alteration_types(store)
        self.variables = read_variables(store)
        self.correspondences = read_correspondences(store)
        self.plain = variables_plain(self.variables.values())
        #: The profile generated from the graph's variables: the parser, and the drugs prior therapies name.
        self.schema = profile_schema(store)
        #: The values each number field may take (ECOG 0 to 5): completions of missing data keep inside them.
        self.bounds = {v.field: (v.min_inclusive if v.min_inclusive is not None else v.min_exclusive, v.max_inclusive)
                       for v in self.schema.fields if v.kind == "number"}
        fields = {v.field for v in self.variables.values()} - STRUCTURED_FIELDS
        self._getters = [(f, _path_getter(f)) for f in sorted(fields)]
        therapies = self.schema.therapy_field
        self._therapies = _path_getter(therapies) if therapies else (lambda p: None)

    def parse(self, profile: ProfileModel | bytes | str | dict[str, Any]) -> Any:
        """A profile validated against the graph's variables (ProfileError naming the field)."""
        return profile if isinstance(profile, ProfileModel) else self.schema.parse(profile)

    def facts(self, p: ProfileModel) -> tuple[Facts, list[tuple[str, str]]]:
        """The flat facts the rules read, and the profile's (gene IRI, type IRI) alterations."""
        dx = self.taxonomy.resolve(p.diagnosis)
        if dx is None:
            raise ProfileError(
                "diagnosis",
                f"unknown diagnosis code {p.diagnosis!r}: expected an OncoTree code (any level) "
                "or an NCIt code that OncoTree maps, such as NCIT:C3512",
                p.id,
            )
        f: Facts = {name: get(p) for name, get in self._getters}
        alts: list[tuple[str, str]] = []
        shown: list[str] = []
        variants: list[Variant] = []
        for a in p.alterations:
            sym = self.symbols.get(a.gene, a.gene)
            gene = self.genes.get(sym) or f"{ID}gene/{sym}"
            wild = bool(getattr(a, "wildtype", None))
            word = getattr(a, "type", None)
            t = self.alteration_types.get(word) if word is not None else None
            if t is None and not wild:
                raise ProfileError("alterations.type", f"alteration type {word!r} is not in the graph", p.id)
            protein = getattr(a, "protein_change", None)
            partner = getattr(a, "partner", None)
            pgene = None
            if partner:
                psym = self.symbols.get(partner, partner)
                pgene = self.genes.get(psym) or f"{ID}gene/{psym}"
            variants.append((gene, t, protein_key(protein) if protein else None, getattr(a, "exon", None),
                             _lower(getattr(a, "variant_classification", None)), _lower(getattr(a, "cnv_call", None)),
                             pgene, _lower(getattr(a, "function", None)), wild))
            if wild:
                shown.append(f"{sym} wild type")
                continue
            assert t is not None  # an unknown type was refused above unless the gene is wild type
            alts.append((gene, t))
            shown.append(f"{sym} {word}" + (f" {protein}" if protein else ""))
        f[DX] = self.taxonomy.ancestors(dx)
        f[DX_CLASS] = dx
        f[ALTS] = pair_set(alts)
        f[VARIANTS] = tuple(variants)
        # The drugs given before: a set when the profile lists its prior therapies or a history flag
        # names one (history.prior_crizotinib: true is crizotinib in the list), else unknown.
        given = self.schema.prior_drugs(p)
        f[DRUGS] = given if given or self._therapies(p) is not None else None
        f["diagnosis"] = p.diagnosis
        f["alterations"] = shown
        return f, alts

    def document(self, p: ProfileModel) -> dict[str, Any]:
        """The profile normalised for RDF: OncoTree code for the diagnosis, approved gene symbols."""
        dx = self.taxonomy.resolve(p.diagnosis)
        if dx is None:
            self.facts(p)  # raises the ProfileError naming the diagnosis
        assert dx is not None
        d = p.model_dump(exclude_none=True)
        d["diagnosis"] = self.taxonomy.code_of[dx]
        for a in d.get("alterations", []):
            a["gene"] = self.symbols.get(a["gene"], a["gene"])
        return d


def _lower(x: Any) -> str | None:
    return str(x).lower() if x is not None else None


def _genes(store: GraphStore) -> tuple[dict[str, str], dict[str, str]]:
    """symbol -> gene IRI, and alias/symbol (upper case) -> approved symbol (so RON means MST1R)."""
    genes: dict[str, str] = {}
    aliases: dict[str, str] = {}
    # DISTINCT, and the alternative labels apart: a gene many records describe costs a row per record.
    rows = list(store.select("SELECT DISTINCT ?g ?sym WHERE { ?g a acse:Gene ; acse:geneSymbol ?sym }"))
    rows += store.select("SELECT DISTINCT ?g ?sym ?alt WHERE { ?g a acse:Gene ; skos:altLabel ?alt . "
                         "?g acse:geneSymbol ?sym }")
    for r in sorted(rows, key=lambda r: (str(r["g"]), str(r["sym"]), str(r.get("alt") or ""))):
        sym = str(r["sym"])
        genes[sym] = str(r["g"])
        aliases[sym.upper()] = sym
        if r.get("alt") is not None:
            aliases.setdefault(str(r["alt"]).upper(), sym)
    for sym in genes:  # an approved symbol always wins over another gene's alias
        aliases[sym.upper()] = sym
    symbols_by_iri = {iri: sym for sym, iri in genes.items()}
    aliases.update(symbols_by_iri)
    return genes, aliases


def _alteration_types(store: GraphStore) -> tuple[dict[str, str], dict[str, str]]:
    """Contract word (and synonyms: fusion, rearrangement) -> acse:AlterationType IRI, and IRI -> word."""
    out: dict[str, str] = {}
    words: dict[str, str] = {}
    for r in store.select("SELECT ?t ?term ?alt WHERE { ?t a acse:AlterationType ; acse:profileTerm ?term . "
                          "OPTIONAL { ?t skos:altLabel ?alt } }"):
        out[str(r["term"])] = str(r["t"])
        words[str(r["t"])] = str(r["term"])
        if r.get("alt") is not None:
            out.setdefault(str(r["alt"]), str(r["t"]))
    return out, words


# ------------------------------------------------------------------ one study
def _itself(x: Any) -> Any:
    return x


class _Key:
    """A key compared by identity (cheap to hash): one object stands for one structural key of the :class:`Shared`
    table."""

    __slots__ = ()


def _exact(b: bytes) -> bytes:
    """``b`` in a bytes object of its own size, to be kept: orjson's output holds at least 4 kB whatever its length."""
    return b[:-1] + b[-1:]


def _assembler(statics: list[dict[str, Any]],
               gather: list[tuple[int, int]]) -> Callable[[list[Decided]], list[dict[str, Any]]]:
    """A generated function: a cohort's items, each its trial's words merged with its shared item, in one list.

    Why: the merge runs for every cohort a profile is a candidate for, in every trial;
    a list display of ``static | item`` with the statics as constants and the items
    read by fixed positions costs about half of a loop over (segment, index) pairs.
    ``gather`` is, per position, the segment and the index in it of the criterion's item.
    """
    src = Source()
    used = sorted({j for j, _ in gather})
    lines = [f"    o{j} = O[{j}][0]" for j in used]
    merged = ", ".join(f"{src.const(s)} | o{j}[{k}]" for s, (j, k) in zip(statics, gather, strict=True))
    return src.function_of("assemble", "O", "\n".join([*lines, f"    return [{merged}]"]) + "\n")


def _assembler_json(statics: list[dict[str, Any]],
                    gather: list[tuple[int, int]]) -> Callable[[list[list[bytes]]], bytes]:
    """A generated function: a cohort's items as JSON, the bytes of :func:`_assembler`'s list, each after a comma
    (they follow the cohort's open item in its criteria).

    Why: at 1,000 trials a profile enters several trials whose items are the same shared
    decisions in other words; merging dicts per trial and serializing them again was a
    quarter of a trial result's cost. Each criterion's head (its trial's words, ``{"id":…,"kind":…,``)
    is serialized here, once; the tails (:meth:`.Decision.tails`) once per profile.
    """
    src = Source()
    used = sorted({j for j, _ in gather})
    lines = [f"    t{j} = T[{j}]" for j in used]
    # One join of heads and tails in turn (each head carries the comma before it).
    heads = [b"," + orjson.dumps(s)[:-1] + b"," for s in statics]
    pieces = ", ".join(f"{src.const(h)}, t{j}[{k}]" for h, (j, k) in zip(heads, gather, strict=True))
    return src.function_of("assemble_json", "T", "\n".join([*lines, f"    return b''.join(({pieces}))"]) + "\n")


@dataclass(slots=True)  # slots: read in every trial result, from memory that is cold at 1,000 trials
class _CohortPlan:
    """What is static about one cohort's part of a result: the trial's own words around a shared Decision.

    ``key`` names the set of criteria and of to-confirm items: cohorts with the
    same key (in a basket trial, most of them) share one evaluation per profile,
    and so do the cohorts of other trials whose criteria are structurally equal
    (the ``decision`` is the same object).
    """

    cohort: Basket
    statics: list[dict[str, Any]]  # per decidable criterion: id, iri, text, kind (and curation)
    confirm: ToConfirm  # the to-confirm conditions, shared with the cohorts that state them alike
    confirm_texts: list[str]  # their texts, in the same order
    open_item: dict[str, Any]
    rule_item: dict[str, Any] | None
    key: int  # the position of the cohort's set of criteria among the study's distinct sets (cheap to hash)
    #: The criteria in two shared Decisions: those that do not read the alterations (the same in many trials),
    #: and the others (the trial's own molecular criteria); each with the positions of its criteria among
    #: the cohort's.
    segments: list[tuple[Decision, tuple[int, ...]]]
    #: The cohort's items from its segments' decisions (see :func:`_assembler`).
    assemble: Callable[[list[Decided]], list[dict[str, Any]]]
    #: The same items as JSON, from the segments' tails (see :func:`_assembler_json`).
    assemble_json: Callable[[list[list[bytes]]], bytes]
    gather: list[tuple[int, int]]  # per criterion: its segment and its index there
    ids: list[str]  # the criteria's ids, in the cohort's order (the reasons name them)
    open_json: bytes  # "[" and the open item, serialized: the start of the cohort's criteria
    regimens: list[Regimen]
    #: The regimens' structural key (see :func:`.dosing_shared`): one object per distinct key in the
    #: registry, so that the memo hashes an object, not a tuple of the regimens' keys, in every trial.
    dosing_key: Hashable = ()
    #: The to-confirm texts kept for a profile, serialized, by the positions kept (few distinct sets).
    confirm_json: dict[tuple[int, ...], bytes] = field(default_factory=dict)
    #: The cohort's object up to its verdict (``{"cohort":…,"iri":…,"label":…,"verdict":``), serialized.
    json_head: bytes = b""
    recruiting: bool = False
    is_open: bool = False  # the cohort's (a property of the model that reads its status)
    number: int = 0  # the cohort's
    #: ``,"recruiting":…,"reasons":``, serialized.
    json_recruiting: bytes = b""
    #: A rule cohort's rule item serialized around the value observed, met ([0]) and unknown ([1]): the bytes
    #: before the profile's alterations and after them.
    rule_json: tuple[tuple[bytes, bytes], tuple[bytes, bytes]] | None = None

    def __post_init__(self) -> None:
        cohort = self.cohort.model
        self.number = cohort.number
        self.json_head = (b'{"cohort":' + orjson.dumps(cohort.number) + b',"iri":' + orjson.dumps(cohort.iri)
                          + b',"label":' + orjson.dumps(cohort.label) + b',"verdict":')
        if self.rule_item is not None:
            self.rule_json = tuple(  # type: ignore[assignment]
                (b"," + orjson.dumps({**self.rule_item, "status": status})[:-1] + b',"observed":',
                 b',"applies":true,"finding":' + orjson.dumps(status) + b',"missing":' + orjson.dumps(missing) + b"}")
                for status, missing in (("met", []), ("unknown", ["alterations"])))

    def items(self, outs: list[Decided]) -> list[dict[str, Any]]:
        """The shared items (without the trial's words) in the cohort's order."""
        return [outs[j][0][k] for j, k in self.gather]

    def confirm_json_of(self, kept: tuple[int, ...]) -> bytes:
        """The to-confirm texts kept, serialized (kept by the positions kept: few distinct sets)."""
        got = self.confirm_json.get(kept)
        if got is None:
            got = _exact(orjson.dumps([self.confirm_texts[n] for n in kept]))
            if len(self.confirm_json) < CONFIRM_SETS_KEPT:
                self.confirm_json[kept] = got
        return got


class StudyMatcher:
    """One study of the registry compiled for matching."""

    def __init__(self, study: Study, vocab: Vocabulary) -> None:
        if not study.cohorts:
            raise ModelError(f"study {study.nct} has no cohorts in the graph")
        self.model = study
        self.study, self.trial = study.iri, study.nct
        self.vocab = vocab
        shared = vocab.shared
        # A drafted criterion a curator rejected is kept as data but decides nothing, not even "to confirm".
        self.criteria = [c for c in study.criteria if c.review_state != "rejected"]
        #: Whether the study's verdicts rest on drafts: a drafted cohort or an unreviewed drafted criterion.
        self.drafted = any(c.review_state == "draft" for c in study.cohorts) or any(
            c.review_state == "draft" for c in self.criteria)
        self.decidable = [c for c in self.criteria if c.decidable]
        #: Each criterion's structural key: what its expressions decide, not where the graph states them.
        self._exprs = [(shape(c.requires), shape(c.applies_when)) for c in self.decidable]
        self._status: list[Callable[[Facts], str]] = [
            shared.get(("status", k), partial(compile_status, c)) for c, k in zip(self.decidable, self._exprs, strict=True)]
        self._applies = [shared.get(("expr", shape(c.applies_when)), partial(compile_expr, c.applies_when))
                         if c.applies_when is not None else None for c in self.decidable]
        groups = build_groups(self.decidable, self._status, vocab.correspondences, vocab.plain, vocab.bounds)
        # A group's decision depends only on its members' expressions: groups stated alike are one object,
        # so its table of decisions serves every study.
        self.groups = [shared.get(("group", tuple(self._exprs[i] for i in g.members)), partial(_itself, g)) for g in groups]
        self._group_of = {i: g for g, built in zip(self.groups, groups, strict=True) for i in built.members}
        self._group_keys = {i: tuple(self._exprs[j] for j in built.members) for built in groups for i in built.members}
        self._fields = [[f for f in c.fields() if f in vocab.plain or f == "prior_therapies"] for c in self.decidable]
        self.finder = CandidateFinder.build(study, vocab.symbols, vocab.type_words, shared)
        self.cohorts = self.finder.baskets
        drug_of = {iv.iri: iv.drug.iri if iv.drug else None for iv in study.interventions}
        self.regimens = compile_regimens(study.regimens, drug_of)
        self.recruiting = study.recruiting
        self._conditions = {c.iri: shared.get(("expr", shape(c.applies_when)), partial(compile_expr, c.applies_when))
                            for c in self.criteria if not c.computable and c.applies_when is not None}
        # One part per decidable criterion: the same object in every study that states the criterion alike.
        self._parts = [shared.get(("part", self._exprs[i], c.kind, self._group_keys[i]), partial(self._part, i))
                       for i, c in enumerate(self.decidable)]
        #: Criteria that read the alterations (they name the trial's genes): a trial's own, decided apart from the
        #: others. Those that read only the diagnosis (a platelet threshold for cerebral tumours) name tumour
        #: types the protocol's template states alike: with the plain ones, they are decided once per profile.
        self._specific = ["alterations" in c.fields() for c in self.decidable]
        self._decisions: dict[tuple[int, ...], Decision] = {}
        self._criteria_sets: dict[tuple[str, ...], int] = {}
        #: Each decidable criterion's words as a result shows them (one dict, read by every cohort stating it).
        self._statics = [{"id": c.id, "iri": c.iri, "text": c.text, "kind": c.kind,
                          **({"curation": "draft"} if c.review_state == "draft" else {})} for c in self.decidable]
        #: What the cohorts of one set of criteria share, by the set's key (see :meth:`_criteria_set`).
        self._sets: dict[int, tuple[Any, ...]] = {}
        #: Each cohort's plan, by its candidacy object (hashed by identity: the hot path reads nothing else of it).
        self._plans = {c: self._plan(c) for c in self.cohorts}

    # ------------------------------------------------------------ building
    def _plan(self, basket: Basket) -> _CohortPlan:
        cohort = basket.model
        crit = [i for i, c in enumerate(self.decidable) if c.applies_to(cohort.iri)]
        # A criterion no field decides is to be confirmed, unless its condition is known false
        # (e.g. "for patients with a cerebral disease ..." for a patient without one).
        pending = [c for c in self.criteria if not c.computable and c.applies_to(cohort.iri)]
        names = (*(self.decidable[i].iri for i in crit), "|", *(c.iri for c in pending))
        key = self._criteria_sets.setdefault(names, len(self._criteria_sets))
        built = self._sets.get(key)
        if built is None:
            built = self._sets[key] = self._criteria_set(crit, pending)
        statics, confirm, texts, segments, assemble, assemble_json, gather, ids, confirm_json = built
        observed = cohort.status.label if cohort.status and cohort.status.label else (
            "open" if cohort.is_open else "closed")
        if cohort.is_open and self.recruiting is False and self.model.status is not None:
            # Open by the protocol, but the study takes nobody: never shown as plainly open.
            observed = f"{observed}; the study is {self.model.status.label or self.model.status.code}"
        open_item: dict[str, Any] = {
            "id": f"cohort-{cohort.number}-open",
            "iri": cohort.status.iri if cohort.status else cohort.iri,
            "text": OPEN_TEXT,
            "kind": "inclusion",
            "status": "met" if cohort.is_open else "not_met",
            "observed": observed,
            "applies": True,
            "finding": "met" if cohort.is_open else "not met",
            "missing": [],
        }
        rule_item = None
        if basket.rule is not None:
            rule_item = {"id": f"cohort-{cohort.number}-rule", "iri": cohort.iri,
                         "text": f"the cohort's molecular and clinical rule: {cohort.label}", "kind": "inclusion"}
        drugs = {d.iri for d in cohort.drugs}
        regimens = [r for r in self.regimens if not drugs or r.drug in drugs]
        recruiting = bool(cohort.is_open and self.recruiting is not False)
        return _CohortPlan(basket, statics, confirm, texts, open_item, rule_item,
                           key, segments, assemble, assemble_json, gather, ids, b"[" + orjson.dumps(open_item), regimens,
                           self.vocab.shared.get(("dosing", tuple(r.key for r in regimens)), _Key), confirm_json,
                           recruiting=recruiting, is_open=cohort.is_open, json_recruiting=b',"recruiting":' + orjson.dumps(recruiting)
                           + b',"reasons":')

    def _criteria_set(self, crit: list[int], pending: list[Criterion]) -> tuple[Any, ...]:
        """What cohorts with the same criteria (``key``) share in their plans: the criteria's words, their
        decisions, the generated assemblers, the to-confirm items and their serialized sets.

        Why shared: in a basket trial most cohorts state the same criteria (AcSé's 23 cohorts, one set);
        built per cohort, each held its own copies (~60 dicts, heads and two generated functions a
        cohort), and at 1,000 trials a result read them from cold memory.
        """
        statics = [self._statics[i] for i in crit]
        # A bullet whose computable parts are decided as failing is decided as a whole: its parts' positions.
        position = {i: n for n, i in enumerate(crit)}
        parts = {c.iri: tuple(position[i] for i, d in enumerate(self.decidable)
                              if d.component_of == c.iri and i in position) for c in pending}
        segments: list[tuple[Decision, tuple[int, ...]]] = []
        gather: list[tuple[int, int]] = [(0, 0)] * len(crit)
        for specific in (False, True):
            at = tuple(n for n, i in enumerate(crit) if self._specific[i] == specific)
            if not at:
                continue
            structure = tuple(id(self._parts[crit[n]]) for n in at)
            decision = self._decisions.get(structure)
            if decision is None:  # cohorts with the same criteria share one Decision; so do studies stated alike
                decision = self._decisions[structure] = self.vocab.shared.get(
                    ("decision", structure), partial(Decision, [self._parts[crit[n]] for n in at], []))
            for k, n in enumerate(at):
                gather[n] = (len(segments), k)
            segments.append((decision, at))
        conditions = [(self._conditions[c.iri] if c.applies_when is not None else None,
                       tuple(self._parts[crit[n]] for n in parts[c.iri])) for c in pending]
        confirm = self.vocab.shared.get(
            ("confirm", tuple((shape(c.applies_when), tuple(id(x) for x in conds[1]))
                              for c, conds in zip(pending, conditions, strict=True))),
            partial(ToConfirm, conditions))
        confirm_json: dict[tuple[int, ...], bytes] = {}
        return (statics, confirm, [c.text for c in pending], segments, _assembler(statics, gather),
                _assembler_json(statics, gather), gather, [x["id"] for x in statics], confirm_json)

    def _part(self, i: int) -> CriterionPart:
        c = self.decidable[i]
        return CriterionPart(self._status[i], self._applies[i], c.fields(), self._fields[i], c.kind, self._group_of[i])

    # ------------------------------------------------------------ matching
    def match_facts(self, p: ProfileModel, facts: Facts, alts: list[tuple[str, str]],
                    memo: Memo | None = None) -> dict[str, Any]:
        """The v1 result of this study for a profile whose facts are built.

        ``memo``: the profile's decisions so far (one dict per profile, shared by the
        trials it is matched against); a fresh one when not given.
        """
        return self.result(p, facts, alts, {} if memo is None else memo)[0]

    def result(self, p: ProfileModel, facts: Facts, alts: list[tuple[str, str]], memo: Memo,
               as_json: bool = False) -> tuple[dict[str, Any], tuple[int, int, str]]:
        """The v1 result and its rank among trials (:meth:`RegistryMatcher.match_all`'s order).

        ``as_json``: each cohort's ``criteria`` and ``to_confirm`` are :class:`orjson.Fragment`\\ s,
        already serialized (the result is then only for ``orjson.dumps``, which writes the
        same bytes as for the plain result): the batch and the JSON routes take this path.
        The rank and the reasons are read from the decisions' positions, not from the items.
        """
        rules: dict[Basket, Any] = {}
        found, notes = self.finder.find(facts, p.age_years, alts, rules)
        shared: dict[int, tuple[Any, int, tuple[int, ...], list[str], tuple[int, ...], tuple[int, ...]]] = {}
        cohorts_out: list[tuple[int, int, _CohortPlan, Any]] = []  # (verdict rank, number, plan, the cohort)
        best, left = 3, 0
        for basket in found:
            plan = self._plans[basket]
            done = shared.get(plan.key)
            if done is None:
                # The shared decisions, in this trial's words (its ids, IRIs and texts), in its order.
                outs = [decision.decide(facts, memo) for decision, _ in plan.segments]
                if not outs:  # a cohort without computable criteria (a CTML arm: its rule decides)
                    worst, lacking = 0, []
                elif len(outs) == 1:
                    worst, lacking = outs[0][1], outs[0][5]
                else:
                    worst = max(o[1] for o in outs)
                    some = [o[5] for o in outs if o[5]]
                    lacking = some[0] if len(some) == 1 else [] if not some else list(
                        dict.fromkeys(f for x in plan.items(outs) if x["missing"] for f in x["missing"]))
                # The unknown and unmet criteria by their positions in the cohort (none, mostly, in
                # the segment a trial decides alone).
                if len(outs) == 1:
                    at = plan.segments[0][1]
                    unknown = tuple(at[k] for k in outs[0][3])
                    unmet = tuple(at[k] for k in outs[0][4])
                elif len(outs) == 2 and not outs[1][3] and not outs[1][4]:
                    # The trial's own criteria all met (the common case): the shared segment's positions alone.
                    at = plan.segments[0][1]
                    unknown = tuple(at[k] for k in outs[0][3])
                    unmet = tuple(at[k] for k in outs[0][4])
                else:
                    unknown = _positions(plan.segments, [o[3] for o in outs])
                    unmet = _positions(plan.segments, [o[4] for o in outs])
                if as_json:
                    items: Any = plan.assemble_json([d.tails(o, memo) for (d, _), o in
                                                     zip(plan.segments, outs, strict=True)])
                else:
                    items = plan.assemble(outs)
                done = shared[plan.key] = (items, worst, plan.confirm.kept(facts, memo), lacking, unknown, unmet)
            items, worst, kept, lacking, unknown, unmet = done
            cohort = basket.model
            rule_item = plan.rule_item
            rule_unknown = False
            if rule_item is not None and basket.rule is not None:
                # (Asked by the candidacy, which took the cohort because its rule is not false.)
                ok = rules[basket] if basket in rules else basket.rule(facts)
                worst = max(worst, 0 if ok else 1)
                rule_unknown = not ok
            if not plan.is_open:
                worst = 2
                notes.append(f"cohort {cohort.number} ({cohort.label}) is not open to accrual: "
                             f"{plan.open_item['observed']}")
            # The criteria's ids in the cohort's order: the unmet ones, or where none is unmet the unknown ones.
            # (The open item is never unknown, the rule item never unmet.)
            ids = plan.ids
            if worst == 2:
                reasons = ([plan.open_item["id"]] if not plan.is_open else []) + [ids[n] for n in unmet]
            elif worst == 1:
                reasons = ([rule_item["id"]] if rule_unknown and rule_item is not None else []) + [
                    ids[n] for n in unknown]
            else:
                reasons = []
            # (``lacking`` holds each field once; the open item misses nothing, the rule item the alterations.)
            missing = list(dict.fromkeys(["alterations", *lacking])) if rule_unknown else [*lacking]
            if as_json:
                # The cohort's object in one join: its constant parts serialized with the plan, the criteria's
                # items and the to-confirm set from their fragments; the same bytes as the dict below.
                dumps = orjson.dumps
                if rule_item is not None and plan.rule_json is not None:
                    # The rule item: its words and its two outcomes serialized with the plan, the value observed
                    # (the profile's alterations) once per profile.
                    observed = memo.get(_OBSERVED)
                    if observed is None:
                        observed = memo[_OBSERVED] = dumps(facts["alterations"])
                    before, after = plan.rule_json[rule_unknown]
                    rule_json: tuple[bytes, ...] = (before, observed, after)
                else:
                    rule_json = ()
                entry: Any = orjson.Fragment(b"".join((
                    plan.json_head, VERDICTS_JSON[worst], plan.open_json, *rule_json,
                    items, b'],"to_confirm":', plan.confirm_json_of(kept), plan.json_recruiting, dumps(reasons),
                    b',"missing":', dumps(missing), b"}")))
            else:
                head = [plan.open_item]
                if rule_item is not None and basket.rule is not None:
                    head.append({**rule_item, "status": "unknown" if rule_unknown else "met",
                                 "observed": facts["alterations"], "applies": True,
                                 "finding": "unknown" if rule_unknown else "met",
                                 "missing": ["alterations"] if rule_unknown else []})
                texts = plan.confirm_texts
                entry = {
                    "cohort": cohort.number,
                    "iri": cohort.iri,
                    "label": cohort.label,
                    "verdict": VERDICTS[worst],
                    "criteria": [*head, *items],
                    "to_confirm": [texts[n] for n in kept],
                    "recruiting": plan.recruiting,
                    "reasons": reasons,
                    "missing": missing,
                }
            cohorts_out.append((worst, plan.number, plan, entry))
            # The trial's rank: its best verdict, then the fewest criteria left to confirm in a cohort with it.
            here = len(kept) + rule_unknown + len(unknown)
            if worst < best:
                best, left = worst, here
            elif worst == best and here < left:
                left = here
        if len(cohorts_out) > 1:
            cohorts_out.sort(key=_verdict_then_number)
        if found and self.recruiting is False and self.model.status is not None:
            notes.append(f"{self.trial} is not recruiting ({self.model.status.label or self.model.status.code}): "
                         "its cohorts take no patient now")
        dosing = None
        if found:
            first = cohorts_out[0][2]
            if self.vocab.shared.enabled:  # regimens stated alike decided once per profile
                dosing = dosing_shared(first.regimens, first.dosing_key, memo, p.age_years, facts, p.height_cm,
                                       p.weight_kg)
            else:
                dosing = dosing_for(first.regimens, p.age_years, facts, p.height_cm, p.weight_kg)
        out: dict[str, Any] = {"profile_id": p.id, "trial": self.trial, "cohorts": [c[3] for c in cohorts_out],
                               "dosing": dosing,
                               "notes": notes}
        if self.drafted:
            out["curation"] = "draft"
        return out, (best, left, self.trial)

    def statuses(self, facts: Facts) -> dict[str, str]:
        """Status of every decidable criterion (by IRI), whatever the cohort: for checks and tests."""
        return {c.iri: st(facts) for c, st in zip(self.decidable, self._status, strict=True)}


# ------------------------------------------------------------------ the registry
class RegistryMatcher:
    """Every matchable study of the registry, and an index from gene to the studies that can take it.

    The index is read gene by gene (``lazy``, the default for the whole registry): a profile's first
    mention of a gene reads the cohorts that target it, so the first request after start-up costs
    the cohorts of its genes, not a read of every study (seconds at 1,000 studies, minutes at
    100,000). Given ``ncts``, or ``lazy=False``, every cohort is read at once (the reference the
    lazy index is tested against).
    """

    def __init__(self, store: GraphStore, ncts: list[str] | None = None, *, share: bool = True,
                 lazy: bool | None = None) -> None:
        """``share=False``: a vocabulary of its own that shares no compiled criterion between studies
        (each study decides everything itself) — the reference the shared path is tested against."""
        self.store = store
        self.vocab = vocabulary_for(store) if share else Vocabulary(store, share=False)
        #: Compiled plans are kept per study across registry matchers only on the shared path: a plan
        #: holds the vocabulary's table of shared criteria, which the unshared reference must not see.
        self._keep = share
        self.lazy = ncts is None if lazy is None else lazy and ncts is None
        self._compiled: dict[str, StudyMatcher | None] = {}
        #: When each compiled study was last used (a tick): the least recently used go first.
        self._used: dict[str, int] = {}
        self._tick = itertools.count()
        #: How many compiled studies this matcher keeps (:func:`keep_compiled`).
        self.kept = compiled_budget(store)
        self.skipped: dict[str, str] = {}
        self._lock = threading.Lock()
        #: Guards the index while a gene is read into it (and while a write's matcher copies it).
        self._index_lock = threading.Lock()
        # The index: (gene, alteration type, pathology) of every cohort -> (age band, study). A rule
        # cohort is keyed by its genes alone; a cohort that names no gene is asked about every profile.
        self.index: dict[tuple[str, str | None, str | None], list[tuple[float, float, str]]] = {}
        self.always: list[str] = []
        #: Each study's index keys, so that a write to one study updates its entries alone.
        self._keys_of: dict[str, frozenset[tuple[str, str | None, str | None]]] = {}
        #: The genes whose cohorts are all in the index (lazy); None: every gene's are.
        self._genes: set[str] | None = set() if self.lazy else None
        if self.lazy:
            self._ncts: list[str] | None = None
            self._add(k for keys in cohort_keys_without_genes(store).values() for k in keys)
        else:
            keys = [k for k in cohort_keys(store) if ncts is None or k.nct in ncts]
            self._ncts = sorted({k.nct for k in keys})
            self._add(keys)

    @property
    def ncts(self) -> list[str]:
        """The matchable studies, by NCT number (each is read and compiled when a profile first can enter it)."""
        if self._ncts is None:
            return structured_studies(self.store)
        return self._ncts

    @property
    def matchable(self) -> int:
        """How many studies the registry can match (one count, not a list, on the lazy index)."""
        return matchable_count(self.store) if self._ncts is None else len(self._ncts)

    def _add(self, keys: Iterable[CohortKey]) -> None:
        """Index ``keys``. Lists are replaced, never changed in place: a matcher made by :meth:`updated`
        shares them with this one, and each reads its own lists while the other grows."""
        added: dict[tuple[str, str | None, str | None], list[tuple[float, float, str]]] = {}
        for k in keys:
            lo = k.min_age if k.min_age is not None else float("-inf")
            hi = k.max_age if k.max_age is not None else float("inf")
            if not k.genes:
                if k.nct not in self.always:
                    self.always = [*self.always, k.nct]
                continue
            index_keys: list[tuple[str, str | None, str | None]] = (
                [(g, None, None) for g in k.genes] if k.ruled else
                [(g, t, p) for g in k.genes for t in k.types for p in k.pathologies])
            for index_key in index_keys:
                added.setdefault(index_key, []).append((lo, hi, k.nct))
        mine: dict[str, set[tuple[str, str | None, str | None]]] = {}
        for key, entries in added.items():
            current = self.index.get(key, [])
            seen = set(current)
            fresh = [e for e in dict.fromkeys(entries) if e not in seen]
            if fresh:
                self.index[key] = [*current, *fresh]
            for e in entries:
                mine.setdefault(e[2], set()).add(key)
        for nct, study_keys in mine.items():
            self._keys_of[nct] = self._keys_of.get(nct, frozenset()) | study_keys

    def _read_genes(self, genes: set[str]) -> None:
        """Read into the index the cohorts of the genes it has not read yet (lazy index)."""
        if self._genes is None or genes <= self._genes:
            return
        with self._index_lock:
            missing = genes - self._genes
            if missing:
                self._add(k for keys in cohort_keys_of_genes(self.store, missing).values() for k in keys)
                self._genes |= missing

    def updated(self, graphs: frozenset[str]) -> RegistryMatcher:
        """This registry after a write to the study graphs ``graphs``: a new matcher whose index differs
        from this one's in those studies' entries alone (this one is left as it is for the requests
        still using it). The other studies' compiled plans are kept.

        Why: rebuilding the index after each write reads every study's cohorts (a query over the whole
        registry: seconds at 10,000 studies); a write touches one study, or a batch of them.
        """
        ncts = {g[len(STUDY_GRAPH_PREFIX):] for g in graphs if g.startswith(STUDY_GRAPH_PREFIX)}
        if not ncts:
            return self
        fresh = [k for keys in cohort_keys_of_graphs(self.store, {study_graph_name(n) for n in ncts}).values()
                 for k in keys]
        new = copy.copy(self)
        new.__dict__.pop("_reach", None)  # the studies pairs reach, read from the old index
        new.__dict__.pop("_rules_take", None)  # and those whose rules may take a pair, from the old studies
        new._lock, new._index_lock = threading.Lock(), threading.Lock()
        with self._lock:  # other requests compile studies into these meanwhile
            new._compiled = {n: m for n, m in self._compiled.items() if n not in ncts}
            new._used = {n: t for n, t in dict(self._used).items() if n in new._compiled}
            new._tick = self._tick  # one clock: the copy's uses and this one's compare
            new.kept = compiled_budget(self.store)  # a budget set since applies from here on
            new.skipped = {n: why for n, why in self.skipped.items() if n not in ncts}
        with self._index_lock:  # and read genes into these
            new.index = dict(self.index)
            new._keys_of = {n: ks for n, ks in self._keys_of.items() if n not in ncts}
            new._genes = None if self._genes is None else set(self._genes)
            stale = {key for n in ncts for key in self._keys_of.get(n, ())}
            new.always = [n for n in self.always if n not in ncts]
        for key in stale:
            kept = [e for e in new.index.get(key, ()) if e[2] not in ncts]
            if kept:
                new.index[key] = kept
            else:
                new.index.pop(key, None)
        new._add(fresh)
        if self._ncts is not None:
            new._ncts = sorted(set(self._ncts) - ncts | {k.nct for k in fresh})
        return new

    def study(self, nct: str) -> StudyMatcher | None:
        """The compiled matcher of one study, built on first use (None for a study that cannot be read).

        Compiled studies outlive the registry matcher: one is kept per study
        (:class:`~acse_kg.derived.DerivedCache` given the study's graph), so the
        matcher rebuilt after a write to study A (its index, from one query)
        finds B's plan compiled already, and only A is read and compiled again.

        At most :attr:`kept` are kept (:func:`keep_compiled`), the most recently used: a registry
        with more structured trials than that, matched by varied profiles, compiles again the
        studies it evicted when a profile next reaches them, instead of growing until restarted.
        A request holds the plans it uses, so an eviction meanwhile never changes its answer.
        """
        got = self._compiled.get(nct, False)
        if got is not False:
            self._used[nct] = next(self._tick)
            return got  # type: ignore[return-value]
        with self._lock:
            got = self._compiled.get(nct, False)
            if got is not False:
                return got  # type: ignore[return-value]
            if self._keep:
                matcher, problem = _compiled.get(self.store, f"study-{nct}",
                                                 lambda: _compile(self.store, nct, self.vocab),
                                                 graph=study_graph_name(nct))
                if matcher is not None and matcher.vocab is not self.vocab:
                    # Kept by a matcher of an older vocabulary that compiled it after the vocabulary
                    # changed (under the new version's key): never match with a vocabulary that is gone.
                    matcher, problem = _compile(self.store, nct, self.vocab)
            else:
                matcher, problem = _compile(self.store, nct, self.vocab)
            if problem is not None:
                self.skipped[nct] = problem
            self._compiled[nct] = matcher
            self._used[nct] = next(self._tick)
            if len(self._compiled) > self.kept:
                self._evict()
            return matcher

    def _evict(self) -> None:
        """Drop the least recently used compiled studies, down to nine tenths of :attr:`kept` (the choice,
        a pass over every study's last use, is then made once per tenth, not once per compile). Under
        ``_lock``; a use meanwhile (the lock-free hit in :meth:`study`) at worst keeps a study's tick."""
        used = dict(self._used)  # (a copy: hits set ticks meanwhile)
        over = len(self._compiled) - (self.kept - self.kept // 10)
        for nct in heapq.nsmallest(over, (n for n in self._compiled), key=lambda n: used.get(n, -1)):
            del self._compiled[nct]
            self._used.pop(nct, None)
            if self._keep:
                _compiled.drop(self.store, f"study-{nct}")

    @cached_property
    def _reach(self) -> dict[tuple[str, str, str, float], tuple[frozenset[str], frozenset[str]]]:
        """The studies a (gene, type) pair reaches by (pair, diagnosis class, age), through a named cohort and
        through a rule cohort's gene: see :meth:`reached`."""
        return {}

    @cached_property
    def _rules_take(self) -> dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]]:
        """By (gene, type): the studies decided so far among those a rule cohort's gene reaches, and those of
        them whose rule cohorts may take the pair (:meth:`.CandidateFinder.rules_may_take`): a function of the
        pair and the studies' compiled rules alone."""
        return {}

    def _rule_entered(self, g: str, t: str, reached: frozenset[str]) -> frozenset[str]:
        """Which of ``reached`` (studies the rule cohorts of ``g`` reach) a rule cohort of may take (``g``, ``t``).
        Each study is decided when a profile first reaches it (compiled then, as it would be to be entered)."""
        decided, takes = self._rules_take.get((g, t), (frozenset(), frozenset()))
        if not reached <= decided:
            pairs = pair_set([(g, t)])
            fresh = reached - decided
            # In NCT order, as the request then reads them: studies compiled in another order (a set's, which
            # follows the hash seed) lay their objects out apart, and each request read them from cold memory.
            taking = {nct for nct in sorted(fresh)
                      if (m := self.study(nct)) is not None and m.finder.rules_may_take(pairs)}
            decided, takes = decided | fresh, takes | taking
            self._rules_take[(g, t)] = (decided, takes)
        return reached & takes

    @property
    def studies(self) -> dict[str, StudyMatcher]:
        """Every matchable study compiled (for checks and tests: matching compiles what it needs)."""
        out = {nct: self.study(nct) for nct in self.ncts}
        return {k: v for k, v in out.items() if v is not None}

    def parse(self, profile: ProfileModel | bytes | str | dict[str, Any]) -> ProfileModel:
        return self.vocab.parse(profile)

    def candidates(self, facts: Facts, age: float, alts: list[tuple[str, str]]) -> list[StudyMatcher]:
        """The studies with a cohort whose gene, alteration type, pathology and age band fit, by NCT number
        (a rule cohort's: its gene alone; see :meth:`reached`)."""
        return [m for m, _ in self.reached(facts, age, alts)]

    def reached(self, facts: Facts, age: float, alts: list[tuple[str, str]]) -> list[tuple[StudyMatcher, bool]]:
        """The studies a profile reaches, by NCT number, each with whether it is to be entered (False: no
        cohort of it can take the profile, and only its note is wanted: :meth:`.CandidateFinder.notes_of_none`).

        The profile's keys are its (gene, type) pairs under each OncoTree ancestor of its
        diagnosis, and its genes alone (for rule cohorts): a handful of lookups whatever
        the number of trials. A study reached by a rule cohort's gene alone is entered only when
        one of its rule cohorts needs one of the profile's pairs (most CTML arms that name a gene
        ask for one type of it): at 1,000 structured trials a MET amplification reached 331
        trials, 183 of which only said why none of their arms took it.
        """
        self._read_genes({g for g, _ in alts})
        entered: set[str] = set(self.always)
        ruled: set[str] = set()
        index = self.index
        reach = self._reach
        dx, dx_class = facts[DX], facts[DX_CLASS]
        for g, t in alts:
            # The studies one pair reaches: a pure function of the pair, the diagnosis and the age, which
            # profiles repeat; at 1,000 trials a key's list holds many studies, each tested on its age band.
            key = (g, t, dx_class, age)
            got = reach.get(key)
            if got is None:
                got = (frozenset(nct for k in [(g, t, a) for a in dx] for lo, hi, nct in index.get(k, ()) if lo <= age < hi),
                       frozenset(nct for lo, hi, nct in index.get((g, None, None), ()) if lo <= age < hi))
                if len(reach) >= REACH_KEPT:
                    reach.clear()
                reach[key] = got
            entered |= got[0]
            if got[1]:  # (none for a registry of named cohorts alone: the bench's AcSé copies)
                ruled |= got[1]
                # Whether a rule cohort may take the profile is decided pair by pair: the pairs it needs meet
                # the profile's (wildcard) pairs when they meet one alteration's.
                entered |= self._rule_entered(g, t, got[1])
        out: list[tuple[StudyMatcher, bool]] = []
        for nct in sorted(entered | ruled if ruled else entered):
            m = self.study(nct)
            if m is not None:
                out.append((m, nct in entered))
        return out

    def match_all(self, profile: ProfileModel | bytes | str | dict[str, Any]) -> dict[str, Any]:
        """One profile against every matchable study: per-trial v1 results, best first.

        A trial with no candidate cohort is left out; its notes are kept in the
        top-level notes when the profile's alterations led to it.
        """
        return self._match_all(self.parse(profile), as_json=False)

    def _match_all(self, p: ProfileModel, as_json: bool) -> dict[str, Any]:
        """``as_json``: the trials' results carry serialized fragments (:meth:`StudyMatcher.result`)."""
        facts, alts = self.vocab.facts(p)
        ranked: list[tuple[tuple[int, int, str], dict[str, Any]]] = []
        notes: list[str] = []
        memo: Memo = {}  # this profile's decisions, shared by the trials that state the same criteria
        age = p.age_years
        for m, entered in self.reached(facts, age, alts):
            if not entered:  # no cohort of it can take the profile: its note alone, as its result would give it
                notes.extend(f"{m.trial}: {n}" for n in m.finder.notes_of_none(facts, age, alts))
                continue
            r, rank = m.result(p, facts, alts, memo, as_json)
            if r["cohorts"]:
                ranked.append((rank, r))
            else:
                notes.extend(f"{m.trial}: {n}" for n in r["notes"])
        # Eligible before unknown before ineligible (the best cohort), then fewest criteria left to
        # confirm, then the NCT number (unique: the results themselves are never compared).
        ranked.sort(key=_first)
        results = [r for _, r in ranked]
        if not results:
            n = self.matchable
            notes.insert(0, f"no cohort of the registry's {n} matchable trial{'' if n == 1 else 's'} takes this profile")
        return {"profile_id": p.id, "results": results, "notes": notes}

    def match_all_json(self, data: bytes | str) -> bytes:
        """The bytes of ``orjson.dumps(match_all(data))``, written from serialized fragments (the batch hot path)."""
        return orjson.dumps(self._match_all(self.vocab.parse(data), as_json=True))


def _positions(segments: list[tuple[Decision, tuple[int, ...]]], listed: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The positions in the cohort of the criteria each segment's decision lists (its unknown or its unmet ones)."""
    found = [(at, ks) for (_, at), ks in zip(segments, listed, strict=True) if ks]
    if not found:
        return ()
    if len(found) == 1:
        at, ks = found[0]
        return tuple(at[k] for k in ks)  # a segment's positions are in the cohort's order
    return tuple(sorted(at[k] for at, ks in found for k in ks))


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _verdict_then_number(c: tuple[int, int, Any, Any]) -> tuple[int, int]:
    """A trial's cohorts in its result: eligible before unknown before ineligible, then by number."""
    return c[0], c[1]


class Matcher:
    """Matches tumor profiles against one study of the registry (the v1 contract's ``POST /match``)."""

    def __init__(self, store: GraphStore, nct: str | None = None) -> None:
        trial = pick_study(store, nct)
        self.vocab = vocabulary_for(store)
        self.one = StudyMatcher(read_study(store, trial), self.vocab)
        self.study, self.trial = self.one.study, self.one.trial
        self.taxonomy = self.vocab.taxonomy
        self.criteria = self.one.criteria
        self.decidable = self.one.decidable
        self.cohorts = self.one.cohorts

    def facts(self, p: ProfileModel) -> tuple[Facts, list[tuple[str, str]]]:
        return self.vocab.facts(p)

    def match(self, profile: ProfileModel | bytes | str | dict[str, Any]) -> dict[str, Any]:
        """The match result of one profile, exactly per the contract.

        Cohorts that share their criteria share one evaluation (and the same
        explanation objects) per profile; treat a result as read-only.
        """
        p = self.vocab.parse(profile)
        facts, alts = self.vocab.facts(p)
        return self.one.match_facts(p, facts, alts)

    def match_json(self, data: bytes | str) -> bytes:
        """Validate JSON bytes and return the result as JSON bytes (the batch hot path): the bytes of
        ``orjson.dumps(match(data))``, written from serialized fragments."""
        p = self.vocab.parse(data)
        facts, alts = self.vocab.facts(p)
        return orjson.dumps(self.one.result(p, facts, alts, {}, as_json=True)[0])

    def document(self, p: ProfileModel) -> dict[str, Any]:
        return self.vocab.document(p)

    def statuses(self, profile: ProfileModel) -> dict[str, str]:
        """Status of every decidable criterion (by IRI), whatever the cohort: for checks and tests."""
        facts, _ = self.vocab.facts(profile)
        return self.one.statuses(facts)


def pick_study(store: GraphStore, nct: str | None) -> str:
    """The NCT number asked for (read as the registry reads it), or the first matchable study's.

    ``nct2034981`` is NCT02034981; the graph holds the canonical spelling.
    """
    if nct:
        wanted = normalise_nct(nct)
        if wanted is None:
            raise TrialNotFound(f"{nct!r} is not an NCT number ({NCT_HINT})")
        nct = wanted
    studies = structured_studies(store)
    if nct:
        studies = [s for s in studies if s == nct]
    if not studies:
        if nct:
            raise TrialNotFound(f"no study with cohorts in the graph for {nct}")
        raise GraphModelError("no study with cohorts in the graph")
    return studies[0]


def match_line(matcher: Matcher | RegistryMatcher, line: bytes, lineno: int) -> tuple[bytes, bool]:
    """One JSON line -> (result line, ok). A bad line yields the contract's error object in its place."""
    try:
        if isinstance(matcher, RegistryMatcher):
            return matcher.match_all_json(line), True
        return matcher.match_json(line), True
    except ProfileError as exc:
        return orjson.dumps({"id": exc.profile_id, "line": lineno, "error": exc.as_dict(), "errors": exc.errors}), False


_matchers = DerivedCache()
_budgets: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def keep_compiled(store: GraphStore, studies: int) -> None:
    """Keep at most ``studies`` compiled studies of ``store`` (the most recently used; the server's
    ``matcher_max_studies`` setting; default :data:`COMPILED_KEPT`), from its next registry matcher on.

    Why a bound: each compiled study holds its criteria's plans and serialized fragments (about
    0.26 MB at 1,000 structured trials); a registry of many structured trials matched by varied
    profiles would otherwise keep every study any profile reached until the server restarts.
    """
    if studies < 1:
        raise ValueError(f"keep_compiled: studies must be at least 1, not {studies}")
    _budgets[store] = studies


def compiled_budget(store: GraphStore) -> int:
    """How many compiled studies ``store``'s matchers keep (:func:`keep_compiled`)."""
    return _budgets.get(store, COMPILED_KEPT)


#: Each study's compiled matcher (or why it cannot be compiled), kept until its graph changes; the
#: most recently used up to the store's budget (a registry matcher drops what it evicts here too).
_compiled = DerivedCache(kept=compiled_budget)


def _compile(store: GraphStore, nct: str, vocab: Vocabulary) -> tuple[StudyMatcher | None, str | None]:
    try:
        return StudyMatcher(read_study(store, nct), vocab), None
    except ModelError as exc:  # one malformed study must not take matching down for all
        return None, str(exc)


def vocabulary_for(store: GraphStore) -> Vocabulary:
    """The registry's matching vocabulary, read once per vocabulary version
    (:func:`acse_kg.derived.vocabulary_version`: not again after a write to a study's cohorts)."""
    return _matchers.get(store, "vocabulary", lambda: Vocabulary(store), vocabulary=True)


def matcher_for(store: GraphStore, nct: str | None = None) -> Matcher:
    """The matcher of one study of a store, built once per store version.

    The graph is read when a matcher is built, so the matcher is a value derived
    from the store: a record imported or edited through the server is matched
    against from the next request on. How a change is told (write counter, or
    size and graph names for a remote endpoint) is :func:`acse_kg.derived.store_version`'s business.
    """
    wanted = normalise_nct(nct) if nct else None
    if wanted is not None:  # kept while its study's graph and the vocabulary are as they were
        return _matchers.get(store, f"matcher-{wanted}", lambda: Matcher(store, wanted),
                             graph=study_graph_name(wanted))
    return _matchers.get(store, f"matcher-{nct}", lambda: Matcher(store, nct))


def _update_registry(store: GraphStore, old: RegistryMatcher, graphs: frozenset[str]) -> RegistryMatcher:
    if vocabulary_for(store) is not old.vocab:  # every plan was compiled against the old vocabulary
        _compiled.clear(store)  # (not kept until evicted: they hold the old vocabulary)
        return RegistryMatcher(store)
    return old.updated(graphs)


_registries: InStep[RegistryMatcher] = InStep(RegistryMatcher, _update_registry)


def registry_matcher_for(store: GraphStore) -> RegistryMatcher:
    """The matcher of every matchable study of a store: built once, then updated after each write
    with the studies it touched (:meth:`RegistryMatcher.updated`); built again after a write to the
    vocabularies, or on a store that cannot say what a write touched (per store version)."""
    return _registries.get(store)

