"""Benchmarks: `python -m bench` prints our figures next to reference tools run on the same files.

Every reference figure is measured in the same run, on the same generated library, so a
ratio stays meaningful on any machine; absolute numbers are printed for context only.
"""
