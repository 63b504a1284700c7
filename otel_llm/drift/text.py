"""Text features for drift: normalisation, hashed term vectors and MinHash sketches.

Everything here runs offline with NumPy and no model download. Hashes are
stable across processes, unlike ``hash()``: BLAKE2b for exact-repeat keys,
CRC-32 (fast, C) for the many short shingles and terms.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib

import numpy as np

__all__ = ["MinHasher", "hashed_features", "normalise", "shingles", "stable_hash", "tokens"]

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """Case-folded NFKC text with punctuation dropped and whitespace collapsed (the exact-repeat key)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def tokens(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


def stable_hash(text: str, bits: int = 64) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=bits // 8).digest(), "big")


def shingles(text: str, k: int = 4) -> set[str]:
    """Character k-grams of the normalised text (robust for short queries and small edits)."""
    norm = normalise(text)
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i:i + k] for i in range(len(norm) - k + 1)}


def hashed_features(text: str, dim: int = 1024) -> np.ndarray:
    """L2-normalised counts of hashed words and word pairs (the feature-hashing trick)."""
    vec = np.zeros(dim, dtype=np.float64)
    words = tokens(text)
    for term in words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]:
        h = zlib.crc32(term.encode("utf-8"))
        vec[h % dim] += 1.0
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


class MinHasher:
    """MinHash signatures over character shingles; equal slots estimate Jaccard similarity.

    Each slot hashes a shingle's 32-bit hash with multiply-shift hashing
    (``(a*x + b) mod 2**64 >> 32``, random odd ``a``), a universal family.
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, shingle_size: int = 4) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self._a = rng.integers(0, 2**63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)

    def signature(self, text: str) -> np.ndarray:
        grams = shingles(text, self.shingle_size)
        if not grams:
            return np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        x = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))
        with np.errstate(over="ignore"):
            h = (x[:, None] * self._a[None, :] + self._b[None, :]) >> np.uint64(32)
        return h.min(axis=0).astype(np.uint32)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        return np.count_nonzero(a == b) / a.shape[0]
