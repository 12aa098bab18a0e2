"""TFLite model metadata for an object detector, written from the schema.

MediaPipe Tasks' ``ObjectDetector`` and the TFLite Task Library refuse a
detector without metadata ("Object detection models require TFLite Model
Metadata"). The metadata is a second flatbuffer (schema ``metadata_schema.fbs``
of the TFLite Support / MediaPipe projects, file identifier ``M001``) stored in
one of the model's buffers and named ``TFLITE_METADATA`` in ``Model.metadata``;
associated files (the label file) are a zip archive appended to the model.
tflite-support's writer pins protobuf < 4 and MediaPipe's own Python writers
need a module its wheel no longer ships, so the few tables are built here with
``flatbuffers`` directly; the MediaPipe test is the proof that they read.

What is written, as the TF OD API models on TF Hub carry it:

- input ``image``: RGB, normalisation mean 0 / std 1 (the model takes pixels
  0..255 and normalises inside), stats min 0 / max 255;
- outputs ``location`` (boxes, ``BoundingBoxProperties`` index 1, 0, 3, 2 =
  the op's ymin, xmin, ymax, xmax as left, top, right, bottom; ratios),
  ``category`` (with ``labels.txt``: line i names class index i), ``score``,
  ``number of detections``, and the tensor group ``detection_result``.
"""

from __future__ import annotations

import io
import zipfile
from typing import Sequence

import flatbuffers
import numpy as np

METADATA_NAME = b"TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
MODEL_IDENTIFIER = b"TFL3"
LABEL_FILE = "labels.txt"
#: Tensor groups need metadata parser 1.2.0.
MIN_PARSER_VERSION = "1.2.0"
OUTPUTS = (("location", "The locations of the detected boxes (ymin, xmin, ymax, xmax, normalised)."),
           ("category", "The categories of the detected boxes (index into labels.txt)."),
           ("score", "The scores of the detected boxes."),
           ("number of detections", "The number of the detected boxes."))

# metadata_schema.fbs: union type codes and enum values used below
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES, _BOUNDING_BOX_PROPERTIES = 1, 2, 3
_NORMALIZATION_OPTIONS = 1
_RGB = 1
_BOUNDARIES = 1
_RATIO = 0
_TENSOR_VALUE_LABELS = 3


def _schema():
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated


def read_model(model: bytes):
    schema = _schema()
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))


def write_model(model_t) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model_t.Pack(builder), file_identifier=MODEL_IDENTIFIER)
    return bytes(builder.Output())


def standard_outputs(model: bytes, op_name: str) -> bytes:
    """Make the subgraph's outputs the outputs of ``op_name`` in the op's order
    (boxes, classes, scores, count); the converter orders them by its own names."""
    m = read_model(model)
    graph = m.subgraphs[0]
    ops = [op for op in graph.operators if (m.operatorCodes[op.opcodeIndex].customCode or b"") == op_name.encode()]
    if len(ops) != 1:
        raise RuntimeError(f"the converted model has {len(ops)} {op_name} ops, expected 1")
    outputs = [int(i) for i in ops[0].outputs]
    if sorted(outputs) != sorted(int(i) for i in graph.outputs):
        raise RuntimeError(f"the model's outputs are not those of {op_name}")
    graph.outputs = np.asarray(outputs, dtype=np.int32)
    for signature in m.signatureDefs or []:
        signature.outputs.sort(key=lambda t: outputs.index(t.tensorIndex))
    return write_model(m)


def set_uint8_input_to_pixels(model: bytes) -> bytes:
    """Make a uint8 input mean raw pixels (scale 1, zero point 0).

    The calibration decides the input's quantisation from the range it saw
    (e.g. scale 0.996 when no calibration image held a 0 and a 255); MediaPipe
    and other runtimes feed raw pixels to a uint8 model. The converter's first
    op requantises the uint8 input to the model's int8 input, so only the
    uint8 tensor's parameters change and the meaning of the graph is kept.
    """
    schema = _schema()
    m = read_model(model)
    graph = m.subgraphs[0]
    tensor = graph.tensors[int(graph.inputs[0])]
    if tensor.type != schema.TensorType.UINT8:
        return model
    tensor.quantization.scale = np.asarray([1.0], dtype=np.float32)
    tensor.quantization.zeroPoint = np.asarray([0], dtype=np.int64)
    return write_model(m)


def label_file(class_names: Sequence[str]) -> bytes:
    """Line i is the name of class index i, as the metadata readers map it."""
    for name in class_names:
        if "\n" in name or "\r" in name:
            raise ValueError(f"class name {name!r} holds a line break; the TFLite label file has one name a line")
    return "".join(f"{n}\n" for n in class_names).encode("utf-8")


def add_metadata(model: bytes, class_names: Sequence[str], *, quantized_input: bool, input_size: int,
                 name: str = "dataprep SSD detector") -> bytes:
    """``model`` with the object-detector metadata and ``labels.txt`` attached."""
    schema = _schema()
    if quantized_input:
        model = set_uint8_input_to_pixels(model)
    m = read_model(model)
    metadata = build_metadata(name, input_size)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(metadata, dtype=np.uint8)
    m.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(m.buffers) - 1
    m.metadata = [e for e in (m.metadata or []) if e.name != METADATA_NAME] + [entry]
    packed = io.BytesIO(write_model(m))
    packed.seek(0, io.SEEK_END)
    with zipfile.ZipFile(packed, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(LABEL_FILE, label_file(class_names))
    return packed.getvalue()


# ------------------------------------------------------------------ the metadata flatbuffer
class _Tables:
    """Small helpers over :class:`flatbuffers.Builder` for the schema's tables
    (a field's slot is its position in the table of metadata_schema.fbs)."""

    def __init__(self) -> None:
        self.b = flatbuffers.Builder(1024)

    def table(self, fields: dict[int, tuple[str, object]]) -> int:
        """``fields``: slot -> (kind, value), kind ``offset``, ``byte``, ``uint``; values built beforehand."""
        b = self.b
        b.StartObject(max(fields) + 1 if fields else 0)
        for slot, (kind, value) in sorted(fields.items()):
            if kind == "offset":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "byte":
                b.PrependInt8Slot(slot, value, -1)  # never equal to the default: always written
            elif kind == "uint":
                b.PrependUint32Slot(slot, value, 0)
        return b.EndObject()

    def string(self, text: str) -> int:
        return self.b.CreateString(text)

    def offsets(self, items: Sequence[int]) -> int:
        self.b.StartVector(4, len(items), 4)
        for item in reversed(items):
            self.b.PrependUOffsetTRelative(item)
        return self.b.EndVector()

    def floats(self, values: Sequence[float]) -> int:
        return self.b.CreateNumpyVector(np.asarray(values, dtype=np.float32))

    def uints(self, values: Sequence[int]) -> int:
        return self.b.CreateNumpyVector(np.asarray(values, dtype=np.uint32))


def build_metadata(name: str, input_size: int) -> bytes:
    t = _Tables()
    image = _input_metadata(t, input_size)
    outputs = [_output_metadata(t, i, tensor_name, description) for i, (tensor_name, description) in
               enumerate(OUTPUTS)]
    group = t.table({0: ("offset", t.string("detection_result")),
                     1: ("offset", t.offsets([t.string(n) for n, _ in OUTPUTS[:3]]))})
    subgraph = t.table({0: ("offset", t.string("detection")),
                        2: ("offset", t.offsets([image])), 3: ("offset", t.offsets(outputs)),
                        8: ("offset", t.offsets([group]))})
    root = t.table({0: ("offset", t.string(name)),
                    1: ("offset", t.string("SSD object detector exported by dataprep: boxes, classes, scores "
                                           "and count from TFLite_Detection_PostProcess.")),
                    3: ("offset", t.offsets([subgraph])),
                    7: ("offset", t.string(MIN_PARSER_VERSION))})
    t.b.Finish(root, file_identifier=METADATA_IDENTIFIER)
    return bytes(t.b.Output())


def _input_metadata(t: _Tables, input_size: int) -> int:
    size = t.table({0: ("uint", input_size), 1: ("uint", input_size)})
    properties = t.table({0: ("byte", _RGB), 1: ("offset", size)})
    content = t.table({0: ("byte", _IMAGE_PROPERTIES), 1: ("offset", properties)})
    normalization = t.table({0: ("offset", t.floats([0.0])), 1: ("offset", t.floats([1.0]))})
    unit = t.table({0: ("byte", _NORMALIZATION_OPTIONS), 1: ("offset", normalization)})
    stats = t.table({0: ("offset", t.floats([255.0])), 1: ("offset", t.floats([0.0]))})
    return t.table({0: ("offset", t.string("image")),
                    1: ("offset", t.string("Input image, RGB pixels 0..255 (the model normalises inside).")),
                    3: ("offset", content), 4: ("offset", t.offsets([unit])), 5: ("offset", stats)})


def _output_metadata(t: _Tables, index: int, tensor_name: str, description: str) -> int:
    fields: dict[int, tuple[str, object]] = {0: ("offset", t.string(tensor_name)),
                                             1: ("offset", t.string(description))}
    if index == 0:  # boxes: the op's ymin, xmin, ymax, xmax are left=1, top=0, right=3, bottom=2
        properties = t.table({0: ("offset", t.uints([1, 0, 3, 2])), 1: ("byte", _BOUNDARIES),
                              2: ("byte", _RATIO)})
        kind = _BOUNDING_BOX_PROPERTIES
    else:
        properties = t.table({})
        kind = _FEATURE_PROPERTIES
    value_range = t.table({0: ("uint", 2), 1: ("uint", 2)}) if index < 3 else None  # detections on dimension 2
    content_fields = {0: ("byte", kind), 1: ("offset", properties)}
    if value_range is not None:
        content_fields[2] = ("offset", value_range)
    fields[3] = ("offset", t.table(content_fields))
    if index == 1:
        label = t.table({0: ("offset", t.string(LABEL_FILE)),
                         1: ("offset", t.string("Class names, line i for class index i.")),
                         2: ("byte", _TENSOR_VALUE_LABELS)})
        fields[6] = ("offset", t.offsets([label]))
    return t.table(fields)
