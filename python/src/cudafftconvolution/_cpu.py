"""The CPU path: the same convolution with NumPy's FFT, where no GPU (or no native library) is.

Per axis (NumPy order), with image size N, kernel size K and centre c = K // 2, the output voxel
n is sum_j k[j] x[n - j + c], x outside the image given by the boundary: np.pad's "constant",
"edge" (ITK's zero-flux Neumann) or "wrap" (periodic). The window an output region reads is
padded, convolved linearly at a 2,3,5-smooth FFT size and the kept part cropped.
"""
import numpy as np

_PAD_MODES = {"zero-flux-neumann": "edge", "constant": "constant", "periodic": "wrap"}


def output_region(shape, kernel_shape, mode):
    """Start (relative to the image's first voxel) and size of the output, per NumPy axis."""
    starts, sizes = [], []
    for n, k in zip(shape, kernel_shape):
        c = k // 2
        if mode == "same":
            start, size = 0, n
        elif mode == "full":
            start, size = -c, n + k - 1
        else:  # valid, as ITK's GetValidRegion: empty (index 0) where the kernel does not fit
            size = max(n - k + 1, 0)
            start = k - 1 - c if size > 0 else 0
        starts.append(start)
        sizes.append(size)
    return tuple(starts), tuple(sizes)


def _smooth(n):
    """Smallest m >= n with no prime factor above 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def normalized(kernel):
    """The kernel divided by its sum; ValueError (as the GPU engine) for a kernel summing to 0."""
    total = float(np.sum(kernel, dtype=np.float64))
    magnitude = float(np.sum(np.abs(kernel), dtype=np.float64))
    if total == 0.0 or not np.isfinite(total) or abs(total) <= 1e-12 * magnitude:
        raise ValueError(f"the kernel sums to {total} (sum of magnitudes {magnitude}), so it cannot be normalized")
    return kernel / total


def convolve(image, kernel, mode, boundary, constant, normalize, dtype):
    kernel = normalized(kernel.astype(np.float64)) if normalize else kernel
    starts, sizes = output_region(image.shape, kernel.shape, mode)
    if 0 in sizes:
        return np.zeros(sizes, dtype)
    below = [k - 1 - k // 2 for k in kernel.shape]
    low = [s - b for s, b in zip(starts, below)]
    high = [s + size - 1 + k // 2 for s, size, k in zip(starts, sizes, kernel.shape)]
    pads = [(max(0, -lo), max(0, hi - (n - 1))) for lo, hi, n in zip(low, high, image.shape)]
    extra = {"constant_values": constant} if boundary == "constant" else {}
    padded = np.pad(image, pads, mode=_PAD_MODES[boundary], **extra)
    window = padded[tuple(slice(lo + p[0], hi + p[0] + 1) for lo, hi, p in zip(low, high, pads))]
    fft_shape = [_smooth(w) for w in window.shape]
    axes = tuple(range(image.ndim))
    product = np.fft.rfftn(window, fft_shape, axes) * np.fft.rfftn(kernel, fft_shape, axes)
    full = np.fft.irfftn(product, fft_shape, axes)
    kept = tuple(slice(k - 1, k - 1 + size) for k, size in zip(kernel.shape, sizes))
    return np.ascontiguousarray(full[kept], dtype=dtype)
