"""Tests for gin_keras: gin-configurable Keras layers that Keras 3 accepts."""
import gin
import keras
import numpy as np

from gansynth_tf2 import gin_keras


@gin_keras.configurable
class Scale(keras.layers.Layer):

  def __init__(self, factor=1.0, **kwargs):
    super().__init__(**kwargs)
    self.factor = factor

  def call(self, x):
    return x * self.factor


def test_bindings_apply_and_keras_config_round_trips():
  with gin.unlock_config():
    gin.parse_config('Scale.factor = 3.0')
  try:
    layer = Scale()
    assert layer.factor == 3.0
    np.testing.assert_allclose(layer(np.ones(2, np.float32)), [3.0, 3.0])
    assert Scale(factor=2.0).get_config()['factor'] == 2.0
    # Keras' automatic config needs the real signature, not gin's wrapper.
    clone = Scale.from_config(Scale(factor=5.0).get_config())
    assert clone.factor == 5.0
  finally:
    gin.clear_config()
  assert Scale().factor == 1.0
