"""convolve on NumPy arrays against SciPy and a direct sum: the GPU where there is one, else the CPU."""
import numpy as np
import pytest
from conftest import assert_close, direct_convolution, expected_device, scipy_reference

import cudafftconvolution as cfc

SHAPES = [((37,), (6,)), ((23, 30), (5, 4)), ((11, 14, 17), (3, 4, 5)), ((9, 10, 12), (4, 3, 6))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kernel_shape", SHAPES)
@pytest.mark.parametrize("mode", ["same", "valid", "full"])
def test_modes_against_scipy(dtype, shape, kernel_shape, mode):
    rng = np.random.default_rng(sum(shape) + sum(kernel_shape))
    image = rng.random(shape).astype(dtype)
    kernel = rng.random(kernel_shape).astype(dtype)
    result = cfc.convolve(image, kernel, mode=mode, boundary="constant", constant=0.0)
    assert result.dtype == dtype
    assert cfc.last_compute_device() == expected_device()
    assert_close(result, scipy_reference(image, kernel, mode), dtype)


@pytest.mark.parametrize("boundary,constant", [("zero-flux-neumann", 0.0), ("periodic", 0.0), ("constant", 2.5)])
@pytest.mark.parametrize("shape,kernel_shape", SHAPES)
@pytest.mark.parametrize("mode", ["same", "full"])
def test_boundaries_against_direct_sum(boundary, constant, shape, kernel_shape, mode):
    rng = np.random.default_rng(7)
    image = rng.random(shape)
    kernel = rng.random(kernel_shape)
    result = cfc.convolve(image, kernel, mode=mode, boundary=boundary, constant=constant)
    assert_close(result, direct_convolution(image, kernel, mode, boundary, constant), np.float64)


def test_kernel_larger_than_image_and_periodic_wrapping_several_times():
    rng = np.random.default_rng(3)
    image = rng.random((5, 7))
    kernel = rng.random((13, 16))
    for boundary in ("zero-flux-neumann", "periodic", "constant"):
        for mode in ("same", "full", "valid"):
            result = cfc.convolve(image, kernel, mode=mode, boundary=boundary)
            assert_close(result, direct_convolution(image, kernel, mode, boundary), np.float64)
    assert cfc.convolve(image, kernel, mode="valid").shape == (0, 0)


def test_normalize_divides_by_the_sum():
    rng = np.random.default_rng(5)
    image = rng.random((16, 18)).astype(np.float32)
    kernel = rng.random((5, 5)).astype(np.float32)
    result = cfc.convolve(image, kernel, normalize=True)
    assert_close(result, direct_convolution(image, kernel / kernel.sum(dtype=np.float64), "same",
                                            "zero-flux-neumann"), np.float32)


def test_layouts_and_types():
    rng = np.random.default_rng(9)
    base = rng.random((30, 40, 50))
    kernel = rng.random((3, 5, 4))
    strided = base[::2, 1::3, ::-1]
    fortran = np.asfortranarray(base[:12, :13, :14])
    integers = (base[:10, :11, :12] * 1000).astype(np.uint16)
    for image in (strided, fortran):
        assert_close(cfc.convolve(image, kernel), direct_convolution(image, kernel, "same", "zero-flux-neumann"),
                     np.float64)
    result = cfc.convolve(integers, kernel.astype(np.float32))
    assert result.dtype == np.float32
    assert_close(result, direct_convolution(integers, kernel.astype(np.float32), "same", "zero-flux-neumann"),
                 np.float32)
    assert cfc.convolve(base[:4, :5, :6].tolist(), kernel.tolist()).dtype == np.float64  # as np.asarray
    assert cfc.convolve(integers, kernel, precision="float64").dtype == np.float64


def test_convolver_reuses_and_copies_its_kernel():
    rng = np.random.default_rng(11)
    kernel = rng.random((5, 6, 7)).astype(np.float32)
    images = [rng.random((20, 21, 22)).astype(np.float32) for _ in range(3)]
    with cfc.Convolver(kernel, mode="full", normalize=True) as blur:
        expected = [cfc.convolve(image, kernel, mode="full", normalize=True) for image in images]
        kernel[:] = 0  # the Convolver holds its own copy
        for image, reference in zip(images, expected):
            assert_close(blur(image), reference, np.float32)
            assert blur.last_compute_device == expected_device()
        if expected_device() == "gpu":
            assert blur.last_reused_spectrum
            assert blur.last_estimate.tiles == 1
        blur.release()
        assert_close(blur(images[0]), expected[0], np.float32)


def test_cpu_path_on_request_gives_the_same_result():
    rng = np.random.default_rng(13)
    image = rng.random((17, 19, 21)).astype(np.float32)
    kernel = rng.random((4, 5, 6)).astype(np.float32)
    for mode in ("same", "valid", "full"):
        cpu = cfc.convolve(image, kernel, mode=mode, device="cpu")
        assert cfc.last_compute_device() == "cpu"
        assert_close(cfc.convolve(image, kernel, mode=mode), cpu, np.float32)


def test_memory_estimate_and_budget():
    estimate = cfc.estimate_gpu_memory((128, 512, 512), (15, 15, 15))
    assert estimate.tiles >= 1 and estimate.output_shape == (128, 512, 512)
    assert estimate.peak_bytes > 2 * 4 * np.prod(estimate.fft_shape)
    resident = cfc.estimate_gpu_memory((128, 512, 512), (15, 15, 15), on_device=True)
    assert resident.peak_bytes < estimate.peak_bytes  # nothing is staged
    tiled = cfc.estimate_gpu_memory((128, 512, 512), (15, 15, 15), memory_budget=estimate.peak_bytes // 3)
    assert tiled.tiles > 1 and tiled.peak_bytes <= estimate.peak_bytes // 3
    with pytest.raises(cfc.GPUMemoryBudgetError, match="too small"):
        cfc.estimate_gpu_memory((128, 512, 512), (15, 15, 15), memory_budget="1MiB")


def test_bad_arguments_raise_value_errors():
    image = np.ones((8, 9), np.float32)
    with pytest.raises(ValueError, match="dimensions"):
        cfc.convolve(image, np.ones((3,), np.float32))
    with pytest.raises(ValueError, match="empty"):
        cfc.convolve(np.ones((0, 4)), np.ones((1, 1)))
    with pytest.raises(ValueError, match="normalized"):
        cfc.convolve(image, np.array([[1.0, -1.0]]), normalize=True)
    with pytest.raises(ValueError, match="normalized"):
        cfc.Convolver(np.array([[1.0, -1.0]]), normalize=True)
    with pytest.raises(ValueError, match="mode"):
        cfc.convolve(image, np.ones((3, 3)), mode="circular")
    with pytest.raises(ValueError, match="boundary"):
        cfc.convolve(image, np.ones((3, 3)), boundary="mirror")
    with pytest.raises(ValueError, match="precision"):
        cfc.convolve(image, np.ones((3, 3)), precision="float16")
    with pytest.raises(ValueError, match="device"):
        cfc.convolve(image, np.ones((3, 3)), device="tpu")
    with pytest.raises(TypeError, match="complex"):
        cfc.convolve(image.astype(np.complex64), np.ones((3, 3)))
    with pytest.raises(ValueError, match="dimensions are supported"):
        cfc.convolve(np.ones((2, 2, 2, 2)), np.ones((1, 1, 1, 1)))


def test_no_gpu_is_reported_and_a_required_gpu_raises():
    if cfc.gpu_available():
        assert cfc.gpu_unavailable_reason() == ""
    else:
        assert cfc.gpu_unavailable_reason()
        with pytest.raises(cfc.NoGPUError):
            cfc.convolve(np.ones((4, 4)), np.ones((3, 3)), device="gpu")


def test_out_receives_the_result_and_is_checked():
    rng = np.random.default_rng(17)
    image = rng.random((12, 13, 14)).astype(np.float32)
    kernel = rng.random((3, 3, 3)).astype(np.float32)
    out = np.empty((14, 15, 16), np.float32)
    result = cfc.convolve(image, kernel, mode="full", out=out)
    assert result is out
    assert_close(out, direct_convolution(image, kernel, "full", "zero-flux-neumann"), np.float32)
    with cfc.Convolver(kernel) as blur:
        same = np.empty_like(image)
        assert blur(image, out=same) is same
        assert_close(same, direct_convolution(image, kernel, "same", "zero-flux-neumann"), np.float32)
    for wrong in (np.empty((12, 13, 15), np.float32), np.empty((12, 13, 14), np.float64),
                  np.empty((14, 13, 12), np.float32).T):
        with pytest.raises(ValueError, match="out"):
            cfc.convolve(image, kernel, out=wrong)
