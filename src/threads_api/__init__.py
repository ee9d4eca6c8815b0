"""Threads API: spaces hold threads, threads hold messages."""

__version__ = "0.1.0"
