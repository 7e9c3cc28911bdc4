"""The CTML schema the registry validates against: CTIMS's own field definitions, laid out as CTML files are.

Why derived and not CTIMS's file as is: ``ctims_ctml_schema.json`` is the
schema of CTIMS's editing *form* (its trial information and age group are
form sections; ``prior_treatment_requirements`` is a list of form objects; an
arm's ``match`` is the form's widget). A CTML file, which CTIMS writes and
MatchMiner reads, puts the trial information and the age group at the top
level, lists prior treatment requirements as strings and holds real match
trees. So the schema here takes every field definition from the CTIMS file
unchanged (types, enums such as phase, status, site names, Y/N flags, string
ids) and changes exactly three things, each stated below: the two sections
flattened to the top, the requirement strings, and the match trees, whose
node values are MatchMiner's (:mod:`.vocabulary`). Every violation is a
:class:`Finding` with its JSON path and the value found.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft7Validator

from .vocabulary import (
    CNV_CALLS,
    HERE,
    MMR_STATUSES,
    MOLECULAR_FUNCTIONS,
    MS_STATUSES,
    VARIANT_CATEGORIES,
    VARIANT_CLASSIFICATIONS,
)

CTIMS_SCHEMA_FILE = HERE / "ctims_ctml_schema.json"


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a CTML file: where (JSONPath), the value found, and what the import did.

    ``action``: ``refused`` (the file is not imported), ``corrected`` (imported
    with the documented correction the message states), ``not stored`` (the
    registry does not keep this part) or ``schema`` (the value breaks the
    CTML schema; the message says how it was read).
    """

    path: str
    value: Any
    message: str
    action: str = "refused"

    def __str__(self) -> str:
        shown = json.dumps(self.value, ensure_ascii=False) if not isinstance(self.value, (dict, list)) else \
            ("{…}" if isinstance(self.value, dict) else "[…]")
        return f"{self.path} = {shown}: {self.message} ({self.action})"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": self.value, "message": self.message, "action": self.action}


def json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


@lru_cache(maxsize=1)
def ctims_schema() -> dict[str, Any]:
    """The CTIMS schema as shipped (read once)."""
    return json.loads(CTIMS_SCHEMA_FILE.read_text(encoding="utf-8"))


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _match_tree() -> dict[str, Any]:
    """A match tree: and / or of nodes, genomic and clinical leaves with MatchMiner's values (``!`` negates)."""
    negatable = {"type": "string", "pattern": r"^!?[^!\s].*$"}
    genomic = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "hugo_symbol": negatable,
            "variant_category": _enum(VARIANT_CATEGORIES),
            "protein_change": {"type": "string", "pattern": r"^p\.[A-Z*].*$"},
            "wildcard_protein_change": {"type": "string", "pattern": r"^p\.[A-Z*][0-9]+$"},
            "exon": {"type": ["integer", "string"], "pattern": r"^\d+$"},
            "variant_classification": _enum(VARIANT_CLASSIFICATIONS),
            "cnv_call": _enum(CNV_CALLS),
            "fusion_partner_hugo_symbol": {"type": "string"},
            "molecular_function": _enum(MOLECULAR_FUNCTIONS),
            "wildtype": {"type": ["boolean", "string"], "enum": [True, False, "True", "False", "true", "false"]},
            "display_name": {"type": "string"},
        },
    }
    comparison = {"type": "string", "pattern": r"^\s*(>=|<=|>|<|==|=)?\s*\d+(\.\d+)?\s*$"}
    clinical = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "oncotree_primary_diagnosis": negatable,
            "age_numerical": comparison,
            "tmb_numerical": comparison,
            "gender": _enum(["Male", "Female"]),
            "sex": _enum(["Male", "Female"]),
            "ms_status": _enum(MS_STATUSES),
            "mmr_status": _enum(MMR_STATUSES),
            "er_status": _enum(["Positive", "Negative"]),
            "pr_status": _enum(["Positive", "Negative"]),
            "her2_status": _enum(["Positive", "Negative"]),
            "disease_status": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "definitions": {
            "node": {
                "type": "object", "minProperties": 1, "maxProperties": 1,
                "properties": {
                    "and": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/node"}},
                    "or": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/node"}},
                    "genomic": genomic,
                    "clinical": clinical,
                },
                "additionalProperties": False,
            },
            "match": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/node"}},
        }
    }


@lru_cache(maxsize=1)
def ctml_schema() -> dict[str, Any]:
    """The schema of a CTML file: the CTIMS field definitions in CTML's layout (see the module docstring)."""
    ctims = copy.deepcopy(ctims_schema())
    props = ctims["properties"]
    tree = _match_tree()
    top: dict[str, Any] = {}
    # 1. the form's sections "trialInformation" and "age_group" are flattened to the top (trial_id is nct_id)
    info = props.pop("trialInformation")["properties"]
    info["nct_id"] = info.pop("trial_id")
    top.update(info)
    top.update(props.pop("age_group")["properties"])
    # 2. prior treatment requirements: the form's objects hold one string each, which CTML lists directly
    ptr = props.pop("prior_treatment_requirements")
    item = ptr["properties"]["prior_treatment_requirement"]["items"]["properties"]["prior_treatment_requirement_name"]
    top["prior_treatment_requirements"] = {"type": "array", "items": item}
    top.update(props)
    # 3. an arm's match (and a dose level's, and the trial's) is a list of match trees
    arm = top["treatment_list"]["properties"]["step"]["items"]["properties"]["arm"]["items"]
    arm["properties"]["match"] = {"$ref": "#/definitions/match"}
    arm["properties"]["dose_level"]["items"]["properties"]["match"] = {"$ref": "#/definitions/match"}
    top["match"] = {"$ref": "#/definitions/match"}
    definitions = {**ctims.get("definitions", {}), **tree["definitions"]}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["nct_id"],
            "definitions": definitions, "properties": top}


#: Violations that break the document's structure (a list where an object belongs, a missing arm_code,
#: an empty match): the file is refused. Others (a value outside its enum, an id written as a number) are
#: reported, and the mapping reads, corrects or refuses the value itself.
STRUCTURAL = {"required", "minItems", "minProperties", "maxProperties"}


def _structural(err: Any) -> bool:
    if err.validator in STRUCTURAL:
        return True
    if err.validator == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        return bool({"object", "array"} & set(wanted))
    return False


def validate_ctml(doc: Any) -> list[Finding]:
    """Every violation of the CTML schema, by JSON path, in document order: ``refused`` where the structure
    is broken, ``schema`` otherwise."""
    validator = Draft7Validator(ctml_schema())
    out = []
    errors = sorted(validator.iter_errors(doc), key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, p)
                                                             for p in e.absolute_path])
    for err in errors:
        out.append(Finding(json_path(err.absolute_path), err.instance, _message(err),
                           "refused" if _structural(err) else "schema"))
    return out


def _message(err: Any) -> str:
    if err.validator == "enum":
        return "not one of " + ", ".join(json.dumps(v) for v in err.validator_value if v not in ("", " "))
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "not a CTML field here")
    if err.validator == "type":
        return f"CTML wants {' or '.join(err.validator_value) if isinstance(err.validator_value, list) else err.validator_value} here"
    return str(err.message)
