"""Compare a record's drafts with a hand-curated study, criterion by criterion: precision and recall.

Why this shape: the curated graph is the gold standard only where a curator
gave a bullet a computable rule, so a drafted item is *judged* when its
bullet is one the curator structured (it is then right or wrong), and
*unjudged* otherwise (reported, not scored). Recall is over every atomic
requirement of the curated rules: a rule is flattened into atoms in the
criteria-JSON shape (variable, comparator, value, unit, condition, gene,
alteration, drug), reading the curated study only through the study model.

An atom and a drafted item agree when the bullet, section, variable,
comparator, threshold, unit (UCUM annotations such as ``{score}`` count as
no unit; ``{ULN}`` is ``xULN``), gene / alteration / drug and condition agree.
Conditions agree when both are absent; when both are present and share a
content word (the curated condition's variable labels, codes and labels of
its terms against the drafted words); or when the curated condition only
excludes other cases ("not ALCL with marrow involvement") and the record
states the threshold without one — the general value the exceptions qualify;
or when the curator folded the drafted condition into the variable's name or a
drafted qualifier ("active") into the criterion's words. Several drafted items
may agree with one atom where the curator lumped them into one variable
(HIV, hepatitis B and hepatitis C into "HIV or hepatitis infection").

Nothing here names a trial: it runs on any pair (record, curated study).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from ..model import (
    AlterationTest,
    And,
    Comparison,
    Expr,
    Not,
    Or,
    PriorTherapyTest,
    Study,
    TumourTypeTest,
    walk,
)
from .lexicon import NAMED_CATEGORY
from .record import Draft

_CMP = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "=="}
_FLIP = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "present": "absent", "absent": "present"}
#: Curated alteration-type codes in the criteria-JSON's words.
_ALTERATION = {"translocation": "fusion", "fusion": "fusion", "rearrangement": "fusion", "amplification": "amplification",
               "mutation": "mutation", "overexpression": "overexpression", "deletion": "deletion"}
#: Profile fields under these prefixes are named by their last part (labs.anc -> anc).
_PREFIXES = ("labs.", "performance.", "history.")
#: Presence variables of the format that a profile's history may carry.
_PRESENCE = {"measurable_disease", "brain_metastases", "pregnancy", "breastfeeding", "hiv", "hepatitis_b", "hepatitis_c"}
#: Words a drafted presence variable is known by, to meet a curated variable that lumps several (hiv_or_hepatitis).
_VARIABLE_WORDS = {"hiv": {"hiv"}, "hepatitis_b": {"hepatitis"}, "hepatitis_c": {"hepatitis"},
                   "brain_metastases": {"brain", "metastases"}}
_QUALIFIER_ONLY = re.compile(r"(?:(?:known|active|untreated|symptomatic|unstable|progressive|uncontrolled|treated|stable|"
                             r"asymptomatic|latent|chronic|acute|ongoing)(?:\s*(?:,|and/or|and|or|/)\s*|\s*))+", re.IGNORECASE)
_STOP = {"the", "a", "an", "of", "or", "and", "with", "without", "for", "if", "in", "on", "to", "due", "unless", "patients",
         "patient", "no", "not", "any", "other", "than", "by", "at", "is", "are", "be", "disease", "status", "level", "syndrome",
         "within", "prior", "others"}


@dataclass
class Atom:
    """One atomic requirement of a curated rule, in the criteria-JSON's terms."""

    criterion: str
    bullet: str
    kind: str
    variable: str
    comparator: str
    value: Any = None
    unit: str | None = None
    gene: str | None = None
    alteration: str | None = None
    drug: str | None = None
    name_words: frozenset[str] = frozenset()
    condition_words: frozenset[str] = frozenset()
    condition_negative_only: bool = False
    has_condition: bool = False
    label_words: frozenset[str] = frozenset()  # the curated variable's own name: a timing or qualifier folded into it
    text_words: frozenset[str] = frozenset()  # the curated criterion's words
    name: str | None = None  # other_named: the curated variable's label
    quote: str = ""  # the curated criterion's text
    condition: str | None = None  # the condition, written out from its expression

    def as_json(self, n: int) -> dict[str, Any]:
        """The atom as a criteria-JSON object (rule ``curated``, state ``curated``)."""
        return {"id": f"{self.criterion}" + (f"#{n}" if n else ""), "kind": self.kind, "variable": self.variable,
                "name": self.name, "comparator": self.comparator, "value": self.value,
                "unit": "xULN" if self.unit == "{ULN}" else _unit(self.unit),
                "condition": self.condition, "gene": self.gene, "alteration": self.alteration, "drug": self.drug,
                "quote": self.quote, "span": None, "bullet": None, "source": "curated graph", "rule": "curated",
                "state": "curated"}

    def describe(self) -> str:
        what = self.variable + (f"[{' '.join(sorted(self.name_words))}]" if self.variable == "other_named" else "")
        extra = " ".join(str(x) for x in (self.gene, self.alteration, self.drug) if x)
        cond = " if " + " ".join(sorted(self.condition_words)) if self.has_condition else ""
        return f"{self.criterion}: {self.kind} {what} {self.comparator} {self.value if self.value is not None else ''} " \
               f"{self.unit or ''} {extra}{cond}".replace("  ", " ")


@dataclass
class Scores:
    """The outcome: which drafted items matched which atoms, and the scores."""

    atoms: list[Atom]
    judged: list[dict[str, Any]]
    unjudged: list[dict[str, Any]]
    matched_items: list[tuple[dict[str, Any], Atom]] = field(default_factory=list)
    missed: list[Atom] = field(default_factory=list)
    wrong: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return len(self.matched_items) / len(self.judged) if self.judged else 1.0

    @property
    def recall(self) -> float:
        return (len(self.atoms) - len(self.missed)) / len(self.atoms) if self.atoms else 1.0


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.casefold().replace("_", " ")) if w not in _STOP and len(w) > 1}


def _unit(u: str | None) -> str | None:
    if u in ("{ULN}", "xULN"):
        return "xULN"
    if u is None or (u.startswith("{") and u.endswith("}")) or u == "1":
        return None
    return u


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    if a is None or b is None:
        return a is b
    return str(a).casefold() == str(b).casefold()


def _term_words(e: Expr | None) -> set[str]:
    out: set[str] = set()
    if e is None:
        return out
    for x in walk(e):
        if isinstance(x, Comparison):
            out |= _words(x.variable.label) | _words(x.variable.field.rsplit(".", 1)[-1])
        elif isinstance(x, TumourTypeTest):
            out |= _words(x.tumour_type.label) | _words(x.tumour_type.code)
        elif isinstance(x, AlterationTest):
            for t in (x.gene, x.alteration_type):
                if t is not None:
                    out |= _words(t.label) | _words(t.code)
        elif isinstance(x, PriorTherapyTest):
            out |= _words(x.drug.label) | _words(x.drug.name)
    return out


def _negative_only(e: Expr | None) -> bool:
    """Whether a condition only rules other cases out: a NOT, or an AND of NOTs."""
    if isinstance(e, Not):
        return True
    if isinstance(e, And):
        return all(_negative_only(o) for o in e.operands)
    return False


def _is_context(e: Expr) -> bool:
    """Leaves that qualify a population rather than state a requirement: a tumour type, an age band."""
    return isinstance(e, TumourTypeTest) or (isinstance(e, Comparison) and e.variable.field == "age_years")


def _flatten(e: Expr, neg: bool = False, context: tuple[Expr, ...] = ()) -> list[tuple[Expr, bool, tuple[Expr, ...]]]:
    if isinstance(e, Not):
        return _flatten(e.operand, not neg, context)
    if isinstance(e, (And, Or)):
        leaves = [o for o in e.operands if not isinstance(o, (And, Or, Not))]
        ctx = tuple(o for o in leaves if _is_context(o)) if isinstance(e, And) else ()
        main = [o for o in e.operands if not (o in ctx and len(ctx) < len(e.operands))]
        out = []
        for o in main:
            out += _flatten(o, neg, context + ctx)
        return out
    return [(e, neg, context)]


def _expr_text(e: Expr) -> str:
    """An expression in words, for the condition of a curated item ("liver metastasis and not advanced fibrosis")."""
    if isinstance(e, Comparison):
        name = e.variable.label or e.variable.field
        if isinstance(e.threshold, bool):
            return name if e.threshold else f"not {name}"
        unit = f" {e.unit}" if e.unit and not e.unit.startswith("{") else ""
        return f"{name} {_CMP[e.comparator]} {e.threshold:g}{unit}" if isinstance(e.threshold, float) else \
            f"{name} {_CMP[e.comparator]} {e.threshold}{unit}"
    if isinstance(e, TumourTypeTest):
        return e.tumour_type.code or e.tumour_type.label
    if isinstance(e, AlterationTest):
        return " ".join(x for x in ((e.gene.code if e.gene else ""), (e.alteration_type.label if e.alteration_type else ""),
                                    e.protein_change or "") if x) or "an alteration"
    if isinstance(e, PriorTherapyTest):
        return f"prior {e.drug.name}"
    if isinstance(e, Not):
        return f"not ({_expr_text(e.operand)})" if isinstance(e.operand, (And, Or)) else f"not {_expr_text(e.operand)}"
    joiner = " and " if isinstance(e, And) else " or "
    return joiner.join(f"({_expr_text(o)})" if isinstance(o, (And, Or)) else _expr_text(o) for o in e.operands)


def curated_items(study: Study) -> list[dict[str, Any]]:
    """The study's curated computable criteria as criteria-JSON objects, one per atomic requirement."""
    out = []
    seen: dict[str, int] = {}
    for a in curated_atoms(study):
        n = seen.get(a.criterion, 0)
        seen[a.criterion] = n + 1
        out.append(a.as_json(n))
    return out


def _atom(leaf: Expr, neg: bool, crit: Any, bullet: str, kind: str) -> Atom | None:
    base = {"criterion": crit.id, "bullet": bullet, "kind": kind}
    if isinstance(leaf, Comparison):
        f = leaf.variable.field
        name = f
        for p in _PREFIXES:
            name = name.removeprefix(p)
        if leaf.variable.kind == "boolean" and isinstance(leaf.threshold, bool):
            present = leaf.threshold != neg
            cmp = "present" if present else "absent"
            if leaf.variable.implied_by_drug:
                return Atom(**base, variable="prior_therapy", comparator=cmp,
                            drug=leaf.variable.implied_by_drug.rsplit("/", 1)[-1])
            if name in _PRESENCE:
                return Atom(**base, variable=name, comparator=cmp)
            return Atom(**base, variable="other_named", comparator=cmp, name=leaf.variable.label or name,
                        name_words=frozenset(_words(name) | _words(leaf.variable.label)))
        cmp = _CMP[leaf.comparator]
        if neg:
            if cmp not in _FLIP:
                return None
            cmp = _FLIP[cmp]
        value = leaf.registered_threshold if leaf.registered_threshold is not None else leaf.threshold
        unit = leaf.registered_unit if leaf.registered_threshold is not None else leaf.unit
        return Atom(**base, variable=name, comparator=cmp, value=value, unit=unit)
    if isinstance(leaf, AlterationTest):
        alt = None
        if leaf.protein_change:
            alt = leaf.protein_change.removeprefix("p.")
        elif leaf.alteration_type is not None:
            alt = _ALTERATION.get(leaf.alteration_type.code, leaf.alteration_type.code)
        present = not neg and not leaf.wildtype
        return Atom(**base, variable="biomarker", comparator="present" if present else "absent",
                    gene=leaf.gene.code if leaf.gene else None, alteration=alt)
    if isinstance(leaf, PriorTherapyTest):
        return Atom(**base, variable="prior_therapy", comparator="absent" if neg else "present", drug=leaf.drug.name)
    return None  # a tumour type alone: the structured conditions, not the criteria text


def curated_atoms(study: Study) -> list[Atom]:
    """Every atomic requirement of the study's computable criteria, with the registered bullet it belongs to."""
    by_iri = {c.iri: c for c in study.criteria}
    atoms = []
    for c in study.criteria:
        if not c.decidable or c.requires is None:
            continue
        owner = by_iri.get(c.component_of) if c.component_of else None
        bullet = (owner or c).text
        expr: Expr = c.excludes_when if (c.kind == "exclusion" and c.excludes_when is not None) else (
            Not(c.requires) if c.kind == "exclusion" else c.requires)
        for leaf, neg, context in _flatten(expr):
            a = _atom(leaf, neg, c, bullet, c.kind)
            if a is None:
                continue
            words = _term_words(c.applies_when)
            for x in context:
                words |= _term_words(x)
            a.condition_words = frozenset(words)
            a.label_words = frozenset(_term_words(leaf))
            a.text_words = frozenset(_words(c.text))
            a.has_condition = bool(c.applies_when is not None or context)
            a.condition_negative_only = c.applies_when is not None and not context and _negative_only(c.applies_when)
            a.quote = c.text
            parts = [_expr_text(x) for x in (c.applies_when, *context) if x is not None]
            a.condition = " and ".join(parts) or None
            atoms.append(a)
    return atoms


def _agrees(item: dict[str, Any], a: Atom) -> bool:
    if item["kind"] != a.kind:
        return False
    if a.variable == "other_named":
        if item["variable"] == "other_named":
            drafted = _words(item.get("name") or "")
            drafted |= _words(NAMED_CATEGORY.get(item.get("name") or "", ""))
            if not drafted or not (drafted <= a.name_words or len(drafted & a.name_words) >= 2):
                return False
        elif not (_VARIABLE_WORDS.get(item["variable"], {"\0"}) <= a.name_words):
            return False
    elif item["variable"] != a.variable:
        return False
    if item["comparator"] != a.comparator:
        return False
    if ((a.value is not None or item.get("value") is not None) and a.comparator not in ("present", "absent")
            and not _same_value(item.get("value"), a.value)):
        return False
    if _unit(item.get("unit")) != _unit(a.unit):
        return False
    for k in ("gene", "alteration", "drug"):
        if (getattr(a, k) is not None or item.get(k) is not None) and not _same_value(item.get(k), getattr(a, k)):
            return False
    cond = item.get("condition")
    if not a.has_condition:
        if not cond:
            return True
        # The curator folded the drafted condition into the variable ("cardiovascular event within 3 months") or
        # the criterion's own words ("active or latent hepatitis"): the same requirement, said in one place.
        words = _words(cond)
        return bool(words & a.label_words) or (_QUALIFIER_ONLY.fullmatch(cond) is not None and words <= a.text_words)
    if not cond:
        return a.condition_negative_only
    return bool(_words(cond) & a.condition_words)


def compare(draft: Draft, study: Study) -> Scores:
    """Match the draft's items against the study's curated atoms (one to one, in bullet order)."""
    atoms = curated_atoms(study)
    curated_bullets = {_norm(a.bullet) for a in atoms}
    bullet_text = {b.index: _norm(b.text) for b in draft.bullets}

    def judged_bullet(index: int | None) -> str | None:
        if index is None:
            return None
        t = bullet_text[index]
        if t in curated_bullets:
            return t
        close = difflib.get_close_matches(t, list(curated_bullets), n=1, cutoff=0.9)
        return close[0] if close else None

    result = Scores(atoms, [], [])
    free = list(atoms)
    for item in draft.items:
        where = judged_bullet(item.get("bullet"))
        if where is None:
            result.unjudged.append(item)
            continue
        result.judged.append(item)
        hit = next((a for a in free if _norm(a.bullet) == where and _agrees(item, a)), None)
        if hit is not None:
            free.remove(hit)
        else:  # a second drafted item saying what an already matched atom says (a repeated threshold) is not wrong
            hit = next((a for _, a in result.matched_items if _norm(a.bullet) == where and _agrees(item, a)), None)
        if hit is None:
            result.wrong.append(item)
        else:
            result.matched_items.append((item, hit))
    result.missed = free
    return result
