"""`gin.configurable` for Keras layers and models.

gin replaces a class's `__init__` with a `(*args, **kwargs)` wrapper. Keras 3
inspects `__init__` with `inspect.getfullargspec` (which does not follow
`__wrapped__`) to build its automatic config, and fails with an IndexError on
such a wrapper. Giving the wrapper the real signature fixes both sides.
"""

import inspect

import gin


def configurable(cls=None, **gin_kwargs):
  """Drop-in for `@gin.configurable` on Keras classes (also `(name=...)`)."""

  def decorate(cls):
    cls = gin.configurable(cls, **gin_kwargs)
    cls.__init__.__signature__ = inspect.signature(cls.__init__)
    return cls

  return decorate if cls is None else decorate(cls)
