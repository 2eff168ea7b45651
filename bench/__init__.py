"""Benchmarks for s3-fanout: ``python -m bench`` (``make bench``). See bench/RESULTS.md."""
