import numpy as np
import pytest

import cudafftconvolution as cfc

GPU = cfc.gpu_available()
needs_gpu = pytest.mark.skipif(not GPU, reason=f"no GPU: {cfc.gpu_unavailable_reason()}")


def expected_device():
    return "gpu" if GPU else "cpu"


def direct_convolution(image, kernel, mode, boundary, constant=0.0):
    """y[n] = sum_j k[j] x[n - j + c] by explicit sums over the kernel's voxels, x outside the
    image from clamped (Neumann), wrapped (periodic) or constant indices: no FFT, no np.pad."""
    image = np.asarray(image, np.float64)
    kernel = np.asarray(kernel, np.float64)
    starts, sizes = [], []
    for n, k in zip(image.shape, kernel.shape):
        c = k // 2
        start, size = {"same": (0, n), "full": (-c, n + k - 1), "valid": (k - 1 - c, max(n - k + 1, 0))}[mode]
        starts.append(start)
        sizes.append(size)
    result = np.zeros(sizes)
    for j in np.ndindex(*kernel.shape):
        indices, inside = [], np.ones(sizes, bool)
        for axis, (n, k) in enumerate(zip(image.shape, kernel.shape)):
            positions = np.arange(starts[axis], starts[axis] + sizes[axis]) - j[axis] + k // 2
            if boundary == "zero-flux-neumann":
                positions = np.clip(positions, 0, n - 1)
            elif boundary == "periodic":
                positions = np.mod(positions, n)
            else:
                shape = [1] * image.ndim
                shape[axis] = -1
                inside &= ((positions >= 0) & (positions < n)).reshape(shape)
                positions = np.clip(positions, 0, n - 1)
            indices.append(positions)
        values = image[np.ix_(*indices)]
        result += kernel[j] * np.where(inside, values, constant)
    return result


def scipy_reference(image, kernel, mode):
    """ITK's geometry from SciPy's 'full' convolution (zero boundary): y[n] = full[n + floor(K/2)],
    which for even kernels is one voxel off SciPy's own 'same'."""
    from scipy.signal import fftconvolve

    full = fftconvolve(np.asarray(image, np.float64), np.asarray(kernel, np.float64), mode="full")
    slices = []
    for n, k in zip(image.shape, kernel.shape):
        c = k // 2
        start, size = {"same": (0, n), "full": (-c, n + k - 1), "valid": (k - 1 - c, max(n - k + 1, 0))}[mode]
        slices.append(slice(start + c, start + c + size))
    return full[tuple(slices)]


def assert_close(result, reference, dtype):
    reference = np.asarray(reference)
    scale = max(1.0, float(np.max(np.abs(reference)))) if reference.size else 1.0
    tolerance = 2e-5 if np.dtype(dtype) == np.float32 else 1e-10
    assert result.shape == reference.shape
    assert np.max(np.abs(np.asarray(result, np.float64) - reference), initial=0.0) <= tolerance * scale
