"""itk.Image in and out (PyPI's itk): pixels, spacing, direction, and the origin of the first
output voxel; the ITK-style function with boundary objects and names."""
import numpy as np
import pytest
from conftest import assert_close, direct_convolution

import cudafftconvolution as cfc

itk = pytest.importorskip("itk")


def make_image(array, index=(0, 0, 0)):
    image = itk.image_from_array(array)
    region = image.GetLargestPossibleRegion()
    moved = itk.ImageRegion[3]()
    moved.SetIndex([int(i) for i in index])
    moved.SetSize(region.GetSize())
    image.SetRegions(moved)
    image.SetSpacing([0.5, 0.75, 2.0])
    image.SetOrigin([10.0, -4.0, 3.5])
    angle = 0.3
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    image.SetDirection(itk.matrix_from_array(direction))
    return image


@pytest.mark.parametrize("mode", ["same", "valid", "full"])
@pytest.mark.parametrize("index", [(0, 0, 0), (3, -2, 5)])
def test_metadata_and_origin_follow_the_output_region(mode, index):
    rng = np.random.default_rng(8)
    array = rng.random((12, 14, 16)).astype(np.float32)
    kernel = rng.random((3, 4, 5)).astype(np.float32)
    image = make_image(array, index)
    result = cfc.convolve(image, itk.image_from_array(kernel), mode=mode)
    assert isinstance(result, type(image))
    assert np.allclose(result.GetSpacing(), image.GetSpacing())
    assert np.allclose(itk.array_from_matrix(result.GetDirection()), itk.array_from_matrix(image.GetDirection()))
    shift = {"same": [0, 0, 0], "full": [-(k // 2) for k in kernel.shape[::-1]],
             "valid": [k - 1 - k // 2 for k in kernel.shape[::-1]]}[mode]
    first = [int(i + s) for i, s in zip(index, shift)]
    assert np.allclose(result.GetOrigin(), image.TransformIndexToPhysicalPoint(first))
    assert_close(itk.array_view_from_image(result), direct_convolution(array, kernel, mode, "zero-flux-neumann"),
                 np.float32)


def test_itk_style_function_with_names_objects_and_ints():
    rng = np.random.default_rng(9)
    array = rng.random((10, 11, 12)).astype(np.float32)
    kernel = rng.random((3, 3, 4)).astype(np.float32)
    image, kernel_image = itk.image_from_array(array), itk.image_from_array(kernel)
    f = cfc.cuda_fft_convolution_image_filter
    full = f(image, kernel_image=kernel_image, output_region_mode="full", boundary_condition="periodic")
    assert_close(itk.array_view_from_image(full), direct_convolution(array, kernel, "full", "periodic"), np.float32)
    valid = f(image, kernel_image=kernel_image, output_region_mode=1, normalize=True)
    assert_close(itk.array_view_from_image(valid), direct_convolution(array, kernel / kernel.sum(), "valid",
                                                                      "zero-flux-neumann"), np.float32)
    if hasattr(itk, "ConstantBoundaryCondition"):
        condition = itk.ConstantBoundaryCondition[type(image)]()
        condition.SetConstant(3.0)
        same = f(image, kernel_image=kernel_image, boundary_condition=condition)
        assert_close(itk.array_view_from_image(same), direct_convolution(array, kernel, "same", "constant", 3.0),
                     np.float32)
    with pytest.raises(ValueError, match="boundary"):
        f(image, kernel_image=kernel_image, boundary_condition="mirror")
    with pytest.raises(ValueError, match="kernel_image"):
        f(image)
