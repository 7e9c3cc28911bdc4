"""The ``fields`` parameter of the API v2 study routes: which parts of a record to return.

ClinicalTrials.gov accepts, for each comma- or pipe-separated item, a piece
name (``NCTId``, ``Condition``, ``LocationCity``, ``ConditionsModule`` ...), a
field's JSON name (``nctId``, ``conditions``) or its dotted JSON path
(``protocolSection.identificationModule.nctId``); a branch brings all that is
under it, and a name it does not define is an error. The names come from the
service's own metadata (``studies-metadata.json``, see ORIGIN.md), not from a
hand-kept list.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import AcseError

METADATA_PATH = Path(__file__).with_name("studies-metadata.json")

Path_ = tuple[str, ...]


class FieldsError(AcseError, ValueError):
    """A ``fields`` item names nothing the API defines; the message says which."""


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Path_], dict[str, list[Path_]], dict[str, Path_]]:
    """(piece name -> path, JSON name -> paths, dotted path -> path), all keys lower-cased."""
    pieces: dict[str, Path_] = {}
    names: dict[str, list[Path_]] = {}
    dotted: dict[str, Path_] = {}

    def walk(nodes: list[dict[str, Any]], prefix: Path_) -> None:
        for node in nodes:
            path = (*prefix, node["name"])
            pieces[node["piece"].lower()] = path
            for alt in node.get("altPieceNames") or []:
                pieces.setdefault(alt.lower(), path)
            names.setdefault(node["name"].lower(), []).append(path)
            dotted[".".join(path).lower()] = path
            walk(node.get("children") or [], path)

    walk(json.loads(METADATA_PATH.read_text(encoding="utf-8")), ())
    return pieces, names, dotted


def parse_fields(value: str) -> list[Path_]:
    """``"NCTId|BriefTitle"`` -> the JSON paths they name; :class:`FieldsError` for an unknown one."""
    items = [f.strip() for f in value.replace("|", ",").split(",") if f.strip()]
    if not items:
        raise FieldsError("fields: give at least one field name")
    pieces, names, dotted = _index()
    out: list[Path_] = []
    unknown = []
    for item in items:
        key = item.lower()
        if key in dotted:
            out.append(dotted[key])
        elif key in pieces:
            out.append(pieces[key])
        elif key in names:
            out.extend(names[key])
        else:
            unknown.append(item)
    if unknown:
        raise FieldsError(
            f"fields: unknown field(s) {', '.join(unknown)} (piece names such as NCTId or Condition, "
            "JSON names such as briefTitle, or dotted paths such as protocolSection.statusModule)")
    return out


def project(study: dict[str, Any], paths: list[Path_]) -> dict[str, Any]:
    """Only the parts of ``study`` under ``paths``; arrays keep, in each item, the asked parts."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for i, part in enumerate(path):
            if node.get(part) is True:
                break  # an ancestor is asked whole
            if i == len(path) - 1:
                node[part] = True
            else:
                node = node.setdefault(part, {})
    return _pick(study, tree)


def _pick(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        items = [_pick(v, tree) for v in value]
        return [v for v in items if v not in ({}, None)]
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in value:
            continue
        picked = value[key] if sub is True else _pick(value[key], sub)
        if picked not in ({}, [], None):
            out[key] = picked
    return out
