"""``safe_join`` (the images-root guard every converted image passes): its
one-``lstat``-per-component fast path refuses exactly what the full
``realpath`` comparison refuses."""

from __future__ import annotations

import os
from pathlib import Path

from dataprep.validate.images import safe_join


def full_check(root: Path, rel: str) -> bool:
    """The reference: both paths resolved in full, the file inside the root."""
    real, base = os.path.realpath(os.path.join(root, rel)), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def test_links_below_the_root_are_resolved_and_links_above_it_are_not_a_reason_to_refuse(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"x")
    real_root = tmp_path / "real_root"
    (real_root / "sub").mkdir(parents=True)
    (real_root / "sub" / "a.jpg").write_bytes(b"a")
    (real_root / "sub" / "inner.jpg").symlink_to(real_root / "sub" / "a.jpg")  # a file link inside: fine
    (real_root / "out_dir").symlink_to(outside)  # a folder link leading out
    (real_root / "sub" / "out.jpg").symlink_to(outside / "x.jpg")  # a file link leading out
    (real_root / "loop.jpg").symlink_to(real_root / "loop.jpg")
    linked_root = tmp_path / "linked_root"
    linked_root.symlink_to(real_root)  # the root itself reached through a link: fine
    cases = ["sub/a.jpg", "sub/inner.jpg", "out_dir/x.jpg", "sub/out.jpg", "missing/none.jpg", "loop.jpg"]
    for root in (real_root, linked_root):
        for rel in cases:
            got = safe_join(root, rel)
            assert (got is not None) == full_check(root, rel), (root, rel)
            if got is not None:
                assert got == Path(os.path.normpath(os.path.join(root, rel)))
        assert safe_join(root, "out_dir/x.jpg") is None and safe_join(root, "sub/out.jpg") is None
        assert safe_join(root, "sub/a.jpg") is not None and safe_join(root, "sub/inner.jpg") is not None
        # --follow-symlinks reads them all
        assert all(safe_join(root, rel, follow_symlinks=True) is not None for rel in cases)
    assert safe_join(real_root, "../outside/x.jpg") is None and safe_join(real_root, "/etc/passwd") is None
