"""Training and evaluation data.

`pipeline`: TFDS + tf.data input (the only TensorFlow in the library);
`device`: a whole split held on the devices, batched inside the jitted step.
Importing this package imports neither.
"""
