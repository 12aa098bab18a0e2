"""The finding-code catalogue: every code dataprep emits, its severity, the
actions it may take and what it means, in one table.

``report.json`` and the summary table use these codes; users grep for them,
and ``tests/test_catalogue.py`` checks that every code in the source is here
and every code here is triggered by a test. A new check adds its code here,
beside its siblings, then emits ``Finding(severity, code, ...)``.

Each code also names the structured fields it always carries (non-null in
``report.json``), as letters: ``I`` the image (relative to the images root),
``A`` the annotation file that holds the finding's subject (the XML, the COCO
JSON, the CSV, the YOLO label file or data.yaml, the split list, the source
record), ``O`` the object's index in its annotation, ``V`` the offending value
as data. A finding about one image names its annotation file whenever it has
one. :mod:`dataprep.validate.report_schema` turns this table into report.json's
JSON Schema, and ``tests/test_report_schema.py`` validates every report the
test suite produces against it.

Where a code has two severities, the first is the usual one: a near-duplicate
is a warning across splits (leakage) and info within one; an undecodable image
is an error when converting (skipped) and a warning in ``dataprep split``
(records are copied as they are).
"""

from __future__ import annotations

from dataclasses import dataclass

from dataprep.findings import (
    CLIPPED,
    DROPPED_BOX,
    ERROR,
    FIXED,
    IGNORED,
    INFO,
    KEPT,
    REENCODED,
    RENAMED,
    ROTATED,
    SKIPPED_IMAGE,
    SWAPPED,
    WARNING,
)

#: ``dataprep split`` collapsed repeated copies of one record.
COLLAPSED = "collapsed"


#: The structured fields of a finding, by the letter the table below uses.
FIELD_LETTERS = {"I": "image", "A": "annotation", "O": "object_index", "V": "value"}


@dataclass(frozen=True)
class Code:
    severities: tuple[str, ...]
    actions: tuple[str, ...]
    doc: str
    #: The structured fields every finding of this code carries (``FIELD_LETTERS`` values).
    fields: tuple[str, ...] = ()


def _c(severity, action, doc: str, fields: str = "") -> Code:
    as_tuple = (lambda v: v if isinstance(v, tuple) else (v,))
    return Code(as_tuple(severity), as_tuple(action), doc, tuple(FIELD_LETTERS[c] for c in fields))


CATALOGUE: dict[str, Code] = {
    # -- reading annotations (formats/) ------------------------------------------------
    "annotation.malformed": _c(ERROR, SKIPPED_IMAGE, "an annotation file does not parse (XML); its image is skipped",
                               "A"),
    "coco.bad_image_entry": _c(ERROR, SKIPPED_IMAGE,
                               "a COCO images[] entry is not an object, lacks an id (integer, 0 <= id < 2^63) or "
                               "file_name, or repeats an id", "A"),
    "coco.bad_entry": _c(ERROR, (DROPPED_BOX, IGNORED),
                         "a COCO annotations[] or categories[] entry is not an object; dropped or ignored", "A"),
    "coco.category_zero_dropped": _c(WARNING, IGNORED,
                                     "COCO category id 0 (the background) has no boxes; left out of the label map",
                                     "A"),
    "coco.bad_iscrowd": _c(WARNING, FIXED, "a COCO iscrowd is not 0 or 1; read as 1", "AV"),
    "coco.unknown_image": _c(ERROR, DROPPED_BOX, "a COCO annotation refers to an image id that is not in images[]",
                             "AV"),
    "csv.bad_row": _c(ERROR, DROPPED_BOX, "a CSV row has the wrong number of fields, or the CSV parser rejects it",
                      "A"),
    "csv.unterminated_quote": _c(ERROR, DROPPED_BOX,
                                 "a CSV quoted field is not closed on its line; that row dropped, the next read", "A"),
    "csv.duplicate_column": _c(WARNING, KEPT, "a CSV header names a column twice; the first is used", "AV"),
    "csv.missing_filename": _c(ERROR, DROPPED_BOX, "a CSV row has an empty filename", "A"),
    "csv.non_numeric": _c(ERROR, DROPPED_BOX, "a CSV coordinate or size is not a number", "AV"),
    "voc.image_ambiguous": _c(INFO, KEPT, "several images share an XML's name (a.jpg, a.png); the one its "
                                          "<filename> names is used", "IAV"),
    "voc.filename_mismatch": _c(INFO, KEPT, "the XML's <filename> differs from the image found beside it", "IAV"),
    "split.conflict": _c(WARNING, KEPT, "an image is listed in two splits (ImageSets/Main, data.yaml); the first is kept",
                         "AV"),
    "split.derived": _c(INFO, KEPT, "no ImageSets/Main lists: the splits were derived", "A"),
    "split.missing_annotation": _c(WARNING, KEPT, "an ImageSets/Main list names an image without annotation", "AV"),
    "split.name_resolved": _c(INFO, KEPT, "an ImageSets/Main entry names an annotation but for case or extension; "
                                          "read as that one", "AV"),
    "split.unlisted": _c(WARNING, SKIPPED_IMAGE, "an annotated image is in no ImageSets/Main list", "IA"),
    "label.empty_name": _c(WARNING, RENAMED, "a COCO category has an empty name; named category_<id>", "AV"),
    "label.renumbered": _c(WARNING, RENAMED,
                           "COCO category ids cannot be label-map ids (renumbered 1..K by name), or a used "
                           "category 0 moved to a free id", "A"),
    # -- YOLO (formats/yolo.py) ------------------------------------------------------------
    "yolo.malformed_line": _c(ERROR, DROPPED_BOX, "a label line is not 'class cx cy w h' or a polygon", "IAV"),
    "yolo.class_out_of_range": _c(ERROR, DROPPED_BOX, "a label line's class id is not one of the class names' ids",
                                  "IAV"),
    "yolo.segment": _c(INFO, FIXED, "a segment (polygon) line; its bounding box is used", "IA"),
    "yolo.no_label_file": _c(INFO, KEPT, "an image without a label file; kept as a negative", "IA"),
    "yolo.nc_mismatch": _c(WARNING, KEPT, "data.yaml's nc (obj.data's classes) differs from the number of names; "
                                          "names are used", "AV"),
    "yolo.path_ignored": _c(INFO, KEPT, "data.yaml's path is not a folder here; paths are relative to the yaml", "AV"),
    "yolo.path_from_cwd": _c(INFO, KEPT, "data.yaml's path is a folder in the working directory (as Ultralytics "
                                         "reads it), not beside the yaml", "AV"),
    "yolo.split_missing": _c(WARNING, IGNORED, "a split named in data.yaml or obj.data is not there; left out, the "
                                               "others read", "AV"),
    "yolo.split_resolved": _c(INFO, KEPT, "a split's path is read as Ultralytics does ('../' dropped) or from its "
                                          "val/valid twin", "AV"),
    "yolo.list_paths_resolved": _c(INFO, KEPT, "a list file's paths are read relative to the dataset root or without "
                                               "darknet's 'data/'", "AV"),
    "yolo.lists_unused": _c(INFO, IGNORED, "a plain darknet folder holds image list files but no obj.data binding them "
                                           "to splits; every image is read as train", "AV"),
    "yolo.label_without_image": _c(WARNING, IGNORED, "label files in a plain darknet folder with no image beside "
                                                     "them; their boxes are counted, not read", "AV"),
    "yolo.name_resolved": _c(INFO, FIXED, "a listed image or label file differs from the file on disk in case or "
                                          "extension; that file is read", "AV"),
    "yolo.keypoints": _c(INFO, IGNORED, "a pose dataset (kpt_shape): each line's box is read, its keypoints left out",
                         "AV"),
    "yolo.label_shared": _c(WARNING, KEPT, "one label file names two images (same stem); its boxes are read for both",
                            "IAV"),
    "yolo.numeric_names": _c((INFO, WARNING), KEPT, "class names look like numbers; read as names (a warning when "
                                                    "name and id differ)", "AV"),
    "yolo.names_missing": _c(WARNING, RENAMED, "no class names (nc only, or a bare tree); named class_<id>", "V"),
    "yolo.names_disagree": _c(WARNING, (KEPT, IGNORED), "Label Studio's notes.json and classes.txt disagree (or "
                                                        "notes.json is unreadable); the ids win", "A"),
    # -- other tools' records (formats/tfrecord.py) ----------------------------------------
    "record.corrupt": _c(ERROR, SKIPPED_IMAGE, "a record with a bad CRC, cut short, or not a tf.train.Example; skipped",
                         "A"),
    "record.repeat": _c(INFO, SKIPPED_IMAGE, "a record repeating an earlier one's name and bytes (rebalanced); read once",
                        "A"),
    "record.filename_replaced": _c(WARNING, RENAMED, "image/filename empty, repeated or unsafe; a safe unique name",
                                   "AV"),
    "record.format_mismatch": _c(WARNING, FIXED, "image/format is not the bytes' format; the real one is written",
                                 "IA"),
    "record.sha256_missing": _c(INFO, FIXED, "no image/key/sha256; added", "IA"),
    "record.sha256_mismatch": _c(WARNING, FIXED, "image/key/sha256 is not the sha256 of image/encoded; recomputed",
                                 "IA"),
    "record.size_mismatch": _c(WARNING, FIXED, "image/height/width are not the image's size; the real size is written",
                               "IAV"),
    "record.ragged": _c(ERROR, DROPPED_BOX, "per-object lists of unequal length; boxes without a class dropped", "IA"),
    "record.label_mismatch": _c(WARNING, FIXED, "class/label disagrees with class/text through the label map; text wins",
                                "AV"),
    "record.label_unknown": _c(ERROR, DROPPED_BOX, "a box with no class/text whose class/label is not in the label map",
                               "AV"),
    "record.text_missing": _c(WARNING, RENAMED, "label ids with no class/text anywhere; named class_<id>", "AV"),
    "record.source_id_replaced": _c(INFO, FIXED, "image/source_id not a distinct integer; numbered 1..N by file", "A"),
    "label.zero_id": _c(WARNING, FIXED, "label ids start at 0 (the background); every id moved up", "A"),
    # -- annotation checks (validate/annotations.py) ----------------------------------
    "box.nan": _c(ERROR, DROPPED_BOX, "a box coordinate is missing, not a number or infinite", "IAOV"),
    "box.inverted": _c(ERROR, SWAPPED, "a box has min > max; its corners were swapped", "IAOV"),
    "box.looks_normalized": _c(ERROR, DROPPED_BOX, "pixel coordinates all in [0, 1]: fractions given as pixels",
                               "IAOV"),
    "box.duplicate": _c(WARNING, DROPPED_BOX, "a box repeats another of the same class (IoU >= 0.95)", "IAOV"),
    "box.tiny": _c(INFO, KEPT, "a box is smaller than 4 px; kept", "IAOV"),
    "label.unknown": _c(ERROR, DROPPED_BOX, "a class name is not in the label map (with the closest names)", "IAOV"),
    "label.numeric_class": _c(WARNING, RENAMED, "a class that is a number where the label map has names; read as "
                                                "that id (or 0-based index + 1) when every number fits", "V"),
    "label.no_boxes": _c(WARNING, KEPT, "a label-map class has no box in the data", "V"),
    "label.case_variants": _c(WARNING, KEPT, "class names differ only in case or spaces", "V"),
    "label.non_ascii": _c(INFO, KEPT, "a class name is not ASCII; kept as UTF-8", "V"),
    "image.annotated_twice": _c((WARNING, ERROR), SKIPPED_IMAGE,
                                "one image file is annotated by two entries; a later entry's boxes merged into the "
                                "first (skipped if annotated at another size)", "IA"),
    # -- image checks (validate/images.py, in the workers) ------------------------------
    "image.path_escapes_root": _c(ERROR, SKIPPED_IMAGE,
                                  "an image path or symbolic link leads outside the images folder "
                                  "(--follow-symlinks allows links)", "IA"),
    "image.missing": _c(ERROR, SKIPPED_IMAGE, "the image file does not exist", "IA"),
    "image.unreadable": _c(ERROR, SKIPPED_IMAGE, "the image file cannot be read (permissions, I/O)", "IA"),
    "image.not_an_image": _c(ERROR, SKIPPED_IMAGE, "the file is empty or not an image", "IA"),
    "image.too_large": _c(ERROR, SKIPPED_IMAGE, "more pixels than --max-pixels; refused before decoding", "IA"),
    "image.undecodable": _c((ERROR, WARNING), (SKIPPED_IMAGE, KEPT),
                            "the image data does not decode (truncated, corrupt)", "IA"),
    "image.unsupported_format": _c(WARNING, REENCODED, "not JPEG or PNG; re-encoded as PNG", "IAV"),
    "image.format_mismatch": _c(INFO, KEPT, "the file's extension does not match its real format", "IAV"),
    "image.cmyk": _c(INFO, (KEPT, REENCODED),
                     "a CMYK/YCCK JPEG: kept (TensorFlow decodes it to RGB), re-encoded as RGB only for another fix",
                     "IAV"),
    "image.high_bit_depth": _c(WARNING, REENCODED, "a 16-bit image; re-encoded as 8-bit", "IAV"),
    "image.exif_rotated": _c(WARNING, ROTATED, "EXIF orientation applied to the pixels to match the annotation", "IAV"),
    "image.exif_ignored": _c(INFO, KEPT, "EXIF orientation present, annotation matches the stored pixels", "IAV"),
    "image.exif_ambiguous": _c(WARNING, KEPT, "EXIF orientation and annotation size cannot tell which was seen", "IAV"),
    "image.size_mismatch": _c(WARNING, KEPT, "the annotation's width/height differ from the image's", "IAV"),
    "image.bad_annotated_size": _c(WARNING, KEPT,
                                   "the annotation's width/height is infinite or huge; the image's real size is used",
                                   "IAV"),
    "box.outside": _c(ERROR, DROPPED_BOX, "a box lies entirely outside the image", "IAOV"),
    "box.degenerate": _c(ERROR, DROPPED_BOX, "a box is narrower or shorter than --min-box-size inside the image",
                         "IAOV"),
    "box.clipped": _c(WARNING, CLIPPED, "a box extends past the image border; clipped", "IAOV"),
    "image.no_objects": _c(INFO, (KEPT, SKIPPED_IMAGE),
                           "an image without boxes: a negative, or dropped (--drop-empty)", "IA"),
    "policy.skipped": _c(ERROR, SKIPPED_IMAGE, "an image with an error finding, skipped by --on-error skip", "IA"),
    # -- the dataset as a whole (validate/dataset_findings.py, validate/duplicates.py) -------------
    "dataset.class_imbalance": _c(WARNING, KEPT, "boxes per class differ by more than 10x; consider --rebalance", "V"),
    "box.size_outlier": _c(INFO, KEPT, "a box's size is far from its class's others (robust z)", "IAOV"),
    "box.aspect_outlier": _c(INFO, KEPT, "a box's aspect ratio is far from its class's others (robust z)", "IAOV"),
    "image.byte_identical": _c(WARNING, KEPT, "two image files have identical bytes", "IAV"),
    "image.near_duplicate": _c((WARNING, INFO), KEPT, "two images look alike (perceptual hash); leakage across splits",
                               "IAV"),
    # -- layout and output (convert/layout.py, convert/resplit.py) -------------------
    "balance.dropped": _c(INFO, SKIPPED_IMAGE, "rebalancing dropped an image (--max-per-class, --negative-ratio)",
                          "IA"),
    "split.empty": _c(WARNING, KEPT, "a split --split asked for got no example; listed with 0", "V"),
    "records.count_mismatch": _c(WARNING, KEPT,
                                 "a source shard holds another number of records than its manifest says", "AV"),
    "records.repeated_copies": _c(INFO, COLLAPSED, "a rebalanced source split's repeated copies were collapsed", "V"),
    "records.conflicting_copies": _c(WARNING, COLLAPSED, "two records share source_id and sha256 but differ", "IA"),
}


def describe(code: str) -> Code:
    """The catalogue entry of ``code``; a clear error for an unknown one."""
    try:
        return CATALOGUE[code]
    except KeyError:
        raise KeyError(f"unknown finding code {code!r}; known: {', '.join(sorted(CATALOGUE))}") from None
