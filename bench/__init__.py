"""Benchmarks (`make bench`): the REST API against a raw-SQL floor on a large synthetic data set."""
