"""Choosing the fusion on training users only: fixed weights by cross-validation (`python -m
eval.tuning.weights`), and whether a learned ranker beats them (`python -m eval.tuning.ranker`)."""
