"""Bench of the OWL engine: HermiT's classification time per profile, and all cohort overlaps at 2, 100, 1,000 trials.

Per profile: a batch of generated profiles (the test pools) classified in one
HermiT process (``OwlMatcher.match_many``), against the fast path on the same
profiles in the same run (the ratio). Overlaps: ``compute_overlaps`` over
AcSé and varied copies (``acse_kg.synthetic.add_copies``), each size with a
time budget (``--budget``); a size that does not finish says how far it got.

    python -m bench owl [--profiles 20] [--trials 2,100,1000] [--budget 120]
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
from acse_kg.owl.classify import OwlMatcher
from acse_kg.owl.overlaps import compute_overlaps
from acse_kg.reasoning import ReasonerError
from acse_kg.store import open_store
from acse_kg.synthetic import add_copies

NCT = "NCT02034981"


def generated(n: int, seed: int = 7) -> list[dict]:
    from matching_fixtures import ALTERATIONS, POOLS, build  # type: ignore[import-not-found]  # tests/ joins sys.path at run time

    rng = random.Random(seed)
    return [build({k: rng.choice(v) for k, v in POOLS.items()}, rng.sample(ALTERATIONS, rng.randint(0, 3)), i)
            for i in range(n)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench owl")
    ap.add_argument("--profiles", type=int, default=20)
    ap.add_argument("--trials", default="2,100,1000")
    ap.add_argument("--budget", type=float, default=120.0)
    args = ap.parse_args(argv or [])
    print(f"load average at start: {os.getloadavg()}")
    store = open_store("memory")
    profiles = generated(args.profiles)
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
    for trials in (int(x) for x in args.trials.split(",")):
        s = open_store("memory")
        t = time.perf_counter()
        if trials > 1:
            add_copies(s, trials - 1, [NCT])
        built = time.perf_counter() - t
        try:
            r = compute_overlaps(s, budget=args.budget)
        except ReasonerError as exc:
            print(f"overlaps at {trials} trials (copies written in {built:.0f} s): not finished: {exc}")
            continue
        n = len(r.pairs)
        by = {k: sum(1 for p in r.pairs if p.relation == k) for k in ("subsumes", "subsumed_by", "overlaps", "disjoint")}
        print(f"overlaps at {trials} trials: {r.cohorts} cohorts, {n} pairs ({r.reasoner_pairs} to HermiT) in "
              f"{r.seconds:.1f} s; {by}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
