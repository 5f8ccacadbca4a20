"""Aggregation at a hub, as pure functions over stacked vectors X (n, d) -> (d,).

n contributions (one per brain), each a flattened delta or weight vector of d entries.
Robust rules tolerate up to f Byzantine contributions: `coordinate_median`, `trimmed_mean`
(drops the f largest and f smallest per coordinate), `krum` / `multi_krum` (Blanchard et al.
2017: score each vector by its squared distances to its n - f - 2 closest, keep the lowest),
`centered_clipping` (Karimireddy, He, Jaggi 2021: move a centre by the mean of every
contribution's difference to it, each clipped to a radius, a few times).
Every rule skips a contribution with a NaN or infinite entry (one such row would otherwise
turn the median's or Krum's distances into NaN for everyone).

    x = hub_aggregate("trimmed_mean", X, weights)   # X (n, d) -> (d,), f from n, as the hub
    x = AGGREGATORS["krum"](X, f=1)                  # one rule, f given
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from protocols.config import AggregationRule

__all__ = [
    "AGGREGATORS",
    "centered_clipping",
    "clip_rows",
    "coordinate_median",
    "hub_aggregate",
    "krum",
    "mean",
    "multi_krum",
    "trimmed_mean",
    "weighted_mean",
]


def _finite(X: np.ndarray) -> np.ndarray:
    """(n,) bool: contributions whose every entry is finite."""
    return np.isfinite(X).all(axis=1)


def _check(X: np.ndarray) -> np.ndarray:
    """X as float64 (n', d) without its non-finite rows; ValueError if none is left."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"aggregation takes stacked vectors (n >= 1, d), got shape {X.shape}")
    keep = _finite(X)
    if not keep.any():
        raise ValueError(f"none of the {X.shape[0]} contributions is finite")
    return X if keep.all() else X[keep]


def mean(X: np.ndarray, **_: object) -> np.ndarray:
    """Plain mean over contributions: (n, d) -> (d,)."""
    return _check(X).mean(axis=0)


def weighted_mean(X: np.ndarray, weights: np.ndarray | None = None, **_: object) -> np.ndarray:
    """Mean weighted by weights (n,) >= 0 (e.g. samples seen or competence)."""
    if weights is None:
        return _check(X).mean(axis=0)
    X, w = np.asarray(X, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if X.ndim != 2 or w.shape != (X.shape[0],) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be (n,)={X.shape[:1]} non-negative with a positive sum")
    keep = _finite(X) & np.isfinite(w)
    if not keep.any() or w[keep].sum() <= 0:
        raise ValueError("no finite contribution with a positive weight")
    return w[keep] @ X[keep] / w[keep].sum()


def coordinate_median(X: np.ndarray, **_: object) -> np.ndarray:
    """Median of each coordinate over contributions."""
    return np.median(_check(X), axis=0)


def trimmed_mean(X: np.ndarray, f: int = 1, **_: object) -> np.ndarray:
    """Per coordinate, the mean after dropping the f largest and f smallest values."""
    X = _check(X)
    if f < 0 or 2 * f >= X.shape[0]:
        raise ValueError(f"trimmed_mean needs 0 <= 2f < n (f={f}, n={X.shape[0]})")
    S = np.sort(X, axis=0)
    return S[f : X.shape[0] - f].mean(axis=0)


def _krum_scores(X: np.ndarray, f: int) -> np.ndarray:
    n = X.shape[0]
    if n < 2 * f + 3:
        raise ValueError(f"krum needs n >= 2f + 3 contributions (n={n}, f={f}); lower f")
    sq = np.sum(X**2, axis=1)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0.0)  # (n, n) squared distances
    np.fill_diagonal(D, np.inf)
    closest = np.sort(D, axis=1)[:, : n - f - 2]  # each vector's n - f - 2 nearest others
    return closest.sum(axis=1)


def krum(X: np.ndarray, f: int = 1, **_: object) -> np.ndarray:
    """The one contribution closest to its n - f - 2 nearest others (ties: lowest index)."""
    X = _check(X)
    return X[int(np.argmin(_krum_scores(X, f)))].copy()


def multi_krum(X: np.ndarray, f: int = 1, m: int | None = None, **_: object) -> np.ndarray:
    """Mean of the m best-scored contributions (default m = n - f)."""
    X = _check(X)
    scores = _krum_scores(X, f)
    m = X.shape[0] - f if m is None else m
    if not 1 <= m <= X.shape[0]:
        raise ValueError(f"multi_krum needs 1 <= m <= n (m={m}, n={X.shape[0]})")
    return X[np.argsort(scores, kind="stable")[:m]].mean(axis=0)


def clip_rows(D: np.ndarray, radius: float) -> np.ndarray:
    """Each row of D (n, d) scaled down to L2 norm `radius` if longer (radius inf: D)."""
    if not np.isfinite(radius):
        return D
    norms = np.linalg.norm(D, axis=1, keepdims=True)
    return D * np.minimum(1.0, radius / np.maximum(norms, 1e-30))


def centered_clipping(
    X: np.ndarray,
    radius: float | None = None,
    iters: int = 3,
    centre: np.ndarray | None = None,
    **_: object,
) -> np.ndarray:
    """Centered clipping: v <- v + mean_i clip(x_i - v, radius), `iters` times.

    `centre` (d,): the start (default the coordinate median, itself robust); `radius` None:
    the median distance of the contributions to the start, so the honest majority is barely
    clipped and a far outlier moves v by at most radius / n per step."""
    X = _check(X)
    v = np.median(X, axis=0) if centre is None else np.asarray(centre, np.float64)
    if radius is None:
        radius = float(np.median(np.linalg.norm(X - v, axis=1)))
    if radius < 0:
        raise ValueError(f"centered_clipping needs a radius >= 0, got {radius}")
    for _ in range(iters):
        v = v + clip_rows(X - v, radius).mean(axis=0)
    return v


# Keyed by the config's rule names (pyright rejects a key the config does not list).
AGGREGATORS: dict[AggregationRule, Callable[..., np.ndarray]] = {
    "mean": mean,
    "weighted_mean": weighted_mean,
    "median": coordinate_median,
    "trimmed_mean": trimmed_mean,
    "krum": krum,
    "multi_krum": multi_krum,
    "centered_clipping": centered_clipping,
}


def hub_aggregate(
    rule: str,
    X: np.ndarray,
    weights: np.ndarray,
    f: int | None = None,
    radius: float | None = None,
) -> np.ndarray:
    """What a hub broadcasts: `AGGREGATORS[rule]` over the finite rows of X (n, d) -> (d,).

    weights (n,) (competence; used by `weighted_mean`). The robust rules assume up to f
    Byzantine contributions among the n' finite ones; None: f = (n' - 3) // 4 (Krum's
    n >= 2f + 3); a given f is lowered to what the rule can take with n' (trimmed mean
    2f < n', Krum 2f + 3 <= n'; with fewer than 3 Krum takes the median). `radius`: centered
    clipping's (None: automatic)."""
    keep = _finite(np.asarray(X))
    n = int(keep.sum())
    if n == 0:
        raise ValueError(f"none of the {len(keep)} contributions is finite")
    X, weights = np.asarray(X)[keep], np.asarray(weights)[keep]
    if rule in ("krum", "multi_krum") and n < 3:  # Krum needs 3; the median of 1-2 is safe
        rule = "median"
    most = (n - 3) // 2 if rule in ("krum", "multi_krum") else (n - 1) // 2
    f = max(0, (n - 3) // 4 if f is None else min(f, most))
    return AGGREGATORS[rule](X, weights=weights, f=f, radius=radius)
