"""``dataprep stats SRC [--anchors ...]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep.cli import options as o

_ANCHORS = "Anchors (any of these implies --anchors)"


def stats_cmd(
    src: Annotated[str, typer.Argument(
        help="Records (a dataprep output folder, a folder or glob of TFRecords) or a source annotation set "
             "(VOC folder, COCO .json, .csv, YOLO folder).", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="auto, records (a dataprep output or any TFRecords), or a "
                                     "reader: voc, coco, csv, yolo, tfrecord (read as records).")] = "auto",
    images: o.Images = None,
    year: o.Year = None,
    annotations: o.Annotations = None,
    columns: o.Columns = None,
    header: o.Header = True,
    normalized: o.Normalized = False,
    box_format: o.BoxFormat = "xyxy",
    split: Annotated[Optional[str], typer.Option("--split", help="Only this split.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every statistic to this JSON file.")] = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write PNG histograms and scatters here.")] = None,
    anchors: Annotated[bool, typer.Option(
        "--anchors", help="Analyse anchor coverage of the boxes (implied by any of the anchor options below).",
        rich_help_panel=_ANCHORS)] = False,
    model: o.ModelOpt = None,
    input_size: o.InputSizeOpt = None,
    resizer: Annotated[Optional[str], typer.Option(
        "--resizer", help="fixed (stretch, fixed_shape_resizer) or keep-aspect (fit and pad); default: the "
                          "config's, else fixed.", rich_help_panel=_ANCHORS)] = None,
    min_scale: Annotated[Optional[float], typer.Option(
        "--min-scale", help="ssd_anchor_generator min_scale (default 0.2).", rich_help_panel=_ANCHORS)] = None,
    max_scale: Annotated[Optional[float], typer.Option(
        "--max-scale", help="ssd_anchor_generator max_scale (default 0.95).", rich_help_panel=_ANCHORS)] = None,
    aspect_ratios: Annotated[Optional[str], typer.Option(
        "--aspect-ratios", help="Comma-separated, e.g. 1,2,0.5,3,0.3333 (the default).",
        rich_help_panel=_ANCHORS)] = None,
    num_layers: Annotated[Optional[int], typer.Option(
        "--num-layers", help="ssd_anchor_generator num_layers (default 6).", rich_help_panel=_ANCHORS)] = None,
    anchor_config: o.AnchorConfigOpt = None,
    anchors_json: Annotated[Optional[Path], typer.Option(
        "--anchors-json", help="dataprep anchors JSON (as written by --anchors-out; dataprep train --anchors).",
        rich_help_panel=_ANCHORS)] = None,
    init_from: o.InitFromOpt = None,
    iou_threshold: Annotated[float, typer.Option(
        "--iou-threshold", help="Matched when the best anchor IoU reaches this.", rich_help_panel=_ANCHORS)] = 0.5,
    suggest: Annotated[bool, typer.Option(
        "--suggest", help="Search better scales and aspect ratios; report before and after.",
        rich_help_panel=_ANCHORS)] = False,
    anchors_out: Annotated[Optional[Path], typer.Option(
        "--anchors-out", help="Write the anchors JSON `dataprep train --anchors` reads (the suggested settings "
                              "with --suggest, else the analysed ones).", rich_help_panel=_ANCHORS)] = None,
    dump_anchors: Annotated[Optional[Path], typer.Option(
        "--dump-anchors", help="Save the analysed anchors: float32 (N, 4) ymin, xmin, ymax, xmax .npy, "
                               "TF OD API order, unclipped.", rich_help_panel=_ANCHORS)] = None,
    worst: Annotated[int, typer.Option(
        "--worst", help="List this many worst-covered boxes.", rich_help_panel=_ANCHORS)] = 10,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the suggestion search.",
                                      rich_help_panel=_ANCHORS)] = 0,
    quiet: o.Quiet = False,
):
    """Images, boxes, classes, sizes, aspect ratios and COCO size buckets per split; anchor coverage."""
    o.local_path(src, "SRC")
    from dataprep import stats as st
    from dataprep.cli.options import check_output_path

    for option, path, kind in (("--json", json_out, "file"), ("--plots", plots, "folder"),
                               ("--anchors-out", anchors_out, "file"), ("--dump-anchors", dump_anchors, "file")):
        check_output_path(option, path, kind)  # before the work, not after it
    table = st.collect(src, fmt=fmt, images=images, year=year, annotations=annotations, split=split,
                       csv_columns=columns, csv_header=header, csv_normalized=normalized,
                       csv_box_format=box_format, progress=not quiet)
    summary = st.summarise(table)
    for line in st.format_summary(summary):
        typer.echo(line)

    analysis = None
    wants_anchors = anchors or any(v is not None for v in (
        model, input_size, resizer, min_scale, max_scale, aspect_ratios, num_layers, anchor_config, anchors_json,
        init_from, anchors_out, dump_anchors)) or suggest
    if wants_anchors:
        settings = st.resolve_settings(
            input_size=input_size, resizer=resizer, min_scale=min_scale, max_scale=max_scale,
            aspect_ratios=aspect_ratios, num_layers=num_layers, anchor_config=anchor_config,
            anchors_json=anchors_json, model=model, init_from=init_from)
        analysis = _anchor_analysis(src, table, settings, worst, suggest, iou_threshold, seed, dump_anchors,
                                    anchors_out)
        summary["anchors"] = analysis.to_dict()

    if json_out is not None:
        st.write_json(json_out, summary)
        typer.echo(f"wrote {json_out}")
    if plots is not None:
        written = st.write_plots(table, summary, plots, analysis)
        typer.echo(f"wrote {len(written)} plots to {plots}")


def _anchor_analysis(src, table, settings, worst, suggest, iou_threshold, seed, dump_anchors, anchors_out):
    """The anchor coverage of the boxes (and, with --suggest, better settings and the advice `train --model
    auto` takes), printed; the anchors and the anchors JSON written when asked."""
    from dataprep import stats as st

    analysis = st.analyse_anchors(table, settings, worst_k=worst, suggest=suggest, iou_threshold=iou_threshold,
                                  seed=seed)
    if suggest:  # other models and sizes that cover the worst class better (the advice train --model auto takes)
        analysis.advice = st.advise(table, settings, iou_threshold=iou_threshold, seed=seed,
                                    suggestion=analysis.suggestion, limits=analysis.limits)
    typer.echo("")
    for line in st.format_anchor_analysis(analysis, src):
        typer.echo(line)
    if dump_anchors is not None:
        st.dump_anchors(dump_anchors, analysis.anchors)
        typer.echo(f"wrote {analysis.anchors.shape[0]} anchors to {dump_anchors}")
    if anchors_out is not None:
        from dataprep.models import write_anchors_json

        config = analysis.suggestion.config if analysis.suggestion is not None else settings.config
        write_anchors_json(anchors_out, config, settings.input_size, settings.model)
        typer.echo(f"wrote anchors JSON to {anchors_out} (use with: dataprep train --anchors {anchors_out})")
    return analysis
