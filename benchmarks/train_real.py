"""Training recipes on real, public, small detection sets, under the same CPU
budget, from random weights (issue 23).

Each set is a ``dataprep convert`` output given on the command line (this
script fetches nothing). The sets measured in ``benchmarks/RESULTS.md``:

=========  ==========================================================  ========  =====================================
set        source (GitHub repository)                                  licence   records (dataprep convert)
=========  ==========================================================  ========  =====================================
bccd       Shenggan/BCCD_Dataset: blood-cell microscopy, 640x480,      MIT       the repository's ImageSets/Main
           RBC / WBC / Platelets (the small class)                               splits: train 205, val 87, test 72
raccoon    datitran/raccoon_dataset: photos of raccoons, one class     MIT       --split train=0.8,val=0.2: 160 / 40
kangaroo   experiencor/kangaroo: photos of kangaroos, one class        none      --split train=0.8,val=0.2: 130 / 33
                                                                       stated    (1 of 164 images refused: report.json)
cars       jekhor/aerial-cars-dataset: drone and aerial photos, car /  mixed:    ``dataprep convert yolo`` (a darknet
           truck / bus / minibus / cyclist (darknet YOLO, a plain      CC-BY     plain folder), --split train=0.8,val=0.2:
           folder), 684x547 to 3168x1782; cars ~35x20 px in 1920x1080  (KIT AIS) 109 / 32 (13 label files whose image
                                                                       CC-BY-SA, is not in the repository: reported)
                                                                       YouTube
                                                                       frames
=========  ==========================================================  ========  =====================================

For example::

    dataprep convert voc BCCD_Dataset/BCCD --out real/bccd
    dataprep convert voc --annotations raccoon_dataset/annotations --images raccoon_dataset/images \\
        --out real/raccoon --split train=0.8,val=0.2
    dataprep convert yolo aerial-cars-dataset --out real/cars --split train=0.8,val=0.2
    python benchmarks/train_real.py --set bccd=real/bccd --set raccoon=real/raccoon --set kangaroo=real/kangaroo \\
        --arms today,new --cpu-minutes 30

Every arm is ``dataprep.train.train`` with ``time_budget`` = the budget and
``budget_clock="cpu-steps"``: the trainer's own ``--time-budget`` planner
sizes the epochs and the cosine from the measured speed of the first steps,
on the CPU time (``time.process_time``) of the training steps — input
pipeline and tracing included, evaluations (and their precise-BN passes) not,
so an arm that evaluates more often does not train less; the machine is
shared, so wall time would measure the neighbours. Random initial weights
(no download). Reported: mAP@0.5 and AP@[.5:.95] per class on each set's val
split after the last epoch (not the best evaluation: val chose it), the
epochs done, and learning curves (loss, val mAP@0.5 over CPU minutes) per set
in ``WORK/curves_<set>.png``.

Arms (``--arms``, comma separated; see :data:`ARMS`): ``today`` is
``TrainConfig``'s defaults before issue 23 (SGD 0.02, alpha 1.0, batch 16,
crop + flip + colour jitter); ``new`` is what ``dataprep train`` now chooses
(:func:`dataprep.train.recipe.choose_recipe`) for random weights and the
set's size; ``auto`` is ``new`` with ``--model auto`` (the model, input size and anchors ``stats --anchors
--suggest`` advises); the others change one thing at a time.
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

#: The settings before issue 23 (TrainConfig's defaults then), from random weights.
TODAY = {"optimizer": "sgd", "learning_rate": 0.02, "alpha": 1.0, "batch_size": 16, "weight_decay": 0.0,
         "random_rotate": False}
#: Arm -> changes to TODAY ("new": the recipe dataprep train chooses, see recipe_settings).
ARMS = {
    "today": {},
    "adam": {"optimizer": "adam", "learning_rate": 1e-3},
    "adam2": {"optimizer": "adam", "learning_rate": 2e-3},
    "adam-a50": {"optimizer": "adam", "learning_rate": 1e-3, "alpha": 0.5},
    "today-a35": {"alpha": 0.35},
    "adam-a35": {"optimizer": "adam", "learning_rate": 1e-3, "alpha": 0.35},
    "adam-rot": {"optimizer": "adam", "learning_rate": 1e-3, "random_rotate": True},
    "adam-wd": {"optimizer": "adam", "learning_rate": 1e-3, "weight_decay": 1e-4},
    "adam-b8": {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 8},
    "new": None,
    "auto": None,
}


def auto_settings(records: Path, rotate: bool) -> dict:
    """``new``'s settings with ``--model auto``: the model, input size and anchors ``stats --anchors --suggest``
    advises for the train split (:func:`dataprep.stats.advice.advise_records`)."""
    from dataprep.stats.advice import advise_records

    advice = advise_records(str(records), "train")
    print(f"auto: {advice.pick.model} at {advice.pick.size_text()}: {advice.reason()}", flush=True)
    return dict(recipe_settings(records, rotate), model=advice.pick.model, input_size=int(advice.pick.input_size[0]),
                anchor_config=advice.pick_anchors().to_dict())


def recipe_settings(records: Path, rotate: bool) -> dict:
    """The settings ``dataprep train --backbone-weights none`` chooses for these records."""
    from dataprep.train.recipe import choose_recipe
    from dataprep.train.trainer import records_info

    recipe = choose_recipe("random", records_info(records, "train").examples("train"), rotate=rotate)
    return dict(recipe.settings)


# ----------------------------------------------------------------- one arm
def train_arm(args: argparse.Namespace) -> None:
    """Child process: train one arm, write ``bench_result.json``."""
    import keras

    from dataprep.train.config import TrainConfig
    from dataprep.train.trainer import train

    curve: list[dict] = []

    class CpuCurve(keras.callbacks.Callback):
        """CPU time of each epoch's steps (as the budget counts it), loss and val mAP@0.5."""

        def __init__(self):
            super().__init__()
            self.cpu = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._begin = self._last = time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            self._last = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.cpu += self._last - self._begin
            row = {"epoch": epoch + 1, "cpu_minutes": self.cpu / 60.0, "loss": float((logs or {}).get("loss"))}
            if logs and "mAP50" in logs:
                row["mAP50"] = float(logs["mAP50"])
            curve.append(row)

    from dataprep.train import config as config_module

    config_module.EVALUATIONS_PER_RUN = args.evaluations  # fewer at small budgets: they cost CPU too
    settings = json.loads(args.settings)
    config = TrainConfig(backbone_weights="none", time_budget=args.cpu_minutes * 60.0, budget_clock="cpu-steps",
                         seed=args.seed, **settings)
    result = train(config, args.records, args.out, progress=False, callbacks=[CpuCurve()])
    out = {"arm": args.arm, "set": args.set_name, "settings": settings, "budget_cpu_minutes": args.cpu_minutes,
           "cpu_minutes": curve[-1]["cpu_minutes"] if curve else 0.0,
           "total_cpu_minutes": time.process_time() / 60.0, "curve": curve, **result.to_dict()}
    (Path(args.out) / "bench_result.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for line in result.summary_lines():
        print(line, flush=True)


# ------------------------------------------------------------------- driver
def plot_curves(results: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(10, 4.5))
    for res in results:
        xs = [r["cpu_minutes"] for r in res["curve"]]
        line, = ax_loss.plot(xs, [r["loss"] for r in res["curve"]], marker=".", label=res["arm"])
        pts = [(r["cpu_minutes"], r["mAP50"]) for r in res["curve"] if r.get("mAP50") is not None
               and r["mAP50"] == r["mAP50"]]
        if pts:
            ax_map.plot(*zip(*pts), marker="o", color=line.get_color(), label=res["arm"])
    ax_loss.set(xlabel="CPU minutes of training steps", ylabel="training loss", yscale="log", title="loss")
    ax_map.set(xlabel="CPU minutes of training steps", ylabel="val mAP@0.5", ylim=(0, 1), title="val mAP@0.5")
    for ax in (ax_loss, ax_map):
        ax.grid(alpha=0.3)
    ax_map.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_jobs(jobs: list[tuple[str, list[str], Path]], parallel: int) -> None:
    """Run the arm processes, at most ``parallel`` at once, at low priority."""
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < parallel:
            name, cmd, log_path = pending.pop(0)
            print(f"start {name} (log {log_path})", flush=True)
            log = open(log_path, "w", encoding="utf-8")
            proc = subprocess.Popen(["nice", "-n", "10", *cmd], stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, PYTHONPATH=str(ROOT)))
            running.append((name, proc, log))
        time.sleep(5)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                print(f"{'done' if proc.returncode == 0 else f'FAILED ({proc.returncode})'} {name}", flush=True)


def _ap(value) -> str:
    """An AP, or '-' for a class with no val boxes (COCO evaluation gives it none)."""
    return "-" if value is None else f"{value:.3f}"


def report(work: Path, sets: dict[str, Path], arms: list[str]) -> None:
    """Per set and arm: mAP@0.5, AP@[.5:.95] and AP@0.5 per class, epochs, CPU minutes; the curves."""
    summary = {}
    for name in sets:
        results = []
        for arm in arms:
            path = work / name / f"run_{arm}" / "bench_result.json"
            if path.exists():
                results.append(json.loads(path.read_text(encoding="utf-8")))
        if not results:
            continue
        print(f"\n{name}: val split after the last epoch (AP@0.5 / AP@[.5:.95] per class)")
        for res in results:
            ev = res.get("evaluation") or {}
            per = "  ".join(f"{c} {_ap(ev['per_class50'][c])}/{_ap(ev['per_class'][c])}"
                            for c in ev.get("per_class", {}))
            print(f"  {res['arm']:10} mAP@0.5 {ev.get('mAP50', float('nan')):.3f}  AP@[.5:.95] "
                  f"{ev.get('mAP', float('nan')):.3f}  epochs {res['epochs_run']:3d}  "
                  f"{res['cpu_minutes']:5.1f} CPU-min  {per}")
        plot_curves(results, work / f"curves_{name}.png", f"{name}: {results[0]['budget_cpu_minutes']:g} CPU-min "
                    "of training steps, random weights")
        summary[name] = results
    (work / "results.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\nfigures: {work / 'results.json'}, curves: {work}/curves_*.png")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", action="append", default=[], metavar="NAME=RECORDS",
                   help="a set to train on: a name and a `dataprep convert` output (repeatable)")
    p.add_argument("--arms", default="today,new", help=f"comma-separated, of {', '.join(ARMS)}")
    p.add_argument("--cpu-minutes", type=float, default=30.0, help="CPU budget of each arm's training steps")
    p.add_argument("--work", type=Path, default=Path("/tmp/dataprep-train-real"))
    p.add_argument("--parallel", type=int, default=1, help="arms trained at once")
    p.add_argument("--rotate", default="bccd",
                   help="comma-separated sets without a canonical 'up' (microscopy, aerial): the 'new' arm "
                        "trains them with --rotate (vertical flips and quarter turns)")
    p.add_argument("--reuse", action="store_true", help="keep arms that finished in WORK (report them again)")
    p.add_argument("--evaluations", type=int, default=8,
                   help="val evaluations per arm (for the curves; their CPU time is not in the budget)")
    p.add_argument("--seed", type=int, default=0)
    # child mode
    p.add_argument("--arm", default=None, help=argparse.SUPPRESS)
    p.add_argument("--set-name", default=None, help=argparse.SUPPRESS)
    p.add_argument("--settings", default=None, help=argparse.SUPPRESS)
    p.add_argument("--records", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.arm is not None:
        return train_arm(args)

    sets = dict(s.split("=", 1) for s in args.set)
    if not sets:
        p.error("give at least one --set NAME=RECORDS")
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        p.error(f"unknown arm(s) {unknown}; known: {', '.join(ARMS)}")
    rotate = {s.strip() for s in args.rotate.split(",")}
    jobs = []
    for name, records in sets.items():
        for arm in arms:
            run = args.work / name / f"run_{arm}"
            if args.reuse and (run / "bench_result.json").exists():
                continue
            if run.exists():
                import shutil

                shutil.rmtree(run)
            run.parent.mkdir(parents=True, exist_ok=True)
            if arm == "auto":
                settings = auto_settings(Path(records), name in rotate)
            else:
                settings = dict(TODAY, **ARMS[arm]) if ARMS[arm] is not None else \
                    recipe_settings(Path(records), name in rotate)
            cmd = [sys.executable, __file__, "--arm", arm, "--set-name", name, "--settings", json.dumps(settings),
                   "--records", str(records), "--out", str(run), "--cpu-minutes", str(args.cpu_minutes),
                   "--seed", str(args.seed), "--evaluations", str(args.evaluations)]
            jobs.append((f"{name}/{arm} {settings}", cmd, run.parent / f"train_{arm}.log"))
    run_jobs(jobs, args.parallel)
    report(args.work, {k: Path(v) for k, v in sets.items()}, arms)


if __name__ == "__main__":
    main()
