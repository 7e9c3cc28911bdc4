"""Live queries over the union default graph against the live graphs listed (the layout before the
history moved out of the live dataset), on one store of generated studies: `python -m bench history
--studies 1000`. Both ways must give the same rows; the times are what naming no graph saves."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from acse_kg.ctgov.bulk import bulk_import
from acse_kg.ctgov.generate import write_jsonl
from acse_kg.store import open_store

QUERIES = {
    "ids of recruiting studies": "SELECT ?id WHERE { ?s acse:nctId ?id ; acse:overallStatus/acse:code 'RECRUITING' }",
    "count studies": "SELECT (COUNT(?s) AS ?n) WHERE { ?s a acse:Study }",
}


def rows(body: bytes) -> list[str]:
    return sorted(json.dumps(b, sort_keys=True) for b in json.loads(body)["results"]["bindings"])


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(prog="bench history")
    args.add_argument("--studies", type=int, default=1000)
    n = args.parse_args(argv).studies
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = write_jsonl(Path(tmp) / "records.jsonl", n)
        store = open_store("memory")
        started = time.monotonic()
        bulk_import(store, [jsonl], jobs=0)
        print(f"{n} studies imported in {time.monotonic() - started:.1f} s")
    live = store.live_graphs()
    for name, query in QUERIES.items():
        t0 = time.monotonic()
        union = store.query_serialized(query, "json")[1]
        t1 = time.monotonic()
        listed = store.query_serialized(query, "json", default_graph_uris=live)[1]
        t2 = time.monotonic()
        same = "same rows" if rows(union) == rows(listed) else "DIFFERENT ROWS"
        print(f"{name}: union default graph {1000 * (t1 - t0):.1f} ms, "
              f"{len(live)} live graphs listed {1000 * (t2 - t1):.1f} ms ({same})")


if __name__ == "__main__":
    main()
