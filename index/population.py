"""Who the system may learn from.

Users with `user_id % 5 == 0` are reserved for evaluation. `load_catalog` splits the ratings here, once:
`Catalog.ratings` holds the training population only, and every statistic the system computes (rating
counts, means, popularity, co-liked lists, item-kNN, tuning) is built from it. The evaluation population's
ratings live apart in `Catalog.eval_ratings`, which only `eval/` reads, to build transcripts and held-out sets.
"""

from __future__ import annotations

import pandas as pd

EVAL_MODULUS = 5


def is_eval_user(user_id: int) -> bool:
    return int(user_id) % EVAL_MODULUS == 0


def split_population(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training ratings, evaluation ratings) from a table with a `user_id` column."""
    held = ratings["user_id"] % EVAL_MODULUS == 0
    return ratings[~held].reset_index(drop=True), ratings[held].reset_index(drop=True)
