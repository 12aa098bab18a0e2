"""Protocol buffer message classes for ``tf.train.Example`` and the TF Object
Detection API's ``StringIntLabelMap``, built from descriptors at import time.

dataprep writes and reads records and label maps without importing TensorFlow
or the ``object_detection`` package: converting 2,000 images should not pay
ten seconds of TensorFlow import. The messages below declare the same field
numbers and types as ``tensorflow/core/example/{example,feature}.proto`` and
``object_detection/protos/string_int_label_map.proto``, so their wire and text
formats are identical. They live in a private descriptor pool and package so
they never clash with TensorFlow's own classes when both are loaded.

A base module: the label map (``dataprep.label_map``) and the records
(``dataprep.records``) both build on it, so neither imports the other for it.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(msg, name, number, ftype, label=_F.LABEL_OPTIONAL, type_name=None, packed=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed
    return f


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()

    # tensorflow/core/example/feature.proto + example.proto (proto3).
    ex = descriptor_pb2.FileDescriptorProto(name="dataprep/example.proto", package="dataprep.tf", syntax="proto3")
    for name, ftype in (("BytesList", _F.TYPE_BYTES), ("FloatList", _F.TYPE_FLOAT), ("Int64List", _F.TYPE_INT64)):
        _field(ex.message_type.add(name=name), "value", 1, ftype, _F.LABEL_REPEATED)
    feature = ex.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for i, (name, tname) in enumerate(
        (("bytes_list", "BytesList"), ("float_list", "FloatList"), ("int64_list", "Int64List")), start=1
    ):
        f = _field(feature, name, i, _F.TYPE_MESSAGE, type_name=f".dataprep.tf.{tname}")
        f.oneof_index = 0
    features = ex.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name=".dataprep.tf.Feature")
    _field(features, "feature", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".dataprep.tf.Features.FeatureEntry")
    _field(ex.message_type.add(name="Example"), "features", 1, _F.TYPE_MESSAGE, type_name=".dataprep.tf.Features")
    pool.Add(ex)

    # object_detection/protos/string_int_label_map.proto (proto2), all fields,
    # so that real label maps with keypoints or LVIS frequencies parse.
    lm = descriptor_pb2.FileDescriptorProto(name="dataprep/label_map.proto", package="dataprep.od", syntax="proto2")
    freq = lm.enum_type.add(name="LVISFrequency")
    for i, name in enumerate(("UNSPECIFIED_FREQUENCY", "FREQUENT", "COMMON", "RARE")):
        freq.value.add(name=name, number=i)
    item = lm.message_type.add(name="StringIntLabelMapItem")
    kp = item.nested_type.add(name="KeypointMap")
    _field(kp, "id", 1, _F.TYPE_INT32)
    _field(kp, "label", 2, _F.TYPE_STRING)
    _field(item, "name", 1, _F.TYPE_STRING)
    _field(item, "id", 2, _F.TYPE_INT32)
    _field(item, "display_name", 3, _F.TYPE_STRING)
    _field(item, "keypoints", 4, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".dataprep.od.StringIntLabelMapItem.KeypointMap")
    _field(item, "ancestor_ids", 5, _F.TYPE_INT32, _F.LABEL_REPEATED)
    _field(item, "descendant_ids", 6, _F.TYPE_INT32, _F.LABEL_REPEATED)
    _field(item, "frequency", 7, _F.TYPE_ENUM, type_name=".dataprep.od.LVISFrequency")
    _field(item, "instance_count", 8, _F.TYPE_INT32)
    _field(
        lm.message_type.add(name="StringIntLabelMap"),
        "item",
        1,
        _F.TYPE_MESSAGE,
        _F.LABEL_REPEATED,
        ".dataprep.od.StringIntLabelMapItem",
    )
    pool.Add(lm)
    return pool


_POOL = _build_pool()


def _cls(full_name: str):
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(full_name))


Example = _cls("dataprep.tf.Example")
Feature = _cls("dataprep.tf.Feature")
StringIntLabelMap = _cls("dataprep.od.StringIntLabelMap")
