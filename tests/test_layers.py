"""Tests for layers.py against plain numpy versions of Magenta's formulas."""
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2 import layers
from gansynth_tf2 import networks


def _rand(*shape, seed=0):
  return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def test_pixel_norm():
  x = _rand(2, 3, 4, 5)
  expected = x / np.sqrt(np.mean(x**2, axis=3, keepdims=True) + 1e-8)
  np.testing.assert_allclose(layers.pixel_norm(x), expected, rtol=1e-5)
  np.testing.assert_allclose(layers.PixelNorm()(x), expected, rtol=1e-5)


@pytest.mark.parametrize('scale', [1, 2, 4])
def test_box_scaling_both_axes(scale):
  x = _rand(2, 8, 16, 3)
  up = np.repeat(np.repeat(x, scale, axis=1), scale, axis=2)
  np.testing.assert_array_equal(layers.upscale(x, scale), up)
  np.testing.assert_array_equal(layers.BoxUpscale(scale)(x), up)
  down = x.reshape(2, 8 // scale, scale, 16 // scale, scale, 3).mean(
      axis=(2, 4))
  np.testing.assert_allclose(layers.downscale(x, scale), down, rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(layers.BoxDownscale(scale)(x), down, rtol=1e-5,
                             atol=1e-6)
  # Box down after nearest-neighbour up is the identity.
  np.testing.assert_allclose(layers.downscale(layers.upscale(x, scale), scale),
                             x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('scale', [2, 4])
def test_box_scaling_height_only(scale):
  x = _rand(2, 8, 16, 3)
  up = np.repeat(x, scale, axis=1)
  np.testing.assert_array_equal(layers.upscale_height(x, scale), up)
  np.testing.assert_array_equal(layers.BoxUpscale(scale, height_only=True)(x),
                                up)
  down = x.reshape(2, 8 // scale, scale, 16, 3).mean(axis=2)
  np.testing.assert_allclose(layers.downscale_height(x, scale), down,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      layers.BoxDownscale(scale, height_only=True)(x), down, rtol=1e-5,
      atol=1e-6)


def test_upscale_unknown_batch_in_tf_function():
  fn = tf.function(lambda x: layers.upscale(x, 2),
                   input_signature=[tf.TensorSpec([None, 2, 3, 1])])
  x = _rand(5, 2, 3, 1)
  np.testing.assert_array_equal(fn(x), np.repeat(np.repeat(x, 2, 1), 2, 2))


@pytest.mark.parametrize('scale', [0, -2, 1.5])
def test_bad_scale(scale):
  with pytest.raises(ValueError, match='scale'):
    layers.upscale(_rand(1, 2, 2, 1), scale)


def test_minibatch_stddev():
  x = _rand(4, 2, 3, 5)
  stat = np.mean(np.sqrt(np.var(x, axis=0) + 1e-6))
  out = layers.MinibatchStddev()(x).numpy()
  assert out.shape == (4, 2, 3, 6)
  np.testing.assert_array_equal(out[..., :5], x)
  np.testing.assert_allclose(out[..., 5], np.full((4, 2, 3), stat), rtol=1e-5)


def test_he_initializer_scale():
  assert layers.he_initializer_scale([3, 3, 8, 16], 0.0) == pytest.approx(
      np.sqrt(2. / 72))
  assert layers.he_initializer_scale([100, 10], 1.0) == pytest.approx(
      np.sqrt(1. / 100))


@pytest.mark.parametrize('use_weight_scaling', [True, False])
def test_equalized_conv2d(use_weight_scaling):
  tf.keras.utils.set_random_seed(1)
  layer = layers.EqualizedConv2D(16, 3, he_initializer_slope=0.0,
                                 use_weight_scaling=use_weight_scaling)
  x = _rand(64, 6, 6, 8)
  y = layer(x).numpy()
  assert y.shape == (64, 6, 6, 16)
  kernel = layer.kernel.numpy()
  he = np.sqrt(2. / (3 * 3 * 8))
  # Weight scaling: N(0, 1) weights, He scale at run time; else N(0, he^2).
  expected_std = 1.0 if use_weight_scaling else he
  assert np.std(kernel) == pytest.approx(expected_std, rel=0.1)
  layer.bias.assign(np.arange(16, dtype=np.float32))
  post = he if use_weight_scaling else 1.0
  # Reference: explicit 3x3 SAME correlation in numpy.
  xp = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
  ref = np.zeros((64, 6, 6, 16), np.float64)
  for i in range(3):
    for j in range(3):
      ref += np.einsum('bhwc,cf->bhwf', xp[:, i:i + 6, j:j + 6], kernel[i, j])
  ref = post * ref + np.arange(16)
  np.testing.assert_allclose(layer(x), ref, rtol=1e-4, atol=1e-4)


def test_equalized_conv2d_valid_and_activation():
  layer = layers.EqualizedConv2D(4, (2, 3), padding='VALID',
                                 activation=tf.nn.relu)
  y = layer(_rand(2, 5, 7, 3)).numpy()
  assert y.shape == (2, 4, 5, 4)
  assert y.min() >= 0.0
  assert layer.kernel.shape == (2, 3, 3, 4)


@pytest.mark.parametrize('use_weight_scaling', [True, False])
def test_equalized_dense(use_weight_scaling):
  layer = layers.EqualizedDense(5, use_weight_scaling=use_weight_scaling)
  x = _rand(3, 1, 1, 8)  # flattened to [3, 8], as Magenta's custom_dense
  y = layer(x).numpy()
  assert y.shape == (3, 5)
  assert layer.kernel.shape == (8, 5)
  post = np.sqrt(1. / 8) if use_weight_scaling else 1.0
  np.testing.assert_allclose(
      y, post * x.reshape(3, 8) @ layer.kernel.numpy() + layer.bias.numpy(),
      rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('make, shape', [
    (lambda: layers.EqualizedConv2D(3, 3, activation=networks._leaky_relu_pixel_norm,  # pylint: disable=protected-access
                                    he_initializer_slope=0.0), (2, 8, 8, 4)),
    (lambda: layers.EqualizedConv2D(2, (1, 3), strides=(1, 1), padding='VALID',
                                    activation='tanh',
                                    use_weight_scaling=False), (2, 8, 8, 4)),
    (lambda: layers.EqualizedConv2D(2, 1), (2, 4, 4, 3)),
    (lambda: layers.EqualizedDense(5, activation=networks._leaky_relu),  # pylint: disable=protected-access
     (2, 3, 3, 2)),
    (lambda: layers.PixelNorm(epsilon=0.5), (2, 4, 4, 3)),
    (lambda: layers.MinibatchStddev(), (4, 4, 4, 3)),
    (lambda: layers.BoxUpscale(2, height_only=True), (2, 4, 4, 3)),
    (lambda: layers.BoxDownscale(4), (2, 8, 8, 3)),
])
def test_config_round_trip_rebuilds_the_same_layer(make, shape):
  """from_config(get_config()) gives a layer computing the same function
  (as keras-hub's run_layer_test checks): every argument is in the config."""
  layer = make()
  x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  y = layer(x)
  clone = type(layer).from_config(layer.get_config())
  clone(x)  # builds it
  clone.set_weights(layer.get_weights())
  np.testing.assert_allclose(clone(x), y, rtol=1e-6, atol=1e-6)
  assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize('scale_h, scale_w', [(2, 2), (2, 1), (1, 2), (3, 2),
                                              (1, 1)])
def test_upscale_conv2d_equals_upscale_then_conv(scale_h, scale_w):
  """The sub-pixel form gives conv2d(nearest_upscale(x)) for any integer
  factors, values and gradients (w.r.t. input and kernel)."""
  rng = np.random.RandomState(scale_h * 10 + scale_w)
  x = tf.constant(rng.standard_normal((2, 5, 7, 3)), tf.float32)
  k = tf.constant(rng.standard_normal((3, 3, 3, 4)), tf.float32)

  def literal(x, k):
    up = layers._box_up(x, scale_h, scale_w)  # pylint: disable=protected-access
    return tf.nn.conv2d(up, k, 1, 'SAME')

  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x, k])
    want = literal(x, k)
    got = layers.upscale_conv2d(x, k, scale_h, scale_w)
    weights = tf.constant(rng.standard_normal(want.shape), tf.float32)
    loss_want = tf.reduce_sum(want * weights)
    loss_got = tf.reduce_sum(got * weights)
  assert got.shape == (2, 5 * scale_h, 7 * scale_w, 4)
  np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())
  for var in (x, k):
    g_want, g_got = tape.gradient(loss_want, var), tape.gradient(loss_got, var)
    np.testing.assert_allclose(g_got, g_want,
                               atol=2e-5 * np.abs(g_want).max())


def test_equalized_conv_upscale_argument():
  conv = layers.EqualizedConv2D(4, 3, activation='tanh')
  x = tf.random.normal([1, 4, 6, 3])
  conv.build(x.shape)
  want = conv(layers.upscale(x, 2))
  np.testing.assert_allclose(conv(x, upscale=(2, 2)), want, atol=1e-5)
  with pytest.raises(ValueError, match='3x3'):
    layers.upscale_conv2d(x, tf.zeros([1, 1, 3, 4]), 2, 2)
  one_by_one = layers.EqualizedConv2D(4, 1)
  one_by_one.build(x.shape)
  assert not one_by_one.can_upscale
  with pytest.raises(ValueError, match='stride-1 SAME 3x3'):
    one_by_one(x, upscale=(2, 2))


def _np_pixel_norm(x):
  x = np.asarray(x, np.float64)
  return x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-8)


# 8 channels take XLA's reduction, 64 the matrix-vector form (layers.py).
@pytest.mark.parametrize('dtype', [tf.bfloat16, tf.float16])
@pytest.mark.parametrize('channels', [8, 64])
def test_16_bit_pixel_norms_equal_the_formula(dtype, channels):
  """pixel_norm, pixel_norm_scale and pixel_norm_phases on 16-bit maps
  give the float formula on the same 16-bit values, to the output's
  rounding; the phases come out interleaved as `interleave` puts them."""
  tol = {tf.bfloat16: 2**-7, tf.float16: 2**-10}[dtype]
  x = tf.cast(_rand(2, 3, 5, channels) * 3.0, dtype)
  values = x.numpy().astype(np.float64)
  got = layers.pixel_norm(x)
  assert got.dtype == dtype
  np.testing.assert_allclose(tf.cast(got, tf.float32), _np_pixel_norm(values),
                             atol=2 * tol * np.abs(_np_pixel_norm(values)).max())
  scale = layers.pixel_norm_scale(x)
  assert scale.dtype == tf.float32 and scale.shape == (2, 3, 5, 1)
  np.testing.assert_allclose(
      scale, 1 / np.sqrt(np.mean(values**2, axis=-1, keepdims=True) + 1e-8),
      rtol=1e-5)
  for scale_h, scale_w in [(2, 2), (2, 1), (1, 2)]:
    phases = [[tf.cast(_rand(2, 3, 5, channels, seed=10 * a + e), dtype)
               for e in range(scale_w)] for a in range(scale_h)]
    got = layers.pixel_norm_phases(phases)
    assert got.dtype == dtype and got.shape == (2, 3 * scale_h, 5 * scale_w,
                                                channels)
    want = np.zeros(got.shape)
    for a in range(scale_h):
      for e in range(scale_w):
        want[:, a::scale_h, e::scale_w] = _np_pixel_norm(phases[a][e].numpy())
    np.testing.assert_allclose(tf.cast(got, tf.float32), want,
                               atol=2 * tol * np.abs(want).max())


def test_pixel_norm_phases_gradient_in_16_bits():
  """The 16-bit phases' pixel norm (an XLA function) has the float32
  gradient, to bf16 rounding."""
  phases32 = [[tf.constant(_rand(1, 2, 3, 64, seed=a * 2 + e))
               for e in range(2)] for a in range(2)]
  weights = tf.constant(_rand(1, 4, 6, 64, seed=9))
  grads = {}
  for dtype in (tf.float32, tf.bfloat16):
    flat = [tf.cast(p, dtype) for row in phases32 for p in row]
    with tf.GradientTape() as tape:
      tape.watch(flat)
      out = layers.pixel_norm_phases([flat[:2], flat[2:]])
      loss = tf.reduce_sum(tf.cast(out, tf.float32) * weights)
    grads[dtype] = [tf.cast(g, tf.float32).numpy()
                    for g in tape.gradient(loss, flat)]
  for want, got in zip(grads[tf.float32], grads[tf.bfloat16]):
    np.testing.assert_allclose(got, want, atol=0.03 * np.abs(want).max())


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_equalized_conv_normalize_input_and_pixel_norm_off(dtype):
  """`normalize_input=True` is the layer applied to pixel_norm(x);
  `pixel_norm=False` leaves out the norm ending the activation; both refuse
  the layers they do not apply to."""
  tol = 1e-5 if dtype == 'float32' else 0.02
  x = tf.cast(_rand(2, 4, 6, 8) * 2.0, dtype)
  to_rgb = layers.EqualizedConv2D(2, 1, activation='tanh', dtype=dtype)
  to_rgb.build(x.shape)
  to_rgb.bias.assign([0.1, -0.2])
  want = tf.cast(to_rgb(layers.pixel_norm(x)), tf.float32)
  got = to_rgb(x, normalize_input=True)
  assert got.dtype == x.dtype
  np.testing.assert_allclose(tf.cast(got, tf.float32), want, atol=tol)
  conv = layers.EqualizedConv2D(8, 3, dtype=dtype,
                                activation=networks._leaky_relu_pixel_norm)  # pylint: disable=protected-access
  conv.build(x.shape)
  conv.bias.assign(np.linspace(-1, 1, 8))
  before = conv(x, pixel_norm=False)
  assert np.any(tf.cast(before, tf.float32).numpy() < 0)  # leaky, not normed
  np.testing.assert_allclose(tf.cast(layers.pixel_norm(before), tf.float32),
                             tf.cast(conv(x), tf.float32), atol=tol)
  with pytest.raises(ValueError, match='1x1'):
    conv(x, normalize_input=True)
  with pytest.raises(ValueError, match='ending in a pixel norm'):
    to_rgb(x, pixel_norm=False)
