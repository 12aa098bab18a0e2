"""Where a YOLO dataset's images and class names are: the layouts the tools
that write YOLO datasets use, each resolved the way that tool (or the trainer
it feeds) resolves it.

::

    layout (who writes it)             descriptor              names                   splits
    Ultralytics (yolo CLI, HUB zips)   data.yaml or <name>.yaml names: list | id: name  train/val/test: folders,
                                                                                        list files, or lists of either
    Roboflow ("YOLOv5/v8 PyTorch")     data.yaml               names: [...]            train: ../train/images
                                                                                        val: ../valid/images
    CVAT "YOLO 1.1" (datumaro)         obj.data                names = data/obj.names  train = data/train.txt
                                                                                        valid = data/valid.txt
    Label Studio "YOLO"                classes.txt, notes.json                         images/ + labels/ (one split)
    LabelImg, plain trees              classes.txt, or none    (class_<id> if none)    images/<split>/, <split>/images/
                                                                                        or images/ alone
    darknet plain folder (YOLO-mark)   <name>.names, obj.names                         the folder: a.jpg + a.txt
                                       or classes.txt                                  (one split; list files
                                                                                        without obj.data reported)

How a data.yaml's paths resolve (Ultralytics ``check_det_dataset`` in
``ultralytics/data/utils.py``):

1. the root is ``path:`` when given, else the yaml's folder. Ultralytics reads
   a relative ``path`` against the working directory, then its
   ``datasets_dir`` setting; here it is read against the yaml's folder first
   (the dataset travels with its yaml), then the working directory
   (``yolo.path_from_cwd``), and a ``path`` that is neither
   (``../datasets/coco8``, written for the author's machine; HUB blanks it for
   the same reason) falls back to the yaml's folder (``yolo.path_ignored``);
2. ``train``/``val``/``test`` are relative to the root; a string entry that
   is not there and starts with ``../`` is read without it (Roboflow writes
   ``../train/images`` relative to a folder one level down);
3. a ``validation:`` key is read as ``val`` (Ultralytics renames it);
4. list files (``.txt``): a line ``./x`` is relative to the list's folder
   (Ultralytics ``get_img_files``); other relative lines are tried against
   the list's folder, the root, and without darknet's ``data/`` prefix
   (datumaro's ``localize_path``, which CVAT writes: ``data/obj_train_data/a.jpg``);
   Ultralytics itself reads them against the working directory.

What is not there is a finding, not the end of the run, while other splits
are: a ``val: images/val`` whose folder is ``images/valid`` (or the reverse)
is read from the folder that exists (``yolo.split_resolved``); a split with
no folder or list file is left out (``yolo.split_missing``); a listed image
whose name differs from the file on disk only in case or extension is read
from that file (``yolo.name_resolved``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.errors import AnnotationError, UsageError
from dataprep.formats.common import IMAGE_EXTENSIONS
from dataprep.textio import TextFileError, read_text
from dataprep.findings import FIXED, IGNORED, INFO, KEPT, RENAMED, WARNING, Finding

SPLITS = ("train", "val", "test")
YAML_NAMES = ("data.yaml", "data.yml")
IMAGE_EXTS = {e.lower() for e in IMAGE_EXTENSIONS}
#: The names one validation split goes by (Roboflow writes ``valid``, Ultralytics ``val``).
_VAL_NAMES = ("val", "valid", "validation")
#: obj.data keys that are not splits (darknet; datumaro's RESERVED_CONFIG_KEYS).
_DARKNET_KEYS = ("classes", "names", "backup", "eval", "results")


@dataclass
class Layout:
    """A YOLO dataset's description, resolved: the root its image paths are
    relative to, the class names by YOLO id (None: none given), and each
    split's entries (image folders, list files, image files) that exist."""

    kind: str
    descriptor: Path
    base: Path
    names: list[str] | None
    splits: list[tuple[str, list[Path]]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: ``split: path`` of each entry named but not there.
    missing: list[str] = field(default_factory=list)
    #: Keypoint numbers after each label line's box (a pose dataset's kpt_shape K * D), else 0.
    keypoints: int = 0


def _read(path: Path, what: str) -> str:
    try:
        return read_text(path, what)
    except TextFileError as exc:
        raise AnnotationError(str(exc)) from None


# -- data.yaml (the flat subset Ultralytics and labelling tools write) -------------------

def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("", "~", "null", "None"):
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _strip_comment(line: str) -> str:
    quote = None
    for k, ch in enumerate(line):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (k == 0 or line[k - 1].isspace()):
            return line[:k].rstrip()
    return line.rstrip()


def _flow_list(text: str, where: str) -> list:
    inner = text.strip()[1:-1]
    if "[" in inner or "{" in inner:
        raise AnnotationError(f"{where}: nested lists are not supported in data.yaml")
    return [_scalar(p) for p in inner.split(",") if p.strip()]


def _block_line(out: dict, key, body: str, raw: str, where: str) -> None:
    """One ``- item`` or ``k: v`` line inside the block of ``key``."""
    if key is None:
        raise AnnotationError(f"{where}: indented line outside a block: {raw.strip()!r}")
    if body.startswith("- "):
        if not isinstance(out[key], list):
            raise AnnotationError(f"{where}: '- item' inside the map {key!r}")
        out[key].append(_scalar(body[2:]))
    elif ":" in body:
        if out[key] == []:
            out[key] = {}
        if not isinstance(out[key], dict):
            raise AnnotationError(f"{where}: 'k: v' inside the list {key!r}")
        k, v = body.split(":", 1)
        out[key][_scalar(k)] = _scalar(v)
    else:
        raise AnnotationError(f"{where}: cannot read {raw.strip()!r} (expected '- item' or 'id: name')")


def parse_data_yaml(text: str, source: str) -> dict:
    """The keys of an Ultralytics ``data.yaml``: scalars, ``[a, b]`` lists,
    ``- item`` lists and ``0: name`` maps, comments. Anything else is refused
    with the line number (no YAML library: the subset these files use)."""
    out: dict = {}
    key = None  # the key whose block (``- item`` or ``0: name`` lines) we are in
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line.strip():
            continue
        where = f"{source} line {line_no}"
        body = line.strip()
        if line[0].isspace() or (key is not None and body.startswith("- ")):
            _block_line(out, key, body, raw, where)
            continue
        if ":" not in body:
            raise AnnotationError(f"{where}: expected 'key: value', got {raw.strip()!r}")
        k, v = (s.strip() for s in body.split(":", 1))
        if v.startswith("[") and v.endswith("]"):
            out[k], key = _flow_list(v, where), None
        elif v.startswith("{"):
            raise AnnotationError(f"{where}: '{{...}}' maps are not supported in data.yaml; write one 'id: name' "
                                  "per line")
        elif v == "":
            out[k], key = [], k
        else:
            out[k], key = _scalar(v), None
    return out


# -- class names -------------------------------------------------------------------------

def _by_id(names: dict, source: str) -> list:
    """An ``id: name`` map as a list. Keys that look like numbers are ids, quoted
    or not (Ultralytics ``check_class_names``: ``{int(k): str(v)}``)."""
    ids = {}
    for k, v in names.items():
        try:
            ids[int(str(k).strip())] = v
        except ValueError:
            raise AnnotationError(f"{source}: names must have the ids 0..{len(names) - 1}, got {k!r}") from None
    if sorted(ids) != list(range(len(ids))):
        raise AnnotationError(f"{source}: names must have the ids 0..{len(ids) - 1}, got {sorted(map(str, ids))}")
    return [ids[i] for i in range(len(ids))]


def check_names(names, source: str, findings: list[Finding]) -> list[str]:
    """Class names by YOLO id (0..K-1), from a list or an ``id: name`` map; an
    empty or repeated name is refused. Names that look like numbers are read
    as names (YOLO id k is the k-th name, label-map id k + 1), and said so."""
    if isinstance(names, dict):
        names = _by_id(names, source)
    if not isinstance(names, list) or not names:
        raise AnnotationError(f"{source}: no 'names' list of classes")
    names = [str(n).strip() if n is not None else "" for n in names]
    for k, n in enumerate(names):
        if not n:
            raise AnnotationError(f"{source}: class {k} has an empty name")
    if len(set(names)) != len(names):
        raise AnnotationError(f"{source}: class names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    numeric = [n for n in names if n.lstrip("-").isdigit()]
    if numeric:
        shifted = [f"{k} -> {n!r}" for k, n in enumerate(names) if n.lstrip("-").isdigit() and n != str(k)]
        detail = (f"class names {numeric[:5]}{' ...' if len(numeric) > 5 else ''} look like numbers; they are read "
                  "as names, and a label line's class id k is the k-th name (label-map id k + 1)")
        if shifted:
            detail += f"; the ids do not match the names: {', '.join(shifted[:5])}"
        findings.append(Finding(WARNING if shifted else INFO, "yolo.numeric_names", "names", source, detail, KEPT,
                                annotation=source, value=numeric))
    return names


def _names_file(path: Path) -> list[str]:
    """obj.names / classes.txt: one name per line (trailing blank lines ignored)."""
    lines = [line.strip() for line in _read(path, "YOLO class names").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _notes_names(path: Path, classes: list[str] | None, findings: list[Finding]) -> list | None:
    """Label Studio's notes.json ``categories`` (id, name) by id. It holds the
    ids the label files use; classes.txt lists the names in the export's
    order, which need not be id order. When they disagree the ids win."""
    try:
        notes = json.loads(_read(path, "Label Studio notes.json"))
        cats = {int(c["id"]): str(c["name"]) for c in notes["categories"]}
    except (ValueError, KeyError, TypeError) as exc:
        findings.append(Finding(WARNING, "yolo.names_disagree", "categories", str(path),
                                f"cannot read its categories ({exc}); classes.txt is used", IGNORED,
                                annotation=str(path)))
        return None
    if sorted(cats) != list(range(len(cats))):
        findings.append(Finding(WARNING, "yolo.names_disagree", "categories", str(path),
                                f"category ids {sorted(cats)} are not 0..{len(cats) - 1}; classes.txt is used",
                                IGNORED, annotation=str(path), value=sorted(cats)))
        return None
    names = [cats[i] for i in range(len(cats))]
    if classes is not None and classes != names:
        findings.append(Finding(WARNING, "yolo.names_disagree", "categories", str(path),
                                f"classes.txt lists {classes} but notes.json's ids say {names}; the label files use "
                                "the ids, so notes.json's names are used", KEPT, annotation=str(path),
                                value=names))
    return names


# -- paths -----------------------------------------------------------------------------

def _val_variants(path: Path) -> list[Path]:
    """``path`` with its validation folder's name swapped (val <-> valid <-> validation)."""
    parts = list(path.parts)
    out = []
    for k, part in enumerate(parts):
        if part.lower() in _VAL_NAMES:
            out += [Path(*parts[:k], other, *parts[k + 1:]) for other in _VAL_NAMES if other != part.lower()]
    return out


def resolve_entry(base: Path, entry: str, split: str, source: str, findings: list[Finding]) -> Path | None:
    """One ``train:``/``val:``/``test:`` entry as Ultralytics resolves it (module
    docstring, steps 2-3), or None (reported) when it is not there."""
    path = Path(entry)
    x = path if path.is_absolute() else base / path
    if x.exists():
        return x
    tried = [x]
    if entry.startswith("../"):
        tried.append(base / entry[3:])
        if tried[-1].exists():
            findings.append(Finding(INFO, "yolo.split_resolved", split, source,
                                    f"{entry!r} is not there from {base}; read as {entry[3:]!r} (as Ultralytics "
                                    "does: Roboflow writes paths from a folder one level down)", KEPT,
                                    annotation=source, value=entry))
            return tried[-1]
    for other in (v for t in tried for v in _val_variants(t)):
        if other.exists():
            findings.append(Finding(INFO, "yolo.split_resolved", split, source,
                                    f"{entry!r} is not there; {os.path.relpath(other, base)!r} is, and is read as "
                                    f"the {split} split", KEPT, annotation=source, value=entry))
            return other
    findings.append(Finding(WARNING, "yolo.split_missing", split, source,
                            f"{split}: {entry!r} is not there (no folder or list file {tried[0]}); the split is left "
                            "out, the others are read", IGNORED, annotation=source, value=entry))
    return None


def _case_or_extension(path: Path, listing: dict[Path, dict[str, list[str]]]) -> Path | None:
    """The one file beside ``path`` whose name differs from it only in case, or
    an image with the same stem and another extension; None if none or several."""
    folder = path.parent
    if folder not in listing:
        index: dict[str, list[str]] = {}
        try:
            for e in os.scandir(folder):
                index.setdefault(e.name.casefold(), []).append(e.name)
                stem, ext = os.path.splitext(e.name)
                if ext.lower() in IMAGE_EXTS:
                    index.setdefault("\0" + stem.casefold(), []).append(e.name)
        except OSError:
            pass
        listing[folder] = index
    index = listing[folder]
    found = index.get(path.name.casefold()) or (
        index.get("\0" + path.stem.casefold()) if path.suffix.lower() in IMAGE_EXTS else None)
    return folder / found[0] if found and len(found) == 1 else None


def resolve_name(path: Path, what: str, item: str, source: str, listing: dict, findings: list[Finding],
                 image: str = "") -> Path:
    """``path`` if it exists, else the file that differs from it only in case or
    extension (reported; ``image``: the image it is about); else ``path`` (its
    absence is reported later). ``source`` is the file that names ``path`` (a
    list file), or for an image's label file (``image`` given) the label file's
    expected path: the finding then names the label file read beside it."""
    if path.exists():
        return path
    other = _case_or_extension(path, listing)
    if other is None:
        return path
    findings.append(Finding(INFO, "yolo.name_resolved", item, source,
                            f"{what} {path.name!r} is not there; {other.name!r} (the same name but for case or "
                            "extension) is read", FIXED, image=image,
                            annotation=str(Path(source).with_name(other.name)) if image else source, value=path.name))
    return other


def list_file_images(list_file: Path, base: Path, findings: list[Finding]) -> list[Path]:
    """The image paths a list file names, resolved as the module docstring (step 4) says."""
    out, moved, listing = [], {}, {}
    for line_no, line in enumerate(_read(list_file, "YOLO image list").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        p = Path(line)
        if p.is_absolute():
            candidates = [p]
        elif line.startswith("./"):
            candidates = [list_file.parent / line[2:]]
        else:
            candidates = [list_file.parent / p, base / p]
            if p.parts[0] == "data" and len(p.parts) > 1:
                candidates.append(list_file.parent / Path(*p.parts[1:]))
        found = next((c for c in candidates if c.exists()), None)
        if found is not None and found != candidates[0]:
            where = "without darknet's 'data/' prefix" if found == candidates[-1] and len(candidates) == 3 \
                else f"relative to {base}"
            moved[where] = moved.get(where, 0) + 1
        for c in candidates if found is None else ():  # a name that differs in case or extension
            resolved = resolve_name(c, "listed image", f"{list_file.name} line {line_no}", str(list_file), listing,
                                    findings)
            if resolved != c:
                found = resolved
                break
        out.append(found or candidates[0])  # not there: image.missing names it
    for where, n in moved.items():
        findings.append(Finding(INFO, "yolo.list_paths_resolved", list_file.name, str(list_file),
                                f"{n} of its paths are not there relative to its folder; they are read {where}",
                                KEPT, annotation=str(list_file), value=n))
    return out


def images_in(entry: Path, base: Path, findings: list[Finding]) -> list[Path]:
    """The image files of one split entry: a folder (recursively, as Ultralytics
    globs ``**/*.*``), a list file of image paths, or one image file."""
    if entry.is_dir():
        return sorted(p for p in entry.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if entry.is_file() and entry.suffix.lower() == ".txt":
        return list_file_images(entry, base, findings)
    if entry.is_file() and entry.suffix.lower() in IMAGE_EXTS:
        return [entry]
    raise UsageError(f"{entry}: named as a split but is neither an images folder nor a list file (.txt)")


# -- the layouts ---------------------------------------------------------------------

def _root(yaml_path: Path, path, findings: list[Finding]) -> Path:
    """The dataset root a data.yaml's ``path:`` names (module docstring, step 1)."""
    src = str(yaml_path)
    if not path:
        return yaml_path.parent
    p = Path(str(path))
    if p.is_absolute() and p.is_dir():
        return p
    if not p.is_absolute() and (yaml_path.parent / p).is_dir():
        return yaml_path.parent / p
    if not p.is_absolute() and p.is_dir():  # Ultralytics' own reading: the working directory
        findings.append(Finding(INFO, "yolo.path_from_cwd", "path", src,
                                f"path {path!r} is not a folder beside the yaml but is one in the working directory "
                                f"{Path.cwd()} (where Ultralytics looks); it is read from there", KEPT,
                                annotation=src, value=str(path)))
        return p.resolve()
    # Written for another machine (../datasets/coco8): the yaml's folder.
    findings.append(Finding(INFO, "yolo.path_ignored", "path", src,
                            f"path {path!r} is not a folder here; paths are read relative to {yaml_path.parent}",
                            KEPT, annotation=src, value=str(path)))
    return yaml_path.parent


def _yaml_layout(yaml_path: Path) -> Layout:
    src = str(yaml_path)
    data = parse_data_yaml(_read(yaml_path, "YOLO data.yaml"), src)
    findings: list[Finding] = []
    if "val" not in data and "validation" in data:  # Ultralytics renames it
        data["val"] = data.pop("validation")
    if data.get("names") is None and isinstance(data.get("nc"), int) and data["nc"] > 0:
        data["names"] = [f"class_{i}" for i in range(data["nc"])]  # Ultralytics: names from nc alone
        findings.append(Finding(WARNING, "yolo.names_missing", "names", src,
                                f"no names, nc: {data['nc']}; the classes are named class_0..class_{data['nc'] - 1}",
                                RENAMED, annotation=src, value=data["nc"]))
    names = check_names(data.get("names"), src, findings)
    if isinstance(data.get("nc"), int) and data["nc"] != len(names):
        findings.append(Finding(WARNING, "yolo.nc_mismatch", "nc", src,
                                f"nc is {data['nc']} but names lists {len(names)} classes; names are used", KEPT,
                                annotation=src, value=data["nc"]))
    base = _root(yaml_path, data.get("path"), findings).resolve()
    layout = Layout("data.yaml", yaml_path, base, names, findings=findings)
    shape = data.get("kpt_shape")
    if isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape):
        layout.keypoints = shape[0] * shape[1]  # Ultralytics pose labels: class cx cy w h + K x D numbers
        findings.append(Finding(INFO, "yolo.keypoints", "kpt_shape", src,
                                f"kpt_shape {shape}: each label line is a box and {layout.keypoints} keypoint numbers; "
                                "the boxes are read, the keypoints left out", IGNORED, annotation=src, value=shape))
    for split in SPLITS:
        entries = data.get(split)
        if entries is None or entries == []:
            continue
        resolved = []
        for e in entries if isinstance(entries, list) else [entries]:
            r = resolve_entry(base, str(e), split, src, findings)
            if r is None:
                layout.missing.append(f"{split}: {e!r} is not there")
            else:
                resolved.append(r)
        layout.splits.append((split, resolved))
    return layout


def _parse_obj_data(text: str, source: str) -> dict[str, str]:
    out = {}
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise AnnotationError(f"{source} line {line_no}: expected 'key = value', got {raw.strip()!r}")
        k, v = (s.strip() for s in line.split("=", 1))
        out[k] = v
    return out


def _darknet_path(root: Path, value: str) -> Path:
    """An obj.data path: relative to the dataset folder, or without the
    ``data/`` prefix darknet's own layout puts in front (datumaro writes it)."""
    p = root / value
    if not p.exists() and Path(value).parts[:1] == ("data",):
        return root / Path(*Path(value).parts[1:])
    return p


def _darknet_layout(obj_data: Path) -> Layout:
    """CVAT "YOLO 1.1" (datumaro's YoloExporter; CVAT docs, format-yolo):
    ``obj.data`` (``classes = 3``, ``names = data/obj.names``, ``train =
    data/train.txt``, ``valid = data/valid.txt``, ``backup = backup/``),
    ``obj.names``, list files of ``data/obj_<subset>_data/<image>`` and each
    image's label file beside it (``obj_train_data/a.txt``)."""
    src, root = str(obj_data), obj_data.parent.resolve()
    data = _parse_obj_data(_read(obj_data, "YOLO obj.data"), src)
    findings: list[Finding] = []
    names_file = _darknet_path(root, data.get("names", "obj.names"))
    if not names_file.is_file():
        raise AnnotationError(f"{src}: names = {data.get('names', 'obj.names')!r}: no such file ({names_file})")
    names = check_names(_names_file(names_file), str(names_file), findings)
    if data.get("classes", "").isdigit() and int(data["classes"]) != len(names):
        findings.append(Finding(WARNING, "yolo.nc_mismatch", "classes", src,
                                f"classes = {data['classes']} but {names_file.name} lists {len(names)} names; the "
                                "names are used", KEPT, annotation=src, value=int(data["classes"])))
    layout = Layout("obj.data", obj_data, root, names, findings=findings)
    for key, value in data.items():
        if key in _DARKNET_KEYS:
            continue
        split = "val" if key == "valid" else key
        entry = _darknet_path(root, value)
        if entry.is_file():
            layout.splits.append((split, [entry]))
        else:
            layout.missing.append(f"{key} = {value!r} is not there")
            findings.append(Finding(WARNING, "yolo.split_missing", split, src,
                                    f"{key} = {value!r}: no such list file; the split is left out, the others are "
                                    "read", IGNORED, annotation=src, value=value))
    return layout


def _tree_splits(root: Path) -> list[tuple[str, list[Path]]]:
    """The splits of a tree without a descriptor: ``images/<split>/``,
    ``<split>/images/`` (Roboflow's folders), else ``images/``, else the root."""
    def split_name(name: str) -> str:
        return "val" if name.lower() in _VAL_NAMES else name.lower()

    known = ("train", "test", *_VAL_NAMES)
    if (root / "images").is_dir():
        subs = [p for p in sorted((root / "images").iterdir()) if p.is_dir() and p.name.lower() in known]
        if subs:
            return [(split_name(p.name), [p]) for p in subs]
        return [("train", [root / "images"])]
    subs = [p for p in sorted(root.iterdir()) if p.name.lower() in known and (p / "images").is_dir()]
    if subs:
        return [(split_name(p.name), [p / "images"]) for p in subs]
    return [("train", [root])]


def _tree_layout(root: Path) -> Layout:
    """Label Studio's YOLO export (label-studio-converter ``convert_to_yolo``:
    ``classes.txt``, ``notes.json`` with the categories' ids, ``images/``,
    ``labels/<image stem>.txt``), LabelImg's (``classes.txt`` in the labels
    folder) and plain image/label trees."""
    root = root.resolve()
    findings: list[Finding] = []
    classes_file = next((p for p in (root / "classes.txt", root / "labels" / "classes.txt", root / "obj.names",
                                     *_lone_names_file(root)) if p.is_file()), None)
    if is_flat(root):
        findings += _unbound_lists(root)
    classes = _names_file(classes_file) if classes_file else None
    names = _notes_names(root / "notes.json", classes, findings) if (root / "notes.json").is_file() else None
    names = names or classes
    descriptor = classes_file or root
    if names is not None:
        names = check_names(names, str(descriptor), findings)
    return Layout("classes.txt" if classes_file else "tree", descriptor, root, names, _tree_splits(root), findings)


def _lone_names_file(root: Path) -> list[Path]:
    """A darknet ``<name>.names`` file, when the folder holds exactly one."""
    found = sorted(root.glob("*.names"))
    return found if len(found) == 1 else []


def _flat_images(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()]


def is_flat(path: Path) -> bool:
    """Darknet's plain folder (YOLO-mark, the labelers that feed darknet): images
    with their label files beside them (``a.jpg``, ``a.txt``) and a class names
    file (``classes.txt``, ``obj.names`` or one ``<name>.names``), no descriptor."""
    if not path.is_dir() or (path / "images").is_dir():
        return False
    if not any((path / n).is_file() for n in ("classes.txt", "obj.names")) and not _lone_names_file(path):
        return False
    return any(p.with_suffix(".txt").is_file() for p in _flat_images(path))


def _nonblank_lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in _read(path, "YOLO text file").splitlines() if line.strip()]
    except (AnnotationError, UsageError):
        return []


def _unbound_lists(root: Path) -> list[Finding]:
    """The other .txt files of a flat folder. Image list files that no obj.data
    names: which of them (``train.txt``, ``train3.txt``, ...) the author trained
    on is written nowhere, so every image in the folder is read (nothing is
    lost) and the lists are reported. Label files whose image is not there:
    their boxes cannot be read, and are counted."""
    labels = {p.with_suffix(".txt").name for p in _flat_images(root)}
    lists, orphans, boxes = [], [], 0
    for p in sorted(root.glob("*.txt")):
        if p.name in labels or p.name == "classes.txt":
            continue
        lines = _nonblank_lines(p)  # read once: a list file's first line names an image, a label file's is numbers
        if lines and Path(lines[0]).suffix.lower() in IMAGE_EXTS:
            lists.append(p.name)
        else:
            orphans.append(p.name)
            boxes += len(lines)
    out = []
    if lists:
        out.append(Finding(INFO, "yolo.lists_unused", "lists", str(root),
                           f"{len(lists)} image list file(s) ({', '.join(lists[:6])}{', ...' if len(lists) > 6 else ''}"
                           ") but no obj.data saying which split each is; every image in the folder is read as train "
                           "(re-split with --split, or write an obj.data naming the lists)", IGNORED,
                           annotation=str(root), value=lists))
    if orphans:
        out.append(Finding(WARNING, "yolo.label_without_image", "labels", str(root),
                           f"{len(orphans)} label file(s) ({', '.join(orphans[:6])}{', ...' if len(orphans) > 6 else ''}"
                           f") have no image beside them; their {boxes} box(es) are not read", IGNORED,
                           annotation=str(root), value=orphans))
    return out


def _named_yaml(root: Path) -> Path | None:
    for name in YAML_NAMES:
        if (root / name).is_file():
            return root / name
    found = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    if len(found) > 1:  # Ultralytics find_dataset_yaml: prefer the one named after the folder (HUB zips)
        found = [p for p in found if p.stem == root.name]
    return found[0] if len(found) == 1 else None


def find_layout(path: Path) -> Layout:
    """The layout of a YOLO source: a data.yaml (or any .yaml file), an obj.data,
    or a folder holding one of them or an image/label tree."""
    if path.is_file():
        return _darknet_layout(path) if path.name.lower().endswith(".data") else _yaml_layout(path)
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder (expected a YOLO dataset folder or its data.yaml)")
    yaml_path = _named_yaml(path)
    if yaml_path is not None:
        return _yaml_layout(yaml_path)
    if (path / "obj.data").is_file():
        return _darknet_layout(path / "obj.data")
    if is_tree(path) or is_flat(path):
        return _tree_layout(path)
    several = sorted(p.name for p in path.glob("*.y*ml"))
    raise UsageError(f"{path}: no data.yaml (the Ultralytics dataset file with names and train/val folders), "
                     "obj.data, images/ and labels/ folders, or images with their .txt labels beside them and a "
                     "classes.txt / .names file"
                     + (f"; several .yaml files: {', '.join(several)}" if several else ""))


def is_tree(path: Path) -> bool:
    """images/ beside labels/ (or classes.txt / notes.json), or Roboflow's <split>/images + <split>/labels."""
    if (path / "images").is_dir():
        return any((path / n).exists() for n in ("labels", "classes.txt", "notes.json"))
    return any((path / s / "images").is_dir() and (path / s / "labels").is_dir() for s in ("train", *_VAL_NAMES))


def is_yolo(path: Path) -> bool:
    """A folder with a data.yaml (or one other .yaml beside images/ or labels/),
    an obj.data or an image/label tree; or a ``.yaml`` / ``obj.data`` file."""
    if path.is_dir():
        if any((path / n).is_file() for n in (*YAML_NAMES, "obj.data")) or is_tree(path) or is_flat(path):
            return True
        yamls = list(path.glob("*.yaml")) + list(path.glob("*.yml"))
        return len(yamls) == 1 and ((path / "images").is_dir() or (path / "labels").is_dir())
    return path.is_file() and (path.suffix.lower() in (".yaml", ".yml") or path.name.lower() == "obj.data")
