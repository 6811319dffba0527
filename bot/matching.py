"""Typo-tolerant similarity for the engine's routers, backed by rapidfuzz."""

from __future__ import annotations

from rapidfuzz import fuzz


def similarity(a: str, b: str) -> float:
    """Similarity of two normalised strings, 0..100 (Indel ratio: forgiving of one-letter typos)."""
    return fuzz.ratio(a, b)
