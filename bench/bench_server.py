"""Benchmark: the acse-kg SPARQL endpoint against ``oxigraph serve`` and rdflib-endpoint, same data, same queries, one run.

    python bench/bench_server.py [--seconds 6] [--rounds 6] [--queries queries/*.rq] [--no-rdflib]

The servers run as separate processes on loopback over the bundled graph
(ontology, vocabularies, the AcSé record): ours with ``acse-kg serve --store
memory``; ``oxigraph serve`` (Oxigraph's own Rust server, PyPI ``oxigraph``)
over a store loaded from our N-Quads dump with ``--union-default-graph``; and
rdflib-endpoint (the rdflib-on-FastAPI SPARQL server on PyPI) over an rdflib
Dataset loaded from the same dump, its default graph the union of the named
graphs. All three give the view our endpoint gives. Each query is first checked
to give the same answer everywhere; then clients send the query mix for a fixed
time, with 1 and with 8 concurrent clients (each server's time cut into slices
taken in turn, so that the machine's other load weighs on all alike), and
queries per second and median latency are printed with the ratios ours /
oxigraph serve (the engine we embed, in memory as ours: what is left is our
HTTP, safety and process overhead) and ours / rdflib-endpoint, and each server's
CPU time per answer (theirs / ours: the ratio the machine's other load moves least).
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


def oxigraph_binary() -> str:
    """The ``oxigraph`` executable beside this interpreter (the venv's), else on PATH."""
    import shutil

    here = Path(sys.executable).with_name("oxigraph")
    exe = str(here) if here.exists() else shutil.which("oxigraph")
    if exe is None:
        raise SystemExit("oxigraph serve is needed: pip install 'oxigraph>=0.5,<0.6'")
    return exe


def start_oxigraph(port: int, nquads: str) -> subprocess.Popen[bytes]:
    """``oxigraph serve`` in memory (as ours runs with ``--store memory``), the union of the graphs as
    default graph, loaded with the dump through its Graph Store endpoint once it is up."""
    proc = subprocess.Popen([oxigraph_binary(), "serve", "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_up(f"http://127.0.0.1:{port}/query", proc)
    with open(nquads, "rb") as f:
        r = httpx.post(f"http://127.0.0.1:{port}/store", content=f.read(),
                       headers={"Content-Type": "application/n-quads"}, timeout=120)
    if r.status_code >= 300:
        raise SystemExit(f"oxigraph serve refused the dump: {r.status_code} {r.text[:200]}")
    return proc


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


def load_raw(url: str, queries: list[str], clients: int, seconds: float) -> tuple[list[float], float]:
    """Send the query mix from ``clients`` threads for ``seconds``; (each answer's latency in s, elapsed s)."""
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
    return latencies, elapsed


def load(url: str, queries: list[str], clients: int, seconds: float) -> tuple[float, float, int]:
    """Send the query mix from ``clients`` threads for ``seconds``; (QPS, median latency s, count)."""
    latencies, elapsed = load_raw(url, queries, clients, seconds)
    return len(latencies) / elapsed, statistics.median(latencies), len(latencies)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has reaped (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def load_interleaved(servers: dict[str, str], pids: dict[str, int], queries: list[str], clients: int,
                     seconds: float, rounds: int) -> dict[str, tuple[float, float, int, float]]:
    """:func:`load` on each server in turn, ``rounds`` slices of ``seconds / rounds`` each, summed;
    (QPS, median latency s, count, server CPU s per answer) per server.

    On a shared machine the other jobs' load drifts within seconds; slices taken in turn put
    every server under the same drift, so the ratio measures the servers, not the moment. The
    server's CPU time per answer depends on the other load far less than its rate does.
    """
    got: dict[str, tuple[list[float], float, float]] = {name: ([], 0.0, 0.0) for name in servers}
    for _ in range(rounds):
        for name, url in servers.items():
            cpu0 = cpu_seconds(pids[name])
            latencies, elapsed = load_raw(url, queries, clients, seconds / rounds)
            cpu = cpu_seconds(pids[name]) - cpu0
            got[name] = (got[name][0] + latencies, got[name][1] + elapsed, got[name][2] + cpu)
    return {name: (len(lat) / elapsed, statistics.median(lat), len(lat), cpu / max(1, len(lat)))
            for name, (lat, elapsed, cpu) in got.items()}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; ``python -m bench server`` calls this with no arguments (defaults)."""
    if argv is None:
        argv = sys.argv[1:] if Path(sys.argv[0]).resolve() == Path(__file__).resolve() else []
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each load run, per server")
    parser.add_argument("--rounds", type=int, default=6, help="slices each run is cut into, taken in turn")
    parser.add_argument("--queries", nargs="*", type=Path, default=sorted((ROOT / "queries").glob("*.rq")))
    parser.add_argument("--no-rdflib", action="store_true", help="leave rdflib-endpoint out (a shorter run)")
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
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ours_port = free_port()
    servers: dict[str, str] = {"ours": f"http://127.0.0.1:{ours_port}/sparql"}
    procs: dict[str, subprocess.Popen[bytes]] = {
        "ours": subprocess.Popen(
            [sys.executable, "-m", "acse_kg.cli", "serve", "--store", "memory", "--port", str(ours_port),
             "--no-access-log", "--queries-per-client", "0"],  # every bench client is 127.0.0.1
            cwd=ROOT, env=env,
        ),
    }
    try:
        ox_port = free_port()
        procs["oxigraph"] = start_oxigraph(ox_port, nquads)
        servers["oxigraph"] = f"http://127.0.0.1:{ox_port}/query"
        if not args.no_rdflib:
            rdflib_port = free_port()
            procs["rdflib"] = subprocess.Popen(
                [sys.executable, __file__, "--serve-rdflib-endpoint", str(rdflib_port), nquads], cwd=ROOT, env=env)
            servers["rdflib"] = f"http://127.0.0.1:{rdflib_port}/sparql"
        for name, url in servers.items():
            wait_until_up(url, procs[name])
        others = [n for n in servers if n != "ours"]
        print(f"\nsame answers (rows; first call, ours vs {' vs '.join(others)}):")
        usable = []
        clients = {name: Client(url) for name, url in servers.items()}
        for name, q in zip(names, queries, strict=True):
            answers = {n: c.query(q) for n, c in clients.items()}
            s1, b1, _ = answers["ours"]
            same = all(s == 200 and normalise(b) == normalise(b1) for s, b, _ in answers.values())
            n = len(normalise(b1)) if s1 == 200 else -1
            times = " vs ".join(f"{answers[k][2] * 1000:.1f}" for k in servers)
            print(f"  {name:40s} {'same' if same else 'DIFFERENT'}  {n} rows  first call {times} ms")
            if same:
                usable.append(q)
        for c in clients.values():
            c.close()
        if not usable:
            raise SystemExit("no query gives the same answer on every server: nothing to compare")
        print(f"\nload: {len(usable)} queries in rotation, {args.seconds:g} s per server and run, "
              f"in {args.rounds} slices taken in turn")
        header = f"  {'clients':>7}  {'ours QPS':>9}  {'oxigraph QPS':>12}  {'ours/oxigraph':>13}"
        if "rdflib" in servers:
            header += f"  {'rdflib QPS':>10}  {'ours/rdflib':>11}"
        print(header + f"  {'ours median':>11}  {'oxigraph median':>15}  {'ours CPU/q':>11}  {'oxi CPU/q':>11}"
              f"  {'CPU ratio':>9}")
        for n_clients in (1, 8):
            got = load_interleaved(servers, {n: p.pid for n, p in procs.items()}, usable, n_clients,
                                   args.seconds, max(1, args.rounds))
            ours, ox = got["ours"], got["oxigraph"]
            line = f"  {n_clients:>7}  {ours[0]:>9.1f}  {ox[0]:>12.1f}  {ours[0] / ox[0]:>13.2f}"
            if "rdflib" in got:
                line += f"  {got['rdflib'][0]:>10.1f}  {ours[0] / got['rdflib'][0]:>10.1f}x"
            print(line + f"  {ours[1] * 1000:>9.2f}ms  {ox[1] * 1000:>13.2f}ms"
                  f"  {ours[3] * 1000:>9.2f}ms  {ox[3] * 1000:>10.2f}ms  {ox[3] / ours[3]:>8.2f}", flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
