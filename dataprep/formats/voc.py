"""Pascal VOC reader: ``Annotations/*.xml`` + ``JPEGImages/`` (+ ``ImageSets/Main``).

Pixel convention. VOC coordinates are 1-based, inclusive pixel indices: a box
covering 0-based pixel columns c0..c1 is written ``xmin = c0 + 1, xmax = c1 + 1``.
In dataprep's continuous hub frame (pixel i covers [i, i+1)) that box is
[c0, c1 + 1), so ``xmin_hub = xmin - 1, xmax_hub = xmax`` (same for y), and a
VOC box's width is ``xmax - xmin + 1``. Float coordinates get the same shift.

Where it reads from. A local folder is listed with ``os.scandir``; a URL
(``gs://bucket/VOC2012``, with ``--runner beam``) through Beam's
FileSystems: one listing of ``Annotations/``, one of the images folder and
one of ``ImageSets/Main/``, the split files read whole; the XML files are
parsed by ``parse`` (the Beam runner's workers).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from lxml import etree

from dataprep.dataset import Dataset
from dataprep.errors import UsageError
from dataprep.formats.common import IMAGE_EXTENSIONS, image_names, is_file_entry, list_images, to_flag, to_float
from dataprep.formats.registry import SOURCE_PANEL, Argument, SourceFormat, option
from dataprep.locations import is_url, list_folder, location, read_bytes, sub, url_exists, url_join
from dataprep.textio import read_text
from dataprep.findings import ERROR, INFO, KEPT, SKIPPED_IMAGE, WARNING, Finding

SPLIT_FILES = ("train", "val", "test", "trainval")
IMAGE_EXTS = tuple(sorted({e.lower() for e in IMAGE_EXTENSIONS}))

# Untrusted input: no entity expansion, no DTD or network fetches, no huge trees.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _resolve_folders(root, year: str | None, annotations, images):
    if annotations is not None or images is not None:
        if annotations is None or images is None:
            raise UsageError("--annotations and --images go together: give both folders")
        if root is not None:
            base = root
        else:
            base = annotations.rsplit("/", 1)[0] if is_url(annotations) else annotations.parent
        return base, annotations, images
    if root is None:
        raise UsageError("give a VOC folder, or --annotations DIR --images DIR")
    if is_url(root):
        return _resolve_url_folders(root, year)
    if year:
        candidate = root / f"VOC{year}"
        if not (candidate / "Annotations").is_dir():
            raise UsageError(f"{root}: no VOC{year}/Annotations inside; is this a VOCdevkit folder?")
        root = candidate
    if not (root / "Annotations").is_dir():
        years = sorted(p.name for p in root.glob("VOC*") if (p / "Annotations").is_dir()) if root.is_dir() else []
        if years:
            raise UsageError(f"{root} is a VOCdevkit folder with {', '.join(years)}; choose one with --year")
        raise UsageError(
            f"{root}: no Annotations/ folder; pass a VOC folder, a VOCdevkit root with --year, "
            "or --annotations DIR --images DIR"
        )
    return root, root / "Annotations", root / "JPEGImages"


def _resolve_url_folders(root: str, year: str | None):
    """The folders of a VOC root URL. An object store has no folders: one
    exists when a file is listed under it (a VOCdevkit root needs ``--year``)."""
    if year:
        root = sub(root, f"VOC{year}")
    if not list_folder(sub(root, "Annotations")):
        hint = "" if year else "; for a VOCdevkit root add --year"
        raise UsageError(f"{root}: no file under Annotations/{hint} (a VOC folder holds Annotations/*.xml and "
                         "JPEGImages/)")
    return root, sub(root, "Annotations"), sub(root, "JPEGImages")


def _read_splits(root, findings: list[Finding]) -> dict[str, str] | None:
    """stem -> split from ImageSets/Main, or None when there are no split files.

    ``trainval`` is used only when neither ``train`` nor ``val`` exists: it is
    their union, so an image is never written twice.
    """
    if is_url(root):
        main = sub(sub(root, "ImageSets"), "Main")
        listed = list_folder(main)
        present = {s: sub(main, f"{s}.txt") for s in SPLIT_FILES if f"{s}.txt" in listed}
    else:
        main = root / "ImageSets" / "Main"
        present = {s: main / f"{s}.txt" for s in SPLIT_FILES if (main / f"{s}.txt").is_file()}
    if not present:
        return None
    derive = None
    if "trainval" in present and ("train" in present or "val" in present):
        # trainval is the union of train and val: never written twice. When only
        # one of them exists, the other is trainval minus it.
        if "train" not in present or "val" not in present:
            derive = ("val" if "train" in present else "train", present["trainval"])
        del present["trainval"]
    assignment: dict[str, str] = {}
    for split, path in present.items():
        for line_no, line in enumerate(read_text(path, "split list").splitlines(), start=1):
            stem = line.split()[0] if line.strip() else ""
            if not stem:
                continue
            previous = assignment.setdefault(stem, split)
            if previous != split:
                findings.append(Finding(WARNING, "split.conflict", stem, str(path),
                                        f"line {line_no}: {stem!r} is listed in both {previous} and {split}; "
                                        f"kept in {previous}", KEPT, annotation=str(path), value=stem))
    if derive is not None:
        split, path = derive
        n = 0
        for line in read_text(path, "split list").splitlines():
            stem = line.split()[0] if line.strip() else ""
            if stem and stem not in assignment:
                assignment[stem] = split
                n += 1
        other = "train" if split == "val" else "val"
        findings.append(Finding(INFO, "split.derived", f"{split}.txt", str(path),
                                f"no {split}.txt: {n} images of trainval.txt not in {other}.txt form the {split} split",
                                KEPT, annotation=str(path)))
    return assignment


def _plain(name: str) -> str:
    """A split-list entry or annotation stem as a user means it: no image or
    ``.xml`` extension, case folded."""
    stem, ext = os.path.splitext(name)
    return (stem if ext.lower() in (".xml", *IMAGE_EXTS) else name).casefold()


def _match_listed_names(splits: dict[str, str], stems: list[str], findings: list[Finding]) -> None:
    """Split-list entries that name an annotation but for case or an extension
    (``IMG_1.JPG`` or ``img_1`` listed for ``Annotations/IMG_1.xml``): on a
    case-sensitive disk they match nothing, so the image would be unlisted and
    skipped. Each such entry is read as the one annotation it plainly means
    (when exactly one does), in place in ``splits``, and reported."""
    unlisted = [s for s in stems if s not in splits]
    if not unlisted:
        return
    present = set(stems)
    by_plain: dict[str, list[str]] = {}
    for entry in splits:
        if entry not in present:
            by_plain.setdefault(_plain(entry), []).append(entry)
    taken = {s for s in unlisted if len(by_plain.get(_plain(s), ())) == 1}
    claims = [by_plain[_plain(s)][0] for s in taken]
    for stem in sorted(taken):
        entry = by_plain[_plain(stem)][0]
        if claims.count(entry) > 1:  # two annotations (a.xml, A.xml) for one entry: not plain
            continue
        split = splits.pop(entry)
        splits[stem] = split
        findings.append(Finding(INFO, "split.name_resolved", stem, f"ImageSets/Main/{split}.txt",
                                f"{split}.txt lists {entry!r}, which names no annotation; it is read as "
                                f"Annotations/{stem}.xml (the same name but for case or extension)", KEPT,
                                annotation=f"ImageSets/Main/{split}.txt", value=entry))


def _text(el) -> str | None:
    """An element's own text; a comment inside it (``<name>dog<!-- x --></name>``)
    does not cut the text short as ``el.text`` would."""
    if el is None:
        return None
    if not len(el):  # no child, no comment: the fast path
        return el.text
    return "".join(el.xpath("text()"))


def parse_voc_xml(data: bytes, source: str) -> dict:
    """Parse one VOC annotation; raises ``ValueError`` with the reason if the
    XML is malformed or is not a VOC annotation."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"malformed XML: {exc}") from None
    if root is None or root.tag != "annotation":
        raise ValueError(f"not a VOC annotation (root element <{getattr(root, 'tag', None)}>)")
    size = root.find("size")
    width = to_float(_text(size.find("width"))) if size is not None else float("nan")
    height = to_float(_text(size.find("height"))) if size is not None else float("nan")
    objects = []
    # Only direct <object> children: <part> elements carry their own <bndbox>.
    for index, obj in enumerate(root.iterfind("object")):
        fields = {child.tag: child for child in obj}
        box = fields.get("bndbox")
        coords = {c.tag: _text(c) for c in box} if box is not None else {}
        name, pose = fields.get("name"), fields.get("pose")
        objects.append({
            "index": index,
            "text": (_text(name) or "").strip() if name is not None else "",
            "xmin": to_float(coords.get("xmin")) - 1.0,  # 1-based inclusive -> continuous (module docstring)
            "ymin": to_float(coords.get("ymin")) - 1.0,
            "xmax": to_float(coords.get("xmax")),
            "ymax": to_float(coords.get("ymax")),
            "difficult": to_flag(_text(fields["difficult"])) if "difficult" in fields else 0,
            "truncated": to_flag(_text(fields["truncated"])) if "truncated" in fields else 0,
            "view": (_text(pose) or "").strip() if pose is not None else "",
        })
    return {"filename": (_text(root.find("filename")) or "").strip(), "width": width, "height": height,
            "objects": objects}


OBJECT_FIELDS = ("index", "text", "xmin", "ymin", "xmax", "ymax", "difficult", "truncated", "view")


def _read_local(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def parse_file(path: str, read=_read_local):
    """Parse one file (``read(path) -> bytes``: the local disk, or Beam's
    FileSystems in a worker); the exception if it cannot be read or parsed.
    Objects as compact tuples (:data:`OBJECT_FIELDS`): tens of thousands of
    annotations are held at once while the tables are built."""
    try:
        parsed = parse_voc_xml(read(path), path)
    except (ValueError, OSError) as exc:
        return exc
    parsed["objects"] = [tuple(o[k] for k in OBJECT_FIELDS) for o in parsed["objects"]]
    return parsed


def _parse_chunk(paths: list[str]) -> list:
    return [parse_file(p) for p in paths]


def _parse_all(paths: list[str], workers: int | None, progress: bool) -> list:
    """Parse the XML files, in worker processes when there are many."""
    from dataprep.parallel import default_workers, process_pool
    from dataprep.progress import progress_bar

    workers = workers or default_workers()
    size = 500
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    out: list = []
    parallel = workers > 1 and len(paths) >= 2000
    with progress_bar(len(paths), "read VOC", "xml", progress and len(paths) >= 2000) as bar, \
            (process_pool(workers) if parallel else contextlib.nullcontext()) as pool:
        for part in (pool.imap if parallel else map)(_parse_chunk, chunks):
            out.extend(part)
            bar.update(len(part))
    return out


def _image_of(stem: str, tag: str, ann_name: str, on_disk, image_exists, findings: list[Finding]) -> str:
    """The image an annotation file annotates: the file whose stem is the XML's
    stem (split files name stems), else its ``<filename>`` tag; an ambiguous
    name and a disagreeing tag are reported."""
    shared = on_disk.shared.get(stem)
    if shared and tag in shared:
        file = tag
    elif stem in on_disk:
        file = on_disk[stem]
    elif tag and image_exists(tag):
        file = tag
    else:
        file = tag or stem + ".jpg"
    if shared:
        why = "its <filename>" if file == tag else "the first by name; <filename> names none of them"
        findings.append(Finding(INFO, "voc.image_ambiguous", stem, ann_name,
                                f"images {', '.join(shared)} share the name of {ann_name}; {file} is the one "
                                f"annotated ({why})", KEPT, image=file, annotation=ann_name, value=list(shared)))
    if tag and tag != file and os.path.splitext(tag)[0] != stem:
        findings.append(Finding(INFO, "voc.filename_mismatch", stem, ann_name,
                                f"<filename> says {tag!r} but the image used is {file!r}", KEPT,
                                image=file, annotation=ann_name, value=tag))
    return file


def read_voc(
    root: str | Path | None = None,
    *,
    year: str | None = None,
    annotations: str | Path | None = None,
    images: str | Path | None = None,
    workers: int | None = None,
    progress: bool = False,
    parse=None,
) -> Dataset:
    """Read a Pascal VOC folder (or a VOCdevkit root with ``year``, or any
    ``annotations`` + ``images`` folder pair) into a :class:`Dataset`.
    ``parse`` parses the XML files elsewhere (the Beam runner's workers): a
    function of their paths -> what :func:`parse_file` gives for each, in order."""
    root, ann_dir, img_dir = _resolve_folders(
        location(root) if root is not None else None, year,
        location(annotations) if annotations is not None else None,
        location(images) if images is not None else None,
    )
    if is_url(ann_dir) or is_url(img_dir):
        xml_files, on_disk, image_exists = _list_urls(ann_dir, img_dir)
    else:
        xml_files, on_disk, image_exists = _list_local(ann_dir, img_dir)
    findings: list[Finding] = []
    splits = _read_splits(root, findings) if annotations is None else None

    if splits is not None:
        _match_listed_names(splits, [os.path.splitext(e.name)[0] for e in xml_files], findings)
    paths = [e.path for e in xml_files]
    if parse is not None:
        parsed_all = parse(paths)
    elif is_url(ann_dir):  # the API on a URL without Beam's workers: parsed here, one file at a time
        parsed_all = [parse_file(p, read_bytes) for p in paths]
    else:
        parsed_all = _parse_all(paths, workers, progress)
    img_rows = []
    obj_cols: dict[str, list] = {k: [] for k in ("image_id", *OBJECT_FIELDS)}
    root_prefix = str(root) + ("/" if is_url(root) else os.sep)
    for image_id, (entry, parsed) in enumerate(zip(xml_files, parsed_all), start=1):
        stem = os.path.splitext(entry.name)[0]
        ann_name = entry.path[len(root_prefix):] if entry.path.startswith(root_prefix) else entry.path
        split = "train" if splits is None else splits.get(stem, "")
        row = {"image_id": image_id, "split": split, "annotation": ann_name, "error": "",
               "width": np.nan, "height": np.nan}
        if isinstance(parsed, Exception):
            exc = parsed
            row["file"] = on_disk.get(stem, stem + ".jpg")
            row["error"] = f"annotation unreadable: {exc}"
            findings.append(Finding(ERROR, "annotation.malformed", stem, ann_name, str(exc), SKIPPED_IMAGE,
                                    annotation=ann_name))
            img_rows.append(row)
            continue
        file = _image_of(stem, parsed["filename"], ann_name, on_disk, image_exists, findings)
        row.update(file=file, width=parsed["width"], height=parsed["height"])
        if splits is not None and not split:
            row["error"] = "listed in no ImageSets/Main split file"
            findings.append(Finding(WARNING, "split.unlisted", stem, ann_name,
                                    f"{stem!r} is listed in no ImageSets/Main split file "
                                    f"({', '.join(SPLIT_FILES)}); add it to one to convert it", SKIPPED_IMAGE,
                                    image=file, annotation=ann_name))
        img_rows.append(row)
        for obj in parsed["objects"]:
            obj_cols["image_id"].append(image_id)
            for k, v in zip(OBJECT_FIELDS, obj):
                obj_cols[k].append(v)
        parsed_all[image_id - 1] = None  # free as we go

    if splits is not None:
        listed = set(splits)
        found = {os.path.splitext(e.name)[0] for e in xml_files}
        for stem in sorted(listed - found):
            findings.append(Finding(WARNING, "split.missing_annotation", stem, "ImageSets/Main",
                                    f"{stem!r} is listed in {splits[stem]}.txt but has no Annotations/{stem}.xml",
                                    KEPT, annotation=f"ImageSets/Main/{splits[stem]}.txt", value=stem))
    images_df = pd.DataFrame(img_rows, columns=["image_id", "file", "split", "width", "height", "annotation", "error"])
    objects_df = pd.DataFrame(obj_cols)
    del obj_cols
    return Dataset.build(
        images_df, objects_df, img_dir, findings=findings, assign_ids=True,
        source={"format": "voc", "root": str(root), "annotations": str(ann_dir), "images": str(img_dir),
                "year": year, "split_files": splits is not None},
    )


# -- the source registry's declaration (see dataprep.formats.registry) -----------------

class _Entry(NamedTuple):
    """A listed annotation file (what ``os.scandir`` gives for a local one)."""

    name: str
    path: str


def _list_local(ann_dir: Path, img_dir: Path):
    """The XML files (sorted by name), stem -> image file, and whether an image file exists."""
    if not ann_dir.is_dir():
        raise UsageError(f"{ann_dir}: annotations folder not found")
    if not img_dir.is_dir():
        raise UsageError(f"{img_dir}: images folder not found")
    xml_files = sorted((p for p in os.scandir(ann_dir) if p.name.lower().endswith(".xml") and is_file_entry(p)),
                       key=lambda p: p.name)
    return xml_files, list_images(img_dir), lambda name: (img_dir / name).is_file()


def _list_urls(ann_dir, img_dir):
    """:func:`_list_local` for URLs: one listing of each folder (through
    Beam's FileSystems, which list in bulk), not a request per file."""
    listed = list_folder(str(ann_dir))
    if not listed:
        raise UsageError(f"{ann_dir}: annotations folder not found (no file under it)")
    images = list_folder(str(img_dir))
    if not images:
        raise UsageError(f"{img_dir}: images folder not found (no file under it)")
    xml_files = [_Entry(n, str(sub(ann_dir, n))) for n in sorted(listed) if n.lower().endswith(".xml")]
    on_disk = image_names(n for n in sorted(images) if "/" not in n)

    def image_exists(name: str) -> bool:
        if name in images:
            return True
        path = url_join(str(img_dir), name)
        return path is not None and url_exists(path)

    return xml_files, on_disk, image_exists


def detect(path: Path) -> bool:
    """A folder with Annotations/, or a VOCdevkit root with VOC*/Annotations/."""
    return path.is_dir() and ((path / "Annotations").is_dir()
                              or any(p.is_dir() and (p / "Annotations").is_dir() for p in path.glob("VOC*")))


@dataclass(frozen=True)
class VocOptions:
    """``dataprep convert voc``'s reader options."""

    year: str | None = field(default=None, metadata=option(
        "--year", help="VOCdevkit year: SRC/VOC{year}.", panel=SOURCE_PANEL))
    annotations: str | None = field(default=None, metadata=option(
        "--annotations", help="Folder of XML files, with --images (with --runner beam also a URL).",
        panel=SOURCE_PANEL))
    images: str | None = field(default=None, metadata=option(
        "--images", help="Images folder, with --annotations (with --runner beam also a URL).", panel=SOURCE_PANEL))


def open_source(spec) -> Dataset:
    opts = spec.options_for(VocOptions)
    return read_voc(spec.path, year=opts.year, annotations=opts.annotations, images=opts.images,
                    workers=spec.workers, progress=spec.progress, parse=spec.parse_files)


# -- writing (export-annotations) -------------------------------------------------------

def from_hub(boxes: np.ndarray) -> np.ndarray:
    """Hub ``xyxy`` pixel corners -> ``<bndbox>`` numbers: 1-based inclusive
    pixel columns (the inverse of the reader's ``- 1``, module docstring)."""
    return boxes + np.array([1.0, 1.0, 0.0, 0.0])


def write_voc(ds, images, boxes, label_map, out, result, move):
    """``OUT/JPEGImages/<name>``, ``OUT/Annotations/<stem>.xml``, ``OUT/ImageSets/Main/<split>.txt``."""
    from xml.sax.saxutils import escape

    from dataprep.formats.writers import flat_names, number, objects_by_image, place

    numbers = from_hub(boxes)
    by_image = objects_by_image(ds, boxes)
    o = ds.objects
    splits: dict[str, list[str]] = {}
    for row, name in zip(images.itertuples(), flat_names(images)):
        stem = os.path.splitext(name)[0]
        place(ds, row.file, out / "JPEGImages" / name, move)
        objects = []
        for k in by_image.get(int(row.image_id), []):
            xmin, ymin, xmax, ymax = (number(v) for v in numbers[k])
            pose = f"<pose>{escape(o['view'].iat[k])}</pose>" if o["view"].iat[k] else ""
            objects.append(
                f"  <object><name>{escape(o['text'].iat[k])}</name>{pose}"
                f"<truncated>{int(o['truncated'].iat[k])}</truncated><difficult>{int(o['difficult'].iat[k])}"
                f"</difficult><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>"
                f"</bndbox></object>\n")
        xml = (f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{escape(name)}</filename>\n"
               f"  <size><width>{int(row.width)}</width><height>{int(row.height)}</height><depth>3</depth></size>\n"
               f"  <segmented>0</segmented>\n{''.join(objects)}</annotation>\n")
        path = out / "Annotations" / f"{stem}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
        splits.setdefault(row.split, []).append(stem)
    main = out / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for split, stems in splits.items():
        (main / f"{split}.txt").write_text("".join(s + "\n" for s in stems), encoding="utf-8")
        result.files.append(main / f"{split}.txt")


SOURCE = SourceFormat(
    "voc", detect, open_source, "a Pascal VOC folder (Annotations/, or VOCdevkit/VOC*/Annotations/)", urls=True,
    options=VocOptions,
    argument=Argument("root", "VOC folder (Annotations/, JPEGImages/) or VOCdevkit root (with --runner beam also a "
                              "gs://, s3:// or hdfs:// URL).", required=False),
    summary="Pascal VOC: ImageSets/Main/{train,val,test}.txt define the splits when present.",
    parse_file=parse_file, write=write_voc)
