"""Drafting: a ClinicalTrials.gov record's eligibility structured into reviewable, computable items.

Deterministic (a pyparsing grammar and a lexicon, no model), bullet by
bullet, every item with its evidence (quote, span, bullet, rule) and review
state ``draft``. The output format is documented in docs/criteria-json.md.
"""

from .record import FIELDS, Draft, DraftingError, draft, draft_record
from .sections import Bullet, split_criteria

__all__ = ["FIELDS", "Bullet", "Draft", "DraftingError", "draft", "draft_record", "split_criteria"]
