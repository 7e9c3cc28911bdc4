"""Draft computable items from one eligibility bullet: the construct rules.

How a bullet is read, left to right:

1. A leading "For patients with …:" is a condition on everything in the bullet.
2. Numeric variables (labs, performance status, QTc, LVEF, life expectancy,
   age, TMB, heart rate) are found by name; the threshold grammar
   (:mod:`.grammar`) is run from the first comparator or number after the
   name. Names joined by "and" / "/" ("ASAT and ALAT ≤ 5x ULN") share the
   thresholds that follow the last one. A threshold's condition ("if liver
   metastasis") swallows the words it covers, so a variable named inside a
   condition is not drafted as a requirement.
3. Presence constructs (measurable disease, brain metastases, pregnancy,
   breast-feeding, HIV, hepatitis B and C, named conditions, biomarkers,
   MSI, prior therapy, normal values) are found by name outside the spans
   step 2 used, with negation read from the clause ("no", "without",
   "negative") and qualifiers ("active", "untreated") kept as the condition.

Every item records the rule that produced it and the character span of its
words. An exclusion item states the excluding condition as written; an
inclusion item the entry requirement. Bullets that grant a permission
("… are eligible") are not turned into requirements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import lexicon as lx
from .grammar import START, Constraint, parse_chain
from .sections import Bullet


@dataclass
class Item:
    """One drafted atomic requirement, before it is written as JSON (offsets are within the bullet)."""

    kind: str
    variable: str
    comparator: str
    value: Any
    unit: str | None
    start: int
    end: int
    rule: str
    condition: str | None = None
    gene: str | None = None
    alteration: str | None = None
    drug: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.variable, self.comparator, self.value, self.unit, self.condition, self.gene,
                self.alteration, self.drug, self.name)


def _anchor_regex(names: dict[str, list[str]], case_sensitive: frozenset[str] = frozenset()) -> re.Pattern[str]:
    groups = []
    for var, patterns in names.items():
        alts = [p if p in case_sensitive else f"(?i:{p})" for p in patterns]
        groups.append(f"(?P<{var}>{'|'.join(alts)})")
    return re.compile(r"(?<![\w-])(?:" + "|".join(groups) + r")(?![\w])")


_NUMERIC = _anchor_regex(lx.NUMERIC_NAMES, lx.CASE_SENSITIVE)
_PRESENCE = _anchor_regex(lx.PRESENCE_NAMES, frozenset({"HIV(?:[- ]?(?:1|2|infection|positive|positivity|seropositiv\\w*|disease))*",
                                                        "AIDS", "HBV", "HBsAg", "HCV"}))
_OTHER = re.compile(r"(?<![\w-])(?:" + "|".join(f"(?P<o{i}>{p})" for i, (p, _) in enumerate(lx.OTHER_NAMED)) + r")(?![\w])",
                    re.IGNORECASE)
_NEG_BEFORE = re.compile(lx.NEGATION_BEFORE, re.IGNORECASE)
_NEG_AFTER = re.compile(lx.NEGATION_AFTER, re.IGNORECASE)
_CLAUSE_END = re.compile(r"[;.:]\s|[;]|\[|\]")
_LEAD_CONDITION = re.compile(
    r"^\s*(?:for|in)\s+(?:(?:all\s+)?(?:patients|subjects|participants|those|children|adults|women|men|females|males|"
    r"individuals|people)\b[^:;,]{0,120}?)\s*[:,]|^\s*(?:within|during|in\s+the\s+(?:last|past|previous))\b[^:;]{0,100}:",
    re.IGNORECASE)
#: Words that make what follows a condition ("for primary or secondary cerebral tumors"), not a requirement.
_AS_CONDITION = re.compile(r"\b(?:for|in)\s+(?:patients\s+with\s+)?(?:\w+\s+(?:or|and)\s+)?$", re.IGNORECASE)
_COND_AFTER = re.compile(
    r"\s*,?\s*((?:if|unless|when|except|in\s+(?:\w+\s+)?(?:patients|subjects|participants|case|those|women|men)|for\s+patients|"
    r"within|in\s+the\s+(?:last|previous|past)|during)\b(?:[^;()\[\]]|\([^()]*\))*?)(?=\s*(?:;|\)|\]|$|,\s|\.\s|\.$))",
    re.IGNORECASE)
_QUALIFIERS = re.compile(
    r"((?:(?:known|active|untreated|symptomatic|unstable|progressive|progressing|uncontrolled|treated|stable|asymptomatic|"
    r"clinically\s+(?:active|significant|stable)|latent|chronic|acute|ongoing|current|new|documented|radiographically\s+"
    r"stable|previously\s+treated)(?:\s*(?:,|and/or|and|or|/)\s*|\s+))+)$", re.IGNORECASE)
_AGE_BEFORE = re.compile(
    r"(?P<cmp>" + "|".join(f"(?:{p})" for p, _ in lx.COMPARATORS) + r")\s*(?P<num>\d+(?:[.,]\d+)?)\s*"
    r"(?P<unit>years?|yrs?|months?)(?=\s*(?:of\s+age|old|\(|,|$|\.|;|\s+and\b|\s+or\b|\s+at\b))", re.IGNORECASE)
_AGE_CONTEXT = re.compile(r"\b(?:age[ds]?|patients?|subjects?|participants?|adults?|children|adolescents?|men|women|males?|"
                          r"females?|persons?|individuals?)(?:\s+(?:must\s+be|is|are|should\s+be|aged|of))?\s*$", re.IGNORECASE)
_AGE_POSTFIX = re.compile(r"(?P<num>\d+)\s*(?P<unit>years?|yrs?)(?:\s+of\s+age|\s+old)?\s*(?:(?P<ge>or\s+(?:older|over|above|more))|"
                          r"(?P<le>or\s+(?:younger|less|under|below)))", re.IGNORECASE)
# Cheap tests that tell whether a construct's (costlier) pattern can match a bullet at all.
_AGE_HINT = re.compile(r"\d\s*(?:years?|yrs?|months?)\b", re.IGNORECASE)
_PRIOR_HINT = re.compile(r"prior|previous|earlier|preceding|already|treated|received|exposed|progressed|na[iï]ve", re.IGNORECASE)
_INHIBITOR_AFTER = re.compile(r"\s*(?:inhibitors?|TKIs?|targeted\s+therap)", re.IGNORECASE)
_MORE_CHANGES = re.compile(rf"\s*(?:,|or|and|and/or|/)\s*(?P<pc>{lx.PROTEIN_CHANGE})(?![\w])(?:\s+(?:mutations?|substitutions?))?")
_MODAL_NOT = re.compile(r"\b(?:must|should|may|shall|will|can)\s*not\b|\bcannot\b", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r";|\.(?=\s|$)")
_NOT_PERMITTED = re.compile(r"\bnot\s+(?:be\s+)?(?:eligible|allowed|permitted)", re.IGNORECASE)
_EXCLUSIVE = re.compile(r"\b(?:limited|restricted|confined)\s+to\b|\bexclusively\b", re.IGNORECASE)
_EXCLUDED = re.compile(r"\b(?:are|is|will\s+be)\s+(?:excluded|not\s+eligible|ineligible)\b", re.IGNORECASE)
_THRESHOLD_HINT = re.compile(r"\d|ULN|upper\s+limit", re.IGNORECASE)
_ALTERATION_HINT = re.compile(r"alter|mutat|mutant|amplif|fusion|fused|rearrang|transloc|overexpr|delet|variant|gain|loss|skipping|"
                              r"wild|type|WT|"
                              r"[A-Z]\d{1,4}", re.IGNORECASE)
_PRESENCE_WORDS = ("measurable", "evaluable", "metasta", "secondary", "pregnan", "breast", "lactat", "nursing", "hiv",
                   "immunodeficiency", "aids", "hepatitis", "hbv", "hbsag", "hcv")
_OTHER_WORDS = ("infarct", "angina", "heart failure", "chf", "long qt", "nyha", "new york", "interstitial", "ild", "cerebrovascular",
                "stroke", "leptomening", "meningitis", "spinal cord", "nervous system", "cns disease", "autoimmune", "transplant",
                "hypertension")


def _hint(low: str, words: tuple[str, ...]) -> bool:
    """Whether any of a construct's key words occurs (lower-case text): the pattern is tried only then."""
    return any(w in low for w in words)


_MSI_HINT = re.compile(r"MSI|microsatellite|MMR|mismatch", re.IGNORECASE)
_GENE_TOKEN = re.compile(r"(?<![\w-])(?:c-?MET|HER-?2(?:/neu)?|[A-Za-z][A-Za-z0-9]{1,6}(?:-?\d)?)(?![\w])")
_WORD = re.compile(r"[A-Za-z0-9]+")
_SHARED = re.compile(r"[\s,/)]*(?:\([^()]{0,40}\))?[\s,/)]*(?:and|&|/|,)[\s(]*", re.IGNORECASE)
_SYNONYM_GAP = re.compile(r"[\s(]*(?:or\s+)?[\s]*")
_UNIT_WORD = {"year": "a", "years": "a", "yr": "a", "yrs": "a", "month": "mo", "months": "mo"}

_GENE_WORD = r"(?:c-?MET|HER-?2(?:/neu)?|[A-Z][A-Z0-9]{1,6}(?:-?[0-9])?)"
_ALTER = "|".join(f"(?P<a{i}>{p})" for i, (p, _) in enumerate(lx.ALTERATIONS))
_BIOMARKER_DIRECT = re.compile(
    rf"(?<![\w-])(?P<gene>{_GENE_WORD})(?:\s+gene)?[\s-]*(?:(?P<pc>{lx.PROTEIN_CHANGE})(?![\w])[\s-]*)?"
    rf"(?:(?P<alt>{_ALTER})(?![\w]))?")
_BIOMARKER_OF = re.compile(
    rf"(?P<alt>(?:(?:genomic|molecular|genetic|specific)\s+)?alterations?|{_ALTER})\s+(?:\w+\s+){{0,2}}?(?:of|in|on|among|affecting|"
    rf"involving)\s+(?:the\s+)?(?P<genes>{_GENE_WORD}(?:\s*(?:,\s*)?(?:/|or|and|and/or|,)\s*{_GENE_WORD})*)(?:\s+genes?)?", re.IGNORECASE)
_MSI = re.compile(r"(?<![\w-])(?:MSI-?H(?:igh)?|MSI[- ]high|microsatellite[- ]instability[- ]high|high[- ]microsatellite[- ]instability|"
                  r"dMMR|mismatch[- ]repair[- ]deficien\w*|deficient\s+mismatch\s+repair)(?![\w])", re.IGNORECASE)
_DRUG = rf"(?:{lx.DRUG_STEMS}|{'|'.join(lx.DRUG_CLASSES)})"
_PRIOR_CUE = re.compile(
    r"(?:(?:previously|already)\s+|have\s+(?:been\s+)?|has\s+(?:been\s+)?|had\s+)(?:treated|received|exposed|progressed)\s+"
    r"(?:with|to|on)?\s*|"
    r"(?:prior|previous|previously|earlier|preceding)\s+(?:(?:systemic|anti-?cancer|anti-?neoplastic|targeted)\s+)?"
    r"(?:(?:treatment|therapy|therapies|exposure|receipt|administration|use|lines?)\s+)?(?:with|to|of|by|including)?\s*",
    re.IGNORECASE)
_DRUG_LIST = re.compile(r"(?:(?:at\s+least|more\s+than|up\s+to)\s+)?(?:an?\s+|any\s+|the\s+|one\s+|two\s+|\d\s+)?"
                        r"(?:(?:prior\s+)?(?:lines?|regimens?|cycles?|courses?)\s+of\s+)?(?P<drug>" + _DRUG + r"(?:\s*(?:,|or|and|and/or|/)\s*" + _DRUG + r")*)",
                        re.IGNORECASE)
_NAIVE = re.compile(r"(?P<drug>" + _DRUG + r")[\s-]+na[iï]ve|na[iï]ve\s+(?:to|of)\s+(?P<drug2>" + _DRUG + ")", re.IGNORECASE)
_ONE_DRUG = re.compile(_DRUG, re.IGNORECASE)
_NORMAL = re.compile(
    r"normal\s+(?:values?|levels?|ranges?|limits?)\s+(?:for|of)\s+(?P<list>(?:(?:serum|plasma)\s+)?[a-z]+(?:\s*(?:,|and|or)\s*[a-z]+)*)"
    r"(?:\s+levels?)?", re.IGNORECASE)
_ANALYTES = {"calcium", "magnesium", "potassium", "sodium", "phosphate", "phosphorus", "glucose", "chloride", "tsh"}
_HEPATITIS_LIST = re.compile(r"(?i:hepatitis)\s+(?P<letters>[A-E](?:\s*(?:,|or|and|and/or|/)\s*[A-E])*)(?![\w])")


def draft_bullet(b: Bullet) -> list[Item]:
    """The items one bullet states, in order of their words."""
    text = b.text
    lead = _LEAD_CONDITION.match(text)
    lead_cond = lead.group(0).strip(" \t:,") if lead else None
    used: list[tuple[int, int]] = [(0, lead.end())] if lead else []
    used += _unstructured_clauses(text)
    items = _numeric(b, text, used, lead_cond)
    items += _presence(b, text, used, lead_cond)
    seen: set[tuple[Any, ...]] = set()
    out = []
    for it in sorted(items, key=lambda i: (i.start, i.end)):
        if it.key() not in seen:
            seen.add(it.key())
            out.append(it)
    return out


def _unstructured_clauses(text: str) -> list[tuple[int, int]]:
    """Clauses no item is drafted from: a permission ("… are eligible", "allowed"), which is not a requirement,
    and an exclusivity ("alteration limited to an overexpression"), which the format cannot say."""
    out = []
    start = 0
    for end in [m.end() for m in _CLAUSE_SPLIT.finditer(text)] + [len(text)]:
        clause = text[start:end]
        if (lx.PERMISSION.search(clause) and not _NOT_PERMITTED.search(clause)) or _EXCLUSIVE.search(clause):
            out.append((start, end))
        start = end
    return out


def _inside(spans: list[tuple[int, int]], a: int, e: int) -> bool:
    return any(s <= a and e <= t for s, t in spans)


def _join(*conds: str | None) -> str | None:
    parts = [c for c in conds if c]
    return "; ".join(parts) if parts else None


# ----------------------------------------------------------------- numeric constructs
def _numeric(b: Bullet, text: str, used: list[tuple[int, int]], lead_cond: str | None) -> list[Item]:
    items: list[Item] = []
    if not _THRESHOLD_HINT.search(text):  # every threshold has a number or names the ULN
        return items
    pending: list[tuple[str, int, int]] = []  # names waiting for the thresholds after the next name
    pos = 0
    run_start: int | None = None  # where a name written several ways began ("Aspartate amino transferase (AST or SGOT")
    anchors = list(_NUMERIC.finditer(text))
    for i, m in enumerate(anchors):
        var = m.lastgroup or ""
        a_start, a_end = m.span()
        if a_start < pos or _inside(used, a_start, a_end):
            continue
        if run_start is not None:
            a_start, run_start = run_start, None
        nxt = anchors[i + 1] if i + 1 < len(anchors) else None
        # A name followed only by a connector and another name of a different variable shares its thresholds.
        if nxt is not None and nxt.lastgroup != var and _SHARED.fullmatch(text, a_end, nxt.start()):
            pending.append((var, a_start, a_end))
            continue
        if nxt is not None and nxt.lastgroup == var and _SYNONYM_GAP.fullmatch(text, a_end, nxt.start()):
            run_start = a_start
            continue  # "AST (SGOT" – the same variable named twice: the second one reads the threshold
        found = _thresholds(text, var, a_end, nxt.start() if nxt else len(text))
        if found is None:
            if var == "age_years":
                continue
            pending = []
            continue
        constraints, end, paren_cond = found
        group = [*pending, (var, a_start, a_end)]
        pending = []
        for gvar, g_start, _ in group:
            for c in constraints:
                items.extend(_numeric_items(b, gvar, c, g_start, lead_cond, paren_cond))
        used.append((group[0][1], end))
        pos = end
    items += _age_written_before(b, text, used, lead_cond)
    return items


def _thresholds(text: str, var: str, a_end: int, limit: int) -> tuple[list[Constraint], int, str | None] | None:
    """The thresholds after a variable's name: skip a short filler ("Performance Status of"), read the chain."""
    score = var in lx.SCALE_BOUNDS or var == "age_years"
    paren_cond = None
    pos = a_end
    for _ in range(3):
        m = START.search(text, pos, min(limit, pos + 60) if limit > pos else pos + 60)
        if m is None:
            return None
        filler = text[pos:m.start()]
        if re.search(r"[;.]\s|\[|[<>≥≤]", filler) or len(filler.split()) > 7:
            return None
        if filler.rstrip().endswith("("):  # "(< 12 years)": a condition in parentheses, then the threshold
            got = parse_chain(text, m.start(), score=False)
            close = text.find(")", m.start())
            if got and close != -1 and got[1] <= close + 1:
                c = got[0][0]
                words = text[m.start():close].strip()
                paren_cond = f"age {words}" if c.unit in ("a",) and var != "age_years" else words
                pos = close + 1
                continue
            return None
        got = parse_chain(text, m.start(), score=score)
        if got is None:
            return None
        return got[0], got[1], paren_cond
    return None


def _numeric_items(b: Bullet, var: str, c: Constraint, start: int, lead_cond: str | None, paren_cond: str | None) -> list[Item]:
    unit = c.unit
    variable = var
    if unit == "xULN":
        if var not in lx.ULN_VARIANT:
            return []
        variable = lx.ULN_VARIANT[var]
    elif (var in ("ast_uln", "alt_uln", "alp_uln") and unit is None) or (var == "bilirubin" and unit is None):
        return []
    if var == "age_years" and unit not in (None, "a", "mo"):
        return []
    if var == "age_years" and unit is None:
        unit = "a"
    if var == "life_expectancy_months" and unit not in ("mo", "wk", "a", "d"):
        return []
    if var == "qtcf_ms" and unit not in (None, "ms"):
        return []
    if var in ("anc", "platelets") and unit in ("%",):
        return []
    cond = _join(lead_cond, paren_cond, c.condition)
    rule = f"threshold:{var}"
    if c.comparator == "range":
        low, high = c.value, c.high
        assert isinstance(low, int | float) and high is not None, "the grammar reads a range as two numbers"
        bounds = lx.SCALE_BOUNDS.get(var)
        out = []
        if not bounds or low > bounds[0]:
            out.append(Item(b.kind, variable, ">=", low, unit, start, c.end, rule + ":range", cond))
        if not bounds or high < bounds[1]:
            out.append(Item(b.kind, variable, "<=", high, unit, start, c.end, rule + ":range", cond))
        return out
    if c.comparator == "==" and var not in lx.SCALE_BOUNDS:
        return []
    return [Item(b.kind, variable, c.comparator, c.value, unit, start, c.end, rule, cond)]


def _age_written_before(b: Bullet, text: str, used: list[tuple[int, int]], lead_cond: str | None) -> list[Item]:
    """Ages written number first: "≥ 1 year of age", "patients over 18 years", "18 years or older"."""
    items: list[Item] = []
    if not _AGE_HINT.search(text):
        return items
    from .grammar import CMP

    for m in _AGE_BEFORE.finditer(text):
        if _inside(used, *m.span()):
            continue
        after = text[m.end():m.end() + 12].lower()
        before = text[max(0, m.start() - 40):m.start()]
        if not (after.lstrip().startswith(("of age", "old")) or _AGE_CONTEXT.search(before)):
            continue
        if not after.lstrip().startswith(("of age", "old")) and m["unit"].lower().startswith("month"):
            continue  # "amenorrhea of less than 12 months": a duration, not an age
        cmp = CMP.parse_string(m["cmp"])[0]
        unit = _UNIT_WORD.get(m["unit"].lower(), "a")
        value = float(m["num"].replace(",", ".")) if re.search(r"[.,]", m["num"]) else int(m["num"])
        items.append(Item(b.kind, "age_years", cmp, value, unit, m.start(), m.end(), "age:number-first", lead_cond))
        used.append(m.span())
    for m in _AGE_POSTFIX.finditer(text):
        if _inside(used, *m.span()):
            continue
        cmp = ">=" if m["ge"] else "<="
        items.append(Item(b.kind, "age_years", cmp, int(m["num"]), "a", m.start(), m.end(), "age:or-older", lead_cond))
        used.append(m.span())
    return items


# ----------------------------------------------------------------- presence constructs
def _clause_before(text: str, pos: int) -> tuple[int, str]:
    """Where the clause holding ``pos`` starts, and its words before ``pos``."""
    start = 0
    for m in _CLAUSE_END.finditer(text, 0, pos):
        start = m.end()
    return start, text[start:pos]


def _negated(text: str, start: int, end: int, kind: str = "inclusion") -> bool:
    """Whether the words at ``start:end`` are negated in their clause (an odd number of negations).

    Among the exclusions, "must not be pregnant" restates the exclusion as a requirement: the excluding
    condition is still pregnancy, so a modal negation does not count there.
    """
    _, before = _clause_before(text, start)
    before = before[-80:]
    if kind == "exclusion":
        before = _MODAL_NOT.sub(" ", before)
    count = len(_NEG_BEFORE.findall(before))
    count += len(re.findall(r"\bnegative\b", before, re.IGNORECASE))
    if _NEG_AFTER.match(text[end:end + 50]):
        count += 1
    return count % 2 == 1


def _qualifier(text: str, start: int) -> str | None:
    _, before = _clause_before(text, start)
    m = _QUALIFIERS.search(before[-80:])
    if not m:
        return None
    q = re.sub(r"\s+", " ", m.group(1)).strip(" ,/")
    q = re.sub(r"^(?:and|or|and/or)\s+|\s+(?:and|or|and/or)$", "", q)
    q = re.sub(r"^(?:known|documented|current|new)(?:\s*(?:,|and/or|and|or|/)\s*|\s+)", "", q, flags=re.IGNORECASE)
    return q if q and q.lower() not in ("known", "documented", "current", "new") else None


def _cond_after(text: str, end: int) -> tuple[str | None, int]:
    tail = _NEG_AFTER.match(text[end:end + 50])
    pos = end + (tail.end() if tail else 0)
    m = _COND_AFTER.match(text, pos)
    if m and m.group(1).strip():
        return m.group(1).strip(), m.end()
    return None, pos


def _presence_item(b: Bullet, text: str, variable: str, start: int, end: int, rule: str, lead_cond: str | None,
                   qualify: bool = True, **kw: Any) -> Item:
    neg = _negated(text, start, end, b.kind)
    if b.kind == "inclusion" and _EXCLUDED.search(text, end):
        neg = not neg  # "patients with … are excluded" among the inclusion criteria: the entry requirement is its absence
    qual = _qualifier(text, start) if qualify else None
    after, stop = _cond_after(text, end)
    return Item(b.kind, variable, "absent" if neg else "present", None, None, start, max(end, stop), rule,
                _join(lead_cond, qual, after), **kw)


def _presence(b: Bullet, text: str, used: list[tuple[int, int]], lead_cond: str | None) -> list[Item]:
    items: list[Item] = []
    low = text.lower()
    for m in (_PRESENCE.finditer(text) if _hint(low, _PRESENCE_WORDS) else ()):
        if _inside(used, *m.span()):
            continue
        var = m.lastgroup or ""
        if var in ("hepatitis_b", "hepatitis_c") and _HEPATITIS_LIST.match(text, m.start()):
            continue  # read by the list rule below
        if var == "pregnancy" and re.match(r"\s+(?:or|and)\s+(?:breast|lactat|nursing)", text[m.end():]) is None and \
                re.search(r"\b(?:contracepti|childbearing)\w*", text[m.end():m.end() + 20], re.IGNORECASE):
            continue  # "pregnancy prevention" / contraception rules are not a pregnancy status
        if _AS_CONDITION.search(text[max(0, m.start() - 40):m.start()]):
            continue
        items.append(_presence_item(b, text, var, m.start(), m.end(), f"presence:{var}", lead_cond))
    for m in (_HEPATITIS_LIST.finditer(text) if "hepatitis" in low else ()):
        if _inside(used, *m.span()):
            continue
        for letter in re.findall(r"[A-E]", m["letters"]):
            if letter in "BC":
                items.append(_presence_item(b, text, f"hepatitis_{letter.lower()}", m.start(), m.end(), "presence:hepatitis-list",
                                            lead_cond))
    for m in (_OTHER.finditer(text) if _hint(low, _OTHER_WORDS) else ()):
        if _inside(used, *m.span()) or _inside([(i.start, i.end) for i in items if i.variable == "brain_metastases"], *m.span()):
            continue
        name = lx.OTHER_NAMED[int((m.lastgroup or "o0")[1:])][1]
        items.append(_presence_item(b, text, "other_named", m.start(), m.end(), f"named:{name}", lead_cond, name=name))
    items += _biomarkers(b, text, used, lead_cond)
    items += _prior_therapy(b, text, used, lead_cond)
    for m in (_NORMAL.finditer(text) if "normal" in low else ()):
        if _inside(used, *m.span()):
            continue
        for word in re.findall(r"[A-Za-z]+", m["list"]):
            if word.lower() in _ANALYTES:
                items.append(Item(b.kind, word.lower(), "==", "normal", None, m.start(), m.end(), "normal-values", lead_cond))
    return items


def _biomarkers(b: Bullet, text: str, used: list[tuple[int, int]], lead_cond: str | None) -> list[Item]:
    genes = lx.gene_names()
    items: list[Item] = []
    gene_tokens = [t for t in _GENE_TOKEN.finditer(text) if t.group(0) in genes or t.group(0).upper() in lx.GENE_SYNONYMS]
    if not (gene_tokens or _MSI_HINT.search(text)):
        return items
    taken: list[tuple[int, int]] = []
    if not _ALTERATION_HINT.search(text):
        return items + _msi(b, text, used, lead_cond)
    for m in _BIOMARKER_OF.finditer(text):
        if _inside(used, *m.span()):
            continue
        alt = _alteration_word(m["alt"])
        for g in re.findall(_GENE_WORD, m["genes"]):
            symbol = genes.get(g.upper())
            if symbol:
                items.append(_presence_item(b, text, "biomarker", m.start(), m.end(), "biomarker:alteration-of-genes", lead_cond,
                                            gene=symbol, alteration=alt))
        taken.append(m.span())
    for tok in gene_tokens:  # the costly pattern is tried only where a gene is named
        direct = _BIOMARKER_DIRECT.match(text, tok.start())
        if direct is None:
            continue
        m = direct
        symbol = genes.get(m["gene"].upper())
        if not symbol or not (m["pc"] or m["alt"]) or _inside(used + taken, *m.span()):
            continue
        if m["gene"] != m["gene"].upper() and m["gene"].upper() not in lx.GENE_SYNONYMS:
            continue  # genes are written in capitals; "met" and "ret" are English words
        alteration = _protein(m["pc"]) if m["pc"] else _alteration_word(m["alt"])
        if m["pc"] and not re.search(r"\d", m["pc"]):
            continue
        it = _presence_item(b, text, "biomarker", m.start(), m.end(), "biomarker:gene-alteration", lead_cond,
                            gene=symbol, alteration=alteration)
        if alteration == "wildtype":  # "KRAS wild-type": no mutation of the gene
            it.alteration = "mutation"
            it.comparator = "present" if it.comparator == "absent" else "absent"
            it.rule = "biomarker:wild-type"
        if _INHIBITOR_AFTER.match(text, m.end()):
            continue  # "a KRAS G12C inhibitor" names a drug class, not the patient's alteration
        items.append(it)
        for more in _MORE_CHANGES.finditer(text, m.end()):  # "EGFR exon 19 deletion or L858R mutation"
            if more.start() != m.end() and text[m.end():more.start()].strip(" ,") != "":
                break
            nxt = _presence_item(b, text, "biomarker", more.start("pc"), more.end(), "biomarker:gene-alteration", lead_cond,
                                 gene=symbol, alteration=_protein(more["pc"]))
            items.append(nxt)
            m = more
    for it in items:
        tumour = _tumour_context(text, it.start, it.end)
        if tumour:
            it.condition = _join(it.condition, tumour)
    return items + _msi(b, text, used, lead_cond)


def _msi(b: Bullet, text: str, used: list[tuple[int, int]], lead_cond: str | None) -> list[Item]:
    items: list[Item] = []
    for m in (_MSI.finditer(text) if _MSI_HINT.search(text) else ()):
        if not _inside(used, *m.span()):
            it = _presence_item(b, text, "msi", m.start(), m.end(), "biomarker:msi", lead_cond)
            it.value = "MSI-H"
            if it.comparator == "present":
                it.comparator = "=="
            items.append(it)
    return items


def _tumour_context(text: str, start: int, end: int) -> str | None:
    """The tumour types named in a biomarker's clause, outside its own words ("NSCLC patients ALK translocations")."""
    c_start, _ = _clause_before(text, start)
    c_end = len(text)
    m = _CLAUSE_END.search(text, end)
    if m:
        c_end = m.start()
    names, codes, firsts = lx.tumour_types()
    words = [w for w in _WORD.finditer(text, c_start, c_end) if not (start <= w.start() < end)]
    found: dict[str, None] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w.group(0) in codes:
            found[w.group(0)] = None
            i += 1
            continue
        if w.group(0).lower() not in firsts:
            i += 1
            continue
        for n in range(min(6, len(words) - i), 0, -1):
            phrase = " ".join(x.group(0).lower() for x in words[i:i + n])
            if names.get(phrase) == n and (n > 1 or len(phrase) >= 8):
                found[text[w.start():words[i + n - 1].end()]] = None
                i += n
                break
        else:
            i += 1
    return ", ".join(found) or None


def _alteration_word(word: str) -> str | None:
    for pattern, code in lx.ALTERATIONS:
        if re.fullmatch(pattern, word.strip(), re.IGNORECASE):
            if code == "exon":  # "exon 19 deletion": the change as written is the alteration
                return re.sub(r"\s+", " ", word.strip()).lower().rstrip("s")
            return code
    return None  # "alteration(s)": any alteration of the gene


def _protein(pc: str) -> str:
    return re.sub(r"^p\.\s?", "", pc)


def _prior_therapy(b: Bullet, text: str, used: list[tuple[int, int]], lead_cond: str | None) -> list[Item]:
    items: list[Item] = []
    if not _PRIOR_HINT.search(text):
        return items
    for cue in _PRIOR_CUE.finditer(text):
        m = _DRUG_LIST.match(text, cue.end())
        if m is None:  # "prior systemic therapy": the cue's optional words may be the drug class itself
            first = re.match(r"\S+\s+", text[cue.start():cue.end()])
            m = _DRUG_LIST.match(text, cue.start() + first.end()) if first else None
        if m is None or _inside(used, cue.start(), m.end()):
            continue
        for d in _ONE_DRUG.finditer(m["drug"]):
            drug = re.sub(r"\s+", " ", d.group(0)).strip()
            if drug.lower() in ("chemotherapy", "radiotherapy") and m["drug"].strip().lower() != drug.lower():
                continue
            items.append(_presence_item(b, text, "prior_therapy", cue.start(), m.end(), "prior-therapy", lead_cond,
                                        qualify=False, drug=drug))
    for m in (_NAIVE.finditer(text) if "na" in text and re.search(r"na[iï]ve", text, re.IGNORECASE) else ()):
        drug = (m["drug"] or m["drug2"]).strip()
        items.append(Item(b.kind, "prior_therapy", "absent", None, None, m.start(), m.end(), "prior-therapy:naive", lead_cond,
                          drug=drug))
    return items
