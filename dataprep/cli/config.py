"""``dataprep config RECORDS --out pipeline.config``: a TF OD API pipeline.config for the records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.models.registry import DEFAULT_MODEL, tf2_models


def config_cmd(
    records: Annotated[Path, typer.Argument(help="Output folder of `dataprep convert` (manifest.json).",
                                            show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The pipeline.config file to write.")],
    model: Annotated[Optional[str], typer.Option(
        "--model", help=f"{', '.join(tf2_models())} (TF2 TF OD API models; default: the --init-from folder's, else the --anchors file's, "
                        f"else {DEFAULT_MODEL}).")] = None,
    anchors: Annotated[Optional[Path], typer.Option(
        "--anchors", help="Anchors JSON from `dataprep stats --anchors [--suggest] --anchors-out`.")] = None,
    init_from: Annotated[Optional[Path], typer.Option(
        "--init-from", help="Extracted TF2 detection-zoo folder (pipeline.config + checkpoint/ckpt-0.*): its "
                            "model settings, and its checkpoint as fine_tune_checkpoint (type detection).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="train_config.batch_size.")] = 16,
    steps: Annotated[int, typer.Option(
        "--steps", help="train_config.num_steps (and the cosine decay length).")] = 25000,
    train_split: Annotated[str, typer.Option("--train-split", help="Split for train_input_reader.")] = "train",
    eval_split: Annotated[str, typer.Option(
        "--eval-split", help="Split for eval_input_reader (left out when absent).")] = "val",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
):
    """Write a complete TF OD API pipeline.config for the records (for TF OD API / Model Garden training)."""
    from dataprep.train.odapi_config import write_pipeline_config

    result = write_pipeline_config(records, out, model=model, anchors_json=anchors, init_from=init_from,
                                   batch_size=batch_size, num_steps=steps, train_split=train_split,
                                   eval_split=eval_split, overwrite=overwrite)
    for line in result.summary_lines():
        typer.echo(line)
