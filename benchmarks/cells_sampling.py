"""Would class-balanced sampling help on the cells set? Measure before changing a default.

Generates the synthetic cells set (dataprep.synth.generate_cells_voc: small rare,
medium abundant, large rare), takes its train split and prints, for both
repeat-factor methods of :mod:`dataprep.balance.repeat` (LVIS ``images`` and
``instances``), the per-class instance shares before and after repetition and
how many extra images an epoch would cost. It also prints the positives per
image the trainer's matcher sees per class, the quantity the loss is
normalised by (TF OD API ``normalize_loss_by_num_matches``)::

    python benchmarks/cells_sampling.py --images 400
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataprep.anchors import AnchorConfig, anchor_coverage  # noqa: E402
from dataprep.balance.repeat import repeat_factors  # noqa: E402
from dataprep.formats.voc import read_voc  # noqa: E402
from dataprep.synth import generate_cells_voc  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--voc", type=Path, default=None, help="an existing cells VOC folder (default: generate one)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    voc = args.voc or generate_cells_voc(Path(tempfile.mkdtemp(prefix="cells-")) / "voc", args.images,
                                         seed=args.seed, splits={"train": 0.85, "val": 0.15})
    ds = read_voc(voc)
    images, objects = ds.images, ds.objects
    train = images[images["split"] == "train"]
    objs = objects[objects["image_id"].isin(train["image_id"])]
    print(f"{len(train)} train images, {len(objs)} boxes")
    for method in ("images", "instances"):
        r = repeat_factors(train["image_id"].to_numpy(), objs["image_id"].to_numpy(), objs["text"].to_numpy(),
                           method=method, seed=args.seed)
        pc = r.per_class
        share_b = pc["instances_before"] / pc["instances_before"].sum()
        share_a = pc["instances_after"] / pc["instances_after"].sum()
        print(f"\nrepeat factors, method={method} (t = {r.threshold:.3g}, {r.threshold_source}): "
              f"{r.num_examples} examples per epoch instead of {len(train)} (+{r.num_examples / len(train) - 1:.0%})")
        print(f"  {'class':8} {'images':>7} {'factor':>7} {'share before':>13} {'after':>7}")
        for name in pc.index:
            print(f"  {name:8} {int(pc.loc[name, 'images_before']):7d} {pc.loc[name, 'factor']:7.2f} "
                  f"{share_b[name]:13.1%} {share_a[name]:7.1%}")

    # Positives per box and per image at the default input: what the loss is normalised by.
    w = train.set_index("image_id").loc[objs["image_id"], ["width", "height"]].to_numpy(np.float64)
    boxes = np.stack([objs["ymin"] / w[:, 1], objs["xmin"] / w[:, 0], objs["ymax"] / w[:, 1],
                      objs["xmax"] / w[:, 0]], axis=1).astype(np.float32)
    names = objs["text"].astype(str).to_numpy()
    for size in (320, 480):
        cov = anchor_coverage(boxes, size, AnchorConfig(), labels=names)
        per_image = cov.num_positives.sum() / len(train)
        print(f"\nmatcher at {size}x{size}, default anchors: {per_image:.1f} positive anchors per image "
              f"(IoU >= 0.5; boxes below it are force-matched to their best anchor)")
        for name, g in cov.by_class().items():
            print(f"  {name:8} {g.count:5d} boxes, {g.mean_positives:.2f} positives per box, "
                  f"{g.force_matched} force-matched only")


if __name__ == "__main__":
    main()
