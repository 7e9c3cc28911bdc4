"""Writes journalled over two endpoints: `python -m bench journal --edits 30`.

On ``oxigraph-split`` (the live graphs on one ``oxigraph serve``, the history on another) each new
version of a study is a write to both: the history's request with a journal entry, then the live
request with its applied-mark, then the entry and the mark removed (:mod:`acse_kg.remote`). This
times a version written (wall, and this process's CPU) and a store opened (which looks for a dead
writer's entries and marks), so that the cost of the journal can be compared code against code.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from acse_kg.history import edit_study
from acse_kg.loader import study_graph_name
from acse_kg.namespaces import study_iri
from acse_kg.remote import HISTORY_URL_ENV, SparqlEndpointStore
from acse_kg.store import open_store

from .bench_scale import OxigraphServe

NCT = "NCT02034981"


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(prog="bench journal")
    args.add_argument("--edits", type=int, default=30)
    args.add_argument("--opens", type=int, default=20)
    options = args.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        live = OxigraphServe.start(Path(tmp) / "live", union_default_graph=True)
        history = OxigraphServe.start(Path(tmp) / "history")
        try:
            os.environ[HISTORY_URL_ENV] = history.base + "/query"
            store = open_store(live.base + "/query")  # the bundle, as the CLI loads it
            base = store.graph(study_graph_name(NCT)).serialize(format="nt")
            wall, cpu = time.monotonic(), time.process_time()
            for i in range(options.edits):
                edit_study(store, NCT, base + f'<{study_iri(NCT)}> <urn:x:edit> "{i}" .\n', "ntriples",
                           agent="bench", note=str(i))
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
            store.close()
            opened = time.monotonic()
            for _ in range(options.opens):
                SparqlEndpointStore(live.base + "/query", history_url=history.base + "/query").close()
            opened = time.monotonic() - opened
            print(f"{options.edits} versions of {NCT}: {wall / options.edits * 1000:.1f} ms wall, "
                  f"{cpu / options.edits * 1000:.1f} ms CPU (this process) a version; "
                  f"a store opened: {opened / options.opens * 1000:.1f} ms wall")
        finally:
            live.stop()
            history.stop()
