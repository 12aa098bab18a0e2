"""Leakage groups: images that must land in the same split.

Three sources of "these belong together", each a key per image:

* the sha256 of the bytes (byte-identical copies under two names),
* a near-duplicate cluster id from the validation step (perceptual hash),
* a user key from ``--group-by REGEX`` on the file name (frames of one video,
  photos of one scene): :func:`groups_from_regex`.

:func:`merge_groups` joins them: two images sharing *any* key end in one group,
transitively (A~B by hash and B~C by regex put A, B and C together).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from dataprep.errors import UsageError


def groups_from_regex(files: Sequence[str], pattern: str) -> np.ndarray:
    """Group id (``int64``, ``0..G-1`` in order of first appearance) per file from ``--group-by``.

    The key is the first capture group of ``re.search(pattern, file)`` (the
    whole match when the pattern has no group, or its first group did not
    take part in the match). ``file`` is the path relative to the images root
    as written in the ``images`` table, so a pattern may use folder names:
    ``r"^([^/]+)/"`` groups by folder, ``r"(.+)_frame\\d+"`` by video name. Files
    the pattern does not match form a group of their own each. An invalid
    pattern raises :class:`~dataprep.errors.UsageError` naming it.

    >>> groups_from_regex(["v1_f1.jpg", "v2_f1.jpg", "v1_f2.jpg", "x.jpg"], r"(v\\d+)_").tolist()
    [0, 1, 0, 2]
    """
    try:
        rx = re.compile(pattern)
    except (re.error, TypeError) as err:
        raise UsageError(f"--group-by: {pattern!r} is not a valid regular expression: {err}") from None
    ids = np.empty(len(files), dtype=np.int64)
    known: dict[str, int] = {}
    next_id = 0
    for i, name in enumerate(files):
        m = rx.search(str(name))
        if m is None:  # a group of its own
            ids[i], next_id = next_id, next_id + 1
            continue
        key = m.group(1) if rx.groups and m.group(1) is not None else m.group(0)
        if key not in known:
            known[key], next_id = next_id, next_id + 1
        ids[i] = known[key]
    return ids


def merge_groups(*keys: np.ndarray) -> np.ndarray:
    """Union of equivalence relations: ``int64`` group ids ``0..G-1`` per image.

    Each argument holds one key per image (same length): sha256 strings,
    cluster ids, regex group ids... Images that share a value in *any* key are
    joined, transitively. A missing key links nothing: ``None``, ``NaN`` and
    ``""``, and negative numbers (``-1`` = "no cluster"). Ids are numbered in
    order of each group's first image, so the result depends only on the input.

    >>> merge_groups(np.array(["a", "b", "c", "d"]), np.array([0, 1, 1, -1])).tolist()
    [0, 1, 1, 2]
    """
    if not keys:
        raise ValueError("merge_groups needs at least one key array")
    arrays = [np.asarray(k) for k in keys]
    n = len(arrays[0])
    for j, a in enumerate(arrays):
        if a.ndim != 1 or len(a) != n:
            raise ValueError(f"every key must have one entry per image ({n}); key {j} has shape {a.shape}")
    # [1] Connected components of the bipartite graph image -- key value, by
    #     vectorised union-find (hooking and pointer jumping, Shiloach & Vishkin,
    #     "An O(log n) parallel connectivity algorithm", J. Algorithms 1982):
    #       hook:     parent[max(root(u), root(v))] = min(root(u), root(v)) per edge
    #       compress: parent = parent[parent] until it stops changing
    #     repeated until both ends of every edge share a root. Parents only ever
    #     point to smaller ids, so the forest has no cycles.
    src, dst, offset = [], [], n
    for a in arrays:
        codes = key_codes(a)
        ok = codes >= 0
        src.append(np.flatnonzero(ok))
        dst.append(codes[ok] + offset)
        offset += int(codes.max()) + 1 if ok.any() else 0
    u = np.concatenate(src).astype(np.int64)
    v = np.concatenate(dst).astype(np.int64)
    parent = np.arange(offset, dtype=np.int64)
    while True:
        ru, rv = parent[u], parent[v]
        differ = ru != rv
        if not differ.any():
            break
        lo = np.minimum(ru[differ], rv[differ])
        hi = np.maximum(ru[differ], rv[differ])
        np.minimum.at(parent, hi, lo)
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    codes, _ = pd.factorize(parent[:n])
    return codes.astype(np.int64)


def key_codes(key: np.ndarray) -> np.ndarray:
    """Factorise one key array: equal values share a code ``>= 0``; missing values get ``-1``."""
    a = np.asarray(key)
    if a.dtype.kind in "iu":
        missing = a < 0
    elif a.dtype.kind == "f":
        missing = np.isnan(a) | (a < 0)
    elif a.dtype.kind == "b":
        raise ValueError("a group key cannot be boolean")
    else:
        s = pd.Series(a, dtype=object)
        missing = (s.isna() | s.map(lambda x: isinstance(x, str) and x == "")).to_numpy(dtype=bool)
    codes, _ = pd.factorize(a if a.dtype.kind != "U" else a.astype(object))
    codes = codes.astype(np.int64)
    codes[missing] = -1
    return codes
