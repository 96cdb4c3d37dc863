"""Where a sync's CPU goes: a summary of a py-spy profile (``--format raw``, all threads of every process).

    py-spy record -r 50 -f raw -o profile.txt --subprocesses -- .venv/bin/python -m benchmarks.catalogue_sync
    .venv/bin/python -m benchmarks.profile_summary profile.txt --within fluent__variant_products

Only the samples of the sync process (a ``run_phases`` or ``execute_run`` child) count; ``--within`` keeps the
stacks passing through a frame whose text contains it (an asset's op name, a function). Each sample is charged to
the first frame, from the innermost outwards, that belongs to a known area (JSON, pydantic, the ledger's database,
HTTP, Dagster, ...); the project's own code is what is left when no library frame is on the way.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (area, pattern on a frame's "function (file:line)"), innermost match wins; the first pattern that matches names it.
AREAS = (
    ("JSON (encode/decode)", re.compile(r"\((json|orjson)/|\(simplejson/")),
    ("pydantic (validation, serialization)", re.compile(r"\((pydantic|pydantic_core)/")),
    ("ledger database (SQLAlchemy, driver)", re.compile(r"\((sqlalchemy|psycopg2?|sqlite3)/")),
    ("HTTP (requests, urllib3, http.client, ssl, socket)", re.compile(r"\((requests|urllib3|http/|ssl|socket)")),
    ("GraphQL (graphql-core)", re.compile(r"\(graphql/")),
    ("staging (pyarrow, Parquet)", re.compile(r"\((pyarrow|fsspec|upath)/")),
    ("rate limiting (pyrate-limiter)", re.compile(r"\(pyrate_limiter/")),
    ("hashing", re.compile(r"\(hashlib|sha256|_hashlib")),
    ("logging", re.compile(r"\(logging/")),
    ("Dagster (events, run storage)", re.compile(r"\(dagster[a-z_]*/")),
    ("threads and queues (waiting, switching)", re.compile(r"\((threading|concurrent/futures|queue)\.?")),
    ("ctfluent_dagster (mapping, engine, planning)", re.compile(r"\(ctfluent_dagster/")),
)
SYNC_PROCESS = re.compile(r"(run_phases|execute_run) \(benchmarks/common\.py")


def summarize(path: Path, within: str | None) -> tuple[int, Counter[str], Counter[str]]:
    """Samples of the sync process; by area; by the project's innermost function."""
    total = 0
    areas: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not SYNC_PROCESS.search(stack) or (within and within not in stack):
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in reversed(frames):
            area = next((name for name, pattern in AREAS if pattern.search(frame)), None)
            if area is not None:
                areas[area] += count
                break
        else:
            areas["other (stdlib, interpreter)"] += count
        project = next((f for f in reversed(frames) if "(ctfluent_dagster/" in f), None)
        if project is not None:
            own[re.sub(r":\d+\)", ")", project)] += count
    return total, areas, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--within", help="only stacks through a frame containing this text")
    parser.add_argument("--top", type=int, default=12, help="the project's functions to list")
    args = parser.parse_args()
    total, areas, own = summarize(args.profile, args.within)
    print(f"{args.profile.name}: {total:,} samples of the sync process" + (f" within {args.within}" if args.within
                                                                           else ""))  # fmt: skip
    for area, count in areas.most_common():
        print(f"  {count / max(total, 1):6.1%}  {area}")
    print("  the project's innermost functions on the stack (inclusive of the libraries they call):")
    for frame, count in own.most_common(args.top):
        print(f"  {count / max(total, 1):6.1%}  {frame}")


if __name__ == "__main__":
    main()
