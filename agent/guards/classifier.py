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


def ngram_features(texts: list[str]):
    """[character 2-4-grams | word 1-2-grams], one sparse row per text."""
    from scipy.sparse import hstack

    chars, words = _vectorizers()
    return hstack([chars.transform(texts), words.transform(texts)]).tocsr()


def features(texts: list[str], embedded: np.ndarray):
    """[embedding | n-grams], one row per text (a sparse matrix): the layout of the weights."""
    from scipy.sparse import csr_matrix, hstack

    return hstack([csr_matrix(embedded), ngram_features(texts)]).tocsr()


def _fast_bf16() -> bool:
    """Whether the CPU multiplies bfloat16 natively; elsewhere bfloat16 is emulated and slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(?:amx_bf16|avx512_bf16)\b", flags))


@lru_cache(maxsize=1)
def default_embed() -> Embed:
    """The bundled MiniLM, mean-pooled and normalised, run directly rather than through `encode` (whose
    per-call bookkeeping was a quarter of the cost of a one-sentence turn) and in bfloat16 where the CPU has
    it: 8 instead of 13 ms a sentence on this 2-core Xeon, cosine to `encode`'s float32 >= 0.998. The guard
    stays free of llama_index."""
    import torch
    from sentence_transformers import SentenceTransformer

    from index.config import embedder_path

    model = SentenceTransformer(embedder_path(), device="cpu")
    stages = [type(stage).__name__ for stage in model]
    if stages != ["Transformer", "Pooling", "Normalize"] or model[1].get_config_dict().get("pooling_mode") != "mean":
        raise ValueError(f"{embedder_path()}: the learned screen needs a mean-pooled, normalised embedder")
    tokenizer, transformer = model.tokenizer, model[0].auto_model.eval()
    if _fast_bf16():
        transformer = transformer.to(torch.bfloat16)

    def embed(texts: list[str]) -> np.ndarray:
        batch = tokenizer([t[:MAX_EMBED_CHARS] for t in texts], padding=True, truncation=True,
                          max_length=model.max_seq_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = transformer(input_ids=batch["input_ids"],
                                 attention_mask=batch["attention_mask"]).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()

    return embed


@dataclass(frozen=True)
class LearnedScreen:
    coef: np.ndarray
    intercept: float
    threshold: float  # block at or above this probability
    unsure: tuple[float, float]  # between these, a second opinion may decide
    embed: Embed

    def score(self, texts: list[str]) -> float:
        """The probability that the turn is an attack: the highest over its readings."""
        logits = (self.embed(texts) @ self.coef[:EMBED_DIM] + ngram_features(texts) @ self.coef[EMBED_DIM:]
                  + self.intercept)
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
