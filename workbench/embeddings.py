"""Turning token features into sentence embeddings users can use directly.

>>> import numpy as np
>>> feats = np.array([[[1.0, 0.0], [0.0, 1.0]]])          # [1, tokens, hidden], as the pipeline gives
>>> pool(feats, pooling="mean", normalize=False).tolist()
[0.5, 0.5]
>>> [[round(float(x), 3) for x in row] for row in cosine_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))]
[[1.0, 0.707], [0.707, 1.0]]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

Pooling = Literal["mean", "cls", "none"]


def pool(features: Any, *, pooling: Pooling = "mean", normalize: bool = True) -> np.ndarray:
    """One input's token features (``[tokens, hidden]`` or ``[1, tokens, hidden]``, list or array)
    -> ``[hidden]`` by mean or first-token pooling, or ``[tokens, hidden]`` with ``pooling="none"``.
    ``normalize`` scales each vector to unit length (as sentence-transformers models expect)."""
    arr = np.asarray(features, dtype=np.float32)
    if arr.ndim == 3:
        if arr.shape[0] != 1:
            raise ValueError(f"pool takes one input's features; got a batch of {arr.shape[0]}")
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"expected [tokens, hidden] features, got shape {arr.shape}")
    if pooling == "mean":
        out = arr.mean(axis=0)
    elif pooling == "cls":
        out = arr[0]
    elif pooling == "none":
        out = arr
    else:
        raise ValueError(f"unknown pooling {pooling!r}; choose mean, cls or none")
    if normalize:
        out = out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)
    return out


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarities of ``[n, hidden]`` vectors -> ``[n, n]``."""
    v = np.asarray(vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    return v @ v.T
