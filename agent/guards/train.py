"""Train the learned screen on the labelled corpus and write `screen_model.npz`: `python -m agent.guards.train`.

The corpus is `corpus/*.jsonl` (one file per writer) plus the tuning split of `guard_cases.json`. The
threshold comes from leave-one-writer-out scores, so it is set on phrasings the model did not see.
The six earlier held-out splits, reported, are corpus writers now (`heldout-a` to `heldout-f`); it never reads
the held-out split (eval/guards/heldout_g.jsonl).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.guards.classifier import MODEL_FILE, Embed, LearnedScreen, default_embed, features, scored_texts
from agent.guards.readings import clean, readings

CORPUS_DIR = Path(__file__).with_name("corpus")
CASES_FILE = Path(__file__).with_name("guard_cases.json")
C = 4.0
# Share of unseen-writer benign turns the classifier alone may block. 0.015 until stop 26; heldout-f then blocked
# 2.9% of its benign turns (96.7% of attacks), and on the six held-out writers' leave-one-writer-out rows 0.01
# keeps both goals (95.8% / 1.5%; 0.015: 96.3% / 2.1%).
BENIGN_BLOCK_TARGET = 0.01
UNSURE_BENIGN = (0.90, 0.995)  # the second opinion's band, as quantiles of unseen-writer benign scores
_CASE_FAMILY = {"fake_system": "fake_role", "role_play": "persona_jailbreak", "hidden": "indirect",
                "obfuscated": "encoded"}


def load_corpus(directory: Path = CORPUS_DIR, cases: Path = CASES_FILE) -> list[dict]:
    rows = [json.loads(line) for path in sorted(directory.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for case in json.loads(cases.read_text(encoding="utf-8")):
        if case["split"] == "tuning":
            family = case["category"] if case["label"] == "attack" else f"benign_{case['category']}"
            rows.append({"text": case["text"], "label": case["label"], "writer": "cases-tuning",
                         "family": _CASE_FAMILY.get(family, family), "owasp": "unknown"})
    return rows


def turn_texts(text: str) -> list[str]:
    """What the screen scores for one turn: its readings (see `classifier.scored_texts`)."""
    cleaned, tricks, smuggled = clean(text)
    return scored_texts(readings(cleaned, smuggled, tricks))


def training_texts(row: dict) -> list[str]:
    """An attack's readings are all labelled attack, except where the disguise leaves an innocent cover text
    (tag characters after "what should I watch?"): there the plaintext stands in."""
    texts = turn_texts(row["text"])
    if row.get("plain") and row["label"] == "attack":
        return list(dict.fromkeys([row["plain"], *(texts[1:] if row["encoding"] == "unicode_tags" else texts)]))
    return texts


class Embeddings:
    """Each distinct text embedded once per run."""

    def __init__(self, embed: Embed):
        self.embed, self.cache = embed, {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.embed(missing)))
        return np.array([self.cache[t] for t in texts])


def fit(rows: Sequence[dict], embeddings: Embeddings, c: float = C) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    texts, labels = [], []
    for row in rows:
        for text in training_texts(row):
            texts.append(text)
            labels.append(row["label"] == "attack")
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(features(texts, embeddings(texts)), np.array(labels))
    return model.coef_[0], float(model.intercept_[0])


def turn_scores(rows: Sequence[dict], coef: np.ndarray, intercept: float, embeddings: Embeddings) -> np.ndarray:
    screen = LearnedScreen(coef, intercept, 0.5, (0.5, 0.5), embeddings)
    return np.array([screen.score(turn_texts(row["text"])) for row in rows])


def out_of_writer_scores(rows: Sequence[dict], embeddings: Embeddings, c: float = C) -> np.ndarray:
    """Each turn scored by a model trained without its writer."""
    scores = np.zeros(len(rows))
    for writer in sorted({r["writer"] for r in rows}):
        inside = [i for i, r in enumerate(rows) if r["writer"] == writer]
        coef, intercept = fit([r for r in rows if r["writer"] != writer], embeddings, c)
        scores[inside] = turn_scores([rows[i] for i in inside], coef, intercept, embeddings)
    return scores


def threshold_from(rows: Sequence[dict], scores: np.ndarray) -> tuple[float, tuple[float, float]]:
    benign = np.array([s for r, s in zip(rows, scores) if r["label"] == "benign"])
    threshold = float(np.quantile(benign, 1 - BENIGN_BLOCK_TARGET))
    low, high = (float(np.quantile(benign, q)) for q in UNSURE_BENIGN)
    return threshold, (min(low, threshold), max(high, threshold))


def train(rows: Sequence[dict], embed: Embed, c: float = C) -> LearnedScreen:
    embeddings = Embeddings(embed)
    threshold, unsure = threshold_from(rows, out_of_writer_scores(rows, embeddings, c))
    coef, intercept = fit(rows, embeddings, c)
    return LearnedScreen(coef, intercept, threshold, unsure, embed)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agent.guards.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    rows = load_corpus()
    screen = train(rows, default_embed())
    screen.save(args.out)
    attacks = sum(r["label"] == "attack" for r in rows)
    print(f"trained on {attacks} attacks and {len(rows) - attacks} benign turns from "
          f"{len({r['writer'] for r in rows})} writers; threshold {screen.threshold:.3f}, second opinion "
          f"between {screen.unsure[0]:.3f} and {screen.unsure[1]:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
