"""`python -m eval.bench load`: many people chatting at once with `movierec ui --llm none`, timed and checked.

    python -m eval.bench load --data-dir D --sessions 50 --turns 4
    python -m eval.bench load --data-dir D --sweep 1,5,10,25,50

Starts `movierec --llm none ui` on a free 127.0.0.1 port on the data dir (which it only reads), holds one
warm-up conversation (the first message waits for the collection to open), then runs N conversations at
once: each in its own thread with its own gradio_client Client (one Client is one browser session), all
released together. Every turn is bounded (`--turn-timeout`) and so is every level; the server is stopped at
the end, killed if it does not exit. For each turn of the conversation it prints p50 and p95 seconds, then
the errors and the cross-session leaks (eval/bench/load_sessions.py says what counts). `--sweep` runs each level on
one server with fresh sessions and names the first level whose slowest turn has a p95 above 2 s.

The load runs on the same machine as the server, so its threads share the cores; exit code 0 when no turn
failed and nothing leaked, 1 otherwise, 2 when the server could not start.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from gradio_client import Client

from eval.bench.load_sessions import MIN_TURNS, Persona, check_turn, expected_states, personas, picks
from index.matching import TitleMatcher
from index.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
P95_LIMIT = 2.0
TURN_NAMES = ("film", "mood", "era: picks", "more picks")
CONNECT_TIMEOUT = 120.0


class ServerError(RuntimeError):
    pass


class Server:
    """`movierec --llm none ui` on a free 127.0.0.1 port, its output in `log`; stopped on leaving the block."""

    def __init__(self, data_dir: Path, log: Path, start_timeout: float):
        self.data_dir, self.log_path, self.start_timeout = data_dir, log, start_timeout
        self.url, self.collection, self.process = "", "", None

    def __enter__(self) -> "Server":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ui.cli", "--llm", "none", "--data-dir", str(self.data_dir), "ui",
                 "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_served()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_until_served(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            url, default = re.search(r"movierec ui: (\S+)", text), re.search(r"\(default (\w+)\)", text)
            if url and default:
                self.url, self.collection = url.group(1), default.group(1)
                return
            if self.process.poll() is not None:
                raise ServerError(f"movierec ui exited with {self.process.returncode}: {self.tail()}")
            time.sleep(0.3)
        raise ServerError(f"movierec ui did not serve within {self.start_timeout:.0f} s: {self.tail()}")

    def tail(self) -> str:
        return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-5:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class SessionResult:
    seconds: list[float] = field(default_factory=list)  # per answered turn, in order
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)


def converse(server: Server, person: Persona, states, others: list[Persona], turns: int, start: threading.Barrier,
             turn_timeout: float) -> SessionResult:
    """One person's whole conversation in its own browser session, after every session has connected."""
    result, client = SessionResult(), None
    try:
        # httpx's default 5 s read timeout failed answers still on their way; the turn timeout bounds a turn
        client = Client(server.url, verbose=False, download_files=False, analytics_enabled=False,
                        httpx_kwargs={"timeout": turn_timeout})
    except Exception as exc:  # connection refused, reset, a bad config: this session fails, not the run
        result.errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
    try:
        start.wait(timeout=CONNECT_TIMEOUT)
    except threading.BrokenBarrierError:
        result.errors.append("not every session connected in time")
    if client is None or result.errors:
        return result
    shown: list[str] = []
    try:
        for turn, text in enumerate(person.turns(turns)):
            began = time.perf_counter()
            job = client.submit(text, server.collection, api_name="/chat")
            try:
                answer, panel = job.result(timeout=turn_timeout)
            except TimeoutError:
                job.cancel()
                result.errors.append(f"turn {turn + 1}: no answer within {turn_timeout:.0f} s")
                break
            except Exception as exc:  # what the server or the transport raised, as the person would see it
                result.errors.append(f"turn {turn + 1}: {type(exc).__name__}: {exc}"[:200])
                break
            result.seconds.append(time.perf_counter() - began)
            errors, leaks = check_turn(person, turn, states[turn], answer, panel, others, shown)
            result.errors += errors
            result.leaks += leaks
            shown += picks(answer)
    finally:
        client.close()
    return result


@dataclass
class Level:
    sessions: int
    turns: int
    wall: float
    seconds: list[list[float]]  # [turn][answers]
    errors: list[str]
    leaks: list[str]

    def p(self, q: float, turn: int | None = None) -> float | None:
        values = self.seconds[turn] if turn is not None else [s for turn in self.seconds for s in turn]
        return float(np.percentile(values, q)) if values else None

    def slowest_p95(self) -> float | None:
        values = [p for t in range(self.turns) if (p := self.p(95, t)) is not None]
        return max(values) if values else None


def run_level(server: Server, people: list[Persona], everyone: list[Persona], states: dict, turns: int,
              turn_timeout: float) -> Level:
    start, results = threading.Barrier(len(people)), [SessionResult() for _ in people]

    def run(i: int) -> None:
        others = [p for p in everyone if p is not people[i]]
        results[i] = converse(server, people[i], states[people[i].film.movie_id], others, turns, start, turn_timeout)

    threads = [threading.Thread(target=run, args=(i,), daemon=True, name=f"session {i}") for i in range(len(people))]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT + turns * turn_timeout + 30
    for i, thread in enumerate(threads):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            results[i] = SessionResult(errors=["the session did not finish in time"])
    seconds = [[r.seconds[t] for r in results if len(r.seconds) > t] for t in range(turns)]
    return Level(len(people), turns, time.perf_counter() - began, seconds,
                 [f"session {i + 1} {e}" for i, r in enumerate(results) for e in r.errors],
                 [f"session {i + 1} {e}" for i, r in enumerate(results) for e in r.leaks])


def describe(level: Level) -> str:
    lines = [f"{level.sessions} sessions at once, {level.turns} turns each: {sum(map(len, level.seconds))} turns "
             f"answered in {level.wall:.1f} s", "turn  what          answered  p50 s  p95 s  max s"]
    for t in range(level.turns):
        name = TURN_NAMES[t] if t < len(TURN_NAMES) else "more picks"
        worst = max(level.seconds[t], default=None)
        lines.append(f"{t + 1:<5} {name:<13} {len(level.seconds[t]):>8}  {_s(level.p(50, t))}  {_s(level.p(95, t))}"
                     f"  {_s(worst)}")
    lines.append(f"{'all':<19} {sum(map(len, level.seconds)):>8}  {_s(level.p(50))}  {_s(level.p(95))}")
    lines.append(f"errors: {len(level.errors)}   cross-session leaks: {len(level.leaks)}")
    lines += [f"  error: {e}" for e in level.errors[:10]] + [f"  leak: {e}" for e in level.leaks[:10]]
    return "\n".join(lines)


def sweep_summary(levels: list[Level]) -> str:
    lines = ["sessions  p50 s  p95 s (all)  p95 s (slowest turn)  errors  leaks"]
    lines += [f"{lv.sessions:>8}  {_s(lv.p(50))}  {_s(lv.p(95)):>11}  {_s(lv.slowest_p95()):>20}  {len(lv.errors):>6}"
              f"  {len(lv.leaks):>5}" for lv in levels]
    past = next((lv for lv in levels if (lv.slowest_p95() or 0) > P95_LIMIT), None)
    lines.append(f"p95 passes {P95_LIMIT:.0f} s at {past.sessions} concurrent sessions (slowest turn p95 "
                 f"{past.slowest_p95():.2f} s)" if past else
                 f"p95 stays under {P95_LIMIT:.0f} s up to {levels[-1].sessions} concurrent sessions")
    return "\n".join(lines)


def run_load(data_dir: Path, levels: list[int], turns: int = MIN_TURNS, turn_timeout: float = 60.0,
             start_timeout: float = 300.0, report=print) -> list[Level]:
    """A warm-up conversation, then each level in turn on one server; every level's result."""
    ws = Workspace.open(data_dir, llm_choice="none")
    matcher = TitleMatcher(ws.catalog)
    everyone = personas(ws.catalog, matcher, 1 + sum(levels), turns)
    latest = max(m.year or 0 for m in ws.catalog)
    states = {p.film.movie_id: expected_states(p, matcher, latest, turns) for p in everyone}
    results = []
    with tempfile.TemporaryDirectory(prefix="movierec-load-") as scratch, \
            Server(ws.root, Path(scratch) / "ui.log", start_timeout) as server:
        report(f"server: {server.url} on {ws.root}, collection {server.collection!r}")
        warm = run_level(server, everyone[:1], everyone, states, turns, max(turn_timeout, start_timeout))
        report(f"warm-up conversation: {warm.wall:.1f} s, errors {len(warm.errors)}, leaks {len(warm.leaks)}")
        results.append(warm)
        used = 1
        for n in levels:
            level = run_level(server, everyone[used:used + n], everyone, states, turns, turn_timeout)
            used += n
            report(describe(level))
            results.append(level)
    return results


def add_parser(commands) -> None:
    load = commands.add_parser("load", help="many simultaneous sessions against movierec ui --llm none")
    load.add_argument("--data-dir", help="a built data dir (default $MOVIEREC_DATA_DIR or .movierec)")
    group = load.add_mutually_exclusive_group()
    group.add_argument("--sessions", type=int, default=10, help="simultaneous sessions (default 10)")
    group.add_argument("--sweep", help="comma-separated session counts, e.g. 1,5,10,25,50")
    load.add_argument("--turns", type=int, default=MIN_TURNS, help=f"turns per conversation (default {MIN_TURNS})")
    load.add_argument("--turn-timeout", type=float, default=60.0, help="seconds one turn may take (default 60)")
    load.add_argument("--start-timeout", type=float, default=300.0, help="seconds the server may take to start")
    load.add_argument("--out", help="also write each level's numbers and findings as JSON lines here")
    load.set_defaults(run=bench_load)


def bench_load(args) -> int:
    levels = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.sessions]
    if min(levels) < 1 or args.turns < MIN_TURNS:
        print(f"eval.bench load: session counts must be at least 1 and --turns at least {MIN_TURNS}", file=sys.stderr)
        return 2
    from index.config import data_dir

    try:
        results = run_load(data_dir(args.data_dir), levels, args.turns, args.turn_timeout, args.start_timeout)
    except (ServerError, ValueError) as exc:
        print(f"eval.bench load: {exc}", file=sys.stderr)
        return 2
    measured = results[1:]
    if args.sweep:
        print(sweep_summary(measured))
    if args.out:
        with open(args.out, "w") as out:
            for level in measured:
                out.write(json.dumps({**asdict(level), "p50": level.p(50), "p95": level.p(95),
                                      "p95_by_turn": [level.p(95, t) for t in range(level.turns)]}) + "\n")
    return 0 if not any(lv.errors or lv.leaks for lv in results) else 1


def _s(value: float | None) -> str:
    return f"{value:5.2f}" if value is not None else "    -"

