"""Duplicate images: byte-identical files under different names, and
near-duplicates by a perceptual hash. Both leak between train and validation
when they land on different sides of a split.

1. Byte-identical: equal sha256 of the file bytes.
2. Near-duplicate: the 64-bit perceptual hash (pHash, Zauner 2010) of the
   image: grey, resized to 32x32, 2-D DCT-II; the 8x8 lowest frequencies
   without the DC term (63 values) give bit k = coefficient k > their median
   (bit 64 is 0). Two images are near-duplicates when their hashes differ in at
   most ``max_distance`` bits (default 2 of 64; distances are even, as every
   hash has 31 ones). Measured: a resized and re-compressed copy is 0-2 bits
   away; among 2,000 synthetic shapes images two unrelated pairs were 4 bits
   apart, none closer. (A 9x8 difference hash gave false pairs at 4 bits on
   smooth backgrounds.)
   Candidate pairs come from banding (pigeonhole principle): split the 64 bits
   into 8 bands of 8; hashes within distance <= 7 agree exactly on at least one
   band, so only images sharing a band value are compared.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Hamming distance (of 64 bits) at or under which two images are near-duplicates.
NEAR_DUPLICATE_BITS = 2
#: Within one band value, compare each image with at most this many neighbours
#: (sorted by hash): bounds the work on degenerate data (e.g. blank images).
_MAX_RUN = 64


_N = 32
_K = np.arange(_N)
_DCT = np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / (2 * _N))  # DCT-II basis (unnormalised)
_DCT8 = np.ascontiguousarray(_DCT[:8])  # only the 8 lowest frequencies are used


def phash(im: Image.Image) -> int:
    """64-bit perceptual hash of an image (any mode, any size)."""
    grey = im if im.mode == "L" else im.convert("L")
    a = np.asarray(grey.resize((_N, _N), Image.Resampling.BILINEAR), dtype=np.float64)
    coeffs = (_DCT8 @ a @ _DCT8.T).ravel()[1:]  # 63 values: the DC term dropped
    bits = np.zeros(64, dtype=bool)
    bits[:63] = coeffs > np.partition(coeffs, 31)[31]  # above the median (the 32nd of 63)
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def popcount64(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.uint64)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def near_duplicate_pairs(hashes: np.ndarray, max_distance: int = NEAR_DUPLICATE_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of hashes within ``max_distance`` bits."""
    if not 0 <= max_distance <= 7:
        raise ValueError(f"max_distance must be in 0..7 for 8-band candidate search, got {max_distance}")
    h = np.asarray(hashes, dtype=np.uint64)
    n = len(h)
    pairs_i, pairs_j = [], []
    for band in range(8):
        key = (h >> np.uint64(8 * band)) & np.uint64(0xFF)
        order = np.lexsort((h, key))
        k_sorted = key[order]
        for d in range(1, min(_MAX_RUN, n)):
            same = k_sorted[d:] == k_sorted[:-d]
            if not same.any():
                break
            a, b = order[:-d][same], order[d:][same]
            close = popcount64(h[a] ^ h[b]) <= max_distance
            pairs_i.append(np.minimum(a, b)[close])
            pairs_j.append(np.maximum(a, b)[close])
    if not pairs_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(pairs_i), np.concatenate(pairs_j)], axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def pair_clusters(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected components of the graph with edges (i, j): the smallest
    member index of each node's component (label propagation)."""
    labels = np.arange(n, dtype=np.int64)
    if len(i) == 0:
        return labels
    while True:
        m = np.minimum(labels[i], labels[j])
        before = labels.copy()
        np.minimum.at(labels, i, m)
        np.minimum.at(labels, j, m)
        labels = labels[labels]
        if np.array_equal(labels, before):
            return labels


def near_duplicate_clusters(hashes: np.ndarray, valid: np.ndarray,
                            max_distance: int = NEAR_DUPLICATE_BITS) -> np.ndarray:
    """A group key per image: images joined by near-duplicate pairs share it;
    -1 for images without a hash (not decoded) or without a near-duplicate."""
    valid = np.asarray(valid, dtype=bool) & (np.asarray(hashes, dtype=np.uint64) != 0)
    idx = np.flatnonzero(valid)
    key = np.full(len(hashes), -1, dtype=np.int64)
    a, b = near_duplicate_pairs(np.asarray(hashes, dtype=np.uint64)[idx], max_distance)
    if len(a):
        comp = pair_clusters(len(idx), a, b)
        paired = np.zeros(len(idx), dtype=bool)
        paired[a] = paired[b] = True
        key[idx[paired]] = comp[paired]
    return key


def duplicate_findings(files, splits, ok, sha, hashes, labels, annotations=None) -> list:
    """Findings for byte-identical and near-duplicate images among those
    written (``ok``); a pair across two splits is reported as leakage. Each
    names the annotation that referenced the image (``annotations``, by position)."""
    from dataprep.findings import INFO, KEPT, WARNING, Finding

    annotations = files if annotations is None else annotations
    out = []
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return out
    first_of: dict[str, int] = {}
    identical = set()
    for p in idx:
        h = sha[p]
        if not h:
            continue
        if h in first_of:
            q = first_of[h]
            agree = sorted(np.asarray(labels[p]).tolist()) == sorted(np.asarray(labels[q]).tolist())
            cross = splits[p] != splits[q]
            out.append(Finding(
                WARNING, "image.byte_identical", files[p], files[p],
                f"byte-identical to {files[q]}; their annotations {'agree' if agree else 'differ'}"
                + (f"; they are in different splits ({splits[q]}, {splits[p]}): leakage" if cross else ""), KEPT,
                image=files[p], annotation=annotations[p], value=files[q]))
            identical.add((min(p, q), max(p, q)))
        else:
            first_of[h] = p
    h = np.asarray(hashes, dtype=np.uint64)
    valid = idx[h[idx] != 0]
    a, b = near_duplicate_pairs(h[valid])
    for p, q in zip(valid[a], valid[b]):
        if (min(p, q), max(p, q)) in identical or sha[p] == sha[q]:
            continue
        dist = int(popcount64(h[[p]] ^ h[[q]])[0])
        cross = splits[p] != splits[q]
        out.append(Finding(
            WARNING if cross else INFO, "image.near_duplicate", files[q], files[q],
            f"looks like {files[p]} (perceptual hash {dist} of 64 bits apart)"
            + (f"; they are in different splits ({splits[p]}, {splits[q]}): leakage" if cross else ""), KEPT,
            image=files[q], annotation=annotations[q], value=files[p]))
    return out
