"""Action validation and small drawing helpers shared by the lecture environments (private).

Scalar constructor arguments are checked with :mod:`sb3_softopt.common.validation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

#: Tolerance for continuous actions a hair outside the Box (float32 rounding of a clipped action).
ACTION_TOLERANCE = 1e-6


def check_render_mode(render_mode: str | None, allowed: list[str]) -> str | None:
    if render_mode is not None and render_mode not in allowed:
        raise ValueError(f"render_mode must be one of {allowed} or None, got {render_mode!r}")
    return render_mode


def discrete_action(action: Any, space: spaces.Discrete) -> int:
    """Validate a discrete action (python/numpy int or size-1 integer array) and return it as an int."""
    lo, n = int(space.start), int(space.n)
    if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)):
        # Fast path: this runs once per environment step.
        if lo <= action < lo + n:
            return int(action)
        raise ValueError(f"Invalid action {action!r}: expected an integer in [{lo}, {lo + n - 1}]")
    arr = np.asarray(action)
    if arr.size != 1 or not (np.issubdtype(arr.dtype, np.integer) or _integral_float(arr)):
        raise ValueError(f"Invalid action {action!r}: expected an integer in [{lo}, {lo + n - 1}]")
    a = int(arr.reshape(()))
    if not lo <= a < lo + n:
        raise ValueError(f"Invalid action {action!r}: expected an integer in [{lo}, {lo + n - 1}]")
    return a


def _integral_float(arr: np.ndarray) -> bool:
    return bool(np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))


def box_action(action: Any, space: spaces.Box) -> np.ndarray:
    """Validate a continuous action against ``space``.

    Values within :data:`ACTION_TOLERANCE` of the bounds are clipped (a float32 round-trip of a
    clipped action can land a hair outside); anything else outside the box, non-finite or of the
    wrong shape raises ``ValueError`` naming the action.
    """
    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid action {action!r}: not a numeric array of shape {space.shape}") from exc
    if arr.shape != space.shape:
        if arr.size == int(np.prod(space.shape)):
            arr = arr.reshape(space.shape)
        else:
            raise ValueError(f"Invalid action {action!r}: expected shape {space.shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Invalid action {action!r}: must be finite")
    low = space.low.astype(np.float64)
    high = space.high.astype(np.float64)
    if np.any(arr < low - ACTION_TOLERANCE) or np.any(arr > high + ACTION_TOLERANCE):
        raise ValueError(f"Invalid action {action!r}: outside the action space [{space.low}, {space.high}]")
    return np.clip(arr, low, high)


def fill_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
    """Paint the half-open pixel rectangle [x0, x1) x [y0, y1) of an (H, W, 3) uint8 image."""
    h, w = img.shape[:2]
    x0, x1 = max(0, x0), min(w, x1)
    y0, y1 = max(0, y0), min(h, y1)
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1] = color


def fill_disc(img: np.ndarray, cx: float, cy: float, radius: float, color: tuple[int, int, int]) -> None:
    """Paint a filled disc centred at pixel (cx, cy)."""
    h, w = img.shape[:2]
    y0, y1 = max(0, int(cy - radius)), min(h, int(cy + radius) + 2)
    x0, x1 = max(0, int(cx - radius)), min(w, int(cx + radius) + 2)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    img[y0:y1, x0:x1][mask] = color
