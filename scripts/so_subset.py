#!/usr/bin/env python3
"""Extract the part of the Sequence Ontology (SO) that acse-kg uses.

Why a subset: the full SO release is 1 MB and 2 600 terms, of which the
registry needs about a dozen (the alteration types the ontology aligns to,
and their ``is_a`` ancestors so that the hierarchy is walkable). Shipping the
subset keeps the bundle small and every load fast.

What it keeps: the terms named in ``SEED_TERMS``, every SO term that
``ontology/*.ttl`` or ``data/*.ttl`` mentions as
``http://purl.obolibrary.org/obo/SO_nnnnnnn``, and all their ``is_a``
ancestors. Each kept ``[Term]`` stanza is copied verbatim from the release,
so the subset is a valid OBO file with the release's own header.

Usage::

    python scripts/so_subset.py ../shared/reference/vocab/so_2024-11-18.obo vocab/so_subset.obo
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: SO terms the alteration types align to (see ontology/acse.ttl).
SEED_TERMS = (
    "SO:0001019", "SO:0001742", "SO:0001565", "SO:0000199",
    "SO:0001583", "SO:0001059", "SO:0001060", "SO:0001880",
)
IRI_RE = re.compile(r"purl\.obolibrary\.org/obo/SO_(\d{7})")
HEADER_KEYS = ("format-version:", "data-version:", "date:", "default-namespace:", "ontology:")


def referenced_terms(root: Path = ROOT) -> set[str]:
    """SO ids that the ontology and the bundled records mention."""
    found: set[str] = set(SEED_TERMS)
    for folder in ("ontology", "data"):
        for path in sorted((root / folder).glob("*.ttl")):
            found.update(f"SO:{n}" for n in IRI_RE.findall(path.read_text(encoding="utf-8")))
    return found


def stanzas(text: str) -> tuple[list[str], dict[str, str]]:
    """The header lines and the [Term] stanzas of an OBO file, by id."""
    blocks = re.split(r"\n(?=\[)", text)
    header = [ln for ln in blocks[0].splitlines() if ln.startswith(HEADER_KEYS)]
    terms: dict[str, str] = {}
    for block in blocks[1:]:
        if block.startswith("[Term]"):
            m = re.search(r"^id: (\S+)", block, re.M)
            if m:
                terms[m.group(1)] = block.strip() + "\n"
    return header, terms


def is_a_closure(seeds: set[str], terms: dict[str, str]) -> set[str]:
    """The seeds and every ancestor reachable through ``is_a``."""
    keep: set[str] = set()
    todo = [t for t in seeds]
    while todo:
        term = todo.pop()
        if term in keep:
            continue
        if term not in terms:
            raise SystemExit(f"so_subset: {term} is not in the SO release")
        keep.add(term)
        todo.extend(re.findall(r"^is_a: (SO:\d{7})", terms[term], re.M))
    return keep


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = Path(argv[1]), Path(argv[2])
    header, terms = stanzas(src.read_text(encoding="utf-8"))
    keep = is_a_closure(referenced_terms(), terms)
    body = "\n".join(terms[t] for t in sorted(keep))
    note = f"remark: subset of {src.name} made by acse-kg scripts/so_subset.py: {len(keep)} terms (used terms and their is_a ancestors)"
    dst.write_text("\n".join([*header, note]) + "\n\n" + body, encoding="utf-8")
    print(f"{dst}: {len(keep)} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
