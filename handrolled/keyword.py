"""Okapi BM25 over the collection's texts, written out: tokens, document frequencies, one scoring pass.

k1 = 1.5 and b = 0.75 with Lucene's idf, as bm25s (behind LlamaIndex's BM25Retriever) uses by default.
Unlike it there is no stemmer: "thrillers" does not match "thriller".
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import numpy as np

K1, B = 1.5, 0.75
TOKEN = re.compile(r"\b\w\w+\b")
STOPWORDS = frozenset("""a an and are as at be but by for from has have he her his i if in into is it its me my no
not of on or our she so such that the their them then there these they this to was we were what when which who
will with you your""".split())


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25:
    def __init__(self, docs: dict[int, str]):
        self.ids = np.array(list(docs), dtype=np.int64)
        self.lengths = np.zeros(len(self.ids))
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)  # term -> [(row, count)]
        for row, text in enumerate(docs.values()):
            counts = Counter(tokens(text))
            self.lengths[row] = sum(counts.values())
            for term, count in counts.items():
                self.postings[term].append((row, count))
        self.mean_length = float(self.lengths.mean()) if len(self.ids) else 0.0

    def scores(self, query: str) -> np.ndarray:
        """One score per document, in `self.ids` order (0 where no query term occurs)."""
        total = np.zeros(len(self.ids))
        n = len(self.ids)
        norm = K1 * (1 - B + B * self.lengths / (self.mean_length or 1.0))
        for term in set(tokens(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            rows, counts = map(np.array, zip(*posting))
            idf = math.log(1 + (n - len(rows) + 0.5) / (len(rows) + 0.5))
            total[rows] += idf * counts * (K1 + 1) / (counts + norm[rows])
        return total

    def top(self, query: str, k: int, allowed: set[int] | None = None) -> list[int]:
        """Ids of the k best-scoring documents with a positive score, among `allowed` when given."""
        scores = self.scores(query)
        if allowed is not None:
            scores[~np.isin(self.ids, list(allowed))] = 0.0
        order = np.argsort(-scores, kind="stable")[:k]
        return [int(self.ids[i]) for i in order if scores[i] > 0]
