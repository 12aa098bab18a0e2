"""TFRecord output: the one ``tf.train.Example`` encoder, the sharded writer,
and the readers (``load_dataset`` in TensorFlow, a TensorFlow-free reader for
``inspect``)."""
