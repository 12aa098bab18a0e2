"""The model registry: one :class:`ModelSpec` per detector dataprep analyses, trains and exports.

Every command that names a model (``stats --anchors --model``, ``train``,
``config``, ``export``) looks it up here; adding a model is one
:func:`register` call in :data:`MODELS`' declarations below. numpy only:
importing this module never imports TensorFlow or Keras (the Keras class is a
dotted path, imported by :func:`load_builder` when a model is built).

=============================  =====  =============  ===============================
model                          input  anchors        feature-map strides (pixels)
=============================  =====  =============  ===============================
``ssdlite_mobilenet_v2``       320    SSD grid       16, 32, 64, 128, 256, 512
``ssd_mobilenet_v2``           300    SSD grid       16, 32, 64, 128, 256, 512
``ssd_mobilenet_v2_fpnlite``   320    multiscale     8, 16, 32, 64, 128
``ssd_mobilenet_v1``           300    SSD grid       16, 32, 64, 128, 256, 512   (TF1)
``ssd_mobilenet_v2_tf1``       300    SSD grid       16, 32, 64, 128, 256, 512   (TF1)
``ssdlite_mobilenet_v2_tf1``   300    SSD grid       16, 32, 64, 128, 256, 512   (TF1)
=============================  =====  =============  ===============================

The input sizes of the two zoo models are those of their TF2 detection-zoo
``pipeline.config`` (``ssd_mobilenet_v2_320x320_coco17_tpu-8`` really resizes
to 300x300; the FPNLite one to 320x320). ``ssdlite_mobilenet_v2`` is dataprep's
own default since its first trainer. The TF1 models are the TF1 zoo's
``ssd_mobilenet_v1_coco``, ``ssd_mobilenet_v2_coco`` and
``ssdlite_mobilenet_v2_coco`` (slim networks, TF1 variable names): dataprep
trains and exports them from TF1 folders (``--init-from``) but writes no TF2
pipeline.config for them (no zoo recipe).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from dataprep.anchors.kinds import ANCHOR_KINDS, MULTISCALE, SSD_GRID, AnyAnchorConfig
from dataprep.errors import UsageError


@dataclass(frozen=True)
class ZooRecipe:
    """The training recipe of a model's TF2 zoo ``pipeline.config``, as ``dataprep config`` writes it.

    Learning rate for momentum SGD at ``batch`` images (scaled linearly to the
    user's batch), warmup steps, focal-loss alpha, batch-norm decay, the crop
    augmentation (``"ssd"``: ``ssd_random_crop``; ``"random"``: ``random_crop_image``)
    and the feature extractor's and box predictor's initialisers.
    """

    lr: float
    batch: int
    warmup: int
    focal_alpha: float
    bn_decay: float
    crop: str
    extractor_initializer: str = "truncated_normal_initializer { mean: 0.0 stddev: 0.03 }"


@dataclass(frozen=True)
class PipelineSignature:
    """How a TF OD API ``pipeline.config`` names this model's network.

    A config is this model when its ``feature_extractor.type`` is one of
    ``extractor_types`` (the TF2 Keras name first, then the TF1 name of the
    same network) and every other field matches (None: not checked).
    """

    extractor_types: tuple[str, ...]
    box_predictor: str
    predictor_depthwise: bool | None = None  # box_predictor's use_depthwise
    extractor_depthwise: bool | None = None  # feature_extractor.use_depthwise
    fpn_levels: tuple[int, int] | None = None  # feature_extractor.fpn min/max level (absent: the proto's 3..7)
    #: What the model is called in messages about configs that are almost it.
    family: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything dataprep knows about one detector, declared in one place."""

    name: str
    #: Square input size of the zoo config (pixels).
    input_size: int
    #: ``"ssd"`` (``ssd_anchor_generator``) or ``"multiscale"`` (``multiscale_anchor_generator``).
    anchor_kind: str
    #: Output stride of each feature map that carries anchors, finest first.
    feature_strides: tuple[int, ...]
    #: One line for help texts and suggestions.
    description: str
    #: ``"module:Class"`` of the Keras model (imported only to build it).
    builder: str
    #: :class:`~dataprep.train.config.TrainConfig` fields passed to the builder besides the common ones.
    builder_options: tuple[str, ...] = ()
    #: How its ``pipeline.config`` reads (``dataprep config`` writes it, the reader recognises it).
    pipeline: PipelineSignature | None = None
    recipe: ZooRecipe | None = None
    #: Whether its variables map onto TF2 zoo checkpoint keys (``--init-from`` a zoo folder).
    zoo_checkpoint: bool = False
    #: Whether its variables carry the TF1 OD API's slim names (``--init-from`` a TF1 folder:
    #: model.ckpt[-N], frozen_inference_graph.pb or a TF1 saved_model).
    tf1_checkpoint: bool = False
    #: A fragment of a TF2 checkpoint key only this model's checkpoints have.
    checkpoint_marker: str | None = None
    #: Anchor settings of the zoo pipeline.config (default: the kind's defaults).
    default_anchors: Callable[[], AnyAnchorConfig] | None = field(default=None, compare=False)

    def anchors(self) -> AnyAnchorConfig:
        """The anchor settings of its zoo pipeline.config."""
        if self.default_anchors is not None:
            return self.default_anchors()
        return ANCHOR_KINDS[self.anchor_kind]()


#: name -> spec, in the order help texts list them.
MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` (a name taken twice is a programming error)."""
    if spec.name in MODELS:
        raise ValueError(f"model {spec.name!r} is registered twice")
    if spec.anchor_kind not in ANCHOR_KINDS:
        raise ValueError(f"model {spec.name!r}: unknown anchor kind {spec.anchor_kind!r}")
    MODELS[spec.name] = spec
    return spec


# [1] The TF OD API's SSD MobileNetV2 family. SSD MobileNetV2 is plain SSD with
#     convolutional_box_predictor, SSDLite when that predictor is depthwise;
#     FPNLite is the FPN extractor with use_depthwise and the weight-shared
#     predictor. Recipes: the TF2 zoo ssd_mobilenet_v2_320x320 (0.08 at 512,
#     warmup 2000) and ssd_mobilenet_v2_fpnlite_320x320 (0.08 at 128, warmup
#     1000) configs. Ref: TF OD API configs/tf2/*.config,
#     samples/configs/ssdlite_mobilenet_v2_coco.config, model_builder.py.
_SSD_RECIPE = ZooRecipe(lr=0.08, batch=512, warmup=2000, focal_alpha=0.75, bn_decay=0.97, crop="ssd")
#     The TF1 name "ssd_mobilenet_v2" is the slim network (its depths differ
#     from the Keras one below depth 1): it reads as the TF1 models below [2].
_MOBILENET_V2 = ("ssd_mobilenet_v2_keras",)
register(ModelSpec(
    "ssdlite_mobilenet_v2", 320, SSD_GRID, (16, 32, 64, 128, 256, 512),
    "MobileNetV2 + SSDLite heads (depthwise), 6 SSD feature maps",
    builder="dataprep.train.model:SSDMobileNetV2", builder_options=("use_depthwise",),
    pipeline=PipelineSignature(_MOBILENET_V2, "convolutional_box_predictor", predictor_depthwise=True),
    recipe=_SSD_RECIPE,
))
register(ModelSpec(
    "ssd_mobilenet_v2", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
    "TF2 zoo 'SSD MobileNet v2 320x320': plain SSD heads, 6 feature maps",
    builder="dataprep.train.zoo:ZooSSDMobileNetV2",
    pipeline=PipelineSignature(_MOBILENET_V2, "convolutional_box_predictor", predictor_depthwise=False),
    recipe=_SSD_RECIPE, zoo_checkpoint=True, checkpoint_marker="feature_map_generator/convolutions",
))
register(ModelSpec(
    "ssd_mobilenet_v2_fpnlite", 320, MULTISCALE, (8, 16, 32, 64, 128),
    "TF2 zoo 'SSD MobileNet V2 FPNLite 320x320': FPN with a stride-8 level",
    builder="dataprep.train.zoo:ZooSSDMobileNetV2FPNLite",
    pipeline=PipelineSignature(("ssd_mobilenet_v2_fpn_keras", "ssd_mobilenet_v2_fpn"),
                               "weight_shared_convolutional_box_predictor", extractor_depthwise=True,
                               fpn_levels=(3, 7), family="FPNLite"),
    recipe=ZooRecipe(lr=0.08, batch=128, warmup=1000, focal_alpha=0.25, bn_decay=0.997, crop="random",
                     extractor_initializer="random_normal_initializer { mean: 0.0 stddev: 0.01 }"),
    zoo_checkpoint=True, checkpoint_marker="_fpn_features_generator",
))

# [2] The TF1 zoo SSDs (issue 20): slim MobileNetV1 / MobileNetV2 with SAME
#     padding, TF1 extra layers and heads (dataprep.train.tf1). SSDLite is
#     use_depthwise in both the feature extractor and the box predictor.
#     Ref: TF1 TF OD API samples/configs/ssd{,lite}_mobilenet_v{1,2}_coco.config.
_TF1_V2_FAMILY = "TF1 SSD MobileNetV2 (SSDLite: use_depthwise: true in both the feature extractor and the box predictor)"
register(ModelSpec(
    "ssd_mobilenet_v1", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
    "TF1 zoo 'ssd_mobilenet_v1_coco': slim MobileNetV1, plain SSD heads, 6 feature maps",
    builder="dataprep.train.tf1:ssd_mobilenet_v1",
    pipeline=PipelineSignature(("ssd_mobilenet_v1",), "convolutional_box_predictor", predictor_depthwise=False,
                               extractor_depthwise=False,
                               family="TF1 SSD MobileNetV1 (dataprep builds no SSDLite MobileNetV1)"),
    tf1_checkpoint=True,
))
register(ModelSpec(
    "ssd_mobilenet_v2_tf1", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
    "TF1 zoo 'ssd_mobilenet_v2_coco': slim MobileNetV2, plain SSD heads, 6 feature maps",
    builder="dataprep.train.tf1:ssd_mobilenet_v2_tf1",
    pipeline=PipelineSignature(("ssd_mobilenet_v2",), "convolutional_box_predictor", predictor_depthwise=False,
                               extractor_depthwise=False, family=_TF1_V2_FAMILY),
    tf1_checkpoint=True,
))
register(ModelSpec(
    "ssdlite_mobilenet_v2_tf1", 300, SSD_GRID, (16, 32, 64, 128, 256, 512),
    "TF1 zoo 'ssdlite_mobilenet_v2_coco': slim MobileNetV2, SSDLite (depthwise) layers and heads",
    builder="dataprep.train.tf1:ssdlite_mobilenet_v2_tf1",
    pipeline=PipelineSignature(("ssd_mobilenet_v2",), "convolutional_box_predictor", predictor_depthwise=True,
                               extractor_depthwise=True, family=_TF1_V2_FAMILY),
    tf1_checkpoint=True,
))

#: The model (and its input size) that ``stats --anchors`` assumes and ``train`` builds by default.
DEFAULT_MODEL = "ssdlite_mobilenet_v2"
DEFAULT_INPUT_SIZE = MODELS[DEFAULT_MODEL].input_size


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; a :class:`UsageError` lists the known models."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown model {name!r} (known: {', '.join(MODELS)})") from None


def model_names(separator: str = ", ") -> str:
    """The known model names, for help texts."""
    return separator.join(MODELS)


def default_model_for_kind(kind: str) -> str:
    """The model anchors of ``kind`` are for when nothing names one: the default model
    for SSD-grid anchors, the first registered model of any other kind."""
    if MODELS[DEFAULT_MODEL].anchor_kind == kind:
        return DEFAULT_MODEL
    for spec in MODELS.values():
        if spec.anchor_kind == kind:
            return spec.name
    raise UsageError(f"no model uses {kind} anchors (known models: {', '.join(MODELS)})")


def default_anchor_config(model: str) -> AnyAnchorConfig:
    """The anchor settings of ``model``'s zoo pipeline.config.

    >>> ssd = default_anchor_config("ssd_mobilenet_v2")
    >>> type(ssd).__name__, ssd.num_anchors(300)
    ('AnchorConfig', 1917)
    >>> default_anchor_config("ssd_mobilenet_v2_fpnlite").num_anchors(320)
    12804
    """
    return model_spec(model).anchors()


def generate_anchors(
    model_or_config: str | AnyAnchorConfig, input_size: int | Sequence[int] | None = None
) -> np.ndarray:
    """``(N, 4)`` float32 anchors of a model name (its default anchors) or of anchor settings.

    ``input_size`` defaults to the model's; it is required with a config.

    >>> generate_anchors("ssd_mobilenet_v2").shape, generate_anchors("ssd_mobilenet_v2_fpnlite").shape
    ((1917, 4), (12804, 4))
    """
    if isinstance(model_or_config, str):
        config = default_anchor_config(model_or_config)
        size = model_spec(model_or_config).input_size if input_size is None else input_size
        return config.generate(size)
    if input_size is None:
        raise UsageError("generate_anchors: give input_size with an anchor config")
    return model_or_config.generate(input_size)


def load_builder(spec: ModelSpec) -> Any:
    """The Keras model class of ``spec`` (imports Keras and TensorFlow)."""
    module, _, name = spec.builder.partition(":")
    return getattr(importlib.import_module(module), name)


def tf1_models() -> list[str]:
    """The models built from TF1 folders (``--init-from`` model.ckpt / frozen graph)."""
    return [spec.name for spec in MODELS.values() if spec.tf1_checkpoint]


def tf2_models() -> list[str]:
    """The models of TF2 TF OD API configs and checkpoints (every model but the TF1 ones)."""
    return [spec.name for spec in MODELS.values() if not spec.tf1_checkpoint]


def model_of_checkpoint(keys: Sequence[str]) -> str | None:
    """The registered model whose checkpoint keys these are (by its ``checkpoint_marker``), or None."""
    for spec in MODELS.values():
        if spec.checkpoint_marker and any(spec.checkpoint_marker in k for k in keys):
            return spec.name
    return None


# ------------------------------------------------------ pipeline.config names
def _mismatch(spec: ModelSpec, kind: str, found: dict[str, Any]) -> str | None:
    """Why the extractor / predictor ``found`` is not ``spec``'s network (None: it is)."""
    sig = spec.pipeline
    assert sig is not None
    family = sig.family or "a model dataprep builds"
    if sig.extractor_depthwise is not None and bool(found["extractor_depthwise"]) != sig.extractor_depthwise:
        if sig.extractor_depthwise and sig.fpn_levels is not None:
            return f"{kind!r} without use_depthwise: true is the full FPN, not {family}"
        if sig.extractor_depthwise:
            return f"{kind!r} without use_depthwise: true is not {family}"
        return f"{kind!r} with use_depthwise: true is not {family}"
    if sig.fpn_levels is not None and found["fpn_levels"] not in (None, sig.fpn_levels):
        lo, hi = sig.fpn_levels
        return f"{kind!r} with fpn levels {found['fpn_levels']} ({family} has levels {lo}..{hi})"
    if found["box_predictor"] != sig.box_predictor:
        return f"{kind!r} with a {found['box_predictor'] or 'missing'} box predictor is not {family}"
    if sig.predictor_depthwise is not None and bool(found["predictor_depthwise"]) != sig.predictor_depthwise:
        return f"{kind!r} with a box predictor use_depthwise: {str(found['predictor_depthwise']).lower()} " \
               f"is not {family}"
    return None


def model_from_pipeline(
    extractor_type: str | None,
    box_predictor: str | None,
    predictor_depthwise: bool = False,
    extractor_depthwise: bool = False,
    fpn_levels: tuple[int, int] | None = None,
) -> tuple[str | None, str | None]:
    """The registered model of a pipeline.config's feature extractor and box predictor,
    or ``(None, why not)`` (see :class:`PipelineSignature`)."""
    found = {"box_predictor": box_predictor, "predictor_depthwise": predictor_depthwise,
             "extractor_depthwise": extractor_depthwise, "fpn_levels": fpn_levels}
    candidates = [s for s in MODELS.values() if s.pipeline and extractor_type in s.pipeline.extractor_types]
    if not candidates:
        return None, f"feature_extractor.type {extractor_type!r} is not a model dataprep builds"
    problems = []
    for spec in candidates:
        problem = _mismatch(spec, str(extractor_type), found)
        if problem is None:
            return spec.name, None
        problems.append(problem)
    return None, problems[0]


def supported_pipelines_text() -> str:
    """One line per registered model: the pipeline.config network that reads as it."""
    parts = []
    for spec in MODELS.values():
        sig = spec.pipeline
        if sig is None:
            continue
        details = [sig.box_predictor]
        if sig.predictor_depthwise is not None:
            details.append(f"predictor use_depthwise: {str(sig.predictor_depthwise).lower()}")
        if sig.extractor_depthwise:
            details.append("feature_extractor use_depthwise: true")
        if sig.fpn_levels is not None:
            details.append(f"fpn levels {sig.fpn_levels[0]}..{sig.fpn_levels[1]}")
        parts.append(f"{sig.extractor_types[0]!r} + {', '.join(details)} -> {spec.name}")
    return "; ".join(parts) + " (the TF1 FPN name without '_keras' is accepted too)"
