"""The learned screen: a logistic regression over the MiniLM embedding and hashed n-grams of each reading.

It scores the readings the rules already produce (`scored_texts`) and keeps the highest score, so an attack
that is only visible after decoding is scored on its decoded text. The weights live in `screen_model.npz`
(written by `python -m agent.guards.train`, loaded once, never trained at start).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from agent.guards.readings import Reading

MODEL_FILE = Path(__file__).with_name("screen_model.npz")
CHAR_FEATURES = 2 ** 14
WORD_FEATURES = 2 ** 13
EMBED_DIM = 384
MAX_EMBED_CHARS = 1000  # MiniLM reads 256 word pieces; the n-grams still see the whole turn
# Decodings every turn gets whether or not it was encoded: kept only when they read more like language.
_SPECULATIVE = {"rot13", "reversed"}
_COMMON = set("""the a an and or to of in on for with is are was be it this that you your i me my we our what
how not no do don't from at as by all any now please just so if then can will would should tell show give
de la le les et est un une el los las y en que es no por para der die das und ist nicht ein eine zu mit
il di che per non sono""".split())

Embed = Callable[[list[str]], np.ndarray]


def language_share(text: str) -> float:
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    return sum(w in _COMMON for w in words) / len(words) if words else 0.0


def scored_texts(seen: Sequence[Reading]) -> list[str]:
    """The readings worth scoring: the turn, what was decoded or hidden in it, and rot13/reversal only when
    they turn gibberish into language (otherwise every turn would be scored three times on noise)."""
    base = language_share(seen[0].text)
    kept = []
    for reading in seen:
        if _SPECULATIVE & set(reading.tricks) and language_share(reading.text) < base + 0.2:
            continue
        kept.append(reading.text)
    return list(dict.fromkeys(kept))


@lru_cache(maxsize=1)
def _vectorizers():
    from sklearn.feature_extraction.text import HashingVectorizer

    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), n_features=CHAR_FEATURES,
                              alternate_sign=False, norm="l2")
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=WORD_FEATURES,
                              alternate_sign=False, norm="l2", token_pattern=r"(?u)\b\w+\b")
    return chars, words


def features(texts: list[str], embedded: np.ndarray):
    """[embedding | character 2-4-grams | word 1-2-grams], one row per text (a sparse matrix)."""
    from scipy.sparse import csr_matrix, hstack

    chars, words = _vectorizers()
    return hstack([csr_matrix(embedded), chars.transform(texts), words.transform(texts)]).tocsr()


@lru_cache(maxsize=1)
def default_embed() -> Embed:
    """The bundled MiniLM through sentence-transformers (the guard stays free of llama_index)."""
    from sentence_transformers import SentenceTransformer

    from index.config import embedder_path

    model = SentenceTransformer(embedder_path(), device="cpu")
    return lambda texts: model.encode([t[:MAX_EMBED_CHARS] for t in texts], normalize_embeddings=True,
                                      batch_size=32, show_progress_bar=False)


@dataclass(frozen=True)
class LearnedScreen:
    coef: np.ndarray
    intercept: float
    threshold: float  # block at or above this probability
    unsure: tuple[float, float]  # between these, a second opinion may decide
    embed: Embed

    def score(self, texts: list[str]) -> float:
        """The probability that the turn is an attack: the highest over its readings."""
        rows = features(texts, self.embed(texts))
        logits = rows @ self.coef + self.intercept
        return float(1 / (1 + np.exp(-np.max(logits))))

    def save(self, path: Path = MODEL_FILE) -> None:
        np.savez_compressed(path, coef=self.coef.astype(np.float32), intercept=np.float32(self.intercept),
                            threshold=np.float32(self.threshold), unsure=np.array(self.unsure, np.float32))


def load(path: Path = MODEL_FILE, embed: Embed | None = None) -> LearnedScreen:
    with np.load(path, allow_pickle=False) as saved:
        coef = saved["coef"].astype(np.float64)
        if coef.shape != (EMBED_DIM + CHAR_FEATURES + WORD_FEATURES,):
            raise ValueError(f"{path}: {coef.shape[0]} weights, expected the layout of this version; "
                             "run `python -m agent.guards.train`")
        return LearnedScreen(coef, float(saved["intercept"]), float(saved["threshold"]),
                             tuple(float(x) for x in saved["unsure"]), embed or default_embed())


@lru_cache(maxsize=1)
def learned_screen() -> LearnedScreen:
    return load()
