"""Train, evaluate and export an SSD MobileNetV2 (SSDLite) detector on dataprep records.

One file per part of the detector and of the run:

- :mod:`~dataprep.train.config`   ``TrainConfig``: every setting, saved as ``RUN_DIR/config.json``
- :mod:`~dataprep.train.anchor_generator`  the anchor generator (the anchors of :mod:`dataprep.anchors`)
- :mod:`~dataprep.train.model`    MobileNetV2 backbone, SSD feature maps, SSDLite heads (Keras 3)
- :mod:`~dataprep.train.zoo`      the TF2 zoo ``ssd_mobilenet_v2`` and ``ssd_mobilenet_v2_fpnlite`` (Keras 3)
- :mod:`~dataprep.train.build`    ``build_model``: the model a ``TrainConfig`` names
- :mod:`~dataprep.train.restore`  ``--init-from``: zoo checkpoints and run folders into our models
- :mod:`~dataprep.train.encoder`  matcher, box coder, label encoder (in the ``tf.data`` pipeline)
- :mod:`~dataprep.train.decoder`  box decoding, NMS, class ids (``keras.ops``)
- :mod:`~dataprep.train.losses`   sigmoid focal loss, smooth L1, hard negative mining (``keras.ops``)
- :mod:`~dataprep.train.input_pipeline` the ``tf.data`` input pipeline with augmentation
- :mod:`~dataprep.train.devices`  CPU / GPU / several GPUs, mixed precision, XLA
- :mod:`~dataprep.train.trainer`  ``train()``: fit, checkpoints, resume, logs, summary
- :mod:`~dataprep.train.evaluate` COCO mAP with pycocotools
- :mod:`~dataprep.train.export`   SavedModel (TF OD API output names) and TFLite
- :mod:`~dataprep.train.predict`  detectors for inference and drawing
- :mod:`~dataprep.train.odapi_config`  ``dataprep config``: a TF OD API pipeline.config for the records

Importing this package imports neither TensorFlow nor Keras; the modules do.
"""

from dataprep.train.config import TrainConfig

__all__ = ["TrainConfig"]
