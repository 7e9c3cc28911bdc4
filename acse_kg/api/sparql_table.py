"""A SPARQL answer as an HTML fragment: the workbench's table for readers without JavaScript.

``GET /sparql?query=…&format=table`` (the plain form on /sparql) answers a page
rather than a file to download. The table follows the workbench's rules:
prefixed names (the registry's prefixes, the most specific first), plain labels
(the text, its language as the cell's ``lang``), and links only for http(s)
IRIs, the registry's own pointing at its ``/id/…`` pages (w3id.org does not
resolve them yet).
"""

from __future__ import annotations

import html
import json
from typing import Any

from acse_kg.namespaces import BASE, compact_iri

#: What the table asks the engine for: SPARQL JSON for SELECT/ASK, Turtle for CONSTRUCT/DESCRIBE.
TABLE_ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def iri_href(iri: str) -> str | None:
    """Where a cell links an IRI to: the registry's own page, another http(s) IRI as it is, else nowhere."""
    if iri.startswith(BASE):
        return "/" + iri[len(BASE):]
    return iri if iri.lower().startswith(("http://", "https://")) else None


def _cell(term: dict[str, Any] | None) -> str:
    if term is None:
        return "<td></td>"
    value = str(term.get("value", ""))
    if term.get("type") == "uri":
        shown = html.escape(compact_iri(value) or f"<{value}>")
        link = iri_href(value)
        title = html.escape(value)
        if link is None:
            return f'<td><span title="{title}">{shown}</span></td>'
        return f'<td><a href="{html.escape(link)}" title="{title}">{shown}</a></td>'
    if term.get("type") == "bnode":
        return f"<td>_:{html.escape(value)}</td>"
    lang = term.get("xml:lang")
    if lang:
        return f'<td lang="{html.escape(lang)}">{html.escape(value)}</td>'
    datatype = term.get("datatype")
    if datatype and datatype != _XSD_STRING:
        return f'<td title="{html.escape(compact_iri(datatype) or datatype)}">{html.escape(value)}</td>'
    return f"<td>{html.escape(value)}</td>"


def answer_html(body: bytes, media_type: str) -> str:
    """The answer (SPARQL JSON, or RDF text for CONSTRUCT/DESCRIBE) as an HTML fragment."""
    if not media_type.startswith("application/sparql-results+json"):
        return f"<pre>{html.escape(body.decode('utf-8', 'replace'))}</pre>"
    data = json.loads(body)
    if "boolean" in data:
        return f"<p>ASK: {'true' if data['boolean'] else 'false'}</p>"
    names = list(data.get("head", {}).get("vars", []))
    rows = data.get("results", {}).get("bindings", [])
    head = "".join(f'<th scope="col">{html.escape(v)}</th>' for v in names)
    body_rows = "".join("<tr>" + "".join(_cell(row.get(v)) for v in names) + "</tr>" for row in rows)
    count = f"{len(rows)} row{'' if len(rows) == 1 else 's'}"
    return (f'<p role="status">{count}</p><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body_rows}</tbody></table>")
