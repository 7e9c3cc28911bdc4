"""Helpers for the page tests: parse rendered HTML and read text out of it the way a reader sees it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

import html5lib

#: Elements whose text is not part of an item's own text: IRI badges, codes and nested lists.
SKIP_CLASSES = {"iri"}


def parse(html: str) -> ET.Element:
    """Parse with html5lib in strict mode: any parse error raises."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(html)


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def text(el: ET.Element, *, skip_tags: Iterable[str] = (), skip_classes: Iterable[str] = SKIP_CLASSES) -> str:
    """The element's visible text, whitespace-normalised, without IRI badges (and without ``skip_tags``)."""
    skip_tags, skip_classes = set(skip_tags), set(skip_classes)
    parts: list[str] = []

    def walk(e: ET.Element) -> None:
        if e.tag in ("script", "style"):
            return
        if e.text:
            parts.append(e.text)
        for child in e:
            if child.tag not in skip_tags and not (classes(child) & skip_classes):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return " ".join("".join(parts).split())


def find_class(root: ET.Element, cls: str, tag: str = "*") -> list[ET.Element]:
    return [e for e in root.iter(tag) if cls in classes(e)]


def one_class(root: ET.Element, cls: str, tag: str = "*") -> ET.Element:
    found = find_class(root, cls, tag)
    assert len(found) == 1, f"expected one .{cls}, found {len(found)}"
    return found[0]


def section(root: ET.Element, ident: str) -> ET.Element:
    found = [e for e in root.iter("section") if e.get("id") == ident]
    assert found, f"no <section id={ident!r}>"
    return found[0]


def bullet_tree(list_el: ET.Element, cls: str = "criterion") -> list[tuple[str, list[str]]]:
    """A criteria list as (bullet text, [nested bullet texts]) pairs, read from li > span.ctext."""
    out: list[tuple[str, list[str]]] = []
    for li in list_el.findall("li"):
        if cls not in classes(li):
            continue
        own = next(c for c in li if "ctext" in classes(c))
        kids: list[str] = []
        for ul in li.findall("ul"):
            for k in ul.findall("li"):
                if cls in classes(k):
                    kids.append(text(next(c for c in k if "ctext" in classes(c))))
        out.append((text(own), kids))
    return out
