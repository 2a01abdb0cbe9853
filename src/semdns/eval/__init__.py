"""Evaluation: labelled query sets and the metrics that score a resolver against them."""
