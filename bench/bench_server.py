"""Benchmark: the acse-kg SPARQL endpoint against rdflib-endpoint, same data, same queries, one run.

    python bench/bench_server.py [--seconds 6] [--queries queries/*.rq]

Both servers run as separate processes on loopback over the bundled graph
(ontology, vocabularies, the AcSé record): ours with ``acse-kg serve --store
memory``, rdflib-endpoint (the rdflib-on-FastAPI SPARQL server on PyPI) over
an rdflib Dataset loaded from our N-Quads dump, its default graph the union of
the named graphs (the same view our endpoint gives). Each query is first
checked to give the same answer on both; then clients send the query mix for a
fixed time, with 1 and with 8 concurrent clients, and queries per second and
median latency are printed with the ratio ours / rdflib-endpoint.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
JSON_RESULTS = "application/sparql-results+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_rdflib_endpoint(port: int, nquads: str) -> None:
    """Child-process mode: rdflib-endpoint over the dump, default graph = union of the named graphs."""
    import rdflib
    import uvicorn
    from rdflib_endpoint import SparqlEndpoint

    ds = rdflib.Dataset(default_union=True)
    ds.parse(nquads, format="nquads")
    app = SparqlEndpoint(graph=ds, path="/sparql", public_url=f"http://127.0.0.1:{port}/sparql")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)  # as ours


def wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            r = httpx.get(url, params={"query": "ASK {}"}, headers={"Accept": JSON_RESULTS}, timeout=5)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server for {url} did not start")


def normalise(body: bytes) -> list[str]:
    """Rows as sorted JSON; GROUP_CONCAT parts sorted (their order is undefined); bnode labels dropped."""
    data = json.loads(body)
    if "boolean" in data:
        return [str(data["boolean"])]
    rows = []
    for b in data["results"]["bindings"]:
        row = {}
        for k, v in b.items():
            value = "_:" if v["type"] == "bnode" else ", ".join(sorted(v["value"].split(", ")))
            row[k] = value
        rows.append(json.dumps(row, sort_keys=True))
    return sorted(rows)


class Client:
    """A keep-alive HTTP/1.1 client on http.client: light, so that the load generator
    (which shares the 2 cores with the servers) takes as little CPU as it can."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)

    def query(self, query: str) -> tuple[int, bytes, float]:
        body = urlencode({"query": query})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": JSON_RESULTS}
        t0 = time.perf_counter()
        try:
            self.conn.request("POST", self.path, body=body, headers=headers)
            r = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            self.conn.request("POST", self.path, body=body, headers=headers)
            r = self.conn.getresponse()
        data = r.read()
        return r.status, data, time.perf_counter() - t0

    def close(self) -> None:
        self.conn.close()


def load(url: str, queries: list[str], clients: int, seconds: float) -> tuple[float, float, int]:
    """Send the query mix from ``clients`` threads for ``seconds``; (QPS, median latency s, count)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client_loop(offset: int) -> None:
        nonlocal errors
        client = Client(url)
        i = offset
        mine: list[float] = []
        while time.perf_counter() < stop_at:
            status, _, dt = client.query(queries[i % len(queries)])
            mine.append(dt)
            if status != 200:
                with lock:
                    errors += 1
            i += 1
        client.close()
        with lock:
            latencies.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        print(f"  warning: {errors} non-200 answers from {url}", file=sys.stderr)
    return len(latencies) / elapsed, statistics.median(latencies), len(latencies)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; ``python -m bench server`` calls this with no arguments (defaults)."""
    if argv is None:
        argv = sys.argv[1:] if Path(sys.argv[0]).resolve() == Path(__file__).resolve() else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each load run")
    parser.add_argument("--queries", nargs="*", type=Path, default=sorted((ROOT / "queries").glob("*.rq")))
    parser.add_argument("--serve-rdflib-endpoint", nargs=2, metavar=("PORT", "NQUADS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_rdflib_endpoint:
        serve_rdflib_endpoint(int(args.serve_rdflib_endpoint[0]), args.serve_rdflib_endpoint[1])
        return

    sys.path.insert(0, str(ROOT))
    from acse_kg.store import open_store

    names = [p.stem for p in args.queries]
    queries = [p.read_text(encoding="utf-8") for p in args.queries]
    if not queries:
        raise SystemExit("no queries: pass --queries FILE.rq ...")
    store = open_store("memory")
    tmp = tempfile.mkdtemp(prefix="acse-kg-bench-")
    nquads = os.path.join(tmp, "bundle.nq")
    Path(nquads).write_bytes(store.dump("nquads", include_history=False))
    print(f"data: {len(store)} quads in {len(store.named_graphs())} graphs; {len(queries)} queries: {', '.join(names)}")

    ours_port, theirs_port = free_port(), free_port()
    ours_url = f"http://127.0.0.1:{ours_port}/sparql"
    theirs_url = f"http://127.0.0.1:{theirs_port}/sparql"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "acse_kg.cli", "serve", "--store", "memory", "--port", str(ours_port),
             "--no-access-log", "--queries-per-client", "0"],  # every bench client is 127.0.0.1
            cwd=ROOT, env=env,
        ),
        subprocess.Popen(
            [sys.executable, __file__, "--serve-rdflib-endpoint", str(theirs_port), nquads], cwd=ROOT, env=env
        ),
    ]
    try:
        wait_until_up(ours_url, procs[0])
        wait_until_up(theirs_url, procs[1])
        print("\nsame answers (rows, ours vs rdflib-endpoint):")
        usable = []
        ours_client, theirs_client = Client(ours_url), Client(theirs_url)
        if True:
            for name, q in zip(names, queries, strict=True):
                s1, b1, t1 = ours_client.query(q)
                s2, b2, t2 = theirs_client.query(q)
                same = s1 == s2 == 200 and normalise(b1) == normalise(b2)
                n = len(normalise(b1)) if s1 == 200 else -1
                print(f"  {name:40s} {'same' if same else 'DIFFERENT'}  {n} rows  "
                      f"first call {t1 * 1000:.1f} ms vs {t2 * 1000:.1f} ms")
                if same:
                    usable.append(q)
        if not usable:
            raise SystemExit("no query gives the same answer on both servers: nothing to compare")
        print(f"\nload: {len(usable)} queries in rotation, {args.seconds:g} s per run")
        print(f"  {'clients':>7}  {'ours QPS':>9}  {'rdflib QPS':>10}  {'ratio':>6}  "
              f"{'ours median':>11}  {'rdflib median':>13}")
        for clients in (1, 8):
            ours = load(ours_url, usable, clients, args.seconds)
            theirs = load(theirs_url, usable, clients, args.seconds)
            print(f"  {clients:>7}  {ours[0]:>9.1f}  {theirs[0]:>10.2f}  {ours[0] / theirs[0]:>5.1f}x  "
                  f"{ours[1] * 1000:>9.1f}ms  {theirs[1] * 1000:>11.1f}ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
