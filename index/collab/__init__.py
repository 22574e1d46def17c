"""Collaborative models fitted on the training population (`Catalog.ratings`, never an evaluation user).

    itemknn   popularity, shrunk-cosine item-kNN and co-liked lists (`Collaborative`, the like matrix)
    ease      EASE (Steck 2019): closed-form item-item weights on the like matrix
    als       implicit-feedback ALS (the `implicit` package)
    cache     fitted models stored under the data dir, keyed by a fingerprint of the like matrix

EASE and ALS score every catalog film for one conversation's films (loved +1, disliked -1); they are fitted
once (`cache.fitted`) and only read at request time.
"""

from index.collab.itemknn import LIKE_THRESHOLD, SHRINKAGE, Collaborative

__all__ = ["LIKE_THRESHOLD", "SHRINKAGE", "Collaborative"]
