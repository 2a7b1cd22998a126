"""Volumes larger than one machine's memory, or spread over a cluster: dask.array.map_overlap
with a depth of floor(K/2) per axis (a SAME convolution's reach: K-1-floor(K/2) below and
floor(K/2) above), calling convolve on each block with its halo. dask pads the true volume edges
with the boundary ("nearest" for zero-flux Neumann, the constant, or "periodic"), and the
package's own boundary touches only halo voxels that map_overlap trims, so the result equals
the one-shot SAME convolution.

On a cluster of GPU workers (dask_cuda.LocalCUDACluster, or one `dask worker --nthreads 1` per
GPU with CUDA_VISIBLE_DEVICES set), each worker convolves its blocks on its own GPU; choose
chunks so that a chunk plus its halo fits one GPU (estimate_gpu_memory), or let the engine tile.
"""
from . import _arrays
from ._api import _settings, checked_kernel
from ._api import convolve as _convolve


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
