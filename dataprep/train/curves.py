"""``RUN_DIR/curves.png``: the learning curves of a run, redrawn after every
evaluation and at the end (matplotlib, Agg backend).

Left: training loss per epoch (box, class and their sum, log scale) — it
should fall steadily; a rise or NaN means the learning rate is too high.
Right: val mAP@0.5 and each class's AP@0.5 at every evaluation, with the best
evaluation (the one kept in ``best/``) marked — when they flatten or fall
while the loss still falls, the model has started to memorise the train
split (``--early-stop`` ends the run there).
"""

from __future__ import annotations

import math
from pathlib import Path


def draw_curves(rows: list[dict], evaluations: list[dict], path: str | Path, title: str = "") -> None:
    """``rows``: history rows (epoch, loss, box_loss, class_loss); ``evaluations``: dicts with
    epoch, mAP50 and per_class50 (class -> AP@0.5)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(10, 4.2))
    epochs = [r["epoch"] for r in rows]
    for key, label, style in (("loss", "loss", "-"), ("box_loss", "box", ":"), ("class_loss", "class", "--")):
        values = [r.get(key, math.nan) for r in rows]
        if any(v == v and v > 0 for v in values):
            ax_loss.plot(epochs, values, style, marker="." if len(rows) < 40 else None, label=label)
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="loss")
    if any(r.get("loss", 0) > 0 for r in rows):
        ax_loss.set_yscale("log")
    ax_loss.legend(fontsize="small")
    if evaluations:
        xs = [e["epoch"] for e in evaluations]
        ax_ap.plot(xs, [e["mAP50"] for e in evaluations], "k-", marker="o", lw=2, label="mAP@0.5")
        for name in evaluations[-1].get("per_class50", {}):
            ax_ap.plot(xs, [e.get("per_class50", {}).get(name, math.nan) for e in evaluations], marker=".",
                       lw=1, label=name)
        best = max(evaluations, key=lambda e: -1.0 if e["mAP50"] != e["mAP50"] else e["mAP50"])
        ax_ap.axvline(best["epoch"], color="grey", ls=":", lw=1)
        ax_ap.annotate(f"best {best['mAP50']:.3f}", (best["epoch"], best["mAP50"]), textcoords="offset points",
                       xytext=(4, 6), fontsize="small")
        ax_ap.legend(fontsize="small", ncol=2)
    else:
        ax_ap.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=ax_ap.transAxes)
    ax_ap.set(xlabel="epoch", ylabel="AP@0.5 on val", ylim=(0, 1), title="val AP@0.5 (mAP and per class)")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_ap):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)
