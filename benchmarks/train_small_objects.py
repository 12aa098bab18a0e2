"""Small and rare classes: today's defaults against the anchor analysis' advice,
under the same CPU budget, on the synthetic "cells" set.

Steps (each printed as it runs)::

    1. dataprep.synth.generate_cells_voc  -> VOC folder (640x480; small rare, medium abundant, large rare)
    2. dataprep convert voc               -> records (train / val)
    3. dataprep stats --anchors           -> coverage at the defaults; which classes cannot be covered, and
                                             the --input-size that would cover them
    4. dataprep stats --anchors --suggest --input-size <advised> --anchors-out b.json
       dataprep stats --anchors --suggest --model ssd_mobilenet_v2_fpnlite --anchors-out c.json
    5. train arm (a): today's defaults (ssdlite_mobilenet_v2, 320, default anchors)
       train arm (b): dataprep train --anchors b.json (suggested anchors at the advised input)
       train arm (c): dataprep train --anchors c.json (FPNLite, its stride-8 level, suggested anchor_scale)
       with --arms (default abc): arm (d) the suggestion at today's input size (same model and cost as (a)), and
       arm (e) FPNLite with its default anchors (same cost as (c)): each isolates what the
       suggested anchors do from what the input size or the model does
    6. per-class anchor coverage and AP@0.5 of every arm, learning curves (PNG)

Each arm's epochs are scheduled from ``--cpu-seconds-per-image`` (measured at
320 for SSDLite alpha 0.35) times its input area and model cost
(:data:`MODEL_COST`), so that the cosine schedule ends near the budget.
``--reuse`` keeps finished arms (``WORK/run_X/bench_result.json``) and only
reports them.

The budget is CPU time of the training steps (``time.process_time`` of the
training process over each epoch's steps: every TensorFlow thread, the input
pipeline and the first epoch's tracing), not wall time, because the machine
is shared. The evaluations for the learning curves (and the batch-norm
statistics recomputed before each, see ``dataprep.train.precise_bn``) are not
counted, so that an arm evaluated more often does not train less; their CPU
time is reported as the difference to ``total_cpu_minutes``. Each arm stops
before an epoch that would overrun the budget, then evaluates once more.
Random initial weights (no download), so the figures are about what the
anchors and the input size allow in a short CPU budget, not about the best
reachable accuracy::

    python benchmarks/train_small_objects.py --work /tmp/cells-bench --cpu-minutes 20
    python benchmarks/train_small_objects.py --images 60 --cpu-minutes 1 --epochs 1   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def dataprep_cli(*args: str) -> str:
    """Run ``dataprep ARGS`` as a user would, echo and return its output."""
    cmd = [sys.executable, "-c", "from dataprep.cli import main; main()", *args]
    print("$ dataprep " + " ".join(args), flush=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    print(r.stdout + r.stderr, flush=True)
    if r.returncode != 0:
        raise SystemExit(f"dataprep {args[0]} failed with exit code {r.returncode}")
    return r.stdout


# ----------------------------------------------------------------- one arm
def train_arm(args: argparse.Namespace) -> None:
    """Child process: train one arm under a CPU budget, write ``result.json``."""
    import keras

    from dataprep.models.resolve import resolve_model
    from dataprep.train.config import TrainConfig
    from dataprep.train.trainer import train

    budget = args.cpu_minutes * 60.0
    wall_end = time.time() + args.wall_minutes * 60.0 if args.wall_minutes else None
    curve: list[dict] = []

    class CpuBudget(keras.callbacks.Callback):
        """Count the CPU time of the training steps (data pipeline and tracing included;
        evaluations, batch-norm recomputation and checkpoints not); stop before an epoch
        that would overrun the budget."""

        def __init__(self):
            super().__init__()
            self.train_cpu = 0.0
            self._begin = self._last_step = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._begin = self._last_step = time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            self._last_step = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            cost = self._last_step - self._begin
            self.train_cpu += cost
            used = self.train_cpu
            row = {"epoch": epoch + 1, "cpu_minutes": used / 60.0, "total_cpu_minutes": time.process_time() / 60.0,
                   "loss": float((logs or {}).get("loss", "nan"))}
            if logs and "mAP50" in logs:
                row["mAP50"] = float(logs["mAP50"])
            # The next epoch costs about what this one did (the first one also traced the model).
            per_epoch = cost if curve else 0.6 * cost
            curve.append(row)
            if used + per_epoch > budget:
                print(f"CPU budget: stopping after epoch {epoch + 1} ({used / 60:.1f} CPU-min of training, "
                      f"{time.process_time() / 60:.1f} in all)", flush=True)
                self.model.stop_training = True
            elif wall_end is not None and time.time() > wall_end:
                print(f"wall-clock safety limit: stopping after epoch {epoch + 1} ({used / 60:.1f} CPU-min)",
                      flush=True)
                row["stopped_by_wall_clock"] = True
                self.model.stop_training = True

    resolved = resolve_model(anchors=args.anchors)
    config_anchors, size, model = resolved.anchors, resolved.input_size, resolved.model
    config = TrainConfig(
        model=model, input_size=size[0], anchor_config=config_anchors.to_dict(), alpha=args.alpha,
        backbone_weights="none", epochs=args.epochs, batch_size=args.batch_size, optimizer="adam",
        learning_rate=args.learning_rate, eval_every=args.eval_every, seed=args.seed,
    )
    budget_cb = CpuBudget()
    result = train(config, args.records, args.out, progress=False, callbacks=[budget_cb])
    out = {"arm": args.arm, "anchors": str(args.anchors), "input_size": size[0], "model": model,
           "cpu_minutes": budget_cb.train_cpu / 60.0, "total_cpu_minutes": time.process_time() / 60.0,
           "budget_cpu_minutes": args.cpu_minutes,
           "curve": curve, **result.to_dict()}
    (Path(args.out) / "bench_result.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for line in result.summary_lines():
        print(line, flush=True)


# ------------------------------------------------------------------- driver
#: Training CPU per image relative to SSDLite at the same input size (alpha 0.35,
#: measured on 2 cores: FPNLite 0.375 vs 0.22 CPU-s per 320x320 image).
MODEL_COST = {"ssdlite_mobilenet_v2": 1.0, "ssd_mobilenet_v2": 1.0, "ssd_mobilenet_v2_fpnlite": 1.7}
FPN_MODEL = "ssd_mobilenet_v2_fpnlite"
#: Which anchors each arm trains with (for the plot's legend).
ARM_ANCHORS = {"a": "default", "b": "suggested", "c": "suggested", "d": "suggested", "e": "default"}

def advised_input(stats_doc: dict, current: int) -> int:
    """The first larger --input-size the analysis says reaches every uncoverable class."""
    from dataprep.stats.anchor_analysis import COVERABLE_FRACTION

    limits = stats_doc["anchors"].get("uncoverable_classes", [])
    if not limits:
        return current
    sizes: dict[int, list[float]] = {}
    for lim in limits:
        for r in lim["remedies"]:
            if r["change"].startswith("--input-size"):
                sizes.setdefault(r["input_size"][0], []).append(r["reachable"])
    good = [s for s, reach in sorted(sizes.items()) if min(reach) >= COVERABLE_FRACTION]
    return good[0] if good else max(sizes, default=current)


def plot_curves(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(10, 5))
    for res in results:
        label = f"({res['arm']}) {res['model']} {res['input_size']}, {ARM_ANCHORS.get(res['arm'], '')} anchors"
        xs = [r["cpu_minutes"] for r in res["curve"]]
        ax_loss.plot(xs, [r["loss"] for r in res["curve"]], marker=".", label=label)
        pts = [(r["cpu_minutes"], r["mAP50"]) for r in res["curve"] if r.get("mAP50") == r.get("mAP50")
               and "mAP50" in r]
        if pts:
            ax_map.plot(*zip(*pts), marker="o", label=label)
    ax_loss.set(xlabel="CPU minutes of training steps", ylabel="training loss", yscale="log",
                title="loss (box + class)")
    ax_map.set(xlabel="CPU minutes of training steps", ylabel="mAP@0.5 on val", ylim=(0, 1), title="mAP@0.5")
    for ax in (ax_loss, ax_map):
        ax.grid(alpha=0.3)
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize="small")
    fig.tight_layout(rect=(0, 0.035 * ((len(results) + 1) // 2) + 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("/tmp/dataprep-cells-bench"))
    p.add_argument("--images", type=int, default=500, help="cells images (85%% train, 15%% val)")
    p.add_argument("--cpu-minutes", type=float, default=20.0, help="CPU budget of each arm")
    p.add_argument("--alpha", type=float, default=0.35)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of the schedule of arm (a) (default: estimated from the budget); the other "
                        "arms get fewer in proportion to their cost per image")
    p.add_argument("--cpu-seconds-per-image", type=float, default=0.25,
                   help="estimated training CPU seconds per 320x320 image (SSDLite alpha 0.35), to size the "
                        "schedules")
    p.add_argument("--input-size-b", type=int, default=None,
                   help="input size of arm (b) (default: the first larger size the analysis says covers the "
                        "uncoverable classes)")
    p.add_argument("--wall-minutes", type=float, default=None,
                   help="safety limit on each arm's wall time on a busy machine (reported when it hits)")
    p.add_argument("--parallel", action="store_true", help="train the arms at once (each has its own budget)")
    p.add_argument("--no-fpnlite", action="store_true", help="skip arm (c), FPNLite with its suggested anchors")
    p.add_argument("--arms", default="abc",
                   help="arms to run, of a-e (default abc; (a), the baseline, always runs): (d) the suggestion "
                        "at today's input size, (e) FPNLite with its default anchors")
    p.add_argument("--reuse", action="store_true", help="keep arms that finished in WORK (report them again)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", type=Path, default=None, help="learning curves PNG (default: WORK/curves.png)")
    # child mode
    p.add_argument("--arm", default=None, help=argparse.SUPPRESS)
    p.add_argument("--anchors", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--records", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--eval-every", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.arm is not None:
        return train_arm(args)

    from dataprep.synth import generate_cells_voc

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    voc, records = work / "voc", work / "records"
    t0 = time.perf_counter()
    if not (voc / "ImageSets" / "Main" / "val.txt").exists():
        generate_cells_voc(voc, args.images, seed=args.seed, splits={"train": 0.85, "val": 0.15})
    print(f"1. {args.images} cells images in {voc} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if not (records / "manifest.json").exists():
        dataprep_cli("convert", "voc", str(voc), "--out", str(records), "-q")
    a_json, b_json = work / "anchors_a.json", work / "anchors_b.json"
    stats_a, stats_b = work / "stats_a.json", work / "stats_b.json"
    dataprep_cli("stats", str(records), "--split", "train", "--anchors", "--worst", "3", "--anchors-out", str(a_json),
                 "--json", str(stats_a), "-q")
    doc_a = json.loads(stats_a.read_text(encoding="utf-8"))
    size_a = doc_a["anchors"]["settings"]["input_size"][0]
    size_b = advised_input(doc_a, size_a)
    print(f"4. the analysis advises --input-size {size_b}" + (
        f"; arm (b) uses {args.input_size_b} (--input-size-b)" if args.input_size_b else ""), flush=True)
    size_b = args.input_size_b or size_b
    docs = {"a": doc_a["anchors"]["coverage"]["by_class"]}
    model_a = doc_a["anchors"]["settings"].get("model") or "ssdlite_mobilenet_v2"
    arms = set(args.arms) - ({"c"} if args.no_fpnlite else set())
    plan = [("a", a_json, size_a, model_a)]
    if "b" in arms:
        dataprep_cli("stats", str(records), "--split", "train", "--anchors", "--suggest", "--input-size", str(size_b),
                     "--worst", "0", "--anchors-out", str(b_json), "--json", str(stats_b), "-q")
        docs["b"] = json.loads(stats_b.read_text(encoding="utf-8"))["anchors"]["suggestion"]["after"]["by_class"]
        plan.append(("b", b_json, size_b, model_a))
    if "d" in arms:
        d_json, stats_d = work / "anchors_d.json", work / "stats_d.json"
        dataprep_cli("stats", str(records), "--split", "train", "--anchors", "--suggest", "--worst", "0",
                     "--anchors-out", str(d_json), "--json", str(stats_d), "-q")
        docs["d"] = json.loads(stats_d.read_text(encoding="utf-8"))["anchors"]["suggestion"]["after"]["by_class"]
        plan.append(("d", d_json, size_a, model_a))
    if "e" in arms:
        e_json, stats_e = work / "anchors_e.json", work / "stats_e.json"
        dataprep_cli("stats", str(records), "--split", "train", "--anchors", "--model", FPN_MODEL, "--worst", "0",
                     "--anchors-out", str(e_json), "--json", str(stats_e), "-q")
        doc_e = json.loads(stats_e.read_text(encoding="utf-8"))
        docs["e"] = doc_e["anchors"]["coverage"]["by_class"]
        plan.append(("e", e_json, doc_e["anchors"]["settings"]["input_size"][0], FPN_MODEL))
    if "c" in arms:
        c_json, stats_c = work / "anchors_c.json", work / "stats_c.json"
        dataprep_cli("stats", str(records), "--split", "train", "--anchors", "--suggest", "--model", FPN_MODEL,
                     "--worst", "0", "--anchors-out", str(c_json), "--json", str(stats_c), "-q")
        doc_c = json.loads(stats_c.read_text(encoding="utf-8"))
        docs["c"] = doc_c["anchors"]["suggestion"]["after"]["by_class"]
        plan.append(("c", c_json, doc_c["anchors"]["settings"]["input_size"][0], FPN_MODEL))

    plan.sort()
    manifest = json.loads((records / "manifest.json").read_text(encoding="utf-8"))
    n_train = manifest["splits"]["train"]["examples"]
    budget = args.cpu_minutes * 60.0
    procs = []
    for arm, anchors, size, model in plan:
        run = work / f"run_{arm}"
        if args.reuse and (run / "bench_result.json").exists():
            print(f"5. arm ({arm}): kept from an earlier run ({run})", flush=True)
            continue
        relative = (size / 320.0) ** 2 * MODEL_COST.get(model, 1.0)
        epochs = max(2, round(args.epochs / relative)) if args.epochs else \
            max(2, round(budget / (args.cpu_seconds_per_image * relative * n_train)))
        if run.exists():
            import shutil

            shutil.rmtree(run)
        cmd = [sys.executable, __file__, "--arm", arm, "--anchors", str(anchors), "--records", str(records),
               "--out", str(run), "--cpu-minutes", str(args.cpu_minutes), "--alpha", str(args.alpha),
               "--batch-size", str(args.batch_size), "--learning-rate", str(args.learning_rate),
               "--epochs", str(epochs), "--eval-every", str(max(1, epochs // 4)), "--seed", str(args.seed)]
        if args.wall_minutes:
            cmd += ["--wall-minutes", str(args.wall_minutes)]
        print(f"5. arm ({arm}): {model} {size}, {epochs} epochs scheduled, budget {args.cpu_minutes:g} CPU-min",
              flush=True)
        log = open(work / f"train_{arm}.log", "w", encoding="utf-8")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        procs.append((arm, proc, log))
        if not args.parallel:
            proc.wait()
            log.close()
    for arm, proc, log in procs:
        if proc.wait() != 0:
            raise SystemExit(f"arm ({arm}) failed: see {work / f'train_{arm}.log'}")
        log.close()

    results = [json.loads((work / f"run_{arm}" / "bench_result.json").read_text(encoding="utf-8"))
               for arm, *_ in plan]
    classes = sorted(docs["a"])
    print("\n6. results (val split; coverage at IoU 0.5 on the train boxes; CPU-min of training steps)")
    head = f"{'':44}" + "".join(f"{c:>16}" for c in classes) + f"{'mAP@0.5':>10}{'CPU-min':>9}{'epochs':>8}"
    print(head)
    for res in results:
        cov = docs[res["arm"]]
        ev = res.get("evaluation") or {}
        name = f"({res['arm']}) {res['model']} {res['input_size']}"
        print(f"{name + ' coverage':44}" + "".join(f"{100 * cov[c]['matched_fraction']:15.1f}%" for c in classes))
        ap = ev.get("per_class50", {})
        print(f"{name + ' AP@0.5':44}" + "".join(f"{ap.get(c, float('nan')):16.3f}" for c in classes)
              + f"{ev.get('mAP50', float('nan')):10.3f}{res['cpu_minutes']:9.1f}{res['epochs_run']:8d}")
    plot = args.plot or work / "curves.png"
    plot_curves(results, plot)
    print(f"learning curves: {plot}")
    (work / "results.json").write_text(json.dumps({"coverage_by_class": docs, "runs": results}, indent=2) + "\n",
                                       encoding="utf-8")
    print(f"figures: {work / 'results.json'}")


if __name__ == "__main__":
    main()
