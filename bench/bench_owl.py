"""Bench of the OWL engine: HermiT's classification time per profile, and all cohort overlaps at 2, 100, 1,000 trials.

Per profile: a batch of generated profiles (the test pools) classified in one
HermiT process (``OwlMatcher.match_many``), against the fast path on the same
profiles in the same run (the ratio). Overlaps: ``compute_overlaps`` over
AcSé and varied copies (``acse_kg.synthetic.add_copies``), each size with a
time budget (``--budget``); a size that does not finish says how far it got.

    python -m bench owl [--profiles 20] [--trials 2,100,1000] [--budget 120] [--no-profiles] [--workers 2] [--no-add]

After each size's overlaps are written back, one more study is added and the
overlaps computed incrementally (only the pairs with its cohorts go to HermiT).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from acse_kg.matching.engine import Matcher
from acse_kg.owl.classify import OwlEngine, OwlMatcher
from acse_kg.owl.overlaps import OverlapPlan, OverlapReport, compute_overlaps, write_overlaps
from acse_kg.reasoning import ReasonerError
from acse_kg.store import open_store
from acse_kg.synthetic import add_copies

NCT = "NCT02034981"


def generated(n: int, seed: int = 7) -> list[dict]:
    from matching_fixtures import ALTERATIONS, POOLS, build  # type: ignore[import-not-found]  # tests/ joins sys.path at run time

    rng = random.Random(seed)
    return [build({k: rng.choice(v) for k, v in POOLS.items()}, rng.sample(ALTERATIONS, rng.randint(0, 3)), i)
            for i in range(n)]


def overlaps_at(trials: int, budget: float, workers: int = 2, add: bool = True) -> None:
    """All overlaps of AcSé and ``trials - 1`` varied copies (the plan, then HermiT within ``budget``),
    written back; then one study added and the overlaps computed again incrementally."""
    s = open_store("memory")
    t = time.perf_counter()
    if trials > 1:
        add_copies(s, trials - 1, [NCT])
    built = time.perf_counter() - t
    print(f"overlaps at {trials} trials: copies written in {built:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    t = time.perf_counter()
    engine = OwlEngine(s)
    read = time.perf_counter() - t
    members = [c for st in engine.studies for c in st.cohorts]
    plan = OverlapPlan(engine, members)
    candidates = sum(1 for _ in plan.candidates())
    planned = time.perf_counter() - t
    total = len(members) * (len(members) - 1) // 2
    print(f"  {len(members)} cohorts in {len(plan.reps)} distinct classes, {total:,} pairs; studies read and their "
          f"classes built in {read:.0f} s, pairs planned in {planned - read:.1f} s: {total - candidates:,} pruned "
          f"as disjoint, {candidates:,} to decide (load {os.getloadavg()[0]:.1f})", flush=True)
    try:
        r = compute_overlaps(s, budget=budget, engine=engine, workers=workers)
    except ReasonerError as exc:
        print(f"  HermiT within {budget:g} s: not finished: {exc} (load {os.getloadavg()[0]:.1f})", flush=True)
        return
    print(f"  all overlaps in {r.seconds:.1f} s ({r.reasoner_pairs:,} pairs of classes to HermiT, {workers} JVMs; "
          f"load {os.getloadavg()[0]:.1f}): {r.counts()}\n  where the time went: {_timings(r)}", flush=True)
    t = time.perf_counter()
    written = write_overlaps(s, r)
    print(f"  written back: {written:,} triples in {time.perf_counter() - t:.1f} s", flush=True)
    if not add:
        return
    (new,) = add_copies(s, 1, [NCT], first=trials)
    try:
        r2 = compute_overlaps(s, budget=budget, incremental=True, workers=workers)
    except ReasonerError as exc:
        print(f"  one study added: not finished: {exc}", flush=True)
        return
    t = time.perf_counter()
    written = write_overlaps(s, r2)
    mine = sum(1 for c in r2.members if new in c.iri)
    print(f"  one study added ({new}, {mine} cohorts; {r2.total:,} pairs): incremental run in {r2.seconds:.1f} s, "
          f"{len(r2.fresh):,} pairs decided by HermiT ({r2.reasoner_pairs:,} pairs of classes), {r2.reused:,} kept "
          f"from the inferred graph; written back ({written:,} triples) in {time.perf_counter() - t:.1f} s "
          f"(load {os.getloadavg()[0]:.1f})\n  where the time went: {_timings(r2)}", flush=True)


def one_added_at(trials: int, budget: float, workers: int) -> None:
    """The incremental run after one study is added to ``trials - 1`` others, at a size where the full run
    that would have written every other pair's answer is out of reach (hours of HermiT).

    The inferred graph's pairs are stood in for: every pair the shortcuts leave between the first
    ``trials - 1`` studies, with their cohorts' true digests and a placeholder answer (``overlaps``),
    handed to ``compute_overlaps`` instead of the graph read. What is timed is the incremental run's
    own work (studies read, pairs planned and looked up, HermiT on the new study's pairs, words);
    the graph read is not (1.7 s per 79,000 pairs at 100 trials, linear). The answers are not used.
    """
    from acse_kg.owl import overlaps as O

    s = open_store("memory")
    t = time.perf_counter()
    if trials > 2:
        add_copies(s, trials - 2, [NCT])
    (new,) = add_copies(s, 1, [NCT], first=trials - 1)
    print(f"one study added at {trials} trials (simulated base): copies written in {time.perf_counter() - t:.0f} s "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)
    t = time.perf_counter()
    engine = OwlEngine(s)
    members = [c for st in engine.studies for c in st.cohorts]
    plan = OverlapPlan(engine, members)
    digests = [plan.digest(i) for i in range(len(members))]
    base = {(members[i].iri, members[j].iri): O.Kept("overlaps", "", digests[i], digests[j])
            for i, j in plan.candidates() if new not in members[i].iri and new not in members[j].iri}
    print(f"  stand-in base: {len(base):,} pairs of the other studies, built in {time.perf_counter() - t:.0f} s "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)
    real = O.previous_decisions
    O.previous_decisions = lambda store: base  # the stand-in, for this run only
    try:
        r = compute_overlaps(s, budget=budget, incremental=True, workers=workers)
    except ReasonerError as exc:
        print(f"  not finished: {exc}", flush=True)
        return
    finally:
        O.previous_decisions = real
    print(f"  incremental run in {r.seconds:.1f} s: {len(r.fresh):,} pairs decided by HermiT ({r.reasoner_pairs:,} "
          f"pairs of classes), {r.reused:,} kept (load {os.getloadavg()[0]:.1f})\n  where the time went: "
          f"{_timings(r)}", flush=True)


def _timings(r: OverlapReport) -> str:
    return ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.timings.items())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench owl")
    ap.add_argument("--profiles", type=int, default=20)
    ap.add_argument("--trials", default="2,100,1000")
    ap.add_argument("--budget", type=float, default=120.0)
    ap.add_argument("--profiles-only", action="store_true")
    ap.add_argument("--no-profiles", action="store_true", help="only the overlaps")
    ap.add_argument("--workers", type=int, default=2, help="HermiT processes side by side for the overlaps")
    ap.add_argument("--no-add", action="store_true", help="skip the incremental run after adding one study")
    ap.add_argument("--one-added", default="", help="sizes (e.g. 1000) at which only the incremental run after "
                    "adding one study is measured, over a stand-in for the other pairs' answers")
    args = ap.parse_args(argv or [])
    print(f"load average at start: {os.getloadavg()}")
    if not args.no_profiles:
        classification(args.profiles)
    if args.one_added:
        for trials in (int(x) for x in args.one_added.split(",")):
            one_added_at(trials, args.budget, args.workers)
    elif not args.profiles_only:
        for trials in (int(x) for x in args.trials.split(",")):
            overlaps_at(trials, args.budget, args.workers, not args.no_add)
    print(f"load average at end: {os.getloadavg()}")


def classification(n: int) -> None:
    """HermiT's time per profile against the fast path's, on the same generated profiles."""
    store = open_store("memory")
    profiles = generated(n)
    fast = Matcher(store, NCT)
    t = time.perf_counter()
    for p in profiles:
        fast.match(p)
    fast_each = (time.perf_counter() - t) / len(profiles)
    owl = OwlMatcher(store, NCT)
    owl.budget = None  # the bench measures; a request has its budget
    t = time.perf_counter()
    owl.match_many(profiles)
    owl_total = time.perf_counter() - t
    print(f"classification: {len(profiles)} profiles in {owl_total:.1f} s with HermiT "
          f"({owl_total / len(profiles) * 1000:.0f} ms a profile, {owl.engine.questions} questions; "
          f"fast path {fast_each * 1e6:.0f} µs a profile: ratio {owl_total / len(profiles) / fast_each:,.0f})")


if __name__ == "__main__":
    main(sys.argv[1:])
