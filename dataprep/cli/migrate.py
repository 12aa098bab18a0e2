"""``dataprep migrate TF1_DIR --out TF2_DIR``: a TF1 OD API SSD folder as a TF2 detection-zoo folder
(:mod:`dataprep.train.tf1_migrate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def migrate_cmd(
    folder: Annotated[Path, typer.Argument(
        help="TF1 model folder: pipeline.config + model.ckpt[-N] (a TF1 zoo or training folder), "
             "frozen_inference_graph.pb or saved_model/.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The TF2 zoo folder to write (pipeline.config, "
                                      "checkpoint/ckpt-0, label_map.pbtxt).")],
    label_map: Annotated[Optional[Path], typer.Option(
        "--label-map", help="The model's label map (label-map id i = class i), where the folder has none "
        "of its own; copied into --out.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
):
    """Migrate a TF1 SSD (ssd_mobilenet_v1, ssd_mobilenet_v2, ssdlite_mobilenet_v2) to the TF2 TF OD API:
    its pipeline.config for model_main_tf2.py and its weights as a TF2 object-based checkpoint."""
    from dataprep.cli.train import quiet_tensorflow

    quiet_tensorflow()
    from dataprep.train.tf1_migrate import migrate_tf1

    result = migrate_tf1(folder, out, overwrite=overwrite, label_map_path=label_map)
    for line in result.summary_lines():
        typer.echo(line)
