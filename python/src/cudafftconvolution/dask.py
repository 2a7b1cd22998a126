"""Volumes larger than one machine's memory, or spread over a cluster, with dask.array.map_overlap.

convolve: a depth of floor(K/2) per axis (a SAME convolution's reach: K-1-floor(K/2) below and
floor(K/2) above), calling convolve on each block with its halo. dask pads the true volume edges
with the boundary ("nearest" for zero-flux Neumann, the constant, or "periodic"), and the
package's own boundary touches only halo voxels that map_overlap trims, so the result equals
the one-shot SAME convolution.

deconvolve, richardson_lucy: each block is deconvolved with a halo of data on each side (the
package's halo: 2K per side by default, K the PSF's size) and its block kept. The true volume
edges are not padded (map_overlap's boundary="none"): a block at an edge sees the edge as the
untiled run does, and the non-circulant edges (richardson_lucy's default) treat it alike; only
the seams between blocks differ from the untiled run, by the tiling error that the halo bounds
(SEAM_ERROR). Padding the true edges instead ("nearest", "reflect", zeros) puts made-up data
where the untiled run has none: it measured 1e-1 to 1 off at the faces, against 4.5e-4 at the
seams unpadded (the repository's docs/deconvolution.md). ITK's padding (edges="boundary") is circulant beyond
floor(K/2), so within 2K of the faces its result depends on the FFT grid, a block's or the
volume's, padded or not.

On a cluster of GPU workers (dask_cuda.LocalCUDACluster, or one `dask worker --nthreads 1` per
GPU with CUDA_VISIBLE_DEVICES set), each worker runs its blocks on its own GPU; suggest_chunks
picks chunks whose blocks plus halos fit one GPU untiled (estimate_deconvolution_memory).
"""
import numpy as np

from . import _arrays
from . import _deconvolution as _dec
from ._api import _check_shapes, _settings, _shape, checked_kernel
from ._api import convolve as _convolve

# The largest difference of a stitched result from the untiled one, relative to the untiled
# maximum, for up to 20 Richardson-Lucy iterations with the default halo (2K per side) and
# non-circulant edges: measured 1.6e-4 to 1.4e-3 for Gaussian PSFs in boxes of 4-9 voxels
# (3.3 to 6 sigma) on sparse bright points (docs/deconvolution.md; tests/test_dask.py asserts it, CPU and GPU).
# It grows with the iterations (each carries a seam's influence one PSF further; 50: up to
# 4e-3) and falls about twentyfold with a halo of 3K. Acceleration and the tolerances act per
# chunk and are not bounded by it (a few percent).
SEAM_ERROR = 2e-3


def convolve(array, kernel, boundary="zero-flux-neumann", constant=0.0, normalize=False, precision=None,
             memory_budget=None, device=None, fft_backend=None):
    """The SAME convolution of a dask array (or anything dask.array.asarray takes), lazily. Blocks
    run through convolve(), whose GPU plans and kernel spectrum are shared by equal blocks
    (fft_backend as convolve's)."""
    import dask.array as da

    array = da.asarray(array)
    kernel = _arrays.host_copy(checked_kernel(kernel))
    _arrays.check_real(array, "the image")
    if kernel.ndim != array.ndim:
        raise ValueError(f"the image has {array.ndim} dimensions and the kernel {kernel.ndim}: they must agree")
    name = _settings("same", boundary, constant, normalize, precision, memory_budget, device,
                     fft_backend).boundary  # checks all
    edge = {"zero-flux-neumann": "nearest", "periodic": "periodic", "constant": constant}[name]

    def block(values):
        return _convolve(values, kernel, "same", name, constant, normalize, precision, memory_budget, device,
                         fft_backend=fft_backend)

    return array.map_overlap(block, depth=tuple(k // 2 for k in kernel.shape), boundary=edge,
                             dtype=_arrays.computation_dtype(array, precision))


def deconvolution_depth(halo, kernel_shape):
    """map_overlap's depth per axis for a deconvolution: the halo (an int or one per axis, NumPy
    order; None or 0: 2K per side, the package's default)."""
    halo = _dec.halo_per_axis(_dec._halo(halo), len(kernel_shape))
    return tuple(h or 2 * k for h, k in zip(halo, kernel_shape))


def deconvolve(array, kernel, algorithm="richardson-lucy", iterations=10, *, edges="boundary",
               boundary="zero-flux-neumann", constant=0.0, mode="same", normalize=False, accelerate=False,
               alpha=0.1, division_threshold=1e-5, kernel_zero_magnitude_threshold=1e-4, regularization_constant=0.0,
               noise_variance=0.0, weight_threshold=0.01, background=0.0, total_variation=0.0, tolerance=0.0,
               divergence_tolerance=0.0, greatest_prime_factor=7, precision=None, memory_budget=None, device=None,
               halo=None, halo_energy_fraction=None):
    """cudafftconvolution.deconvolve of a dask array (or anything dask.array.asarray takes),
    lazily: each chunk is deconvolved with `halo` voxels of its neighbours on each side (None or
    0: 2K per side) and its own voxels kept; the volume's own edges are left unpadded. Arguments
    as deconvolve's, checked here before anything runs, but for the image's values (negative or
    NaN voxels raise ValueError when their chunk computes). Not offered: callback,
    return_divergence and out (each chunk is a run of its own); tolerance and
    divergence_tolerance stop each chunk on its own, which can leave steps at the seams.
    mode="valid" is the SAME result cropped to where the kernel fits. The result differs from
    the untiled run near the seams by at most about SEAM_ERROR of its maximum with the default
    halo; a chunk smaller than the halo is merged with its neighbours by dask. halo_energy_fraction
    applies to the GPU's own tiles inside a chunk (deconvolve's)."""
    import dask.array as da

    settings = _dec._settings(algorithm, iterations, edges, boundary, constant, mode, normalize, accelerate, alpha,
                              division_threshold, kernel_zero_magnitude_threshold, regularization_constant,
                              noise_variance, weight_threshold, background, total_variation, tolerance,
                              divergence_tolerance, greatest_prime_factor, halo, precision, memory_budget, device,
                              halo_energy_fraction=halo_energy_fraction)
    kernel = _dec._host_kernel(kernel)
    array = da.asarray(array)
    _arrays.check_real(array, "the image")
    starts, sizes = _dec._check_region(settings, tuple(array.shape), kernel.shape)
    _dec.check_kernel(settings, kernel)
    depth = deconvolution_depth(settings.halo, kernel.shape)
    dtype = _arrays.computation_dtype(array, precision)
    each = settings._replace(mode="same")

    def block(values):
        return _dec._execute(each, values, kernel, None, False, None)

    # An axis of one chunk needs no halo; dask refuses a depth beyond the array.
    depth = tuple(0 if len(c) == 1 else min(d, n) for d, c, n in zip(depth, array.chunks, array.shape))
    meta = da.utils.meta_from_array(array, ndim=array.ndim, dtype=dtype)
    result = array.map_overlap(block, depth=depth, boundary="none", dtype=dtype, meta=meta)
    if settings.mode == "valid":
        result = result[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]
    return result


def richardson_lucy(array, psf, iterations=10, *, edges="non-circulant", boundary="zero-flux-neumann", constant=0.0,
                    mode="same", normalize=False, accelerate=False, background=0.0, total_variation=0.0,
                    tolerance=0.0, divergence_tolerance=0.0, precision=None, memory_budget=None, device=None,
                    halo=None, **options):
    """cudafftconvolution.richardson_lucy of a dask array, chunk by chunk (see deconvolve here):
    non-circulant edges by default; division_threshold, weight_threshold and
    greatest_prime_factor pass through."""
    _dec.check_richardson_lucy_options(options)
    return deconvolve(array, psf, "richardson-lucy", iterations, edges=edges, boundary=boundary, constant=constant,
                      mode=mode, normalize=normalize, accelerate=accelerate, background=background,
                      total_variation=total_variation, tolerance=tolerance, divergence_tolerance=divergence_tolerance,
                      precision=precision, memory_budget=memory_budget, device=device, halo=halo, **options)


def suggest_chunks(shape, kernel_shape, memory_budget, algorithm="richardson-lucy", *, edges="non-circulant",
                   accelerate=False, total_variation=0.0, halo=None, precision="float32", device=None,
                   multiple=None):
    """Chunks (NumPy order) for deconvolving a volume of `shape` on GPU workers with
    `memory_budget` bytes each (an int or text such as "20GiB"; the workers' GPU, not this
    machine's): the largest chunks, halving the longest axis at a time, whose block plus halo
    on both sides estimate_deconvolution_memory plans in one tile under the budget. The options
    are the deconvolution's (richardson_lucy's defaults). multiple: round chunks down to
    multiples of the store's chunks (e.g. zarr's), where that leaves at least one. ValueError
    where even a one-voxel chunk with its halo does not fit (use a smaller halo)."""
    from ._native import GPUMemoryBudgetError

    shape, kernel_shape = _shape(shape, "volume"), _shape(kernel_shape, "kernel")
    _check_shapes(shape, kernel_shape)
    depth = deconvolution_depth(halo, kernel_shape)

    def tiles(chunks):
        window = tuple(min(n, c + 2 * d) for n, c, d in zip(shape, chunks, depth))
        return _dec.estimate_deconvolution_memory(window, kernel_shape, algorithm, edges=edges, accelerate=accelerate,
                                                  total_variation=total_variation, halo=halo, precision=precision,
                                                  memory_budget=memory_budget, device=device).tiles

    try:  # first the smallest chunk: the planner's search where nothing fits takes long on a large window
        fits = tiles((1,) * len(shape)) == 1
    except GPUMemoryBudgetError:
        fits = False
    if not fits:
        raise ValueError(f"no chunk of a {shape} volume fits one GPU tile under {memory_budget!r} with a halo of "
                         f"{depth}: use a smaller halo or a larger budget")
    chunks = list(shape)
    while tiles(chunks) > 1:
        axis = int(np.argmax(chunks))
        chunks[axis] = (chunks[axis] + 1) // 2
    if multiple is not None:
        chunks = [c // m * m if c >= m else c for c, m in zip(chunks, multiple)]
    return tuple(chunks)

