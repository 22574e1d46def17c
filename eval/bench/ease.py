"""`python -m eval.bench ease`: what fitting EASE costs (wall and CPU seconds, peak memory), run by hand.

- the bundled 5000-film catalog's training like matrix (`Collaborative.from_catalog`);
- a synthetic 60k-film catalog: `--users` users with Zipf-distributed likes (a few films liked by many,
  most by few, as in MovieLens), of which EASE keeps the `--max-items` most-liked columns (index/collab/ease.py:
  a dense inverse of all 60k would need 2 x 60000^2 x 4 bytes = 29 GB).
Each fit runs in a fresh child process so that its peak resident memory is its own. Scoring one
conversation from the fitted weights is timed too; the fit itself never runs per request (index/collab/cache.py).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time

import numpy as np
from scipy import sparse

SYNTHETIC_FILMS = 60000


def add_parser(commands) -> None:
    ease = commands.add_parser("ease", help="EASE fit time and memory on the bundled catalog and a synthetic 60k one")
    ease.add_argument("--films", type=int, default=SYNTHETIC_FILMS, help="synthetic catalog size (0 skips it)")
    ease.add_argument("--users", type=int, default=20000, help="synthetic users (default 20000)")
    ease.add_argument("--likes", type=int, default=60, help="mean likes per synthetic user (default 60)")
    ease.add_argument("--max-items", type=int, default=None, help="EASE columns (default: index/collab/ease.py)")
    ease.set_defaults(run=bench_ease)


def synthetic_likes(films: int, users: int, likes: int, seed: int = 0):
    """A users x films 0/1 matrix whose film popularity follows a Zipf law (exponent 1.1)."""
    from index.collab import Collaborative

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, films + 1) ** 1.1
    weights /= weights.sum()
    counts = rng.poisson(likes, size=users).clip(1, films)
    rows = np.repeat(np.arange(users), counts)
    cols = rng.choice(films, size=int(counts.sum()), p=weights)
    matrix = sparse.csc_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(users, films))
    matrix.data[:] = 1.0  # repeated draws of one film are one like
    return Collaborative(movie_ids=np.arange(1, films + 1), likes=matrix,
                         rating_counts=np.asarray(matrix.sum(axis=0)).ravel().astype(int))


def _fit_in_child(spec: dict, queue) -> None:
    from index.collab.ease import MAX_ITEMS, EASE

    if spec["kind"] == "bundled":
        from index.catalog import load_catalog
        from index.collab import Collaborative

        collab = Collaborative.from_catalog(load_catalog("bundled"))
    else:
        collab = synthetic_likes(spec["films"], spec["users"], spec["likes"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    model = EASE.fit(collab, max_items=spec["max_items"] or MAX_ITEMS)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seeds = [int(collab.movie_ids[i]) for i in (0, 10, 100)]
    started = time.perf_counter()
    for _ in range(20):
        model.scores(seeds)
    queue.put({"films": len(collab.movie_ids), "users": collab.likes.shape[0], "columns": len(model.columns),
               "fit_wall_s": round(wall, 1), "fit_cpu_s": round(cpu, 1), "peak_rss_gb": round(peak / 2**20, 2),
               "rss_before_fit_gb": round(before / 2**20, 2),
               "weights_gb": round(model.weights.nbytes / 2**30, 2),
               "score_ms": round((time.perf_counter() - started) / 20 * 1000, 1)})


def _run(spec: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_fit_in_child, args=(spec, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def bench_ease(args) -> int:
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    specs = [{"kind": "bundled", "max_items": args.max_items}]
    if args.films:
        specs.append({"kind": "synthetic", "films": args.films, "users": args.users, "likes": args.likes,
                      "max_items": args.max_items})
    for spec in specs:
        result = _run(spec)
        print(f"{spec['kind']}: {result}", flush=True)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0
