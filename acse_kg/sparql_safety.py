"""What a public SPARQL endpoint must refuse before a query reaches the engine.

Oxigraph honours ``SERVICE`` by opening an HTTP connection to whatever IRI the
caller names, so an endpoint that passes queries through unchecked can be used
to probe the network it runs in. This module reads the query with a lexer that
follows SPARQL's own tokenisation (strings, IRIs, comments, variables and
prefixed names are single tokens), so a keyword hidden in a string or a
prefixed name such as ``ex:service`` is not mistaken for the keyword, and a
real ``SERVICE`` cannot slip through in any letter case.

It also finds the query form (needed to choose a result format before running
the query) and the IRIs named in ``FROM`` / ``FROM NAMED`` / ``USING``, which the
endpoint only accepts when they are graphs of the store.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from .errors import AcseError
from .namespaces import PREFIXES

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
             | '''(?:[^'\\]|\\.|'(?!''))*'''
             | "(?:[^"\\\n\r]|\\.)*"
             | '(?:[^'\\\n\r]|\\.)*')
  | (?P<unclosed>["'].*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][^\s(){}\[\],;.<>"'=!&|+*/^]*)
  | (?P<pname>(?<![\w.\-\u00B7-\uFFFF])(?:[A-Za-z\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*)?:(?:[\w\-:%\u00B7-\uFFFF]|\\.|\.(?=[\w\-:%]))*)
  | (?P<bnode>_:[\w.\-\u00B7-\uFFFF]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
    """,
    re.X | re.S,
)

# Linear time on any input (a request must not buy seconds of the main process): a prefixed
# name starts only where a run of name characters starts (a later start in the same run can
# never reach a ':' the first did not), and a quote that opens no closed string takes the rest
# of the text as one token ("unclosed", refused), instead of each quote scanning to the end.

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")


#: The deepest nesting of brackets, braces and parentheses a query may have. SPARQL parsers
#: recurse on nesting: a few thousand levels overflow Oxigraph's stack (a crash, not an error)
#: and Python's (RecursionError), while hand-written queries stay under twenty.
MAX_NESTING = 100

#: How many analyses are kept; each is keyed by a 32-byte digest, so the cache's size does not
#: depend on the size of the queries sent (a cache keyed by text held every 25 MB query sent).
CACHE_SIZE = 1024


class RefusedQuery(AcseError, ValueError):
    """The request asks for something a public endpoint does not do; the message says what."""


class MalformedQuery(RefusedQuery):
    """The text cannot be a query (the engine would reject it too): refused before any parser sees it.

    A subclass of :class:`RefusedQuery` so that every caller that refuses a query refuses this
    one too; the endpoint answers it with 400 (the request's fault) rather than 403.
    """


class QueryTooDeep(MalformedQuery):
    """The query nests deeper than :data:`MAX_NESTING`."""


@dataclass
class QueryInfo:
    """What the endpoint learns about a query or update before running it."""

    form: str | None  # SELECT / CONSTRUCT / DESCRIBE / ASK, or None for an update or unknown text
    dataset_iris: list[str] = field(default_factory=list)  # FROM / FROM NAMED / USING [NAMED]
    has_dataset_clause: bool = False


def tokens(text: str) -> Iterable[tuple[str, str]]:
    """(kind, text) for each significant token; whitespace and comments dropped."""
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        yield kind, m.group()


#: SPARQL builtins whose value differs from one run to the next: a query that uses one may take another
#: path (time, memory) on the next run of the very same text over the very same data.
NONDETERMINISTIC = frozenset({"RAND", "NOW", "UUID", "STRUUID", "BNODE"})


def deterministic(text: str) -> bool:
    """Whether a query's runs over the same data do the same work: it calls none of
    :data:`NONDETERMINISTIC` (what the query pool requires before it trusts a past run's cost).

    >>> deterministic("SELECT ?s WHERE { ?s ?p ?o } LIMIT 1")
    True
    >>> deterministic("SELECT ?x WHERE { BIND(IF(RAND() < 0.5, 1, 2) AS ?x) }")
    False
    """
    return not any(kind == "word" and tok.upper() in NONDETERMINISTIC for kind, tok in tokens(text))


def first_keyword(text: str) -> str:
    """The first keyword after the prologue (PREFIX and BASE declarations, comments), upper-cased:
    SELECT, CONSTRUCT, DESCRIBE or ASK for a query, INSERT, DELETE, WITH ... for an update; '' if none."""
    toks = list(tokens(text))
    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        upper = tok.upper()
        if kind == "word" and upper == "PREFIX" and i + 2 < len(toks):
            i += 3
        elif kind == "word" and upper == "BASE" and i + 1 < len(toks):
            i += 2
        else:
            return upper if kind == "word" else ""
    return ""


_cache: OrderedDict[bytes, QueryInfo] = OrderedDict()
_cache_lock = threading.Lock()


def analyse(text: str) -> QueryInfo:
    """Check a query or update and describe it; raise :class:`RefusedQuery` if it must not run.

    Cached by a digest of the text: clients send the same queries again and again (dashboards,
    the query page's examples), and lexing was a tenth of a small query's time. The key is a
    hash, never the text, so a flood of large distinct queries costs the cache nothing more
    than small ones. Callers must not change the result.

    Refused: ``SERVICE`` (an outbound request on the caller's behalf), ``LOAD``
    (the same, for updates), codepoint escapes outside strings and IRIs
    (SPARQL lets ``\\u0053ERVICE`` spell a keyword; nobody needs that) and nesting deeper
    than :data:`MAX_NESTING` (:class:`QueryTooDeep`).
    """
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=32).digest()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    info = _analyse(text)
    with _cache_lock:
        _cache[key] = info
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return info


def cache_clear() -> None:
    """Forget every analysis (for tests that count lexer runs)."""
    with _cache_lock:
        _cache.clear()


def cache_len() -> int:
    """How many analyses are held."""
    with _cache_lock:
        return len(_cache)


_OPEN = frozenset("({[")
_CLOSE = frozenset(")}]")


def check_nesting(text: str, limit: int = MAX_NESTING) -> None:
    """Raise :class:`QueryTooDeep` when brackets in ``text`` (outside strings, IRIs and comments)
    nest deeper than ``limit``. Iterative: it cannot itself overflow, whatever the depth."""
    _check_depth(tokens(text), limit)


def _check_depth(toks: Iterable[tuple[str, str]], limit: int = MAX_NESTING) -> None:
    depth = 0
    for kind, tok in toks:
        if kind != "other":
            continue
        if tok in _OPEN:
            depth += 1
            if depth > limit:
                raise QueryTooDeep(
                    f"the query nests brackets, braces or parentheses more than {limit} levels deep; "
                    "write it flatter"
                )
        elif tok in _CLOSE:
            depth -= 1


def _analyse(text: str) -> QueryInfo:
    toks = list(tokens(text))
    _check_depth(toks)
    prefixes = dict(PREFIXES)
    base: str | None = None
    info = QueryInfo(form=None)
    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        upper = tok.upper()
        if kind == "other" and tok == "\\":
            raise RefusedQuery("codepoint escapes (\\u...) outside strings and IRIs are not accepted")
        if kind == "unclosed":
            raise MalformedQuery(f"a string is not closed (from {tok[:40]!r})")
        if kind == "word":
            if upper == "SERVICE":
                raise RefusedQuery(
                    "SERVICE is refused: this endpoint never makes a request to another server on a caller's behalf"
                )
            if upper == "LOAD":
                raise RefusedQuery("LOAD is refused: this endpoint never fetches data from the web")
            if upper == "PREFIX" and i + 2 < len(toks) and toks[i + 1][0] == "pname" and toks[i + 2][0] == "iri":
                prefixes[toks[i + 1][1].rstrip(":")] = _resolve(toks[i + 2][1][1:-1], base)
                i += 3
                continue
            if upper == "BASE" and i + 1 < len(toks) and toks[i + 1][0] == "iri":
                base = _resolve(toks[i + 1][1][1:-1], base)
                i += 2
                continue
            if info.form is None and upper in QUERY_FORMS:
                info.form = upper
            if upper in ("FROM", "USING"):
                j = i + 1
                if j < len(toks) and toks[j][1].upper() == "NAMED":
                    j += 1
                if j < len(toks):
                    info.has_dataset_clause = True
                    info.dataset_iris.append(_term_iri(toks[j], prefixes, base))
                i = j + 1
                continue
        i += 1
    return info


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base else iri


def _term_iri(token: tuple[str, str], prefixes: dict[str, str], base: str | None) -> str:
    kind, text = token
    if kind == "iri":
        return _resolve(text[1:-1], base)
    if kind == "pname":
        prefix, _, local = text.partition(":")
        if prefix in prefixes:
            return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
    raise RefusedQuery(f"FROM / USING must name a graph by IRI, not {text!r}")


def check_dataset(info: QueryInfo, store_graphs: Iterable[str], protocol_iris: Iterable[str] = ()) -> None:
    """Refuse a dataset naming a graph the store does not hold, whichever way it is named.

    ``FROM`` / ``FROM NAMED`` / ``USING`` in the text and the protocol's
    ``default-graph-uri`` / ``named-graph-uri`` (``protocol_iris``) get the same
    answer: Oxigraph never fetches such a graph, but other engines behind
    :class:`~acse_kg.remote.SparqlEndpointStore` may, and a query over a graph
    we do not have is a mistake worth a clear answer rather than an empty result.
    """
    known = set(store_graphs)
    outside = list(dict.fromkeys(i for i in (*info.dataset_iris, *protocol_iris) if i not in known))
    if outside:
        raise RefusedQuery(
            "graph not in the store: " + ", ".join(f"<{i}>" for i in outside)
            + " (FROM / FROM NAMED / USING and default-graph-uri / named-graph-uri may only name graphs this "
            "store holds: the endpoint never fetches a graph from the web)"
        )


# ---------------------------------------------------------------- the protocol's update dataset
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


class DatasetConflict(ValueError):
    """using-graph-uri / using-named-graph-uri with an update that names its own dataset (USING / WITH)."""


def _significant(text: str) -> list[re.Match[str]]:
    return [m for m in _TOKEN.finditer(text) if m.lastgroup not in ("ws", "comment")]


def with_using(update: str, default: Iterable[str] = (), named: Iterable[str] = ()) -> str:
    """The update with the protocol's ``using-graph-uri`` / ``using-named-graph-uri`` written in as
    ``USING`` / ``USING NAMED`` clauses of each operation that has a WHERE pattern.

    SPARQL 1.1 Protocol §2.2.3: the parameters give the dataset of the update's WHERE patterns,
    as USING would; an update that names its own (USING, USING NAMED or WITH) together with them
    is an error (:class:`DatasetConflict`). ``DELETE WHERE { P }`` is written ``DELETE { P } USING …
    WHERE { P }``, its long form, since the short form takes no USING. Each IRI must be a plain
    absolute IRI (nothing that could close the ``<…>`` it is written in).
    """
    default, named = list(default), list(named)
    if not default and not named:
        return update
    for iri in (*default, *named):
        if _IRI_FORBIDDEN.search(iri) or ":" not in iri:
            raise ValueError(f"not an absolute IRI: {iri!r}")
    using = " ".join([f"USING <{i}>" for i in default] + [f"USING NAMED <{i}>" for i in named]) + " "
    toks = _significant(update)
    words = [(m.group().upper() if m.lastgroup == "word" else None) for m in toks]
    if any(w in ("USING", "WITH") for w in words):
        raise DatasetConflict(
            "using-graph-uri / using-named-graph-uri cannot be combined with USING or WITH in the update"
        )
    inserts: list[tuple[int, str]] = []  # (offset, text), applied from the end
    depth = 0
    op_start = 0
    for i, m in enumerate(toks):
        tok = m.group()
        if m.lastgroup == "other" and tok in _OPEN:
            depth += 1
            continue
        if m.lastgroup == "other" and tok in _CLOSE:
            depth -= 1
            continue
        if depth:
            continue
        if m.lastgroup == "other" and tok == ";":
            op_start = i + 1
            continue
        if words[i] != "WHERE":
            continue
        first = next((w for w in words[op_start:i] if w not in ("PREFIX", "BASE") and w is not None), None)
        if first == "DELETE" and i > 0 and words[i - 1] == "DELETE":  # DELETE WHERE { P }
            end = _block_end(toks, i + 1)
            pattern = update[toks[i + 1].start():toks[end].end()]
            inserts.append((m.start(), f"{pattern} {using}"))
        elif first in ("INSERT", "DELETE"):
            inserts.append((m.start(), using))
    out = update
    for offset, text in sorted(inserts, reverse=True):
        out = out[:offset] + text + out[offset:]
    return out


def _block_end(toks: list[re.Match[str]], start: int) -> int:
    """The index of the token closing the brace block that opens at ``start``."""
    depth = 0
    for j in range(start, len(toks)):
        tok = toks[j].group()
        if toks[j].lastgroup == "other" and tok in _OPEN:
            depth += 1
        elif toks[j].lastgroup == "other" and tok in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced braces in the update")


def undeclared_prefixes(text: str) -> list[str]:
    """Prefixes used in prefixed names of ``text`` that neither a PREFIX declaration nor the registry's
    own prefixes (known without declaring) define, in order of first use.

    The engine's own message for this is a grammar error listing Unicode ranges; this lets a
    command line or the endpoint say in one line which prefix is unknown.
    """
    toks = list(tokens(text))
    declared = set(PREFIXES)
    used: list[str] = []
    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        if kind == "word" and tok.upper() == "PREFIX" and i + 1 < len(toks) and toks[i + 1][0] == "pname":
            declared.add(toks[i + 1][1].split(":", 1)[0])
            i += 2
            continue
        if kind == "pname":
            prefix = tok.split(":", 1)[0]
            if prefix not in declared and prefix not in used:
                used.append(prefix)
        i += 1
    return used


def unknown_prefix_message(text: str) -> str | None:
    """One line naming the undeclared prefixes of ``text`` (None when there are none)."""
    unknown = undeclared_prefixes(text)
    if not unknown:
        return None
    names = ", ".join(f"{p}:" for p in unknown)
    known = ", ".join(f"{p}:" for p in sorted(PREFIXES))
    return (f"unknown prefix {names} (declare it: PREFIX {unknown[0]}: <…>; known without declaring: {known})")
