"""Read a TF OD API ``pipeline.config`` without TensorFlow or object_detection.

    pipeline.config text --textproto--> fields --typed Message views-->
        anchor_generator (ssd_anchor_generator | multiscale_anchor_generator)
        image_resizer, num_classes, feature_extractor, box_predictor
            -> which registered model it is (dataprep.models.registry.model_from_pipeline)
        train_config (fine-tune checkpoint), input readers
    -> PipelineSettings

The reverse for anchors is :func:`dataprep.anchors.render.render_anchor_generator`;
a whole config is written by :mod:`dataprep.train.odapi_config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Union

from dataprep.anchors.generator import AnchorConfig, AnchorConfigError, Size
from dataprep.anchors.kinds import AnyAnchorConfig
from dataprep.anchors.multiscale import MultiscaleAnchorConfig
from dataprep.models.registry import model_from_pipeline, model_spec, supported_pipelines_text
from dataprep.models.textproto import Message, parse_text_proto

PathLike = Union[str, "os.PathLike[str]"]

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

# ------------------------------------------------------------ pipeline.config
@dataclass(frozen=True)
class PipelineSettings:
    """What dataprep needs from an SSD pipeline.config.

    ``model`` is dataprep's name of the network (a key of
    :data:`dataprep.models.registry.MODELS`) or None when the feature extractor
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
            raise AnchorConfigError(f"{self.source}: {self.model_problem} (supported: {supported_pipelines_text()})")
        return self.model


def _pairs_of(msg: Message, y_name: str, x_name: str) -> tuple[tuple[int, int], ...] | None:
    ys, xs = msg.get_list(y_name, "int"), msg.get_list(x_name, "int")
    if len(ys) != len(xs):
        raise AnchorConfigError(
            f"{msg.where()}: {msg.path}: {y_name} has {len(ys)} values but {x_name} has {len(xs)}"
        )
    return tuple(zip(ys, xs)) if ys else None


def _anchor_config(msg: Message) -> AnchorConfig:
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
        raise AnchorConfigError(f"{msg.where()}: {msg.path}: {exc}") from None


def _multiscale_config(msg: Message) -> MultiscaleAnchorConfig:
    # [5] Absent fields take the proto defaults of multiscale_anchor_generator.proto:
    #     levels 3..7, anchor_scale 4.0, scales_per_octave 2, normalized; no
    #     default aspect ratios (the TF OD API would make no anchors at all).
    msg.check_known(set(_MULTISCALE_ANCHOR_FIELDS))
    ratios = tuple(msg.get_list("aspect_ratios", "float"))
    if not ratios:
        raise AnchorConfigError(f"{msg.where()}: {msg.path}: no aspect_ratios (the TF OD API would make no anchors)")
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
        raise AnchorConfigError(f"{msg.where()}: {msg.path}: {exc}") from None


def _any_anchor_config(generator: Message) -> AnyAnchorConfig:
    ssd_gen = generator.message("ssd_anchor_generator")
    if ssd_gen is not None:
        return _anchor_config(ssd_gen)
    multiscale = generator.message("multiscale_anchor_generator")
    if multiscale is not None:
        return _multiscale_config(multiscale)
    kinds = ", ".join(generator.names()) or "empty"
    raise AnchorConfigError(
        f"{generator.where()}: model.ssd.anchor_generator is {kinds}; only ssd_anchor_generator and "
        "multiscale_anchor_generator are supported"
    )


def _feature_extractor(ssd: Message) -> dict[str, Any]:
    # ssd.proto SsdFeatureExtractor defaults: depth_multiplier 1.0, min_depth 16,
    # pad_to_multiple 1, use_depthwise false.
    extractor = ssd.message("feature_extractor")
    if extractor is None:
        return {"feature_extractor_type": None}
    pad = extractor.get("pad_to_multiple", "int", 1)
    if pad < 1:
        raise AnchorConfigError(
            f"{extractor.where()}: model.ssd.feature_extractor.pad_to_multiple must be >= 1, got {pad}"
        )
    depth_multiplier = extractor.get("depth_multiplier", "float", 1.0)
    if depth_multiplier <= 0:
        raise AnchorConfigError(
            f"{extractor.where()}: model.ssd.feature_extractor.depth_multiplier must be > 0, got {depth_multiplier}"
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


def _box_predictor(ssd: Message) -> tuple[str | None, bool]:
    predictor = ssd.message("box_predictor")
    if predictor is None or not predictor.names():
        return None, False
    kind = predictor.names()[0]
    block = predictor.message(kind)
    depthwise = block.get("use_depthwise", "bool", False) if block is not None else False
    return kind, depthwise


def _training(root: Message) -> dict[str, Any]:
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


def _resizer(ssd: Message) -> dict[str, Any]:
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
            raise AnchorConfigError(f"{fixed.where()}: {fixed.path}: size must be positive, got {height}x{width}")
        return {"input_size": (height, width), "resizer": "fixed_shape_resizer"}
    keep = resizer.message("keep_aspect_ratio_resizer")
    if keep is not None:
        lo, hi = keep.get("min_dimension", "int", 600), keep.get("max_dimension", "int", 1024)
        if not 0 < lo <= hi:
            raise AnchorConfigError(
                f"{keep.where()}: {keep.path}: need 0 < min_dimension <= max_dimension, got {lo}, {hi}"
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
    root = Message(parse_text_proto(text, source), "", source)
    model = root.message("model")
    if model is None:
        raise AnchorConfigError(f"{source}: no 'model {{ ... }}' block")
    ssd = model.message("ssd")
    if ssd is None:
        kinds = ", ".join(model.names()) or "empty"
        raise AnchorConfigError(f"{source}: model is not an SSD (model {{ {kinds} }}), no model.ssd block")
    generator = ssd.message("anchor_generator")
    if generator is None:
        raise AnchorConfigError(f"{ssd.where()}: model.ssd has no anchor_generator block")
    anchor_config = _any_anchor_config(generator)
    num_classes = ssd.get("num_classes", "int", 0)
    if num_classes < 0:
        raise AnchorConfigError(f"{ssd.where()}: model.ssd.num_classes must be >= 0, got {num_classes}")
    extractor = _feature_extractor(ssd)
    predictor, predictor_depthwise = _box_predictor(ssd)
    model_name, problem = model_from_pipeline(extractor.get("feature_extractor_type"), predictor, predictor_depthwise,
                                              extractor.get("use_depthwise", False), extractor.get("fpn_levels"))
    if model_name is not None and model_spec(model_name).anchor_kind != anchor_config.kind:
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
