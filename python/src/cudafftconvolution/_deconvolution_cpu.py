"""Deconvolution with NumPy: the package's CPU path and the reference its GPU tests compare with.

The geometry is the engine's (CudaDeconvolutionPlanner): arrays are C-ordered, so NumPy's axis 0
is the engine's z and the last axis is x.

- ``edges="boundary"`` (ITK parity): the data are extended by floor(K/2) on each side with the
  boundary condition, then to a grid size whose prime factors are at most
  ``greatest_prime_factor`` ((P - n - 2r) // 2 of the extra voxels below), again with the
  boundary condition of that extended block; circulant on that grid, as ITK's filters.
- ``edges="non-circulant"`` (Bertero-Boccacci): the grid holds n + K - 1 object voxels per axis
  (then smooth), the data at offset K - 1 - floor(K/2); the likelihood is taken over the data
  only and the update weighted by 1 / (H^T 1), zero where that is below ``weight_threshold``
  times the kernel's sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ALGORITHMS = ("richardson-lucy", "landweber", "projected-landweber", "inverse", "tikhonov", "wiener")
ITERATIVE = ALGORITHMS[:3]


def next_smooth(n: int, greatest_prime_factor: int) -> int:
    """Smallest m >= n whose prime factors are all <= greatest_prime_factor (as the planner's
    NextSmoothSize: every factor up to it, not only 2..13)."""
    if greatest_prime_factor < 2:
        raise ValueError("the greatest prime factor of FFT sizes must be at least 2")
    m = max(int(n), 1)
    while True:
        rest = m
        for p in range(2, int(greatest_prime_factor) + 1):
            while rest % p == 0:
                rest //= p
            if rest == 1:
                break
        if rest == 1:
            return m
        m += 1


def _extend(q: np.ndarray, n: int, boundary: str) -> np.ndarray:
    inside = (q >= 0) & (q < n)
    if boundary == "zero-flux-neumann":
        return np.clip(q, 0, n - 1)
    if boundary == "periodic":
        return np.mod(q, n)
    return np.where(inside, q, -1)


@dataclass
class Geometry:
    """The grid of one block of data: per axis (NumPy order) its size, the data's offset and
    the map from grid position to data index (-1: constant or outside)."""

    grid: tuple
    offset: tuple
    maps: list = field(default_factory=list)


def geometry(data_shape, kernel_shape, edges: str, boundary: str, greatest_prime_factor: int) -> Geometry:
    grid, offset, maps = [], [], []
    for n, k in zip(data_shape, kernel_shape):
        r = k // 2
        if edges == "non-circulant":
            size = next_smooth(n + k - 1, greatest_prime_factor)
            at = k - 1 - r
            p = np.arange(size) - at
            maps.append(np.where((p >= 0) & (p < n), p, -1))
        else:
            padded = n + 2 * r
            size = next_smooth(padded, greatest_prime_factor)
            below = (size - padded) // 2
            at = below + r
            q = _extend(np.arange(size) - below, padded, boundary)
            maps.append(np.where(q < 0, -1, _extend(q - r, n, boundary)))
        grid.append(size)
        offset.append(at)
    return Geometry(tuple(grid), tuple(offset), maps)


def padded_data(data: np.ndarray, geo: Geometry, constant: float) -> np.ndarray:
    """The data on the grid through the maps (-1 gives the constant)."""
    index = np.ix_(*[np.maximum(m, 0) for m in geo.maps])
    inside = np.ones(geo.grid, dtype=bool)
    for axis, m in enumerate(geo.maps):
        shape = [1] * len(geo.grid)
        shape[axis] = -1
        inside &= (m >= 0).reshape(shape)
    return np.where(inside, data[index], constant), inside


def transfer_function(kernel: np.ndarray, grid, normalize: bool) -> np.ndarray:
    """rfftn of the kernel placed with its centre floor(K/2) at the origin (unnormalised FFT)."""
    k = kernel.astype(np.float64)
    if normalize:
        total = k.sum()
        if total == 0 or not np.isfinite(total):
            raise ValueError(f"the kernel sums to {total}, so it cannot be normalized")
        k = k / total
    placed = np.zeros(grid)
    placed[tuple(slice(0, s) for s in k.shape)] = k
    placed = np.roll(placed, [-(s // 2) for s in k.shape], axis=tuple(range(k.ndim)))
    return np.fft.rfftn(placed)


def _blur(x: np.ndarray, spectrum: np.ndarray, adjoint: bool = False) -> np.ndarray:
    h = np.conj(spectrum) if adjoint else spectrum
    return np.fft.irfftn(np.fft.rfftn(x) * h, s=x.shape, axes=tuple(range(x.ndim)))


def total_variation_factor(x: np.ndarray, lam: float) -> np.ndarray:
    """1 / (1 - lambda div(grad x / |grad x|)), as the GPU's (forward gradient, zero at the
    last voxel of an axis; backward divergence)."""
    grads = []
    for axis in range(x.ndim):
        g = np.zeros_like(x)
        if x.shape[axis] > 1:
            g[tuple(slice(0, -1) if a == axis else slice(None) for a in range(x.ndim))] = np.diff(x, axis=axis)
        grads.append(g)
    norm = np.sqrt(sum(g * g for g in grads) + 1e-6)
    div = np.zeros_like(x)
    for axis, g in enumerate(grads):
        if x.shape[axis] == 1:
            continue
        u = g / norm
        div += u
        shifted = np.zeros_like(u)
        body = tuple(slice(1, None) if a == axis else slice(None) for a in range(x.ndim))
        head = tuple(slice(0, -1) if a == axis else slice(None) for a in range(x.ndim))
        shifted[body] = u[head]
        div -= shifted
    denominator = 1.0 - lam * div
    return np.where(denominator > 1e-3, 1.0 / np.maximum(denominator, 1e-3), 1e3)


@dataclass
class Result:
    estimate: np.ndarray  # the whole grid
    geometry: Geometry
    iterations: int
    divergence: list


def deconvolve_block(
    data: np.ndarray,
    kernel: np.ndarray,
    *,
    algorithm: str = "richardson-lucy",
    iterations: int = 1,
    edges: str = "boundary",
    boundary: str = "zero-flux-neumann",
    constant: float = 0.0,
    normalize: bool = False,
    greatest_prime_factor: int = 7,
    accelerate: bool = False,
    alpha: float = 0.1,
    division_threshold: float = 1e-5,
    kernel_zero_magnitude_threshold: float = 1e-4,
    regularization_constant: float = 0.0,
    noise_variance: float = 0.0,
    weight_threshold: float = 0.01,
    background: float = 0.0,
    total_variation: float = 0.0,
    relative_change_tolerance: float = 0.0,
    divergence_tolerance: float = 0.0,
    callback=None,
) -> Result:
    """Deconvolves one block of data (float64 inside) and returns the estimate on its grid."""
    data = np.asarray(data, dtype=np.float64)
    geo = geometry(data.shape, kernel.shape, edges, boundary, greatest_prime_factor)
    spectrum = transfer_function(kernel, geo.grid, normalize)
    d, inside = padded_data(data, geo, constant)
    box = tuple(slice(o, o + n) for o, n in zip(geo.offset, data.shape))
    if algorithm in ("inverse", "tikhonov", "wiener"):
        return Result(_direct(d, spectrum, algorithm, kernel_zero_magnitude_threshold, regularization_constant, noise_variance), geo, 0, [])
    if algorithm in ("landweber", "projected-landweber"):
        return _landweber(d, spectrum, geo, iterations, alpha, algorithm == "projected-landweber", callback)
    non_circulant = edges == "non-circulant"
    weights = None
    if non_circulant:
        d = np.where(inside, d, 0.0)
        support = _blur(inside.astype(np.float64), spectrum, adjoint=True)
        threshold = weight_threshold * abs(spectrum.flat[0].real)
        weights = np.where(support > threshold, 1.0 / np.where(support > threshold, support, 1.0), 0.0)
        x = np.where(weights > 0, data.mean(), 0.0)
    else:
        x = d.copy()
    previous, step = x.copy(), np.zeros_like(x)
    history, change, divergence = [], math.nan, math.nan
    done = 0
    for done in range(iterations + 1):
        if done == iterations:
            break
        if callback is not None and callback(done, divergence, change) is False:
            break
        blurred = _blur(x, spectrum) + background
        ratio = np.where(blurred < division_threshold, 0.0, d / np.where(blurred == 0, 1.0, blurred))
        if non_circulant:
            ratio = np.where(inside, ratio, 0.0)
        b, o = blurred[box], d[box]
        positive = b > 0
        last_divergence = divergence
        divergence = float(np.sum(np.where(positive & (o > 0), o * np.log(np.where(o > 0, o, 1) / np.where(positive, b, 1)) - o + b, np.where(positive, b, 0))))
        history.append(divergence)
        # The correction is non-negative; clamp the transforms' rounding (as the GPU does).
        new = x * np.maximum(_blur(ratio, spectrum, adjoint=True), 0.0)
        if weights is not None:
            new *= weights
        if total_variation:
            new *= total_variation_factor(x, total_variation)
        base = previous if accelerate else x
        magnitude = float(np.abs(base).sum())
        change = float(np.abs(new - base).sum()) / magnitude if magnitude > 0 else math.nan  # the GPU's NaN
        if accelerate:
            g = new - x
            square = float(np.sum(step * step))
            a = float(np.sum(g * step)) / square if square > 0 else 0.0
            a = min(max(a, 0.0), 0.999)
            step = g
            x = np.maximum(new + a * (new - previous), 0.0)
            previous = new
        else:
            x = new
        if relative_change_tolerance > 0 and change < relative_change_tolerance:
            done += 1
            break
        if divergence_tolerance > 0 and math.isfinite(last_divergence) and last_divergence > 0 and (last_divergence - divergence) / last_divergence < divergence_tolerance:
            done += 1
            break
    return Result(previous if accelerate else x, geo, done, history)


def _landweber(d, spectrum, geo, iterations, alpha, projected, callback) -> Result:
    g = np.fft.rfftn(d)
    x = d.copy()
    power = np.abs(spectrum) ** 2
    done = 0
    for done in range(iterations + 1):
        if done == iterations or (callback is not None and callback(done, math.nan, math.nan) is False):
            break
        f = np.fft.rfftn(x)
        x = np.fft.irfftn(alpha * np.conj(spectrum) * g + (1 - alpha * power) * f, s=x.shape, axes=tuple(range(x.ndim)))
        if projected:
            x = np.maximum(x, 0.0)
    return Result(x, geo, done, [])


def _direct(d, spectrum, algorithm, threshold, mu, noise) -> np.ndarray:
    i = np.fft.rfftn(d)
    power = np.abs(spectrum) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        if algorithm == "inverse":
            value = np.where(np.sqrt(power) >= threshold, i / np.where(power > 0, spectrum, 1), 0)
        elif algorithm == "tikhonov":
            den = power + mu
            value = np.where(den >= threshold, i * np.conj(spectrum) / np.where(den != 0, den, 1), 0)
        else:
            den = power + noise / (np.abs(i) ** 2 - noise)
            value = np.where(np.abs(den) >= threshold, i * np.conj(spectrum) / den, 0)
        value = np.where(np.isfinite(value), value, 0)
    return np.fft.irfftn(value, s=d.shape, axes=tuple(range(d.ndim)))


def crop(result: Result, output_start, output_shape) -> np.ndarray:
    """The output block (start relative to the data block) of a result's grid."""
    return result.estimate[tuple(slice(o + s, o + s + n) for o, s, n in zip(result.geometry.offset, output_start, output_shape))]


def valid_region(shape, kernel_shape):
    """ITK's GetValidRegion per axis as (start, size): an odd kernel keeps n - 2c voxels from c,
    an even one n - 2c + 1 from c - 1 (c = floor(K/2)); size 0 (start 0) when empty."""
    starts, sizes = [], []
    for n, k in zip(shape, kernel_shape):
        c = k // 2
        if n < 2 * c:
            starts.append(0)
            sizes.append(0)
        elif k % 2 == 0:
            starts.append(c - 1)
            sizes.append(n - 2 * c + 1)
        else:
            starts.append(c)
            sizes.append(n - 2 * c)
    return tuple(starts), tuple(sizes)
