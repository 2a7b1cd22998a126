"""Volumes larger than one host's memory: dask.array.map_overlap with a depth of floor(K/2) per
axis (a SAME convolution's reach), calling the wrapped filter on each block. dask pads the true
volume edges (boundary=0: a constant-zero boundary; 'nearest': ITK's zero-flux Neumann), the
filter's own boundary only touches halo voxels that map_overlap trims. On a dask cluster of GPU
workers, each worker runs the same function on its own GPU.
"""
import dask.array as da
import numpy as np

import itk


def convolve_block(block, kernel):
    """SAME convolution of one block (with its halo) by the wrapped filter."""
    image = itk.image_from_array(np.ascontiguousarray(block, dtype=np.float32))
    kernel_image = itk.image_from_array(kernel)
    return itk.array_from_image(itk.cuda_fft_convolution_image_filter(image, kernel_image=kernel_image))


def convolve_dask(volume, kernel, boundary):
    depth = tuple(k // 2 for k in kernel.shape)
    return volume.map_overlap(convolve_block, depth=depth, boundary=boundary, dtype=np.float32, kernel=kernel)


def one_shot(array, kernel, zero_boundary):
    image = itk.image_from_array(array)
    convolution = itk.CudaFFTConvolutionImageFilter.New(image, KernelImage=itk.image_from_array(kernel))
    if zero_boundary:
        condition = itk.ConstantBoundaryCondition[type(image)]()
        condition.SetConstant(0)
        convolution.SetBoundaryCondition(condition)
    convolution.Update()
    return itk.array_from_image(convolution.GetOutput())


def test_map_overlap_equals_one_shot():
    rng = np.random.default_rng(11)
    array = rng.random((40, 44, 52)).astype(np.float32)
    kernel = rng.random((5, 7, 9)).astype(np.float32)
    kernel /= kernel.sum()
    volume = da.from_array(array, chunks=(16, 20, 24))
    for boundary, zero in ((0, True), ("nearest", False)):
        blocked = convolve_dask(volume, kernel, boundary).compute(scheduler="threads")
        assert np.abs(blocked - one_shot(array, kernel, zero)).max() < 1e-5
