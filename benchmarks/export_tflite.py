"""TFLite float32 / float16 / int8 of one trained run: mAP@0.5 per class, file size, latency.

    python benchmarks/export_tflite.py --run RUN --records RECORDS [--split val] [--calibration-images 300]
        [--max-detections N] [--regular-nms] [--keep DIR]

Exports RUN three times with ``--tflite`` (``--quantize none``, ``float16``,
``int8`` calibrated on the run's train split), evaluates each file with LiteRT
on ``--split`` of RECORDS with 1 and 2 threads (latency per image, median and
p90, first image left out) and prints one table. ``--max-detections`` goes
to the export (the post-processing op's cap per image; default: the export's,
the TF OD API's 10; crowded images need more, e.g. 100), and so does
``--regular-nms`` (the op's per-class NMS). ``--keep DIR`` writes
the three exports to DIR/none, DIR/float16 and DIR/int8 instead of a temporary
folder. The figures go to benchmarks/RESULTS.md by hand with the date, the
command and ``uptime``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--records", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--calibration-images", type=int, default=300)
    parser.add_argument("--max-detections", type=int, default=None,
                        help="detections per image of the post-processing op (default: the export's)")
    parser.add_argument("--regular-nms", action="store_true", help="the op's per-class NMS (default: its fast NMS)")
    parser.add_argument("--keep", type=Path, default=None, help="write the exports here (default: a temporary folder)")
    args = parser.parse_args()

    from dataprep.train.evaluate import evaluate_exported
    from dataprep.train.export import TFLiteOptions, export_saved_model
    from dataprep.train.litert import TFLiteDetector

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        for quantize in ("none", "float16", "int8"):
            options = TFLiteOptions(quantize=quantize, records=args.records,
                                    calibration_images=args.calibration_images,
                                    max_detections=args.max_detections, regular_nms=args.regular_nms or None,
                                    evaluate_split=None)
            result = export_saved_model(args.run, folder / quantize, tflite=True, tflite_options=options)
            timings = {}
            for threads in (1, 2):
                evaluation, cost = evaluate_exported(TFLiteDetector(result.tflite, threads), result.tflite,
                                                     args.records, args.split, threads)
                timings[threads] = cost
            rows.append((quantize, evaluation, timings))
    names = list(rows[0][1].per_class50)
    print(f"| file | size MiB | mAP@0.5 | {' | '.join(names)} | 1 thread median / p90 ms | 2 threads median / p90 ms |")
    print("|" + "---|" * (5 + len(names)))
    for quantize, evaluation, timings in rows:
        per_class = " | ".join(f"{evaluation.per_class50[n]:.3f}" for n in names)
        t1, t2 = timings[1], timings[2]
        print(f"| {'float32' if quantize == 'none' else quantize} | {t1.file_bytes / 2**20:.2f} | "
              f"{evaluation.mAP50:.3f} | {per_class} | {t1.median_ms:.1f} / {t1.p90_ms:.1f} | "
              f"{t2.median_ms:.1f} / {t2.p90_ms:.1f} |")


if __name__ == "__main__":
    main()
