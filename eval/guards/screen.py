"""How the input screen holds on phrasings it was not tuned on.

`python -m eval.guards.screen corpus [--llm BACKEND]`: leave-one-writer-out over the training corpus (each writer
scored by a model trained without it, against a threshold set on the other writers) and leave-one-family-out for
the attack families; block rates per family, writer and OWASP category for the rules, the classifier and both,
and with `--llm` also with that LLM's second opinion on the turns in the other writers' unsure band.
The six earlier held-out splits are corpus writers now (heldout-a to heldout-f), so their
leave-one-writer-out rows are the development numbers.
`python -m eval.guards.screen heldout [--llm local|openai|openai-like]`: the committed model and the rules on
eval/guards/heldout_g.jsonl, the frozen held-out split, and with `--llm` also the whole screen with that LLM's
second opinion on the turns the classifier is unsure about (as the chat runs it). Run it once, at the end;
nothing may be tuned on what it prints.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.guards import screen_input
from agent.guards.classifier import default_embed, learned_screen
from agent.guards.second_opinion import SecondOpinion
from agent.guards.train import (Embeddings, fit, load_corpus, out_of_writer_scores, threshold_from, turn_scores,
                                turn_texts)
from index.llm.backends import CHOICES, resolve_backend

SPLITS = {"heldout": Path(__file__).with_name("heldout_g.jsonl")}


def rule_blocks(rows: Sequence[dict]) -> np.ndarray:
    return np.array([not screen_input(r["text"], learned=False).allowed for r in rows])


def leave_one_writer_out(rows: list[dict], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(blocked, unsure) by the classifier: each writer's turns scored by a model that never saw that writer,
    against a threshold and a second-opinion band set on the other writers' (also out-of-writer) benign scores."""
    blocked, unsure = np.zeros(len(rows), bool), np.zeros(len(rows), bool)
    for writer in sorted({r["writer"] for r in rows}):
        inside = np.array([r["writer"] == writer for r in rows])
        others = [i for i, r in enumerate(rows) if r["writer"] != writer]
        threshold, (low, high) = threshold_from([rows[i] for i in others], scores[others])
        blocked[inside] = scores[inside] >= threshold
        unsure[inside] = (scores[inside] >= low) & (scores[inside] <= high)
    return blocked, unsure


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


class CountedOpinion:
    """A second opinion that counts the turns it was asked about and how many it could not answer."""

    def __init__(self, opinion):
        self.opinion, self.asked, self.unanswered = opinion, 0, 0

    def __call__(self, text: str) -> bool | None:
        self.asked += 1
        answer = self.opinion(text)
        self.unanswered += answer is None
        return answer

    def summary(self) -> str:
        return f"LLM second opinion asked on {self.asked} turns, no usable answer on {self.unanswered}"


def corpus_report(llm=None) -> str:
    rows = load_corpus()
    embeddings = Embeddings(default_embed())
    scores = out_of_writer_scores(rows, embeddings)
    learned, unsure = leave_one_writer_out(rows, scores)
    rules = rule_blocks(rows)
    columns = {"rules": rules, "learned": learned, "rules+learned": rules | learned}
    notes = []
    if llm is not None:  # what the chat does with an LLM: the unsure turns the rules let through are asked
        opinion, with_llm = CountedOpinion(SecondOpinion(llm)), rules | learned
        for i in tqdm(np.flatnonzero(unsure & ~rules), desc="second opinion", unit="turn"):
            answer = opinion("\n\n".join(turn_texts(rows[i]["text"])))
            with_llm[i] = learned[i] if answer is None else answer
        columns["rules+learned+LLM"] = with_llm
        notes = [opinion.summary(), ""]
    threshold, _ = threshold_from(rows, scores)
    families = leave_one_family_out(rows, embeddings, threshold)
    out = ["## Leave-one-writer-out (corpus)", "", *totals(rows, columns), "", *notes]
    for key in ("writer", "family", "owasp"):
        out += breakdown(rows, columns, key) + [""]
    out += ["## Leave-one-family-out (classifier alone, attacks of the family unseen in training)", "",
            "| family | blocked |", "|---|---:|"] + [f"| {f} | {r:.0%} |" for f, r in families.items()]
    return "\n".join(out)


def split_report(split: str, llm=None) -> str:
    path = SPLITS[split]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    screen = learned_screen()
    rules = rule_blocks(rows)
    learned = np.array([screen.score(turn_texts(r["text"])) >= screen.threshold for r in rows])
    full = np.array([not screen_input(r["text"]).allowed for r in rows])
    columns = {"rules": rules, "learned": learned, "screen": full}
    notes = []
    if llm is not None:
        opinion = CountedOpinion(SecondOpinion(llm))
        columns["screen+LLM"] = np.array([not screen_input(r["text"], second_opinion=opinion).allowed
                                          for r in tqdm(rows, desc="screen+LLM", unit="turn")])
        notes = [opinion.summary(), ""]
    out = [f"## {split} split ({path.relative_to(path.parents[2])})", "", *totals(rows, columns), "", *notes]
    for key in ("family", "owasp"):
        out += breakdown(rows, columns, key) + [""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.guards.screen", description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=("corpus", *SPLITS))
    parser.add_argument("--llm", choices=[c for c in CHOICES if c != "auto"], default="none",
                        help="a backend for the second opinion on unsure turns (default none)")
    parser.add_argument("--data-dir", help="where the local model lives (default $MOVIEREC_DATA_DIR or .movierec)")
    args = parser.parse_args(argv)
    llm = None
    if args.llm != "none":
        from index.config import data_dir

        llm = resolve_backend(args.llm, data_dir(args.data_dir)).llm
    print(corpus_report(llm) if args.split == "corpus" else split_report(args.split, llm))


if __name__ == "__main__":
    main()
