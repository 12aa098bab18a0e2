"""Anchor and model settings in and out of files, without TensorFlow or object_detection.

* :func:`read_pipeline_config` / :func:`parse_pipeline_config` read a TF OD API
  ``pipeline.config`` (protobuf text format) with a small tokenizer: the anchor
  settings (``ssd_anchor_generator`` or ``multiscale_anchor_generator``),
  ``num_classes``, the image resizer, the feature extractor (which of
  dataprep's models it is, depth multiplier, ``pad_to_multiple`` ...), the
  fine-tune checkpoint and the input readers.
* :func:`render_anchor_generator` writes the ``anchor_generator { ... }``
  block of either kind to paste into a pipeline.config.
* :func:`write_anchors_json` / :func:`read_anchors_json` store dataprep's own
  anchors file: an :class:`AnchorConfig` or :class:`MultiscaleAnchorConfig`
  plus the input size and the model it is for.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Union

from dataprep.anchors.generator import AnchorConfig, AnchorConfigError, Size, as_input_size
from dataprep.anchors.models import MODELS, MULTISCALE, AnyAnchorConfig
from dataprep.anchors.multiscale import MultiscaleAnchorConfig
from dataprep.errors import DataprepError

PathLike = Union[str, "os.PathLike[str]"]

#: ``format`` value of dataprep's anchors JSON file, and its version.
ANCHORS_JSON_FORMAT = "dataprep.anchors"
ANCHORS_JSON_VERSION = 1

# ------------------------------------------------------------ text format ---
# [1] Protobuf text format: fields are `name: scalar`, `name { ... }`,
#     `name: { ... }` or `name < ... >`; repeated scalars may also be written
#     `name: [a, b]`; `#` starts a comment; `,`/`;` may end a field. Like
#     text_format.Merge (which the TF OD API uses), the last value of a singular
#     scalar wins and repeated occurrences of a message are merged.
#     Ref: https://protobuf.dev/reference/protobuf/textformat-spec/
_TOKEN_RE = re.compile(
    r"""
    (?P<newline>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}<>:\[\],;])
  | (?P<word>[A-Za-z0-9_.+\-]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "punct", "word", "end"
    text: str
    line: int


@dataclass(frozen=True)
class _Field:
    name: str
    value: Union[_Token, "list[_Field]"]  # scalar token or message fields
    line: int

    @property
    def is_message(self) -> bool:
        return isinstance(self.value, list)


def _tokenize(text: str, source: str) -> list[_Token]:
    tokens: list[_Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20].split("\n")[0]
            raise AnchorConfigError(f"{source}:{line}: cannot parse text near {snippet!r}")
        kind = match.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind in ("string", "punct", "word"):
            tokens.append(_Token(kind, match.group(), line))
        pos = match.end()
    tokens.append(_Token("end", "", line))
    return tokens


class _Parser:
    """Recursive-descent parser of protobuf text format into :class:`_Field` lists."""

    _CLOSE = {"{": "}", "<": ">"}

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(text, source)
        self.pos = 0

    def _peek(self) -> _Token:
        return self.tokens[self.pos]

    def _next(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _error(self, token: _Token, message: str) -> AnchorConfigError:
        found = "end of file" if token.kind == "end" else repr(token.text)
        return AnchorConfigError(f"{self.source}:{token.line}: {message}, found {found}")

    def parse(self) -> list[_Field]:
        fields = self._message(closing=None)
        return fields

    def _message(self, closing: str | None) -> list[_Field]:
        fields: list[_Field] = []
        while True:
            token = self._peek()
            if token.kind == "end":
                if closing is not None:
                    raise self._error(token, f"expected {closing!r} to close a message")
                return fields
            if token.kind == "punct" and token.text == closing:
                self._next()
                return fields
            fields.extend(self._field())
            if self._peek().kind == "punct" and self._peek().text in ",;":
                self._next()

    def _field_name(self) -> _Token:
        token = self._next()
        if token.kind == "punct" and token.text == "[":  # extension or Any type URL
            parts = []
            while not (self._peek().kind == "punct" and self._peek().text == "]"):
                part = self._next()
                if part.kind == "end":
                    raise self._error(part, "expected ']' after extension name")
                parts.append(part.text)
            self._next()
            return _Token("word", "[" + "".join(parts) + "]", token.line)
        if token.kind != "word" or not re.match(r"[A-Za-z_]\w*$", token.text):
            raise self._error(token, "expected a field name")
        return token

    def _field(self) -> list[_Field]:
        name = self._field_name()
        token = self._peek()
        has_colon = token.kind == "punct" and token.text == ":"
        if has_colon:
            self._next()
            token = self._peek()
        if token.kind == "punct" and token.text in self._CLOSE:
            self._next()
            return [_Field(name.text, self._message(self._CLOSE[token.text]), name.line)]
        if not has_colon:
            raise self._error(token, f"expected ':' or '{{' after field {name.text!r}")
        if token.kind == "punct" and token.text == "[":
            self._next()
            return self._list(name)
        return [_Field(name.text, self._scalar(), name.line)]

    def _list(self, name: _Token) -> list[_Field]:
        items: list[_Field] = []
        while True:
            token = self._peek()
            if token.kind == "punct" and token.text == "]":
                self._next()
                return items
            if items:
                if not (token.kind == "punct" and token.text == ","):
                    raise self._error(token, f"expected ',' or ']' in the list of {name.text!r}")
                self._next()
                token = self._peek()
            if token.kind == "punct" and token.text in self._CLOSE:
                self._next()
                items.append(_Field(name.text, self._message(self._CLOSE[token.text]), token.line))
            else:
                items.append(_Field(name.text, self._scalar(), token.line))

    def _scalar(self) -> _Token:
        token = self._next()
        if token.kind == "word":
            return token
        if token.kind == "string":
            text = token.text
            while self._peek().kind == "string":  # adjacent strings concatenate
                text = text[:-1] + self._next().text[1:]
            return _Token("string", text, token.line)
        raise self._error(token, "expected a value")


def parse_text_proto(text: str, source: str = "<string>") -> list[_Field]:
    """Parse protobuf text format into a list of fields (internal structure)."""
    return _Parser(text, source).parse()


# -------------------------------------------------------- typed field access
class _Message:
    """Read-only view of merged message fields with typed getters and clear errors."""

    def __init__(self, fields: list[_Field], path: str, source: str, line: int = 0) -> None:
        self.fields = fields
        self.path = path
        self.source = source
        self.line = line

    def _where(self, field: _Field | None = None) -> str:
        line = field.line if field is not None else self.line
        return f"{self.source}:{line}" if line else self.source

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def message(self, name: str) -> "_Message | None":
        found = [f for f in self.fields if f.name == name]
        if not found:
            return None
        for f in found:
            if not f.is_message:
                raise AnchorConfigError(f"{self._where(f)}: {self.path}.{name}: expected a {{ ... }} block")
        merged = [child for f in found for child in f.value]  # type: ignore[union-attr]
        return _Message(merged, f"{self.path}.{name}" if self.path else name, self.source, found[0].line)

    def _scalars(self, name: str) -> list[_Field]:
        found = [f for f in self.fields if f.name == name]
        for f in found:
            if f.is_message:
                raise AnchorConfigError(f"{self._where(f)}: {self.path}.{name}: expected a value, not a block")
        return found

    def _convert(self, f: _Field, kind: str) -> Any:
        token = f.value
        assert isinstance(token, _Token)
        where = f"{self._where(f)}: {self.path}.{f.name}"
        if kind == "string":
            if token.kind != "string":
                raise AnchorConfigError(f"{where}: expected a quoted string, got {token.text!r}")
            return token.text[1:-1]
        if token.kind == "string":
            raise AnchorConfigError(f"{where}: expected {_KIND_NAMES[kind]}, got the string {token.text}")
        try:
            return _CONVERTERS[kind](token.text)
        except ValueError:
            raise AnchorConfigError(f"{where}: expected {_KIND_NAMES[kind]}, got {token.text!r}") from None

    def get(self, name: str, kind: str, default: Any) -> Any:
        found = self._scalars(name)
        return self._convert(found[-1], kind) if found else default

    def get_list(self, name: str, kind: str) -> list[Any]:
        return [self._convert(f, kind) for f in self._scalars(name)]

    def check_known(self, known: set[str]) -> None:
        for f in self.fields:
            if f.name not in known:
                raise AnchorConfigError(
                    f"{self._where(f)}: {self.path}: unknown field {f.name!r} "
                    f"(expected one of: {', '.join(sorted(known))})"
                )


def _parse_int(text: str) -> int:
    match = re.fullmatch(r"([-+]?)(0[xX][0-9a-fA-F]+|\d+)", text)
    if match is None:
        raise ValueError(text)
    sign, digits = (-1 if match.group(1) == "-" else 1), match.group(2)
    return sign * int(digits, 16 if digits[:2].lower() == "0x" else 10)


def _parse_float(text: str) -> float:
    t = text[:-1] if text[-1:] in "fF" and not text.lower().endswith("inf") else text
    value = float(t)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _parse_bool(text: str) -> bool:
    if text in ("true", "True", "t", "1"):
        return True
    if text in ("false", "False", "f", "0"):
        return False
    raise ValueError(text)


_CONVERTERS = {"int": _parse_int, "float": _parse_float, "bool": _parse_bool}
_KIND_NAMES = {"int": "an integer", "float": "a finite number", "bool": "true or false", "string": "a string"}

# Field types of object_detection/protos/ssd_anchor_generator.proto.
_SSD_ANCHOR_FIELDS = {
    "num_layers": "int",
    "min_scale": "float",
    "max_scale": "float",
    "scales": "float",
    "aspect_ratios": "float",
    "interpolated_scale_aspect_ratio": "float",
    "base_anchor_height": "float",
    "base_anchor_width": "float",
    "height_stride": "int",
    "width_stride": "int",
    "height_offset": "int",
    "width_offset": "int",
    "reduce_boxes_in_lowest_layer": "bool",
}

# Field types of object_detection/protos/multiscale_anchor_generator.proto.
_MULTISCALE_ANCHOR_FIELDS = {
    "min_level": "int",
    "max_level": "int",
    "anchor_scale": "float",
    "aspect_ratios": "float",
    "scales_per_octave": "int",
    "normalize_coordinates": "bool",
}

# [4] feature_extractor.type (TF2 Keras name, and the TF1 name of the same
#     network) + box predictor -> dataprep model. SSD MobileNetV2 is plain SSD
#     with convolutional_box_predictor, SSDLite when that predictor is
#     depthwise; FPNLite is the FPN extractor with use_depthwise and the
#     weight-shared predictor. Ref: TF OD API configs/tf2/*.config,
#     samples/configs/ssdlite_mobilenet_v2_coco.config, model_builder.py.
_EXTRACTOR_FAMILIES = {
    "ssd_mobilenet_v2_keras": "ssd",
    "ssd_mobilenet_v2": "tf1",  # TF1 slim networks (issue 20): dataprep.train.tf1
    "ssd_mobilenet_v1": "tf1",
    "ssd_mobilenet_v2_fpn_keras": "fpn",
    "ssd_mobilenet_v2_fpn": "fpn",
}
_SUPPORTED_MODELS_TEXT = (
    "'ssd_mobilenet_v2_keras' + convolutional_box_predictor -> ssd_mobilenet_v2; "
    "the same with use_depthwise: true in the box predictor -> ssdlite_mobilenet_v2; "
    "'ssd_mobilenet_v2_fpn_keras' with use_depthwise: true, fpn levels 3..7 + "
    "weight_shared_convolutional_box_predictor -> ssd_mobilenet_v2_fpnlite "
    "(TF1 names without '_keras' are accepted too); TF1: 'ssd_mobilenet_v1' + convolutional_box_predictor "
    "-> ssd_mobilenet_v1; 'ssd_mobilenet_v2' + convolutional_box_predictor -> ssd_mobilenet_v2_tf1, both "
    "with use_depthwise: true -> ssdlite_mobilenet_v2_tf1"
)


# ------------------------------------------------------------ pipeline.config
@dataclass(frozen=True)
class PipelineSettings:
    """What dataprep needs from an SSD pipeline.config.

    ``model`` is dataprep's name of the network (a key of
    :data:`dataprep.anchors.models.MODELS`) or None when the feature extractor
    and box predictor are not one dataprep builds (``model_problem`` says why;
    :meth:`require_model` turns that into an error). ``anchor_config`` already
    carries the extractor's ``pad_to_multiple``.
    """

    anchor_config: AnyAnchorConfig
    num_classes: int
    input_size: Size | None  # fixed model input (None for a variable-size resizer)
    resizer: str | None  # "fixed_shape_resizer", "keep_aspect_ratio_resizer" or None
    min_dimension: int | None = None  # keep_aspect_ratio_resizer only
    max_dimension: int | None = None
    feature_extractor_type: str | None = None
    source: str = "<string>"
    model: str | None = None
    model_problem: str | None = None
    box_predictor: str | None = None  # "convolutional_box_predictor", ...
    depth_multiplier: float = 1.0
    min_depth: int = 16
    pad_to_multiple: int = 1
    use_depthwise: bool = False  # feature_extractor.use_depthwise
    fine_tune_checkpoint: str | None = None
    fine_tune_checkpoint_type: str | None = None
    label_map_path: str | None = None  # train_input_reader's
    train_input_paths: tuple[str, ...] = ()
    eval_input_paths: tuple[str, ...] = ()
    batch_size: int | None = None
    num_steps: int | None = None

    def require_model(self) -> str:
        """``model``, or an :class:`AnchorConfigError` naming the file and the supported models."""
        if self.model is None:
            raise AnchorConfigError(f"{self.source}: {self.model_problem} (supported: {_SUPPORTED_MODELS_TEXT})")
        return self.model


def _pairs_of(msg: _Message, y_name: str, x_name: str) -> tuple[tuple[int, int], ...] | None:
    ys, xs = msg.get_list(y_name, "int"), msg.get_list(x_name, "int")
    if len(ys) != len(xs):
        raise AnchorConfigError(
            f"{msg._where()}: {msg.path}: {y_name} has {len(ys)} values but {x_name} has {len(xs)}"
        )
    return tuple(zip(ys, xs)) if ys else None


def _anchor_config(msg: _Message) -> AnchorConfig:
    # [2] Absent fields take the proto defaults of ssd_anchor_generator.proto:
    #     num_layers 6, min_scale 0.2, max_scale 0.95, no scales, no aspect
    #     ratios, interpolated_scale_aspect_ratio 1.0, base anchor 1.0 x 1.0,
    #     reduce_boxes_in_lowest_layer true, no strides/offsets.
    #     Ref: TF OD API protos/ssd_anchor_generator.proto, anchor_generator_builder.py.
    msg.check_known(set(_SSD_ANCHOR_FIELDS))
    try:
        return AnchorConfig(
            num_layers=msg.get("num_layers", "int", 6),
            min_scale=msg.get("min_scale", "float", 0.2),
            max_scale=msg.get("max_scale", "float", 0.95),
            scales=tuple(msg.get_list("scales", "float")) or None,
            aspect_ratios=tuple(msg.get_list("aspect_ratios", "float")),
            interpolated_scale_aspect_ratio=msg.get("interpolated_scale_aspect_ratio", "float", 1.0),
            base_anchor_size=(
                msg.get("base_anchor_height", "float", 1.0),
                msg.get("base_anchor_width", "float", 1.0),
            ),
            reduce_boxes_in_lowest_layer=msg.get("reduce_boxes_in_lowest_layer", "bool", True),
            anchor_strides=_pairs_of(msg, "height_stride", "width_stride"),
            anchor_offsets=_pairs_of(msg, "height_offset", "width_offset"),
        )
    except AnchorConfigError as exc:
        if str(exc).startswith(msg.source):
            raise
        raise AnchorConfigError(f"{msg._where()}: {msg.path}: {exc}") from None


def _multiscale_config(msg: _Message) -> MultiscaleAnchorConfig:
    # [5] Absent fields take the proto defaults of multiscale_anchor_generator.proto:
    #     levels 3..7, anchor_scale 4.0, scales_per_octave 2, normalized; no
    #     default aspect ratios (the TF OD API would make no anchors at all).
    msg.check_known(set(_MULTISCALE_ANCHOR_FIELDS))
    ratios = tuple(msg.get_list("aspect_ratios", "float"))
    if not ratios:
        raise AnchorConfigError(f"{msg._where()}: {msg.path}: no aspect_ratios (the TF OD API would make no anchors)")
    try:
        return MultiscaleAnchorConfig(
            min_level=msg.get("min_level", "int", 3),
            max_level=msg.get("max_level", "int", 7),
            anchor_scale=msg.get("anchor_scale", "float", 4.0),
            aspect_ratios=ratios,
            scales_per_octave=msg.get("scales_per_octave", "int", 2),
            normalize_coordinates=msg.get("normalize_coordinates", "bool", True),
        )
    except AnchorConfigError as exc:
        if str(exc).startswith(msg.source):
            raise
        raise AnchorConfigError(f"{msg._where()}: {msg.path}: {exc}") from None


def _any_anchor_config(generator: _Message) -> AnyAnchorConfig:
    ssd_gen = generator.message("ssd_anchor_generator")
    if ssd_gen is not None:
        return _anchor_config(ssd_gen)
    multiscale = generator.message("multiscale_anchor_generator")
    if multiscale is not None:
        return _multiscale_config(multiscale)
    kinds = ", ".join(generator.names()) or "empty"
    raise AnchorConfigError(
        f"{generator._where()}: model.ssd.anchor_generator is {kinds}; only ssd_anchor_generator and "
        "multiscale_anchor_generator are supported"
    )


def _feature_extractor(ssd: _Message) -> dict[str, Any]:
    # ssd.proto SsdFeatureExtractor defaults: depth_multiplier 1.0, min_depth 16,
    # pad_to_multiple 1, use_depthwise false.
    extractor = ssd.message("feature_extractor")
    if extractor is None:
        return {"feature_extractor_type": None}
    pad = extractor.get("pad_to_multiple", "int", 1)
    if pad < 1:
        raise AnchorConfigError(
            f"{extractor._where()}: model.ssd.feature_extractor.pad_to_multiple must be >= 1, got {pad}"
        )
    depth_multiplier = extractor.get("depth_multiplier", "float", 1.0)
    if depth_multiplier <= 0:
        raise AnchorConfigError(
            f"{extractor._where()}: model.ssd.feature_extractor.depth_multiplier must be > 0, got {depth_multiplier}"
        )
    fpn = extractor.message("fpn")
    return {
        "feature_extractor_type": extractor.get("type", "string", None),
        "depth_multiplier": depth_multiplier,
        "min_depth": extractor.get("min_depth", "int", 16),
        "pad_to_multiple": pad,
        "use_depthwise": extractor.get("use_depthwise", "bool", False),
        "fpn_levels": (fpn.get("min_level", "int", 3), fpn.get("max_level", "int", 7)) if fpn else None,
    }


def _box_predictor(ssd: _Message) -> tuple[str | None, bool]:
    predictor = ssd.message("box_predictor")
    if predictor is None or not predictor.names():
        return None, False
    kind = predictor.names()[0]
    block = predictor.message(kind)
    depthwise = block.get("use_depthwise", "bool", False) if block is not None else False
    return kind, depthwise


def _model_name(
    extractor: dict[str, Any], predictor: str | None, predictor_depthwise: bool
) -> tuple[str | None, str | None]:
    """dataprep model of an extractor + box predictor, or ``(None, why not)``."""
    kind = extractor.get("feature_extractor_type")
    family = _EXTRACTOR_FAMILIES.get(kind or "")
    if family is None:
        return None, f"feature_extractor.type {kind!r} is not a model dataprep builds"
    if family == "tf1":
        return _tf1_model_name(kind, extractor, predictor, predictor_depthwise)
    if family == "ssd":
        if predictor != "convolutional_box_predictor":
            return None, f"{kind!r} with a {predictor or 'missing'} box predictor is not a model dataprep builds"
        return ("ssdlite_mobilenet_v2" if predictor_depthwise else "ssd_mobilenet_v2"), None
    if not extractor.get("use_depthwise"):
        return None, f"{kind!r} without use_depthwise: true is the full FPN, not FPNLite"
    if extractor.get("fpn_levels") not in (None, (3, 7)):
        return None, f"{kind!r} with fpn levels {extractor['fpn_levels']} (FPNLite has levels 3..7)"
    if predictor != "weight_shared_convolutional_box_predictor":
        return None, f"{kind!r} with a {predictor or 'missing'} box predictor is not FPNLite"
    return "ssd_mobilenet_v2_fpnlite", None


def _tf1_model_name(kind: str, extractor: dict[str, Any], predictor: str | None,
                    predictor_depthwise: bool) -> tuple[str | None, str | None]:
    """The TF1 zoo SSDs (slim networks): ssd_mobilenet_v1, ssd_mobilenet_v2, ssdlite_mobilenet_v2."""
    if predictor != "convolutional_box_predictor":
        return None, f"{kind!r} with a {predictor or 'missing'} box predictor is not a model dataprep builds"
    depthwise = bool(extractor.get("use_depthwise"))
    if depthwise != predictor_depthwise:
        return None, (f"{kind!r} with use_depthwise {depthwise} in the feature extractor but {predictor_depthwise} "
                      "in the box predictor is not a model dataprep builds")
    if kind == "ssd_mobilenet_v1":
        if depthwise:
            return None, "'ssd_mobilenet_v1' with use_depthwise (SSDLite MobileNetV1) is not a model dataprep builds"
        return "ssd_mobilenet_v1", None
    return ("ssdlite_mobilenet_v2_tf1" if depthwise else "ssd_mobilenet_v2_tf1"), None


def _training(root: _Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    train = root.message("train_config")
    if train is not None:
        out["fine_tune_checkpoint"] = train.get("fine_tune_checkpoint", "string", None)
        out["fine_tune_checkpoint_type"] = train.get("fine_tune_checkpoint_type", "string", None)
        out["batch_size"] = train.get("batch_size", "int", None)
        out["num_steps"] = train.get("num_steps", "int", None)
    for name, key in (("train_input_reader", "train_input_paths"), ("eval_input_reader", "eval_input_paths")):
        reader = root.message(name)
        if reader is None:
            continue
        if name == "train_input_reader":
            out["label_map_path"] = reader.get("label_map_path", "string", None)
        records = reader.message("tf_record_input_reader")
        if records is not None:
            out[key] = tuple(records.get_list("input_path", "string"))
    return out


def _resizer(ssd: _Message) -> dict[str, Any]:
    # [3] image_resizer.proto defaults: fixed_shape_resizer 300 x 300;
    #     keep_aspect_ratio_resizer min 600, max 1024, no padding. A keep-aspect
    #     resizer has a fixed input only with pad_to_max_dimension (max x max).
    resizer = ssd.message("image_resizer")
    if resizer is None:
        return {"input_size": None, "resizer": None}
    fixed = resizer.message("fixed_shape_resizer")
    if fixed is not None:
        height, width = fixed.get("height", "int", 300), fixed.get("width", "int", 300)
        if height < 1 or width < 1:
            raise AnchorConfigError(f"{fixed._where()}: {fixed.path}: size must be positive, got {height}x{width}")
        return {"input_size": (height, width), "resizer": "fixed_shape_resizer"}
    keep = resizer.message("keep_aspect_ratio_resizer")
    if keep is not None:
        lo, hi = keep.get("min_dimension", "int", 600), keep.get("max_dimension", "int", 1024)
        if not 0 < lo <= hi:
            raise AnchorConfigError(
                f"{keep._where()}: {keep.path}: need 0 < min_dimension <= max_dimension, got {lo}, {hi}"
            )
        pad = keep.get("pad_to_max_dimension", "bool", False)
        return {
            "input_size": (hi, hi) if pad else None,
            "resizer": "keep_aspect_ratio_resizer",
            "min_dimension": lo,
            "max_dimension": hi,
        }
    kinds = ", ".join(resizer.names()) or "nothing"
    return {"input_size": None, "resizer": kinds}


def parse_pipeline_config(text: str, source: str = "<string>") -> PipelineSettings:
    """Read anchor, model and training settings from pipeline.config text.

    >>> s = parse_pipeline_config('''model { ssd { num_classes: 3
    ...   image_resizer { fixed_shape_resizer { height: 320 width: 320 } }
    ...   anchor_generator { ssd_anchor_generator { min_scale: 0.1 aspect_ratios: [1.0, 2.0] } } } }''')
    >>> s.num_classes, s.input_size, s.anchor_config.min_scale, s.anchor_config.aspect_ratios
    (3, (320, 320), 0.1, (1.0, 2.0))
    """
    root = _Message(parse_text_proto(text, source), "", source)
    model = root.message("model")
    if model is None:
        raise AnchorConfigError(f"{source}: no 'model {{ ... }}' block")
    ssd = model.message("ssd")
    if ssd is None:
        kinds = ", ".join(model.names()) or "empty"
        raise AnchorConfigError(f"{source}: model is not an SSD (model {{ {kinds} }}), no model.ssd block")
    generator = ssd.message("anchor_generator")
    if generator is None:
        raise AnchorConfigError(f"{ssd._where()}: model.ssd has no anchor_generator block")
    anchor_config = _any_anchor_config(generator)
    num_classes = ssd.get("num_classes", "int", 0)
    if num_classes < 0:
        raise AnchorConfigError(f"{ssd._where()}: model.ssd.num_classes must be >= 0, got {num_classes}")
    extractor = _feature_extractor(ssd)
    predictor, predictor_depthwise = _box_predictor(ssd)
    model_name, problem = _model_name(extractor, predictor, predictor_depthwise)
    if model_name is not None and (MODELS[model_name].anchor_kind == MULTISCALE) != (anchor_config.kind == MULTISCALE):
        problem = f"{model_name} with {anchor_config.kind} anchors is not a model dataprep builds"
        model_name = None
    pad = extractor.pop("pad_to_multiple", 1)
    extractor.pop("fpn_levels", None)
    return PipelineSettings(
        anchor_config=anchor_config.replace(pad_to_multiple=pad),
        num_classes=num_classes,
        source=source,
        model=model_name,
        model_problem=problem,
        box_predictor=predictor,
        pad_to_multiple=pad,
        **extractor,
        **_resizer(ssd),
        **_training(root),
    )


def read_pipeline_config(path: PathLike, *, require_model: bool = False) -> PipelineSettings:
    """:func:`parse_pipeline_config` of a file; errors name the file and line.

    With ``require_model``, a feature extractor / box predictor that is not one
    of dataprep's models is an error listing the supported ones.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorConfigError(f"{source}: cannot read pipeline config: {exc}") from None
    settings = parse_pipeline_config(text, source)
    if require_model:
        settings.require_model()
    return settings


# -------------------------------------------------------------------- render
def _fmt(value: float) -> str:
    return repr(float(value))


def render_ssd_anchor_generator(config: AnchorConfig, indent: int = 0, wrap: bool = False) -> str:
    """The ``ssd_anchor_generator { ... }`` block for ``config`` (text format).

    ``wrap`` adds the enclosing ``anchor_generator { }``. Feature map sizes are
    not part of the proto (the feature extractor decides them).

    >>> print(render_ssd_anchor_generator(AnchorConfig(aspect_ratios=(1.0, 2.0))))
    ssd_anchor_generator {
      num_layers: 6
      min_scale: 0.2
      max_scale: 0.95
      aspect_ratios: 1.0
      aspect_ratios: 2.0
      interpolated_scale_aspect_ratio: 1.0
      base_anchor_height: 1.0
      base_anchor_width: 1.0
      reduce_boxes_in_lowest_layer: true
    }
    """
    body = [
        f"num_layers: {config.num_layers}",
        f"min_scale: {_fmt(config.min_scale)}",
        f"max_scale: {_fmt(config.max_scale)}",
    ]
    body += [f"scales: {_fmt(s)}" for s in config.scales or ()]
    body += [f"aspect_ratios: {_fmt(a)}" for a in config.aspect_ratios]
    body += [
        f"interpolated_scale_aspect_ratio: {_fmt(config.interpolated_scale_aspect_ratio)}",
        f"base_anchor_height: {_fmt(config.base_anchor_size[0])}",
        f"base_anchor_width: {_fmt(config.base_anchor_size[1])}",
    ]
    for pairs, (y_name, x_name) in (
        (config.anchor_strides, ("height_stride", "width_stride")),
        (config.anchor_offsets, ("height_offset", "width_offset")),
    ):
        if not pairs:
            continue
        if any(v != int(v) for pair in pairs for v in pair):
            raise AnchorConfigError(f"{y_name}/{x_name} are int32 in pipeline.config, got {pairs}")
        body += [f"{y_name}: {int(y)}" for y, _ in pairs]
        body += [f"{x_name}: {int(x)}" for _, x in pairs]
    body.append(f"reduce_boxes_in_lowest_layer: {'true' if config.reduce_boxes_in_lowest_layer else 'false'}")
    lines = ["ssd_anchor_generator {"] + ["  " + line for line in body] + ["}"]
    if wrap:
        lines = ["anchor_generator {"] + ["  " + line for line in lines] + ["}"]
    pad = " " * indent
    return "\n".join(pad + line for line in lines)


def render_multiscale_anchor_generator(config: MultiscaleAnchorConfig, indent: int = 0, wrap: bool = False) -> str:
    """The ``multiscale_anchor_generator { ... }`` block for ``config`` (text format).

    ``pad_to_multiple`` belongs to the feature extractor and is not written here.

    >>> print(render_multiscale_anchor_generator(MultiscaleAnchorConfig()))
    multiscale_anchor_generator {
      min_level: 3
      max_level: 7
      anchor_scale: 4.0
      aspect_ratios: 1.0
      aspect_ratios: 2.0
      aspect_ratios: 0.5
      scales_per_octave: 2
      normalize_coordinates: true
    }
    """
    body = [f"min_level: {config.min_level}", f"max_level: {config.max_level}",
            f"anchor_scale: {_fmt(config.anchor_scale)}"]
    body += [f"aspect_ratios: {_fmt(a)}" for a in config.aspect_ratios]
    body += [f"scales_per_octave: {config.scales_per_octave}",
             f"normalize_coordinates: {'true' if config.normalize_coordinates else 'false'}"]
    lines = ["multiscale_anchor_generator {"] + ["  " + line for line in body] + ["}"]
    if wrap:
        lines = ["anchor_generator {"] + ["  " + line for line in lines] + ["}"]
    pad = " " * indent
    return "\n".join(pad + line for line in lines)


def render_anchor_generator(config: AnyAnchorConfig, indent: int = 0, wrap: bool = True) -> str:
    """The ``anchor_generator { ... }`` block of either kind of anchor settings."""
    if isinstance(config, MultiscaleAnchorConfig):
        return render_multiscale_anchor_generator(config, indent, wrap)
    return render_ssd_anchor_generator(config, indent, wrap)


# ------------------------------------------------------- dataprep anchors JSON
@dataclass(frozen=True)
class AnchorsFile:
    """What an anchors JSON holds: the settings, the input size and the model."""

    config: AnyAnchorConfig
    input_size: Size
    #: The detector the anchors are for; files written before it was recorded
    #: read as the default model of their anchor kind (:func:`default_model_for`).
    model: str
    #: False for such older files: their ``model`` is a default, not a record.
    model_recorded: bool = True


def default_model_for(config: AnyAnchorConfig) -> str:
    """The model an anchors file without ``model`` is for: the default model
    for SSD-grid settings, the first multiscale model for multiscale ones."""
    from dataprep.anchors.models import DEFAULT_MODEL

    if isinstance(config, MultiscaleAnchorConfig):
        return next(spec.name for spec in MODELS.values() if spec.anchor_kind == MULTISCALE)
    return DEFAULT_MODEL


def anchors_json_dict(config: AnyAnchorConfig, input_size: int | tuple[int, int],
                      model: str | None = None) -> dict[str, Any]:
    """The content of dataprep's anchors JSON file for ``config`` at ``input_size``."""
    size = as_input_size(input_size)
    return {
        "format": ANCHORS_JSON_FORMAT,
        "version": ANCHORS_JSON_VERSION,
        "model": model or default_model_for(config),
        "kind": config.kind,
        "input_size": list(size),
        "num_anchors": config.num_anchors(size),
        "num_anchors_per_location": config.num_anchors_per_location(),
        "anchor_config": config.to_dict(),
    }


def write_anchors_json(path: PathLike, config: AnyAnchorConfig, input_size: int | tuple[int, int],
                       model: str | None = None) -> None:
    """Write dataprep's anchors JSON (model, anchor kind, input size, settings)
    to ``path``: everything ``dataprep train --anchors`` needs to build the
    analysed anchors."""
    data = anchors_json_dict(config, input_size, model)
    with open(os.fspath(path), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")


def read_anchors_json(path: PathLike) -> tuple[AnyAnchorConfig, Size]:
    """Read a file written by :func:`write_anchors_json`: ``(config, (height, width))``."""
    saved = read_anchors_file(path)
    return saved.config, saved.input_size


def read_anchors_file(path: PathLike) -> AnchorsFile:
    """Read a file written by :func:`write_anchors_json`, model included.

    ``kind`` (``"ssd"`` when absent, as in files of older versions) says which
    kind of anchor settings it holds; ``model`` (absent in older files) names
    the detector, by default that of the anchor kind (:func:`default_model_for`).
    The model's anchor kind must be the file's.
    """
    from dataprep.anchors.models import model_spec

    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnchorConfigError(f"{source}: cannot read anchors JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != ANCHORS_JSON_FORMAT:
        raise AnchorConfigError(f"{source}: not a dataprep anchors file (format must be {ANCHORS_JSON_FORMAT!r})")
    if data.get("version") != ANCHORS_JSON_VERSION:
        raise AnchorConfigError(f"{source}: unsupported anchors file version {data.get('version')!r}")
    try:
        size = as_input_size(data.get("input_size"))
        kind = data.get("kind", AnchorConfig.kind)
        kinds = {AnchorConfig.kind: AnchorConfig, MultiscaleAnchorConfig.kind: MultiscaleAnchorConfig}
        if kind not in kinds:
            raise AnchorConfigError(f"unknown anchors kind {kind!r} (known: {', '.join(kinds)})")
        config = kinds[kind].from_dict(data.get("anchor_config"))
    except AnchorConfigError as exc:
        raise AnchorConfigError(f"{source}: {exc}") from None
    expected = data.get("num_anchors")
    if expected is not None and expected != config.num_anchors(size):
        raise AnchorConfigError(
            f"{source}: num_anchors is {expected!r} but the settings give {config.num_anchors(size)}"
        )
    recorded = "model" in data
    model = data.get("model", default_model_for(config))
    if not isinstance(model, str):
        raise AnchorConfigError(f"{source}: model must be a model name, got {model!r}")
    try:
        spec = model_spec(model)
    except DataprepError as exc:
        raise AnchorConfigError(f"{source}: {exc}") from None
    if spec.anchor_kind != config.kind:
        raise AnchorConfigError(f"{source}: holds {config.kind} anchors but the {model} model "
                                f"predicts on {spec.anchor_kind} anchors")
    return AnchorsFile(config=config, input_size=size, model=model, model_recorded=recorded)
