"""Evaluation: labelled query sets and the metrics that score a router against them.

``routing`` (YAML sets, the scoring bench/ and the accuracy tests use); ``dataset`` (JSONL sets,
validated against the namespace); ``routers`` (the resolver and the baselines behind one ``route``
method); ``metrics``, ``calibration`` and ``bootstrap`` (rates, ECE and their intervals); ``runner``;
``ablate`` (variants and paired differences); ``report`` and ``tables`` (HTML and terminal output).
``semdns eval`` (:mod:`semdns.cli_eval`) puts them together.
"""
