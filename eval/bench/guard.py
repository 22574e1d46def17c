"""What screening costs per turn without an LLM: `python -m eval.bench guard [--rounds 3]`.

Every turn of the training corpus and of agent/guards/guard_cases.json (about 3000 turns: short, long,
encoded, many languages) through `screen_input`, the rules alone and the whole screen, alternated turn by
turn after a warm-up (the model file and MiniLM load once, before timing). Prints median and p90 in ms.
Timing is for a quiet machine; on a shared one the numbers say little.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence

from agent.guards import screen_input
from agent.guards.train import CASES_FILE, load_corpus


def turns() -> list[str]:
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return list(dict.fromkeys([r["text"] for r in load_corpus()] + [c["text"] for c in cases]))


def measure(texts: Sequence[str], rounds: int) -> dict[str, list[float]]:
    for text in texts[:20]:
        screen_input(text)
    timings: dict[str, list[float]] = {"rules": [], "rules+learned": []}
    for _ in range(rounds):
        for text in texts:
            for name, learned in (("rules", False), ("rules+learned", True)):
                started = time.perf_counter()
                screen_input(text, learned=learned)
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def add_parser(commands) -> None:
    guard = commands.add_parser("guard", help="what the input screen costs per turn without an LLM")
    guard.add_argument("--rounds", type=int, default=3, help="passes over the turns (default 3)")
    guard.set_defaults(run=bench_guard)


def bench_guard(args) -> int:
    texts = turns()
    for name, ms in measure(texts, args.rounds).items():
        p90 = statistics.quantiles(ms, n=10)[-1]
        print(f"{name}: median {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms over {len(ms)} screenings "
              f"({len(texts)} turns x {args.rounds})")
    return 0
