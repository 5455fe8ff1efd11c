"""Benchmarks: what the SDK and ``restartctl`` cost and save, beside what users would do instead.

Run them all with ``nox -s bench`` (or ``python -m benchmarks``); one with
``python -m benchmarks overhead``; a short version with ``--quick``. Every figure
is a ratio or a comparison measured in the same run, so a noisy machine moves
both sides together. Results and how to read them: ``benchmarks/README.md``.
"""
