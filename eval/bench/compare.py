"""`python -m eval.bench compare --against PATH`: this checkout's chat turns against another checkout's.

Both versions replay the same transcripts with `python -m eval.bench turns`, one transcript at a time, each
in its own process run from its own checkout (PATH: e.g. `git worktree add /tmp/before 4ea4a19`), taking
turns (ABBA order) so that a machine growing busier or quieter weighs on both alike. The result is one
ratio of medians per turn kind (this / against): seconds per turn, seconds until the first film is on
screen (a version that does not stream picks shows them when the turn ends), prompt tokens sent and
prompt tokens evaluated (a version that does not report reuse evaluated all it sent). Every turn's row,
with its version, goes to `--out`. Each transcript starts with a cold model in both versions.

With `--llm local` a reference run (eval/bench/reference.py: a 1000-token prompt plus 64 tokens on the same
model) is timed before each transcript, and each whole conversation is also given in reference runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from eval.bench.reference import load_reference_model, reference_seconds
from eval.transcripts.files import load_transcripts, save_transcripts

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 1800.0  # one transcript on a busy 2-core machine with the local model
MEASURES = (("seconds", "seconds per turn"), ("first_pick_seconds", "seconds to the first pick"),
            ("first_reason_seconds", "seconds to its reason"), ("tokens_in", "prompt tokens sent"),
            ("tokens_evaluated", "prompt tokens evaluated"))
FIRST_PICK = ("first_pick_seconds", "first_reason_seconds")


def add_parser(commands) -> None:
    compare = commands.add_parser("compare", help="this version's chat turns against another checkout's, "
                                                  "interleaved, as ratios of medians")
    compare.add_argument("--against", required=True, help="a checkout of the other version (a git worktree)")
    compare.add_argument("--data-dir", help="a built data dir both versions read (default $MOVIEREC_DATA_DIR)")
    compare.add_argument("--llm", default="auto", help="backend as in movierec --llm (default auto)")
    compare.add_argument("--transcripts", help="transcript file (default: the project's 20 fixed transcripts)")
    compare.add_argument("--limit", type=int, help="only the first N transcripts")
    compare.add_argument("--out", default="compare.jsonl", help="one JSON line per turn and version")
    compare.set_defaults(run=bench_compare)


def bench_compare(args) -> int:
    other = Path(args.against).expanduser().resolve()
    if not any((other / "eval" / path).is_file() for path in ("bench/turns.py", "bench_turns.py")):
        print(f"movierec: {other} is not a movierec checkout (it has no `python -m eval.bench turns`); "
              f"make one with `git worktree add {other} <commit>`", file=sys.stderr)
        return 2
    transcripts = load_transcripts(args.transcripts)[: args.limit]
    versions = {"this": ROOT, "against": other}
    print(f"this: {ROOT}; against: {other}; llm: {args.llm}; transcripts: {len(transcripts)}", flush=True)
    reference = _reference_run(args)
    with Path(args.out).open("w") as out:
        rows = interleaved(versions, transcripts, args, out, reference)
    print(summary(rows))
    return 0


def _reference_run(args) -> Callable[[], float] | None:
    """A timed reference run on the local model the chat loads, or None for other backends."""
    if args.llm != "local":
        print("no reference run: it is timed with --llm local only", flush=True)
        return None
    from index.llm.gguf import resolve_gguf
    from index.llm.local import LocalLlamaCPP

    path, _ = resolve_gguf(Path(args.data_dir) if args.data_dir else None)
    fields = LocalLlamaCPP.model_fields
    llama = load_reference_model(path, fields["context_window"].default, fields["n_threads"].default)
    return lambda: reference_seconds(llama)


def interleaved(versions: dict[str, Path], transcripts: list, args, out,
                reference: Callable[[], float] | None = None) -> list[dict]:
    """Each transcript replayed by both versions, the first one first on even transcripts, last on odd ones,
    after one reference run when `reference` is given."""
    rows: list[dict] = []
    names = list(versions)
    with tempfile.TemporaryDirectory(prefix="movierec-compare-") as work:
        for number, transcript in enumerate(transcripts):
            one = Path(work) / f"{transcript.id}.json"
            save_transcripts([transcript], one)
            if reference is not None:
                rows.append({"id": transcript.id, "version": "reference", "kind": "reference",
                             "seconds": round(reference(), 2)})
                out.write(json.dumps(rows[-1]) + "\n")
            for version in names if number % 2 == 0 else names[::-1]:
                for row in replay(versions[version], one, args, Path(work) / f"{version}.jsonl"):
                    row["version"] = version
                    rows.append(row)
                    out.write(json.dumps(row) + "\n")
                out.flush()
            print(f"{transcript.id}: " + "; ".join(
                f"{v} {sum(r['seconds'] for r in rows if r['id'] == transcript.id and r['version'] == v):.0f} s"
                for v in names), flush=True)
    return rows


def replay(root: Path, transcripts: Path, args, out: Path) -> list[dict]:
    """The rows of `python -m eval.bench turns` run from the checkout at `root`."""
    command = [sys.executable, "-m", "eval.bench", "turns", "--llm", args.llm, "--transcripts", str(transcripts),
               "--out", str(out)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{root}: eval.bench turns exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def measure(row: dict, key: str) -> float | None:
    """A row's value for `key`, with what an older version that lacks it means by it."""
    if key in FIRST_PICK and row["kind"] != "recommending":
        return None
    value = row.get(key)
    if value is not None:
        return value
    if key == "first_reason_seconds" and row.get("first_pick_seconds") is not None:
        return row["first_pick_seconds"]  # picks shown with their reasons
    if key in FIRST_PICK:
        return row["seconds"]  # picks all shown when the turn ends
    if key == "tokens_evaluated":
        return row.get("tokens_in")  # no reuse reported: all of it evaluated
    return None


def summary(rows: list[dict]) -> str:
    lines = ["ratio of medians, this / against (below 1: this version is faster or smaller)"]
    for kind in ("clarifying", "recommending"):
        for key, label in MEASURES:
            medians = {}
            for version in ("this", "against"):
                values = [v for r in rows if r["version"] == version and r["kind"] == kind
                          and (v := measure(r, key)) is not None]
                medians[version] = statistics.median(values) if values else None
            if medians["this"] is None or not medians["against"]:
                continue
            lines.append(f"{kind:>12} {label:<26} {medians['this']:>8.1f} / {medians['against']:>8.1f} = "
                         f"{medians['this'] / medians['against']:.2f}")
    references = [r["seconds"] for r in rows if r["kind"] == "reference"]
    if references:
        unit = statistics.median(references)
        runs = {version: statistics.median(_conversations(rows, version)) / unit for version in ("this", "against")}
        lines.append(f"whole conversation, median over transcripts, in reference runs (1000-token prompt + 64 "
                     f"tokens, median {unit:.1f} s): this {runs['this']:.1f}, against {runs['against']:.1f}")
    return "\n".join(lines)


def _conversations(rows: list[dict], version: str) -> list[float]:
    """Seconds of each transcript's whole conversation in `version`."""
    totals: dict[str, float] = {}
    for r in rows:
        if r["version"] == version:
            totals[r["id"]] = totals.get(r["id"], 0.0) + r["seconds"]
    return list(totals.values())
