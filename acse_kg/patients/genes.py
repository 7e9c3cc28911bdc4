"""Gene and variant details shared by the converters: HGNC ids to symbols, HGVS protein changes."""

from __future__ import annotations

from functools import lru_cache

from ..ctml.vocabulary import hgnc_symbols


@lru_cache(maxsize=1)
def _symbols() -> dict[str, str]:
    return {hgnc_id.upper(): symbol for symbol, hgnc_id in hgnc_symbols().items()}


def gene_symbol(code: str | None, label: str | None) -> str | None:
    """The HGNC symbol of ``HGNC:7029`` (from the shipped HGNC list), else the label given beside the id."""
    if code:
        c = code.strip().upper()
        c = c if c.startswith("HGNC:") else f"HGNC:{c}" if c.isdigit() else c
        if c in _symbols():
            return _symbols()[c]
    return label.strip() if label and label.strip() else None


def protein_change(hgvs: str) -> str:
    """The protein part of an HGVS expression (``NP_000236.2:p.(Thr1010Ile)`` -> ``p.(Thr1010Ile)``)."""
    return hgvs.rsplit(":", 1)[-1].strip()
