"""The tumor profile generated from the graph's clinical variables.

Each ``acse:ClinicalVariable`` binds a field of the contract (``acse:profileField``,
a dotted path such as ``labs.anc``) to a kind (``acse:valueKind`` number,
boolean or code), a UCUM unit, and what the validator needs as data: bounds
(``acse:minInclusive``, ``acse:minExclusive``, ``acse:maxInclusive``), whole
scores (``acse:wholeNumber``), allowed codes (``acse:allowedCode``), whether
every profile must give it (``acse:requiredInProfile``), the structure of a
list's items (``acse:itemStructure``), its place (``acse:position``) and a
description (``skos:definition``). From them this module generates the
pydantic model (dotted paths become nested objects, so ``profile.labs.anc``
and ``operator.attrgetter("labs.anc")`` read as before), and from the model
the JSON Schema; the JSON-LD context takes the alteration types of the graph.
So a trial that needs a new variable adds it to the graph, not to Python.

The schema is read through the store interface and cached per store version
(:class:`acse_kg.derived.DerivedCache`): a write that adds a variable makes
the next ``profile_schema(store)`` a new model. Parsing stays on pydantic's
Rust path (``model_validate_json``); the only Python step per profile is
reconciling ``prior_therapies`` with the history flags that stand for a
drug (``acse:impliedByPriorTherapy``), and only when the profile lists
prior therapies.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

from ..derived import DerivedCache
from ..errors import AcseError
from ..namespaces import ACSE
from ..store import GraphStore, OxigraphStore
from . import jsonld
from .profile import (
    Num,
    PriorTherapy,
    ProfileError,
    ProfileModel,
    Score,
    _Strict,
    alteration_model,
    json_schema_of,
    validate,
)

_cache = DerivedCache()
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
KINDS = ("number", "boolean", "code")


class ProfileSchemaError(AcseError, ValueError):
    """The graph's clinical variables cannot make a profile (a bad field path, kind or structure)."""


@dataclass(frozen=True)
class Variable:
    """One clinical variable of the graph, as the profile carries it."""

    iri: str
    field: str  # dotted path in the tumor-profile contract
    kind: str  # number | boolean | code
    unit: str | None = None
    label: str | None = None
    description: str | None = None
    position: int | None = None
    required: bool = False
    whole_number: bool = False
    min_inclusive: float | None = None
    min_exclusive: float | None = None
    max_inclusive: float | None = None
    codes: tuple[str, ...] = ()
    max_length: int | None = None
    item_structure: str | None = None
    implied_by: frozenset[str] = dataclasses.field(default_factory=frozenset)  # drug IRIs (acse:impliedByPriorTherapy)
    #: (unit, factor): units UCUM cannot turn into ``unit`` that the graph gives a factor for
    #: (acse:convertibleUnit: haemoglobin in mmol/L, by the monomer's molar mass).
    conversions: tuple[tuple[str, float], ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))


# ------------------------------------------------------------ reading the graph
#: Each query reads a variable's declaration graph by graph (``GRAPH ?g``), then distinct: the same
#: variable declared alike by many study graphs (CAPTUR's ``er_status``, in every copy of it) is one
#: row a graph. Over the union default graph the optional parts multiplied instead (a variable declared
#: by n graphs gave n^4 rows: 6·10^10 at 500 copies, and the first match never came back).
_VARIABLES = """
SELECT DISTINCT ?v ?field ?kind ?unit ?label ?def ?pos ?req ?whole ?min ?xmin ?max ?len ?items WHERE { GRAPH ?g {
  ?v a acse:ClinicalVariable ; acse:profileField ?field .
  OPTIONAL { ?v acse:valueKind ?kind } OPTIONAL { ?v acse:unit ?unit }
  OPTIONAL { ?v rdfs:label ?label } OPTIONAL { ?v skos:definition ?def }
  OPTIONAL { ?v acse:position ?pos } OPTIONAL { ?v acse:requiredInProfile ?req }
  OPTIONAL { ?v acse:wholeNumber ?whole } OPTIONAL { ?v acse:minInclusive ?min }
  OPTIONAL { ?v acse:minExclusive ?xmin } OPTIONAL { ?v acse:maxInclusive ?max }
  OPTIONAL { ?v acse:maxLength ?len } OPTIONAL { ?v acse:itemStructure ?items }
} }"""
_CODES = "SELECT DISTINCT ?v ?code WHERE { GRAPH ?g { ?v a acse:ClinicalVariable ; acse:allowedCode ?code } }"
_IMPLIED = "SELECT DISTINCT ?v ?drug WHERE { GRAPH ?g { ?v a acse:ClinicalVariable ; acse:impliedByPriorTherapy ?drug } }"
_CONVERSIONS = """SELECT DISTINCT ?v ?unit ?factor WHERE { GRAPH ?g {
  ?v a acse:ClinicalVariable ; acse:convertibleUnit ?c . ?c acse:unit ?unit ; acse:conversionFactor ?factor } }"""
_ALTERATION_TYPES = """
SELECT ?t ?word WHERE {
  ?t a acse:AlterationType .
  { ?t acse:profileTerm ?word } UNION { ?t acse:profileTerm ?term ; skos:altLabel ?word }
}"""
_TERMS = "SELECT ?t ?term WHERE { ?t a acse:AlterationType ; acse:profileTerm ?term }"
_DRUG_IRIS = "SELECT DISTINCT ?d WHERE { ?d a acse:Drug }"
#: Each drug's names and codes, asked for the drugs found (bound first): a drug that many study records
#: describe (crizotinib) is then read once per record, not once per pair of records.
_DRUGS = """
SELECT DISTINCT ?d ?key ?scheme WHERE {
  VALUES ?d { %s }
  { ?d rdfs:label|schema:name|skos:altLabel ?key BIND("name" AS ?scheme) }
  UNION { ?d acse:ncitCode ?key BIND("NCIT" AS ?scheme) }
  UNION { ?d acse:rxnormCui ?key BIND("RXNORM" AS ?scheme) }
  UNION { ?d acse:chebiId ?key BIND("CHEBI" AS ?scheme) }
}"""


def _number(node: Any) -> float | int | None:
    if node is None:
        return None
    value = node.toPython()
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ProfileSchemaError(f"{node!r} is not a number")
    return int(value) if value == int(value) else float(value)


def _integer(node: Any) -> int | None:
    return None if node is None else int(node.toPython())


def _flag(node: Any) -> bool:
    return bool(node is not None and node.toPython() is True)


def _text(node: Any) -> str | None:
    return None if node is None else str(node)


def read_variables(store: GraphStore) -> tuple[Variable, ...]:
    """The graph's clinical variables, in their contract order (acse:position, then field)."""
    codes: dict[str, list[str]] = {}
    for r in store.select(_CODES):
        codes.setdefault(str(r["v"]), []).append(str(r["code"]))
    implied: dict[str, set[str]] = {}
    for r in store.select(_IMPLIED):
        implied.setdefault(str(r["v"]), set()).add(str(r["drug"]))
    conversions: dict[str, set[tuple[str, float]]] = {}
    for r in store.select(_CONVERSIONS):
        factor = _number(r["factor"])
        if factor is None or factor <= 0:
            raise ProfileSchemaError(f"clinical variable {r['v']}: a conversion factor must be a positive number")
        conversions.setdefault(str(r["v"]), set()).add((str(r["unit"]), float(factor)))
    seen: dict[str, Variable] = {}
    for r in store.select(_VARIABLES):
        iri = str(r["v"])
        try:
            var = Variable(
                iri=iri, field=str(r["field"]), kind=str(r.get("kind") or "number"), unit=_text(r.get("unit")),
                label=_text(r.get("label")), description=_text(r.get("def")),
                position=_integer(r.get("pos")),
                required=_flag(r.get("req")), whole_number=_flag(r.get("whole")),
                min_inclusive=_number(r.get("min")), min_exclusive=_number(r.get("xmin")),
                max_inclusive=_number(r.get("max")),
                codes=tuple(sorted(codes.get(iri, ()))),  # the graph gives no order: published sorted
                max_length=_integer(r.get("len")),
                item_structure=_text(r.get("items")), implied_by=frozenset(implied.get(iri, ())),
                conversions=tuple(sorted(conversions.get(iri, ()))),
            )
        except (ProfileSchemaError, ValueError, TypeError) as exc:
            raise ProfileSchemaError(f"clinical variable {iri}: {exc}") from exc
        if iri in seen and seen[iri] != var:
            raise ProfileSchemaError(f"clinical variable {iri} has more than one value for a single-valued property")
        seen[iri] = var
    by_field: dict[str, str] = {}
    for var in seen.values():
        _check(var)
        other = by_field.setdefault(var.field, var.iri)
        if other != var.iri:
            raise ProfileSchemaError(f"profile field {var.field!r} is claimed by both {other} and {var.iri}")
    return tuple(sorted(seen.values(), key=lambda v: (v.position is None, v.position or 0, v.field)))


def _check(var: Variable) -> None:
    where = f"clinical variable {var.iri} (field {var.field!r})"
    if not all(_NAME.match(part) for part in var.path) or var.path[0] == "id":
        raise ProfileSchemaError(f"{where}: a profile field is a dotted path of lower-case names, not 'id'")
    if var.kind not in KINDS:
        raise ProfileSchemaError(f"{where}: value kind {var.kind!r} is not one of {', '.join(KINDS)}")
    if var.item_structure is not None and var.item_structure not in STRUCTURES:
        raise ProfileSchemaError(f"{where}: item structure {var.item_structure!r} is not one of "
                                 f"{', '.join(STRUCTURES)}")
    if var.codes and var.kind != "code":
        raise ProfileSchemaError(f"{where}: only a code variable has allowed codes")
    if var.implied_by and var.kind != "boolean":
        raise ProfileSchemaError(f"{where}: only a boolean variable can stand for a prior therapy")


def read_alteration_words(store: GraphStore) -> dict[str, tuple[str, str]]:
    """Every word a profile may give as an alteration type -> (its profile term, the type's IRI)."""
    terms = {str(r["t"]): str(r["term"]) for r in store.select(_TERMS)}
    words: dict[str, tuple[str, str]] = {}
    for r in store.select(_ALTERATION_TYPES):
        t, word = str(r["t"]), str(r["word"])
        if word in words and words[word][1] != t:
            raise ProfileSchemaError(f"alteration word {word!r} names two alteration types: {words[word][1]} and {t}")
        words[word] = (terms[t], t)
    return words


def drug_key(text: str) -> str:
    """How a drug name or code is looked up: codes by scheme and id, names without case or extra spaces."""
    prefix, colon, code = text.partition(":")
    if colon and prefix.upper() in ("NCIT", "RXNORM", "CHEBI"):
        return f"{prefix.upper()}:{code.strip().upper()}"
    return " ".join(text.split()).casefold()


def read_drugs(store: GraphStore) -> dict[str, frozenset[str]]:
    """Drug key (name, NCIT:C…, RXNORM:…, CHEBI:…) -> the acse:Drug individuals it names."""
    out: dict[str, set[str]] = {}
    # IRIs the store itself holds, written as IRIs (one that could not be is left out, never spliced).
    drugs = [f"<{r['d']}>" for r in store.select(_DRUG_IRIS) if not set(str(r["d"])) & set('<>"{}|^`\\ \n\r\t')]
    if not drugs:
        return {}
    for r in store.select(_DRUGS % " ".join(drugs)):
        key, scheme = str(r["key"]), str(r["scheme"])
        k = drug_key(key) if scheme == "name" else f"{scheme}:{key.upper().removeprefix(scheme + ':')}"
        out.setdefault(k, set()).add(str(r["d"]))
    return {k: frozenset(v) for k, v in out.items()}


# ------------------------------------------------------------ generating the model
#: Structures of list items, which the contract defines (they carry behaviour: HGVS, drug codes).
#: name -> (JSON-LD property of an item, does an absent list mean "none" (True) or "unknown" (False))
STRUCTURES: dict[str, tuple[str, bool]] = {"alteration": ("alteration", True), "therapy": ("priorTherapy", False)}


def _class_name(path: tuple[str, ...]) -> str:
    return "".join(p.capitalize() for part in path for p in part.split("_"))


def _leaf(var: Variable, items: dict[str, type[BaseModel]]) -> tuple[Any, Any]:
    """(annotation, default) of one variable's field."""
    doc = var.description or var.label
    bounds = {"ge": var.min_inclusive, "gt": var.min_exclusive, "le": var.max_inclusive}
    if var.item_structure is not None:
        item = items[var.item_structure]
        empty_is_none = STRUCTURES[var.item_structure][1]
        if var.required:
            return list[item], Field(..., description=doc)  # type: ignore[valid-type]  # a model built at run time
        if empty_is_none:
            return list[item], Field(default_factory=list, description=doc)  # type: ignore[valid-type]  # a model built at run time
        return list[item] | None, Field(None, description=doc)  # type: ignore[valid-type]  # a model built at run time
    if var.kind == "number":
        ann = Score(**bounds) if var.whole_number else Num(var.unit, conversions=dict(var.conversions), **bounds)
    elif var.kind == "boolean":
        ann = bool
    elif var.codes:
        ann = Literal[var.codes]
    else:
        ann = Annotated[str, Field(min_length=1, max_length=var.max_length or 200)]
    if var.required:
        return ann, Field(..., description=doc)
    return ann | None, Field(None, description=doc)


def _group(name: tuple[str, ...], members: list[tuple[tuple[str, ...], Variable]],
           items: dict[str, type[BaseModel]]) -> type[BaseModel]:
    """The nested object of the variables under one path prefix (``labs``, ``history``)."""
    fields: dict[str, Any] = {}
    for key, sub in _children(members):
        fields[key] = sub(items)
    model: type[BaseModel] = create_model(_class_name(name) or "TumorProfile", __base__=_Strict, **fields)
    return model


def _children(members: list[tuple[tuple[str, ...], Variable]]) -> list[tuple[str, Callable[..., Any]]]:
    """The keys of one object, in contract order: leaves, and groups (a group sits where its first member does)."""
    out: dict[str, Callable[..., Any]] = {}
    groups: dict[str, list[tuple[tuple[str, ...], Variable]]] = {}
    for rest, var in members:
        head = rest[0]
        if len(rest) == 1:
            if head in out or head in groups:
                raise ProfileSchemaError(f"profile field {var.field!r} is both a value and an object")
            out[head] = lambda items, v=var: _leaf(v, items)
        else:
            if head in out and head not in groups:
                raise ProfileSchemaError(f"profile field {var.field!r} is under a field that is a value")
            if head not in groups:
                groups[head] = []
                prefix = var.path[: len(var.path) - len(rest) + 1]
                out[head] = lambda items, h=head, p=prefix: _nested(p, groups[h], items)
            groups[head].append((rest[1:], var))
    return list(out.items())


def _nested(path: tuple[str, ...], members: list[tuple[tuple[str, ...], Variable]],
            items: dict[str, type[BaseModel]]) -> tuple[Any, Any]:
    model = _group(path, members, items)
    return model, Field(default_factory=model)


def generate_model(variables: tuple[Variable, ...], alteration_words: dict[str, tuple[str, str]]) -> type[ProfileModel]:
    """The pydantic model of a profile: ``id``, then one field per variable, nested by dotted path."""
    items: dict[str, type[BaseModel]] = {
        "alteration": alteration_model({w: term for w, (term, _) in alteration_words.items()}),
        "therapy": PriorTherapy,
    }
    fields: dict[str, Any] = {"id": (Annotated[str, Field(min_length=1, max_length=200)],
                                     Field(..., description="the caller's identifier, echoed back"))}
    for key, make in _children([(v.path, v) for v in variables]):
        fields[key] = make(items)
    model: type[ProfileModel] = create_model("TumorProfile", __base__=ProfileModel, **fields)
    model.__doc__ = "One patient, as a matching service sends it (contract v1 and its additions)."
    return model


# ------------------------------------------------------------ the schema object
@dataclass(frozen=True)
class _Implied:
    field: str
    get: Callable[[Any], Any]
    drugs: frozenset[str]


class ProfileSchema:
    """The profile of one graph: its variables, model, JSON Schema and JSON-LD context, and a parser."""

    def __init__(self, variables: tuple[Variable, ...], alteration_words: dict[str, tuple[str, str]],
                 drugs: dict[str, frozenset[str]]) -> None:
        self.fields = variables
        self.by_field = {v.field: v for v in variables}
        self.alteration_words = alteration_words
        self.drugs = drugs
        self.model = generate_model(variables, alteration_words)
        #: The contract's canonical UCUM unit of each number field (what a rule's threshold converts to).
        self.canonical_units = {v.field: v.unit for v in variables if v.kind == "number" and v.unit}
        therapies = [v.field for v in variables if v.item_structure == "therapy" and "." not in v.field]
        self.therapy_field = therapies[0] if therapies else None
        self._therapies = operator.attrgetter(self.therapy_field) if self.therapy_field else None
        self._implied = [_Implied(v.field, operator.attrgetter(v.field), v.implied_by)
                         for v in variables if v.implied_by]
        self._json_schema: dict[str, Any] | None = None

    # -- parsing -------------------------------------------------------------
    def parse(self, data: bytes | str | dict[str, Any]) -> Any:
        """Validate one profile (JSON bytes/str, or a decoded object); raise ProfileError naming the field.

        A history flag that stands for a drug (``acse:impliedByPriorTherapy``)
        and that drug in ``prior_therapies`` are one fact: the drug listed sets
        the flag, a listed history without it makes an absent flag false, and a
        flag that is false while the list names the drug is a contradiction.
        """
        p = validate(self.model, data)
        if self._therapies is not None and self._therapies(p) is not None and self._implied:
            p = self._reconcile(p)
        return p

    def _reconcile(self, p: Any) -> Any:
        named = self.named_drugs(p)
        for imp in self._implied:
            current = imp.get(p)
            listed = bool(named & imp.drugs)
            if current is False and listed:
                assert self._therapies is not None  # _reconcile runs only with a therapy field (see parse)
                given = next(t.drug for t in self._therapies(p) if self.resolve_drug(t.drug) & imp.drugs)
                raise ProfileError(imp.field, f"false, but {self.therapy_field} lists {given!r}, the drug this "
                                   "flag stands for: the same fact cannot be both", p.id)
            if current is None:
                p = _replace(p, imp.field.split("."), listed)
        return p

    # -- prior therapies -----------------------------------------------------
    def resolve_drug(self, text: str) -> frozenset[str]:
        """The graph's acse:Drug individuals a name or code names (none for a drug the registry does not know)."""
        return self.drugs.get(drug_key(text), frozenset())

    def named_drugs(self, profile: Any) -> frozenset[str]:
        """The drug IRIs that the profile's ``prior_therapies`` name."""
        therapies = self._therapies(profile) if self._therapies is not None else None
        out: set[str] = set()
        for t in therapies or ():
            out |= self.resolve_drug(t.drug)
        return frozenset(out)

    def prior_drugs(self, profile: Any) -> frozenset[str]:
        """Every drug IRI the profile says was given before: listed, or stated by a history flag that is true."""
        out = set(self.named_drugs(profile))
        for imp in self._implied:
            if imp.get(profile) is True:
                out |= imp.drugs
        return frozenset(out)

    def prior_therapy(self, profile: Any, drug: str) -> bool | None:
        """Was ``drug`` (an IRI) given before? True, False, or None when the profile cannot tell.

        False when the profile lists its prior therapies without it, or a
        history flag standing for it is false; None otherwise.
        """
        if drug in self.prior_drugs(profile):
            return True
        if self._therapies is not None and self._therapies(profile) is not None:
            return False
        if any(imp.get(profile) is False for imp in self._implied if drug in imp.drugs):
            return False
        return None

    # -- publishing ----------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the profile (a fresh copy: callers may change it)."""
        if self._json_schema is None:
            self._json_schema = json_schema_of(self.model)
        import copy

        return copy.deepcopy(self._json_schema)

    def context(self) -> dict[str, Any]:
        """The JSON-LD context that makes a profile of this graph RDF."""
        lists = {v.field: STRUCTURES[v.item_structure][0] for v in self.fields
                 if v.item_structure is not None and "." not in v.field}
        types = {w: _curie(iri) for w, (_, iri) in sorted(self.alteration_words.items())}
        return jsonld.build_context(types, lists)


def _curie(iri: str) -> str:
    return "acse:" + iri[len(str(ACSE)):] if iri.startswith(str(ACSE)) else iri


def _replace(obj: Any, path: list[str], value: Any) -> Any:
    """A copy of a frozen profile with the field at ``path`` set (nested objects copied on the way)."""
    head = path[0]
    if len(path) == 1:
        return obj.model_copy(update={head: value})
    return obj.model_copy(update={head: _replace(getattr(obj, head), path[1:], value)})


def build_schema(store: GraphStore) -> ProfileSchema:
    """Read the store's variables, alteration types and drugs, and generate the profile (uncached)."""
    try:
        return ProfileSchema(read_variables(store), read_alteration_words(store), read_drugs(store))
    except ValueError as exc:
        if isinstance(exc, ProfileSchemaError):
            raise
        raise ProfileSchemaError(str(exc)) from exc


def profile_schema(store: GraphStore) -> ProfileSchema:
    """The profile of the store's graph, generated once per vocabulary version
    (not again after a write to what a study states of itself)."""
    schema: ProfileSchema = _cache.get(store, "profile-schema", lambda: build_schema(store), vocabulary=True)
    return schema


@lru_cache(maxsize=1)
def bundled_schema() -> ProfileSchema:
    """The profile of the bundled ontology and records (for callers without a store): built once.

    Only the graphs that hold variables, alteration types and drugs are read
    (the ontology and the study records), not the vocabularies.
    """
    from ..loader import ONTOLOGY_GRAPH, STUDY_GRAPH_PREFIX, bundle_sources

    store = OxigraphStore(None)
    for source in bundle_sources():
        if source.graph == ONTOLOGY_GRAPH or source.graph.startswith(STUDY_GRAPH_PREFIX):
            store.replace_graph(source.graph, source.produce(), "ntriples")
    return build_schema(store)
