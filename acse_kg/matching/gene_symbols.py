"""Gene symbols a profile may write: every HGNC gene, by approved, previous or alias symbol.

Why a compact file rather than the graph: the registry's graph holds the genes
its trials name (``acse:Gene`` individuals, ``vocab/hgnc_crizotinib_targets.tsv``);
a profile may name any of HGNC's 39,824 genes, and 40k genes with their
symbols as triples would slow the store's first load for a lookup that only
the profile validator makes. ``vocab/hgnc_symbols.tsv`` (origin and release in
``vocab/ORIGIN.md``) is read once, on first use, into three dictionaries.

How a symbol resolves (case-insensitive, as HGNC's own symbol checker does):

1. an approved symbol is itself (an approved symbol always wins over another
   gene's previous or alias symbol);
2. else a previous symbol of exactly one gene is that gene's approved symbol
   (``RON`` is MST1R's, ``MLL`` is KMT2A's);
3. else an alias symbol of exactly one gene is that gene's approved symbol;
4. else a symbol that is a previous or alias symbol of several genes is
   ambiguous, and any other string is unknown: both are errors naming the
   symbol (the profile validator reports them on ``alterations.<i>.gene``).

Gene IRIs agree with the graph's: the approved symbol is what
:func:`acse_kg.vocab.gene_iri` makes an IRI of.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..vocab import HGNC_SYMBOLS_FILE, PROTOCOL_ALIASES, VocabularyError


class UnknownGeneSymbol(ValueError):
    """A gene symbol that is not an HGNC approved, previous or alias symbol, or is one of several genes'."""


@dataclass(frozen=True)
class GeneSymbols:
    """The HGNC symbol tables: approved symbol and HGNC id by upper-cased symbol, and the other symbols."""

    approved: dict[str, tuple[str, str]]  # SYMBOL -> (approved symbol, HGNC id)
    previous: dict[str, tuple[str, ...]]  # SYMBOL -> approved symbols it was
    alias: dict[str, tuple[str, ...]]  # SYMBOL -> approved symbols it is an alias of

    def resolve(self, symbol: str) -> str:
        """The approved symbol a symbol stands for; UnknownGeneSymbol when it stands for none or several."""
        key = symbol.strip().upper()
        hit = self.approved.get(key)
        if hit is not None:
            return hit[0]
        for table, kind in ((self.previous, "a previous"), (self.alias, "an alias")):
            genes = table.get(key)
            if genes is None:
                continue
            if len(genes) == 1:
                return genes[0]
            raise UnknownGeneSymbol(
                f"ambiguous gene symbol {symbol!r}: {kind} symbol of {', '.join(genes)}; "
                "write the approved HGNC symbol")
        raise UnknownGeneSymbol(
            f"unknown gene symbol {symbol!r}: not an HGNC approved, previous or alias symbol")

    def hgnc_id(self, symbol: str) -> str:
        """The HGNC id of the gene a symbol stands for (HGNC:427 for ALK)."""
        return self.approved[self.resolve(symbol).upper()][1]


def read_gene_symbols(path: Path = HGNC_SYMBOLS_FILE) -> GeneSymbols:
    """The symbol tables of an HGNC symbol file (hgnc_id, symbol, alias_symbols, previous_symbols)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VocabularyError(f"cannot read the HGNC symbol file {path}: {exc}") from exc
    if not lines or lines[0].split("\t") != ["hgnc_id", "symbol", "alias_symbols", "previous_symbols"]:
        raise VocabularyError(f"{path}: expected the header hgnc_id, symbol, alias_symbols, previous_symbols")
    approved: dict[str, tuple[str, str]] = {}
    previous: dict[str, list[str]] = {}
    alias: dict[str, list[str]] = {}
    for n, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != 4 or not parts[0].startswith("HGNC:") or not parts[1]:
            raise VocabularyError(f"{path}, line {n}: expected an HGNC id, a symbol and two symbol lists")
        hid, sym, aliases, previouses = parts
        approved[sym.upper()] = (sym, hid)
        for table, names in ((alias, aliases), (previous, previouses)):
            for name in filter(None, names.split("|")):
                table.setdefault(name.upper(), []).append(sym)
    for sym, own_names in PROTOCOL_ALIASES.items():  # a protocol's own name for a gene (RON for MST1R)
        for name in own_names:
            if sym not in alias.setdefault(name.upper(), []):
                alias[name.upper()].append(sym)
    return GeneSymbols(approved, {k: tuple(v) for k, v in previous.items()}, {k: tuple(v) for k, v in alias.items()})


@lru_cache(maxsize=1)
def gene_symbols() -> GeneSymbols:
    """The shipped HGNC symbol tables, read once, on the first profile validated (a few tenths of a second)."""
    return read_gene_symbols()


def resolve_symbol(symbol: str) -> str:
    """The approved HGNC symbol of an approved, previous or alias symbol (``RON`` -> ``MST1R``).

    Raises :class:`UnknownGeneSymbol` (a ValueError) for an unknown or ambiguous symbol.
    """
    return gene_symbols().resolve(symbol)
