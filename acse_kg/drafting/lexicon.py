"""The words the drafting parser knows: variables' names, units as UCUM codes, genes, drugs, named conditions.

Why a lexicon in code and not a model: drafting must be deterministic and
fast (all of ClinicalTrials.gov in under an hour on one core) and every item
must say which rule and which words produced it; a list a curator can read
and extend does that. Nothing here names a trial.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache

from ..paths import VOCAB_DIR

# ----------------------------------------------------------------- numeric variables
#: Variable -> the ways records name it (regular expressions, matched case-insensitively
#: unless the variable is in CASE_SENSITIVE). The variable names are the issue's, named
#: like the tumor profile's fields (labs.anc -> anc).
NUMERIC_NAMES: dict[str, list[str]] = {
    "anc": [r"absolute\s+neutrophils?(?:\s+counts?)?", r"ANC", r"neutrophils?(?:\s+counts?)?", r"granulocytes?(?:\s+counts?)?",
            r"AGC"],
    "platelets": [r"platelets?(?:\s+counts?)?", r"PLT", r"thrombocytes?"],
    "hemoglobin": [r"ha?emoglobin", r"Hg?b"],
    "creatinine_clearance": [r"(?:calculated\s+|measured\s+|estimated\s+)?creatinine\s+clearance", r"creat\.?\s*cl\.?", r"CrCl",
                             r"Cl\s?cr"],
    "egfr": [r"eGFR", r"(?:estimated\s+)?glomerular\s+filtration\s+rate"],
    "creatinine": [r"(?:serum\s+|plasma\s+)?creatinine(?:\s+levels?)?(?!\s+clearance)"],
    "bilirubin": [r"(?:total\s+|serum\s+|total\s+serum\s+)?bilirubin(?:\s+levels?)?"],
    "ast_uln": [r"aspartate\s+(?:amino\s*)?transaminase", r"aspartate\s+amino\s*transferase", r"AST", r"ASAT", r"SGOT"],
    "alt_uln": [r"alanine\s+(?:amino\s*)?transaminase", r"alanine\s+amino\s*transferase", r"ALT", r"ALAT", r"SGPT"],
    "alp_uln": [r"alkaline\s+phosphatases?", r"ALP", r"PAL"],
    "albumin": [r"(?:serum\s+)?albumin"],
    "inr": [r"INR", r"international\s+normali[sz]ed\s+ratio"],
    "qtcf_ms": [r"QTc[FB]?(?:\s+interval)?", r"QT\s*c[FB]?(?:\s+interval)?", r"corrected\s+QT(?:\s+interval)?"],
    "lvef_pct": [r"LVEF", r"(?:left\s+ventricular\s+)?ejection\s+fraction"],
    "life_expectancy_months": [r"life\s+expectancy", r"expected\s+survival"],
    "ecog": [r"ECOG(?:\s*/\s*WHO)?", r"Eastern\s+Cooperative\s+Oncology\s+Group", r"WHO\s+performance", r"Zubrod"],
    "karnofsky": [r"Karnofsky", r"KPS"],
    "lansky": [r"Lansky"],
    "tmb": [r"TMB(?:-H)?", r"tumou?r\s+mutation(?:al)?\s+burden"],
    "heart_rate_bpm": [r"heart\s+rate", r"pulse(?:\s+rate)?"],
    "age_years": [r"age[ds]?"],
}
#: Acronyms that are other words in lower case (ALT, AST, PAL) or genes in another case (EGFR): matched as written.
CASE_SENSITIVE: frozenset[str] = frozenset({"ANC", "AGC", "PLT", "Hg?b", "CrCl", "Cl\\s?cr", "eGFR", "AST", "ASAT", "SGOT", "ALT",
                                            "ALAT", "SGPT", "ALP", "PAL", "INR", "LVEF", "TMB(?:-H)?", "KPS"})

#: The profile unit of each numeric variable with no unit written (scores): the comparison treats UCUM
#: annotations ({score}) as unit 1, so none is invented here.
SCALE_BOUNDS: dict[str, tuple[float, float]] = {"ecog": (0, 5), "karnofsky": (0, 100), "lansky": (0, 100)}

#: Variables whose value is a multiple of the upper limit of normal when written so (bilirubin -> bilirubin_uln).
ULN_VARIANT: dict[str, str] = {"bilirubin": "bilirubin_uln", "creatinine": "creatinine", "ast_uln": "ast_uln", "alt_uln": "alt_uln",
                               "alp_uln": "alp_uln"}
#: Variables that only make sense as a multiple of ULN or in a unit: an absolute AST in U/L keeps ast_uln's name
#: but its unit says which it is.

# ----------------------------------------------------------------- units
#: Written unit (regex) -> UCUM code. Ordered: the first that matches at a place wins, so longer forms come first.
UNITS: list[tuple[str, str]] = [
    (r"(?:[x×*]\s*)?10\s*(?:\^|\*|e|E)?\s*(?:9|⁹)\s*(?:cells\s*)?/\s*[lL]\b", "10*9/L"),
    (r"(?:[x×*]\s*)?10\s*(?:\^|\*|e|E)?\s*(?:3|³)\s*(?:cells\s*)?/\s*(?:µ|μ|u|mc)[lL]", "10*3/uL"),
    (r"(?:[x×*]\s*)?10\s*(?:\^|\*|e|E)?\s*(?:3|³)\s*(?:cells\s*)?/\s*mm\s*(?:3|³)", "10*3/mm3"),
    (r"(?:[x×*]\s*)?10\s*(?:\^|\*|e|E)?\s*(?:6|⁶)\s*(?:cells\s*)?/\s*(?:µ|μ|u|mc)?[lL]\b", "10*6/L"),
    (r"G\s*/\s*L\b", "10*9/L"),
    (r"(?:cells\s*)?/\s*(?:µ|μ|u|mc)[lL]\b", "/uL"),
    (r"(?:cells\s*)?/\s*(?:mm\s*(?:3|³)|cu\.?\s*mm)", "/mm3"),
    (r"m[lL]\s*/\s*min(?:ute)?\s*/\s*1[.,]73\s*m\s*(?:2|²)", "mL/min/{1.73_m2}"),
    (r"m[lL]\s*/\s*min(?:ute)?\b", "mL/min"),
    (r"m[lL]\s*/\s*s\b", "mL/s"),
    (r"g\s*/\s*d[lL]\b", "g/dL"),
    (r"mg\s*/\s*d[lL]\b", "mg/dL"),
    (r"g\s*/\s*[lL]\b", "g/L"),
    (r"mg\s*/\s*[lL]\b", "mg/L"),
    (r"(?:µ|μ|u)mol\s*/\s*[lL]\b", "umol/L"),
    (r"mmol\s*/\s*[lL]\b", "mmol/L"),
    (r"[IU]?U\s*/\s*[lL]\b", "U/L"),
    (r"mut(?:ation)?s?\s*/\s*Mb\b|mut(?:ation)?s?\s+per\s+mega\s*base", "{mut/Mb}"),
    (r"beats?\s*(?:/|per)\s*min(?:ute)?\b|bpm\b", "/min"),
    (r"mm\s*Hg\b", "mm[Hg]"),
    (r"m(?:illi)?sec(?:ond)?s?\b|ms\b", "ms"),
    (r"months?\b|mo\b", "mo"),
    (r"weeks?\b|wks?\b", "wk"),
    (r"days?\b", "d"),
    (r"years?\b|yrs?\b", "a"),
    (r"%|percent\b|per\s*cent\b", "%"),
]
#: Time units an age or a life expectancy is written in.
TIME_UNITS = frozenset({"a", "mo", "wk", "d"})

# ----------------------------------------------------------------- comparators
#: Written comparator (regex) -> the JSON format's comparator. Longest first.
COMPARATORS: list[tuple[str, str]] = [
    (r"≥|>=|=>|⩾|≧|\+\s*=", ">="), (r"≤|<=|=<|⩽|≦", "<="),
    (r"(?:greater|more|higher|larger)\s+(?:than\s+)?or\s+equal\s+(?:to\s+)?", ">="),
    (r"equal\s+(?:to\s+)?or\s+(?:greater|more|higher|above)\s+(?:than\s+)?", ">="),
    (r"(?:less|lower|smaller)\s+(?:than\s+)?or\s+equal\s+(?:to\s+)?", "<="),
    (r"equal\s+(?:to\s+)?or\s+(?:less|lower|below)\s+(?:than\s+)?", "<="),
    (r"(?:not|no)\s+(?:less|lower|fewer)\s+than\s+", ">="), (r"(?:not|no)\s+(?:more|greater|higher)\s+than\s+", "<="),
    (r"(?:not|no)\s+(?:exceeding|to\s+exceed|above)\s+", "<="), (r"(?:not|no)\s+below\s+", ">="),
    (r"at\s+least\s+", ">="), (r"a\s+minimum\s+of\s+", ">="), (r"minimum\s+(?:of\s+)?", ">="),
    (r"at\s+most\s+", "<="), (r"up\s+to\s+", "<="), (r"a\s+maximum\s+of\s+", "<="), (r"maximum\s+(?:of\s+)?", "<="),
    (r"(?:greater|more|higher|larger)\s+than\s+", ">"), (r"above\s+", ">"), (r"over\s+", ">"), (r"exceeding\s+", ">"),
    (r"in\s+excess\s+of\s+", ">"),
    (r"(?:less|lower|fewer|smaller)\s+than\s+", "<"), (r"below\s+", "<"), (r"under\s+", "<"),
    (r">", ">"), (r"<", "<"), (r"=", "=="),
]
#: The reverse of a comparator, for "18 years or older" (written after the number).
POSTFIX_COMPARATORS: list[tuple[str, str]] = [
    (r"or\s+(?:older|more|above|greater|higher|over)", ">="), (r"or\s+(?:younger|less|below|fewer|lower|under)", "<="),
    (r"and\s+(?:older|over|above)", ">="), (r"\+", ">="),
]

# ----------------------------------------------------------------- genes and alterations
#: HGNC symbols of genes that oncology criteria name, beyond the registry's shipped targets
#: (vocab/hgnc_crizotinib_targets.tsv, read below with its synonyms).
GENES: tuple[str, ...] = (
    "ALK", "AKT1", "APC", "AR", "ARID1A", "ATM", "BAP1", "BRAF", "BRCA1", "BRCA2", "CCND1", "CDK4", "CDK6", "CDKN2A",
    "CHEK2", "CTNNB1", "DDR2", "EGFR", "ERBB2", "ERBB3", "ESR1", "EZH2", "FGFR1", "FGFR2", "FGFR3", "FGFR4", "FLT3",
    "GNAQ", "GNA11", "HRAS", "IDH1", "IDH2", "JAK2", "KIT", "KRAS", "MAP2K1", "MDM2", "MET", "MLH1", "MSH2", "MSH6",
    "MTOR", "MYC", "MYCN", "NF1", "NF2", "NRAS", "NRG1", "NTRK1", "NTRK2", "NTRK3", "PALB2", "PDGFRA", "PIK3CA",
    "PMS2", "POLE", "PTEN", "RAD51C", "RAD51D", "RB1", "RET", "ROS1", "SMARCB1", "SMO", "STK11", "TP53", "TSC1",
    "TSC2", "VHL", "AXL", "MST1R",
)
#: Names records use for a gene that are not its HGNC symbol.
GENE_SYNONYMS: dict[str, str] = {"HER2": "ERBB2", "HER-2": "ERBB2", "HER2/neu": "ERBB2", "NEU": "ERBB2", "HER3": "ERBB3",
                                 "RON": "MST1R", "C-MET": "MET", "CMET": "MET", "TRKA": "NTRK1", "TRKB": "NTRK2",
                                 "TRKC": "NTRK3", "NTRK": "NTRK1", "MEK1": "MAP2K1", "P53": "TP53"}


@lru_cache(maxsize=1)
def gene_names() -> dict[str, str]:
    """Written name (upper case) -> HGNC symbol: the list above, its synonyms, and the shipped HGNC file's synonyms."""
    names = {g: g for g in GENES}
    names.update(GENE_SYNONYMS)
    path = VOCAB_DIR / "hgnc_crizotinib_targets.tsv"
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                symbol = row["Approved Symbol"].strip()
                names[symbol.upper()] = symbol
    # The HGNC file's synonyms (UFO, ROS, CD246 ...) are left out on purpose: as words they mean other things.
    return names


#: Written alteration (regex) -> the JSON format's alteration word.
ALTERATIONS: list[tuple[str, str]] = [
    (r"(?:gene\s+)?(?:fusions?|fused|rearrange(?:ment|d)s?|re-arrange(?:ment|d)s?|translocations?|translocated)", "fusion"),
    (r"(?:gene\s+)?(?:amplifications?|amplified|copy\s+number\s+gains?|gains?)", "amplification"),
    (r"(?:activating\s+|somatic\s+|germline\s+|pathogenic\s+|deleterious\s+)?(?:mutations?|mutated|mutants?|variants?)", "mutation"),
    (r"(?:over-?expression|overexpressed|over-?expressing)", "overexpression"),
    (r"(?:deletions?|deleted|loss)", "deletion"),
    (r"(?:exon\s+14\s+skipping)", "exon 14 skipping"),
    (r"exon\s+\d{1,2}\s+(?:deletions?|insertions?|mutations?|alterations?)", "exon"),
    (r"wild[- ]?type|non-?mutated|unmutated", "wildtype"),
]
#: A protein change: p.G12C, V600E, G12C, exon 19 del; the optional p. is dropped in the output.
PROTEIN_CHANGE = r"(?:p\.\s?)?(?:[ACDEFGHIKLMNPQRSTVWY](?:[1-9]\d{0,3})(?:[ACDEFGHIKLMNPQRSTVWY*X]|fs|del|ins\w*|dup)?)"

# ----------------------------------------------------------------- drugs
#: INN stems (WHO): a word ending so is a drug whatever its brand.
DRUG_STEMS = (r"[a-z]+(?:tinib|rafenib|fenib|ciclib|parib|lisib|rolimus|zomib|degib|denib|metinib|sertib|tinib|anib|mab|platin|"
              r"taxel|rubicin|tecan|citabine|mustine|fosfamide|trexate|vedotin|tansine|deruxtecan|govitecan|lutamide|"
              r"relix|trozole|strant|oxifen|xifene|relin|abine|posid|blastine|cristine|mycin|cycline|tepa|dronate)")
#: Drug classes written as a phrase (regex).
DRUG_CLASSES = (
    r"(?:(?:anti-?)?(?:[A-Z][A-Za-z0-9]*(?:[/-][A-Za-z0-9]+)*)\s+){0,3}(?:tyrosine\s+kinase\s+)?inhibitors?"
    r"(?:\s+\((?:[^()]{1,30})\))?",
    r"anti-?(?:PD-?1|PD-?L1|CTLA-?4|HER2|EGFR|VEGF|CD\d+)(?:\s*(?:/|or|and)\s*(?:anti-?)?(?:PD-?1|PD-?L1|CTLA-?4))*(?:\s+"
    r"(?:therapy|antibod(?:y|ies)|agents?|treatment))?",
    r"(?:immune\s+)?checkpoint\s+inhibitors?", r"immunotherapy", r"platinum(?:-based)?(?:\s+chemotherapy)?",
    r"(?:neo-?/?)?(?:adjuvant\s+)?endocrine\s+therapy", r"hormon(?:e|al)\s+therapy", r"anthracyclines?", r"taxanes?",
    r"fluoropyrimidines?", r"(?:(?:systemic|anti-?cancer|anti-?neoplastic)\s+)+(?:chemotherapy|therapy|treatment)",
    r"chemotherapy", r"radiotherapy", r"(?:CAR-?T|CAR\s+T)(?:[- ]cell)?\s+therapy",
)

# ----------------------------------------------------------------- named conditions (presence variables)
#: Variable -> the ways records name it. Presence variables come out as ``present`` / ``absent``.
PRESENCE_NAMES: dict[str, list[str]] = {
    "measurable_disease": [r"measurable\s+(?:disease|lesions?|tumou?rs?)", r"evaluable\s+(?:and\s+measurable\s+)?disease"],
    "brain_metastases": [r"(?:brain|cerebral|CNS|central\s+nervous\s+system(?:\s+\(CNS\))?|intracranial)\s+metastas[ie]s",
                         r"metasta(?:ses|sis|tic\s+disease)\s+(?:to|in|of)\s+the\s+(?:brain|CNS|central\s+nervous\s+system)",
                         r"secondary\s+(?:brain|cerebral|CNS)\s+tumou?rs?"],
    "pregnancy": [r"pregnan(?:t|cy|cies)"],
    "breastfeeding": [r"breast[- ]?feeding", r"lactating", r"nursing(?!\s+home)", r"lactation"],
    "hiv": [r"HIV(?:[- ]?(?:1|2|infection|positive|positivity|seropositiv\w*|disease))*", r"human\s+immunodeficiency\s+virus",
            r"AIDS"],
    "hepatitis_b": [r"hepatitis\s+B(?:\s+virus)?(?:\s+infection)?", r"HBV", r"HBsAg"],
    "hepatitis_c": [r"hepatitis\s+C(?:\s+virus)?(?:\s+infection)?", r"HCV"],
}
#: Named, checkable conditions with no variable of their own: ``other_named`` with ``name``.
OTHER_NAMED: list[tuple[str, str]] = [
    (r"myocardial\s+infarctions?", "myocardial infarction"),
    (r"(?:severe\s*/\s*|severe\s+or\s+)?unstable\s+angina(?:\s+pectoris)?", "unstable angina"),
    (r"(?:ongoing\s+|symptomatic\s+)?congestive\s+heart\s+failure|\bCHF\b", "congestive heart failure"),
    (r"(?:congenital\s+)?long\s+QT\s+syndrome", "long QT syndrome"),
    (r"NYHA\s+(?:class\s+)?(?:III|IV|II|3|4|2)(?:\s*(?:or|-|–|/)\s*(?:IV|III|4|3))?|New\s+York\s+Heart\s+Association",
     "NYHA class"),
    (r"interstitial\s+(?:lung\s+disease|pneumonitis|fibrosis)|\bILD\b", "interstitial lung disease"),
    (r"(?:cerebrovascular\s+accident|stroke)s?", "stroke"),
    (r"leptomeningeal\s+(?:disease|metastas[ie]s|carcinomatosis)|carcinomatous\s+meningitis", "leptomeningeal disease"),
    (r"spinal\s+cord\s+compression", "spinal cord compression"),
    (r"(?:primary\s+or\s+secondary\s+)?central\s+nervous\s+system\s+disease|CNS\s+disease", "central nervous system disease"),
    (r"(?:active\s+)?autoimmune\s+disease", "autoimmune disease"),
    (r"(?:allogeneic\s+)?(?:organ|stem\s+cell|bone\s+marrow)\s+transplant(?:ation)?", "transplantation"),
    (r"(?:uncontrolled\s+)?hypertension", "hypertension"),
]

#: Words that negate what follows in the same clause ("no prior ...", "without ...").
NEGATION_BEFORE = (r"\b(?:no|not|without|absence\s+of|free\s+of|negative\s+for|never|nor|lack\s+of|must\s+not\s+have|"
                   r"has\s+not|have\s+not|had\s+not|none|except|excluding|other\s+than)\b|\(\s*but\b")
#: Words after a presence mention that negate it ("HIV negative", "pregnancy test must be negative").
NEGATION_AFTER = r"^[\s-]*(?:(?:test|status|serology|screening)\s+)?(?:(?:must|should)\s+be\s+|is\s+|are\s+)?(?:negative|-(?!\w))"
#: Words that make a bullet a permission, not a requirement ("... are eligible", "allowed").
PERMISSION = re.compile(r"\b(?:are|is|will\s+be|be)\s+(?:eligible|allowed|permitted|acceptable|accepted)\b|\ballowed\b|\bpermitted\b",
                        re.IGNORECASE)

#: Named conditions grouped under a broader name a curator may use for several of them together.
NAMED_CATEGORY: dict[str, str] = {"myocardial infarction": "cardiovascular event", "unstable angina": "cardiovascular event",
                                  "stroke": "cardiovascular event", "congestive heart failure": "cardiac disease",
                                  "long QT syndrome": "cardiac disease", "NYHA class": "cardiac disease"}


@lru_cache(maxsize=1)
def tumour_types() -> tuple[dict[str, int], frozenset[str], frozenset[str]]:
    """OncoTree's tumour names (lower case, with their length in words), codes and names' first words.

    They read a biomarker's tumour context.

    Looked up word n-gram by word n-gram (a dictionary), not as one pattern of a thousand alternatives,
    which the regular-expression engine would try at every character.
    """
    from ..vocab import oncotree_nodes

    genes = set(gene_names())
    codes, names = set(), {}
    for node in oncotree_nodes():
        code = str(node.get("code") or "")
        if len(code) >= 3 and code.isupper() and code.isalpha() and code not in genes and code.lower() not in _ENGLISH:
            codes.add(code)
        for n in (node.get("name"), node.get("mainType")):
            if n and (" " in n.strip() or len(n) >= 8) and "other" not in n.lower():
                words = re.findall(r"[a-z0-9]+", n.lower())
                names[" ".join(words)] = len(words)
    firsts = frozenset(n.split(" ", 1)[0] for n in names)
    return names, frozenset(codes), firsts


#: OncoTree codes that are also English words or trial words in capitals.
_ENGLISH = {"all", "and", "for", "not", "bone", "skin", "eye", "lung", "head", "other", "tissue", "breast", "bowel", "liver",
            "blood", "brain", "ovary", "testis", "uterus", "cervix", "kidney", "pleura", "thymus", "thyroid", "stomach",
            "adrenal", "vulva", "penis", "prostate", "bladder", "lymph", "myeloid", "lymphoid", "pancreas", "ampulla",
            "biliary", "peritoneum", "esophagus", "soft", "mixed", "nst", "aml", "cll"}
