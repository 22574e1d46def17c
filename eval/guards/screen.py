"""How the input screen holds on phrasings it was not tuned on.

`python -m eval.guards.screen corpus`: leave-one-writer-out over the training corpus (each writer scored by a
model trained without it, against a threshold set on the other writers) and leave-one-family-out for the
attack families; block rates per family, writer and OWASP category for the rules, the classifier and both.
The two earlier held-out splits are corpus writers now (heldout-a, heldout-b), so their leave-one-writer-out
rows are the development numbers.
`python -m eval.guards.screen heldout`: the committed model and the rules on eval/guards/heldout_c.jsonl, the
frozen held-out split. Run it once, at the end; nothing may be tuned on what it prints.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.guards import screen_input
from agent.guards.classifier import default_embed, learned_screen
from agent.guards.train import (Embeddings, fit, load_corpus, out_of_writer_scores, threshold_from, turn_scores,
                                turn_texts)

SPLITS = {"heldout": Path(__file__).with_name("heldout_c.jsonl")}


def rule_blocks(rows: Sequence[dict]) -> np.ndarray:
    return np.array([not screen_input(r["text"], learned=False).allowed for r in rows])


def leave_one_writer_out(rows: list[dict], scores: np.ndarray) -> np.ndarray:
    """Blocked by the classifier: each writer's turns scored by a model that never saw that writer, against
    a threshold set on the other writers' (also out-of-writer) benign scores."""
    blocked = np.zeros(len(rows), bool)
    for writer in sorted({r["writer"] for r in rows}):
        inside = np.array([r["writer"] == writer for r in rows])
        others = [i for i, r in enumerate(rows) if r["writer"] != writer]
        threshold, _ = threshold_from([rows[i] for i in others], scores[others])
        blocked[inside] = scores[inside] >= threshold
    return blocked


def leave_one_family_out(rows: list[dict], embeddings: Embeddings, threshold: float) -> dict[str, float]:
    """Attack block rate of the classifier on each attack family when that family is not in training."""
    rates = {}
    for family in sorted({r["family"] for r in rows if r["label"] == "attack"}):
        inside = [r for r in rows if r["label"] == "attack" and r["family"] == family]
        coef, intercept = fit([r for r in rows if not (r["label"] == "attack" and r["family"] == family)],
                              embeddings)
        rates[family] = float(np.mean(turn_scores(inside, coef, intercept, embeddings) >= threshold))
    return rates


def breakdown(rows: Sequence[dict], columns: dict[str, np.ndarray], key: str) -> list[str]:
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[(row["label"], row.get(key, "?"))].append(i)
    names = list(columns)
    lines = [f"| label | {key} | n | " + " | ".join(names) + " |", "|---|---|---:|" + "---:|" * len(names)]
    for (label, value), idx in sorted(groups.items()):
        cells = " | ".join(f"{int(columns[n][idx].sum())}" for n in names)
        lines.append(f"| {label} | {value} | {len(idx)} | {cells} |")
    return lines


def totals(rows: Sequence[dict], columns: dict[str, np.ndarray]) -> list[str]:
    attack = np.array([r["label"] == "attack" for r in rows])
    lines = []
    for name, blocked in columns.items():
        lines.append(f"{name}: attacks blocked {int(blocked[attack].sum())}/{int(attack.sum())} "
                     f"({blocked[attack].mean():.1%}), benign blocked {int(blocked[~attack].sum())}/"
                     f"{int((~attack).sum())} ({blocked[~attack].mean():.1%})")
    return lines


def corpus_report() -> str:
    rows = load_corpus()
    embeddings = Embeddings(default_embed())
    scores = out_of_writer_scores(rows, embeddings)
    learned = leave_one_writer_out(rows, scores)
    rules = rule_blocks(rows)
    columns = {"rules": rules, "learned": learned, "rules+learned": rules | learned}
    threshold, _ = threshold_from(rows, scores)
    families = leave_one_family_out(rows, embeddings, threshold)
    out = ["## Leave-one-writer-out (corpus)", "", *totals(rows, columns), ""]
    for key in ("writer", "family", "owasp"):
        out += breakdown(rows, columns, key) + [""]
    out += ["## Leave-one-family-out (classifier alone, attacks of the family unseen in training)", "",
            "| family | blocked |", "|---|---:|"] + [f"| {f} | {r:.0%} |" for f, r in families.items()]
    return "\n".join(out)


def split_report(split: str) -> str:
    path = SPLITS[split]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    screen = learned_screen()
    rules = rule_blocks(rows)
    learned = np.array([screen.score(turn_texts(r["text"])) >= screen.threshold for r in rows])
    full = np.array([not screen_input(r["text"]).allowed for r in rows])
    columns = {"rules": rules, "learned": learned, "screen": full}
    out = [f"## {split} split ({path.relative_to(path.parents[2])})", "", *totals(rows, columns), ""]
    for key in ("family", "owasp"):
        out += breakdown(rows, columns, key) + [""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.guards.screen", description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=("corpus", *SPLITS))
    args = parser.parse_args(argv)
    print(corpus_report() if args.split == "corpus" else split_report(args.split))


if __name__ == "__main__":
    main()
