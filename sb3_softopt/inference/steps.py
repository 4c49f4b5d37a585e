"""
A read-only ``(T, S, A)`` array computed one time step at a time.

A finite-horizon solution of a large model keeps only its values ``V`` (``T x S``); its ``q``,
``log_policy`` and ``policy`` would be ``T x S x A`` float64 arrays (4 GB at 10^6 states, 5 actions,
T = 100). :class:`StepArray` stands in for them: indexing a step (``x[t]``, ``x[t, s]``) computes
that step from ``V`` with one Bellman backup, :func:`~sb3_softopt.inference.forward_messages` and
:func:`~sb3_softopt.inference.evaluate_policy` consume it one step at a time, and ``np.asarray(x)``
or :meth:`StepArray.to_numpy` (optionally ``dtype=np.float32``) builds the whole array, step by step
into the result, with no temporary larger than one step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["StepArray"]

StepFn = Callable[..., np.ndarray]


class StepArray(NDArrayOperatorsMixin):
    """
    A lazily computed ``(T, S, A)`` float64 array: step ``t`` is ``fn(t)`` (shape ``(S, A)``), or
    ``fn(t, states)`` for the rows of ``states`` only.

    Supports ``shape``/``ndim``/``dtype``/``len``, iteration over steps, integer, slice and array
    indexing (only the steps indexed are computed), numpy's operators and ufuncs (which
    materialise it), ``np.asarray(x, dtype)`` and :meth:`to_numpy`.

    :param fn: computes one step, ``fn(t, states=None) -> (S, A)`` or ``(len(states), A)``.
    :param shape: ``(T, S, A)``.
    :param name: what the array holds (``"policy"``, ``"q"``, ``"log_policy"``), for messages.
    """

    __array_priority__ = 10.0

    def __init__(self, fn: StepFn, shape: tuple[int, int, int], name: str) -> None:
        self._fn = fn
        self.shape = tuple(int(n) for n in shape)
        self.name = name

    # -- array protocol -------------------------------------------------------------------------
    dtype = np.dtype(np.float64)
    ndim = 3

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes the materialised float64 array would take."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def step(self, t: int, states: np.ndarray | None = None) -> np.ndarray:
        """Step ``t`` as a fresh ``(S, A)`` array (the rows of ``states`` only when given)."""
        return self._fn(t) if states is None else self._fn(t, states)

    def __iter__(self) -> Iterator[np.ndarray]:
        for t in range(self.shape[0]):
            yield self._fn(t)

    def __getitem__(self, key: Any) -> Any:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis or k is None for k in key):
            return self.to_numpy()[key]
        head, rest = key[0], key[1:]
        steps = np.arange(self.shape[0])[head]  # numpy's bounds checks and negative indices
        one = self._fn
        if rest and isinstance(rest[0], (int, np.integer)) and (np.ndim(steps) == 0 or isinstance(head, slice)):
            # x[t, s, ...] or x[t0:t1, s, ...]: compute the row of state s only. (With an index
            # array on t, numpy would broadcast it against s: left to the general path.)
            s = np.atleast_1d(np.arange(self.shape[1])[rest[0]])
            rest = (0, *rest[1:])

            def one(t: int) -> np.ndarray:
                return self._fn(t, s)

        if np.ndim(steps) == 0:
            out = one(int(steps))
            return out[rest] if rest else out
        sub = np.stack([one(int(t)) for t in steps.ravel()]) if steps.size else np.empty((0, *self.shape[1:]))
        # Index the stacked steps as x would be: a slice stays basic indexing, an index array keeps its shape.
        new_head = slice(None) if isinstance(head, slice) else np.arange(steps.size).reshape(steps.shape)
        index = (new_head, *rest)
        return sub[index]

    def to_numpy(self, dtype: Any = np.float64, out: np.ndarray | None = None) -> np.ndarray:
        """
        The whole array, built one step at a time into the result (``dtype=np.float32`` halves
        the memory); ``out``: a preallocated ``(T, S, A)`` array to fill.
        """
        if out is None:
            out = np.empty(self.shape, dtype=dtype)
        elif out.shape != self.shape:
            raise ValueError(f"out must have shape {self.shape}, got {out.shape}")
        for t in range(self.shape[0]):
            out[t] = self._fn(t)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError(f"a StepArray ({self.name}) is computed on demand; it cannot be viewed without a copy")
        return self.to_numpy(np.float64 if dtype is None else dtype)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(isinstance(x, StepArray) for x in kwargs.get("out", ())):
            raise TypeError(f"a StepArray ({self.name}) is read-only: it cannot be a ufunc's out=")
        inputs = tuple(np.asarray(x) if isinstance(x, StepArray) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        # Only called for missing attributes: ndarray methods such as .sum() would silently build
        # the whole (T, S, A) array; say how to do that, or how not to.
        if attr.startswith("__"):
            raise AttributeError(attr)
        gb = self.nbytes / 2**30
        raise AttributeError(
            f"StepArray ({self.name}, shape {self.shape}) has no attribute {attr!r}: it computes one "
            f"step at a time. Index a step (x[t], x[t, s]) or materialise it with np.asarray(x) / "
            f"x.to_numpy(dtype) ({gb:.2g} GB as float64) to use ndarray methods."
        )

    def __repr__(self) -> str:
        return f"StepArray({self.name}, shape={self.shape}, computed one step at a time)"
