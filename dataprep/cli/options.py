"""Option types shared by several commands.

The source options (``--format``, ``--images``, ``--annotations``, ``--year``
and the CSV ones) are declared once here and used by ``convert``,
``validate``, ``stats`` and ``split``; :func:`source_spec` turns them into the registry's
:class:`~dataprep.formats.registry.SourceSpec`. A new reader's option goes
here, beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder for the records.")]
LabelMapOpt = Annotated[Optional[Path], typer.Option(
    "--label-map", help="StringIntLabelMap .pbtxt to use; default: derived from the data (sorted names, ids from 1).")]
NumShards = Annotated[Optional[int], typer.Option(
    "--num-shards", help="Shards per split; default keeps shards near 100-200 MB.")]
Compression = Annotated[str, typer.Option("--compression", help="none or gzip.")]
Workers = Annotated[Optional[int], typer.Option("--workers", "-j", help="Worker processes; default: all cores.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the dataprep outputs in an existing OUT.")]
OnError = Annotated[str, typer.Option(
    "--on-error", help="fix: fix what is safe, drop the rest; skip: skip images with errors; fail: stop at the first.")]
Strict = Annotated[bool, typer.Option("--strict", help="Exit 1 if there is any error finding (after the full report).")]
DropEmpty = Annotated[bool, typer.Option("--drop-empty", help="Drop images without objects (kept as negatives by default).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for the order of examples in shards.")]
NoDecode = Annotated[bool, typer.Option(
    "--no-decode-check", help="Skip the full decode of every image (faster, unsafe).")]
MaxPixels = Annotated[int, typer.Option("--max-pixels", help="Refuse images with more pixels than this.")]
FollowSymlinks = Annotated[bool, typer.Option(
    "--follow-symlinks", help="Read images through symbolic links that lead outside the images folder "
                              "(refused by default: image.path_escapes_root).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Split = Annotated[Optional[str], typer.Option(
    "--split", help="Re-split: 'train=0.8,val=0.1,test=0.1', stratified per class, duplicates kept together.")]
GroupBy = Annotated[Optional[str], typer.Option(
    "--group-by", help="With --split: regex on the file name; images with the same match stay in one split.")]
Rebalance = Annotated[Optional[str], typer.Option(
    "--rebalance", help="Repeat-factor sampling of the train split: images (LVIS) or instances.")]
RepeatThreshold = Annotated[str, typer.Option(
    "--repeat-threshold", help="Repeat-factor threshold t, or auto.")]
MaxPerClass = Annotated[Optional[int], typer.Option(
    "--max-per-class", help="With --rebalance: cap on the boxes of any class in the train split.")]
NegativeRatio = Annotated[Optional[float], typer.Option(
    "--negative-ratio", help="With --rebalance: keep at most this many images without objects per image with.")]


def parse_compression(value: str) -> str | None:
    """``--compression``: None for none (or empty), else the lower-cased name."""
    return None if value.lower() in ("", "none") else value.lower()


def parse_threshold(value: str) -> float | str:
    """``--repeat-threshold``: a number, or ``auto``."""
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        from dataprep.errors import UsageError

        raise UsageError(f"--repeat-threshold must be a number or auto, got {value!r}") from None


def check_output_path(option: str, path: Path | None, kind: str) -> None:
    """Refuse an output ``path`` that cannot become a ``kind`` ("file" or
    "folder") before any work is done: a clear usage error instead of an
    ``IsADirectoryError`` after a long run."""
    from dataprep.errors import UsageError

    if path is None:
        return
    if kind == "file" and path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file; give a folder")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a folder")


# -- the source options, declared once -------------------------------------------------

from dataprep.options import SOURCE_PANEL  # noqa: E402
SourceFormatOpt = Annotated[str, typer.Option(
    "--format", help="auto (detected), or a reader: voc, coco, csv, yolo, tfrecord (any tool's records; "
              "stats and split also take a dataprep output as records).")]
Images = Annotated[Optional[Path], typer.Option(
    "--images", help="Images folder (COCO and CSV; VOC with --annotations).", rich_help_panel=SOURCE_PANEL)]
Annotations = Annotated[Optional[Path], typer.Option(
    "--annotations", help="VOC folder of XML files (with --images).", rich_help_panel=SOURCE_PANEL)]
Year = Annotated[Optional[str], typer.Option(
    "--year", help="VOCdevkit year: SRC/VOC{year}.", rich_help_panel=SOURCE_PANEL)]
Columns = Annotated[Optional[str], typer.Option(
    "--columns", help="CSV: map roles to columns, 'class=cell_type,xmin=x1'; or all column names in order "
                      "(for files without a header, with --no-header).", rich_help_panel=SOURCE_PANEL)]
Header = Annotated[bool, typer.Option(
    "--header/--no-header", help="CSV: whether the first row names the columns.", rich_help_panel=SOURCE_PANEL)]
Normalized = Annotated[bool, typer.Option(
    "--normalized", help="CSV: coordinates are fractions of the image size.", rich_help_panel=SOURCE_PANEL)]
BoxFormat = Annotated[str, typer.Option(
    "--box-format", help="CSV: xyxy (xmin,ymin,xmax,ymax) or xywh (x,y,w,h).", rich_help_panel=SOURCE_PANEL)]


def local_path(value, name: str) -> Path | None:
    """A command's local-only input: a URL is refused by name (before ``Path()``
    folds its ``//`` into a misleading "no such file")."""
    from dataprep.errors import UsageError
    from dataprep.locations import is_url

    if value is None:
        return None
    if is_url(value):
        raise UsageError(f"{name} {value}: this command reads local files only; URLs are read by "
                         "`dataprep convert voc|coco|csv URL --runner beam` (or copy the data to local disk)")
    return Path(value)


def source_spec(src, *, fmt: str = "auto", images=None, annotations=None, year=None, columns=None,
                header: bool = True, normalized: bool = False, box_format: str = "xyxy", workers=None,
                progress: bool = False, label_map=None, parse_files=None):
    """The registry's description of the source the options name (each reader
    takes the options its dataclass declares)."""
    from dataprep.formats.registry import SourceSpec
    from dataprep.locations import location

    return SourceSpec(location(src) if src is not None else None, format=fmt, workers=workers, progress=progress,
                      label_map=label_map, parse_files=parse_files,
                      options=dict(images=images, annotations=annotations, year=year, columns=columns, header=header,
                                   normalized=normalized, box_format=box_format))


# -- where the per-image work runs ----------------------------------------------------

Runner = Annotated[str, typer.Option(
    "--runner", help="local: worker processes on this machine; beam: an Apache Beam pipeline "
                     "(pip install 'dataprep[beam]'), in-process unless --beam-option runner=... names another.")]
BeamOption = Annotated[Optional[list[str]], typer.Option(
    "--beam-option", help="With --runner beam: a Beam pipeline option KEY=VALUE (repeatable), "
                          "e.g. runner=DataflowRunner, project=my-project, region=europe-west1.")]
BeamPipelineOptions = Annotated[Optional[str], typer.Option(
    "--beam-pipeline-options", help="With --runner beam: Beam's flags as one string, "
                                    "e.g. '--runner=DataflowRunner --project=p --temp_location=gs://b/tmp'.")]
