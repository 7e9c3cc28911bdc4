"""Run the benchmarks: `python -m bench [NAME ...] [--option ...]` runs bench/bench_NAME.py (all when none named).

Options after the names go to the one benchmark named (``python -m bench matching --trials 1,100,1000``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    first_option = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    chosen, options = argv[:first_option] or names, argv[first_option:]
    if options and len(chosen) != 1:
        print("options go to one benchmark: name exactly one before them", file=sys.stderr)
        return 2
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"== bench_{name}", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        module.main(options) if options else module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
