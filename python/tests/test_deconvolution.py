"""deconvolve, richardson_lucy, estimate_deconvolution_memory.

CPU (every machine): the NumPy path against independent checks (a delta kernel, a circulant
Richardson-Lucy written out, direct filters on noise-free data, acceleration, the edges on a
phantom blurred by a direct FULL convolution), the validation and the itk.Image round trip.
GPU (skipped without one): the GPU against that CPU path over the algorithms, edges, boundaries,
modes and options, CuPy and PyTorch device arrays, tiles and their seams, and the memory plan.
"""
import math

import numpy as np
import pytest
from conftest import direct_convolution, expected_device, needs_gpu

import cudafftconvolution as cfc
from cudafftconvolution import _deconvolution, _native
from cudafftconvolution import _deconvolution_cpu as reference

ITERATIVE = ("richardson-lucy", "landweber", "projected-landweber")


def gaussian(shape, sigma):
    """A normalised Gaussian centred on floor(K/2) of each axis."""
    axes = [np.exp(-((np.arange(k) - k // 2) ** 2) / (2.0 * sigma**2)) for k in shape]
    kernel = axes[0]
    for axis in axes[1:]:
        kernel = np.multiply.outer(kernel, axis)
    return kernel / kernel.sum()


def delta(shape):
    kernel = np.zeros(shape)
    kernel[tuple(k // 2 for k in shape)] = 1.0
    return kernel


def blobs(shape, seed=0, background=0.2):
    """Positive phantom: a few bright balls on a background."""
    rng = np.random.default_rng(seed)
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    volume = np.full(shape, background)
    for _ in range(4):
        centre = [rng.uniform(0, n) for n in shape]
        radius = rng.uniform(0.15, 0.3) * min(shape)
        distance = sum((g - c) ** 2 for g, c in zip(grid, centre))
        volume[distance <= radius**2] += rng.uniform(1, 4)
    return volume


# ---- the CPU path: independent checks ---------------------------------------------------------------
@pytest.mark.parametrize("algorithm,edges", [(a, "boundary") for a in cfc.ALGORITHMS] +
                         [("richardson-lucy", "non-circulant")])
@pytest.mark.parametrize("shape,kernel_shape", [((20, 26), (3, 5)), ((18, 24), (4, 6)), ((8, 10, 12), (3, 4, 5))])
def test_delta_kernel_returns_the_image(algorithm, edges, shape, kernel_shape):
    image = np.random.default_rng(1).random(shape) + 0.1
    result = cfc.deconvolve(image, delta(kernel_shape), algorithm, 3, edges=edges, device="cpu")
    assert result.dtype == np.float64 and result.shape == image.shape
    np.testing.assert_allclose(result, image, rtol=1e-9, atol=1e-12)
    assert cfc.last_compute_device() == "cpu"


def circulant_richardson_lucy(data, kernel, iterations):
    """Richardson-Lucy on the periodic grid of \\a data, ITK style (the data are the first estimate)."""
    placed = np.zeros(data.shape)
    placed[tuple(slice(0, k) for k in kernel.shape)] = kernel
    transfer = np.fft.fftn(np.roll(placed, [-(k // 2) for k in kernel.shape], axis=tuple(range(kernel.ndim))))

    def blur(values, spectrum):
        return np.real(np.fft.ifftn(np.fft.fftn(values) * spectrum))

    estimate = data.copy()
    for _ in range(iterations):
        estimate = estimate * blur(data / blur(estimate, transfer), np.conj(transfer))
    return estimate


@pytest.mark.parametrize("shape,kernel_shape", [((28, 36), (5, 5)), ((44, 26), (4, 6)), ((12, 14, 16), (5, 3, 4))])
def test_periodic_boundary_edges_are_circulant_richardson_lucy(shape, kernel_shape):
    """With a periodic boundary on an image whose padded size N + 2 floor(K/2) is already an FFT
    size, boundary edges are a circulant Richardson-Lucy on the wrap-padded image."""
    radius = [k // 2 for k in kernel_shape]
    assert all(reference.next_smooth(n + 2 * r, 7) == n + 2 * r for n, r in zip(shape, radius))
    image = blobs(shape, 2)
    kernel = np.random.default_rng(3).random(kernel_shape) + 0.2
    result = cfc.richardson_lucy(image, kernel, 6, edges="boundary", boundary="periodic", device="cpu")
    padded = np.pad(image, [(r, r) for r in radius], mode="wrap")
    expected = circulant_richardson_lucy(padded, kernel, 6)[tuple(slice(r, r + n) for r, n in zip(radius, shape))]
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-12 * expected.max())


def test_direct_methods_recover_noise_free_data():
    """An object zero within the kernel's reach of the borders, blurred by a direct sum with a zero
    boundary: the data are exactly circulant on the zero-padded grid, so the inverse filter,
    Tikhonov without regularisation and Wiener without noise give the object back."""
    one = np.array([0.05, 0.15, 0.65, 0.15])  # |H| >= 0.3 at every frequency; centre index 2
    kernel = np.multiply.outer(np.array([0.15, 0.7, 0.15]), one)
    truth = np.zeros((30, 34))
    truth[4:-4, 5:-5] = blobs((22, 24), 4)
    data = direct_convolution(truth, kernel, "same", "constant")
    for algorithm, options in (("inverse", {}), ("tikhonov", {"regularization_constant": 0.0}),
                               ("wiener", {"noise_variance": 0.0})):
        result = cfc.deconvolve(data, kernel, algorithm, edges="boundary", boundary="constant", device="cpu",
                                **options)
        np.testing.assert_allclose(result, truth, atol=1e-9 * truth.max(), err_msg=algorithm)


def test_acceleration_reaches_the_plain_divergence_in_fewer_iterations():
    kernel = gaussian((9, 9), 2.0)
    truth = blobs((48, 56), 5)
    data = direct_convolution(truth, kernel, "same", "zero-flux-neumann")
    plain = 40
    _, divergence = cfc.richardson_lucy(data, kernel, plain + 1, return_divergence=True, device="cpu")
    assert len(divergence) == plain + 1 and all(b < a for a, b in zip(divergence, divergence[1:]))
    target = divergence[plain]  # the divergence of the estimate after `plain` iterations
    _, accelerated = cfc.richardson_lucy(data, kernel, plain, accelerate=True, return_divergence=True, device="cpu")
    reached = next(i for i, value in enumerate(accelerated) if value <= target)
    print(f"plain: {plain} iterations to a divergence of {target:.4g}; accelerated: {reached}")
    assert reached <= plain // 2


def test_non_circulant_edges_beat_boundary_edges_near_the_border():
    """True physics: an object larger than the field of view, blurred by a direct FULL convolution
    and cropped to the camera (VALID of the object). Non-circulant edges need no assumption
    about what lies beyond the image; a boundary condition invents it."""
    kernel = gaussian((7, 7), 1.2)
    shape = (40, 48)
    full = [n + k - 1 for n, k in zip(shape, kernel.shape)]
    yy, xx = np.mgrid[: full[0], : full[1]]
    truth = np.full(full, 0.5)
    truth[(yy - 10) ** 2 + (xx - 8) ** 2 < 60] += 5  # crosses the border
    truth[(yy - 30) ** 2 + (xx - 40) ** 2 < 40] += 3
    data = direct_convolution(truth, kernel, "valid", "constant")
    seen = truth[3:3 + shape[0], 3:3 + shape[1]]
    border = np.ones(shape, bool)
    border[7:-7, 7:-7] = False
    errors = {}
    for edges in ("boundary", "non-circulant"):
        result = cfc.richardson_lucy(data, kernel, 30, edges=edges, device="cpu")
        errors[edges] = float(np.abs(result - seen)[border].mean())
    print("mean error within 7 voxels of the border:", errors)
    assert errors["non-circulant"] < 0.85 * errors["boundary"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("gpu", marks=needs_gpu)])
@pytest.mark.parametrize("edges", ["non-circulant", "boundary"])
@pytest.mark.parametrize("accelerate", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_richardson_lucy_estimate_is_never_negative(device, edges, accelerate, dtype):
    # Far from the data the correction H^T (d / Hx) is 0 up to the transforms' rounding; its
    # negative part must not reach the estimate (a user's log() of the result).
    image = np.zeros((32, 96, 96), dtype)
    image[10:22, 30:60, 40:70] = blobs((12, 30, 30), seed=4)
    kernel = gaussian((9, 11, 11), 1.5)
    result = cfc.richardson_lucy(image, kernel, 15, edges=edges, accelerate=accelerate, device=device)
    assert result.min() >= 0, f"RL estimate has negative values down to {result.min()}"
    assert result.max() > 0


def test_every_face_has_the_same_default_iterations():
    import inspect

    defaults = {f.__name__: inspect.signature(f).parameters["iterations"].default
                for f in (cfc.deconvolve, cfc.richardson_lucy)}
    assert defaults == {"deconvolve": 10, "richardson_lucy": 10}
    if _native.LIBRARY is not None:  # the C ABI's defaults (and so the command-line tool's)
        assert _native.deconvolution_defaults().iterations == 10


def test_zero_iterations_give_the_initial_estimate():
    image = blobs((20, 24), 6)
    kernel = gaussian((5, 5), 1.0)
    assert np.array_equal(cfc.deconvolve(image, kernel, iterations=0, device="cpu"), image)
    flat = cfc.richardson_lucy(image, kernel, 0, device="cpu")
    np.testing.assert_allclose(flat, np.full(image.shape, image.mean()), rtol=1e-12)
    landweber = cfc.deconvolve(image, kernel, "landweber", 0, device="cpu")
    assert np.array_equal(landweber, image)


def test_modes_shapes_types_and_out():
    rng = np.random.default_rng(7)
    image = (rng.random((16, 21)) * 100).astype(np.uint16)
    kernel = gaussian((4, 5), 1.0)
    same = cfc.richardson_lucy(image, kernel, 3, device="cpu")
    assert same.dtype == np.float32 and same.shape == image.shape
    valid = cfc.richardson_lucy(image, kernel, 3, mode="valid", device="cpu")
    starts, sizes = reference.valid_region(image.shape, kernel.shape)
    assert valid.shape == sizes == (13, 17)
    assert starts == (1, 2)
    double = cfc.richardson_lucy(image, kernel, 3, precision="float64", device="cpu")
    assert double.dtype == np.float64
    np.testing.assert_allclose(same, double, rtol=1e-5, atol=1e-5 * double.max())
    out = np.full(image.shape, np.nan, np.float32)
    assert cfc.richardson_lucy(image, kernel, 3, device="cpu", out=out) is out
    np.testing.assert_array_equal(out, same)
    large = cfc.richardson_lucy(image.astype(np.float64), gaussian((21, 25), 3.0), 2, device="cpu")
    assert large.shape == image.shape and np.all(np.isfinite(large))  # a PSF larger than the image


def test_callback_stops_and_the_divergence_list():
    image = blobs((24, 30), 8)
    kernel = gaussian((5, 5), 1.2)
    calls = []

    def stop_at_four(iteration, divergence, change):
        calls.append((iteration, divergence, change))
        return iteration < 4

    result, divergence = cfc.richardson_lucy(image, kernel, 10, callback=stop_at_four, return_divergence=True,
                                             device="cpu")
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4]
    assert math.isnan(calls[0][1]) and math.isnan(calls[0][2])
    assert cfc.last_deconvolution_info().iterations == 4 and len(divergence) == 4
    assert [c[1] for c in calls[1:]] == divergence[:4]  # the callback sees the previous iteration's
    assert np.array_equal(result, cfc.richardson_lucy(image, kernel, 4, device="cpu"))
    changes = [c[2] for c in calls[1:]]
    tolerance = math.sqrt(changes[1] * changes[2])
    cfc.richardson_lucy(image, kernel, 50, tolerance=tolerance, device="cpu")
    assert cfc.last_deconvolution_info().iterations == 3
    with pytest.raises(ZeroDivisionError):
        cfc.richardson_lucy(image, kernel, 5, callback=lambda i, d, c: 1 / 0, device="cpu")
    _, none = cfc.deconvolve(image, kernel, "landweber", 3, return_divergence=True, device="cpu")
    assert none == []


def test_torch_cpu_tensor():
    torch = pytest.importorskip("torch")
    image = torch.from_numpy(blobs((12, 14), 9).astype(np.float32))
    result = cfc.richardson_lucy(image, torch.from_numpy(gaussian((3, 3), 1.0)), 3, device="cpu")
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32 and not result.is_cuda
    expected = cfc.richardson_lucy(image.numpy(), gaussian((3, 3), 1.0), 3, device="cpu")
    np.testing.assert_array_equal(result.numpy(), expected)


@pytest.mark.parametrize("call,message", [
    (lambda i, k: cfc.richardson_lucy(i, k[0]), "dimensions"),
    (lambda i, k: cfc.richardson_lucy(np.where(i > 0.5, np.nan, i), k), "NaN"),
    (lambda i, k: cfc.richardson_lucy(i, np.where(k > 0.05, np.inf, k)), "NaN or infinite"),
    (lambda i, k: cfc.richardson_lucy(i - 0.5, k), "negative"),
    (lambda i, k: cfc.richardson_lucy(i, k, -1), "iterations"),
    (lambda i, k: cfc.richardson_lucy(i, k, 2.5), "iterations"),
    (lambda i, k: cfc.richardson_lucy(i, -k), "positive sum"),
    (lambda i, k: cfc.richardson_lucy(i, k - k.mean(), normalize=True), "sums to"),
    (lambda i, k: cfc.richardson_lucy(i, k, mode="full"), "full"),
    (lambda i, k: cfc.richardson_lucy(i, np.ones((20, 3)), mode="valid"), "VALID"),
    (lambda i, k: cfc.deconvolve(i, k, "landweber", edges="non-circulant"), "Richardson-Lucy only"),
    (lambda i, k: cfc.deconvolve(i, k, "wiener", accelerate=True), "Richardson-Lucy only"),
    (lambda i, k: cfc.deconvolve(i, k, "blind"), "algorithm"),
    (lambda i, k: cfc.richardson_lucy(i, k, edges="mirror"), "edges"),
    (lambda i, k: cfc.richardson_lucy(i, k, halo=-1), "halo"),
    (lambda i, k: cfc.richardson_lucy(i, k, total_variation=-0.1), "total_variation"),
    (lambda i, k: cfc.richardson_lucy(i, k, greatest_prime_factor=1), "greatest_prime_factor"),
])
def test_invalid_problems_raise_value_error(call, message):
    image = np.random.default_rng(10).random((12, 14))
    kernel = gaussian((3, 5), 1.0)
    with pytest.raises(ValueError, match=message):
        call(image, kernel)


def test_landweber_accepts_negative_values_and_kernels_summing_to_zero():
    image = np.random.default_rng(11).random((12, 14)) - 0.5
    kernel = gaussian((3, 3), 1.0)
    assert np.all(np.isfinite(cfc.deconvolve(image, kernel, "landweber", 3, device="cpu")))
    assert np.all(np.isfinite(cfc.deconvolve(image, kernel - kernel.mean(), "tikhonov",
                                             regularization_constant=0.1, device="cpu")))


def test_itk_image_round_trip():
    itk = pytest.importorskip("itk")
    array = blobs((10, 12, 14), 12).astype(np.float32)
    kernel = gaussian((3, 4, 5), 1.0).astype(np.float32)
    image = itk.image_from_array(array)
    image.SetSpacing([0.5, 0.75, 2.0])
    image.SetOrigin([10.0, -4.0, 3.5])
    direction = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    image.SetDirection(itk.matrix_from_array(direction))
    for mode in ("same", "valid"):
        result = cfc.richardson_lucy(image, itk.image_from_array(kernel), 4, mode=mode)
        assert isinstance(result, type(image))
        assert np.allclose(result.GetSpacing(), image.GetSpacing())
        assert np.allclose(itk.array_from_matrix(result.GetDirection()), direction)
        first = [0, 0, 0] if mode == "same" else [k - 1 - k // 2 for k in kernel.shape[::-1]]
        assert np.allclose(result.GetOrigin(), image.TransformIndexToPhysicalPoint(first))
        expected = cfc.richardson_lucy(array, kernel, 4, mode=mode)
        np.testing.assert_allclose(itk.array_view_from_image(result), expected, rtol=1e-6, atol=1e-6)
    result, divergence = cfc.richardson_lucy(image, kernel, 3, return_divergence=True)
    assert isinstance(result, type(image)) and len(divergence) >= 2


@pytest.mark.skipif(_native.LIBRARY is None, reason="the native library is not loaded")
def test_memory_estimate_and_its_grid():
    estimate = cfc.estimate_deconvolution_memory((30, 40, 50), (5, 6, 7), edges="non-circulant")
    assert estimate.grid_shape == reference.geometry((30, 40, 50), (5, 6, 7), "non-circulant", "zero-flux-neumann",
                                                     7).grid
    assert estimate.tiles == 1 and estimate.output_shape == (30, 40, 50) and estimate.peak_bytes > 0
    boundary = cfc.estimate_deconvolution_memory((30, 40, 50), (5, 6, 7), mode="valid", greatest_prime_factor=5)
    assert boundary.grid_shape == reference.geometry((30, 40, 50), (5, 6, 7), "boundary", "zero-flux-neumann", 5).grid
    assert boundary.output_shape == reference.valid_region((30, 40, 50), (5, 6, 7))[1]
    accelerated = cfc.estimate_deconvolution_memory((30, 40, 50), (5, 6, 7), accelerate=True)
    assert accelerated.peak_bytes > boundary.peak_bytes
    whole = cfc.estimate_deconvolution_memory((64, 256, 256), (9, 9, 9))
    tiled = cfc.estimate_deconvolution_memory((64, 256, 256), (9, 9, 9), memory_budget=whole.peak_bytes // 2)
    assert whole.tiles == 1 and tiled.tiles > 1 and tiled.peak_bytes <= whole.peak_bytes // 2
    with pytest.raises(cfc.GPUMemoryBudgetError):
        cfc.estimate_deconvolution_memory((64, 256, 256), (9, 9, 9), memory_budget=1000)
    with pytest.raises(ValueError):
        cfc.estimate_deconvolution_memory((30, 40, 50), (5, 6, 7), mode="full")


def test_demo_writes_its_projections_and_summary(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import importlib.util
    import json
    import pathlib

    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "deconvolution_demo.py"
    spec = importlib.util.spec_from_file_location("deconvolution_demo", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    summary = demo.main([str(tmp_path), "--scale", "0.125", "--iterations", "4"])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["blurred_xy_zy.png", "divergence.png", "phantom_xy_zy.png", "rl_accelerated_xy_zy.png",
                       "rl_plain_xy_zy.png", "summary.json"]
    assert json.loads((tmp_path / "summary.json").read_text())["plain"]["device"] == expected_device()
    assert summary["plain"]["rms_error_vs_phantom"] < summary["rms_error_of_the_data"]


def test_default_device():
    image = blobs((16, 18), 13).astype(np.float32)
    cfc.richardson_lucy(image, gaussian((3, 3), 1.0), 2)
    assert cfc.last_compute_device() == expected_device()
    assert cfc.last_deconvolution_info().compute_device == expected_device()


# ---- the GPU against the CPU path ------------------------------------------------------------------
def close_to(result, expected, dtype, what="", factor=1.0):
    """Within 1e-4 (float32) or 1e-9 (float64) of the largest expected value, times factor."""
    expected = np.asarray(expected, np.float64)
    tolerance = factor * (1e-4 if np.dtype(dtype) == np.float32 else 1e-9)
    difference = float(np.max(np.abs(np.asarray(result, np.float64) - expected)))
    scale = float(np.max(np.abs(expected)))
    assert difference <= tolerance * scale, f"{what}: max difference {difference:.3g} of max {scale:.3g}"


def test_kernel(shape, seed, dominant=False):
    """Positive, normalised; `dominant`: a centre weight that keeps |H| away from 0 (direct filters)."""
    rng = np.random.default_rng(seed)
    if not dominant:
        return rng.random(shape) + 0.05
    kernel = np.ones(())
    for k in shape:
        axis = rng.random(k) * 0.4 / k
        axis[k // 2] += 0.6
        kernel = np.multiply.outer(kernel, axis / axis.sum())
    return kernel


test_kernel.__test__ = False  # a helper, not a test

CONFIGURATIONS = ([("richardson-lucy", "boundary", b) for b in ("zero-flux-neumann", "constant", "periodic")] +
                  [("richardson-lucy", "non-circulant", "zero-flux-neumann")] +
                  [(a, "boundary", b) for a in list(cfc.ALGORITHMS)[1:] for b in ("zero-flux-neumann", "constant", "periodic")])
GEOMETRIES = [((40, 52), (5, 7)), ((38, 50), (4, 6)), ((14, 18, 22), (5, 3, 7)), ((16, 20, 18), (4, 6, 4))]


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["same", "valid"])
@pytest.mark.parametrize("shape,kernel_shape", GEOMETRIES)
@pytest.mark.parametrize("algorithm,edges,boundary", CONFIGURATIONS)
def test_gpu_matches_the_cpu_path(algorithm, edges, boundary, shape, kernel_shape, mode, dtype):
    normalize = kernel_shape[0] % 2 == 0  # every other geometry: the engine normalises the kernel
    image = (blobs(shape, 20) + np.random.default_rng(21).random(shape) * 0.1).astype(dtype)
    kernel = test_kernel(kernel_shape, 22, dominant=algorithm not in ITERATIVE)
    kernel = (kernel * (3.0 if normalize else 1.0 / kernel.sum())).astype(dtype)
    options = dict(edges=edges, boundary=boundary, constant=0.25, mode=mode, normalize=normalize,
                   regularization_constant=1e-3, noise_variance=1e-3, alpha=0.5)
    result = cfc.deconvolve(image, kernel, algorithm, 5, **options)
    assert cfc.last_compute_device() == "gpu" and result.dtype == dtype
    gpu_iterations = cfc.last_deconvolution_info().iterations
    expected = cfc.deconvolve(image, kernel, algorithm, 5, device="cpu", **options)
    assert result.shape == expected.shape
    close_to(result, expected, dtype, f"{algorithm} {edges} {boundary}")
    assert gpu_iterations == cfc.last_deconvolution_info().iterations


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("edges", ["boundary", "non-circulant"])
@pytest.mark.parametrize("options", [{"accelerate": True}, {"total_variation": 0.002},
                                     {"total_variation": 0.002, "accelerate": True}, {"background": 0.05},
                                     {"normalize": True, "mode": "valid"}], ids=str)
@pytest.mark.parametrize("shape,kernel_shape", [((48, 40), (7, 6)), ((16, 24, 20), (5, 5, 4))])
def test_gpu_richardson_lucy_options_match_the_cpu_path(options, edges, dtype, shape, kernel_shape):
    image = (blobs(shape, 23) * 10).astype(dtype)
    kernel = gaussian(kernel_shape, 1.3).astype(dtype)
    result, divergence = cfc.richardson_lucy(image, kernel, 8, edges=edges, return_divergence=True, **options)
    assert cfc.last_compute_device() == "gpu"
    expected, reference_divergence = cfc.richardson_lucy(image, kernel, 8, edges=edges, return_divergence=True,
                                                         device="cpu", **options)
    # Total variation's term is ill-conditioned where the image is flat (|grad x| ~ its 1e-3
    # epsilon): there rounding differences between cuFFT and NumPy's FFT grow (measured on the
    # H100: 1.2e-3 of the maximum in float32, 8e-8 in float64).
    factor = (50.0 if dtype == np.float32 else 1000.0) if options.get("total_variation") else 1.0
    close_to(result, expected, dtype, str(options), factor)
    assert len(divergence) == len(reference_divergence) - 1  # the GPU's lacks the last iteration's
    np.testing.assert_allclose(divergence, reference_divergence[:-1],
                               rtol=(1e-5 if dtype == np.float32 else 1e-10) * factor)


@needs_gpu
@pytest.mark.parametrize("edges", ["boundary", "non-circulant"])
def test_gpu_psf_larger_than_the_image_and_integer_input(edges):
    image = (blobs((12, 14), 30) * 40).astype(np.uint16)
    psf = gaussian((21, 25), 3.0)
    result = cfc.richardson_lucy(image, psf, 5, edges=edges)
    assert cfc.last_compute_device() == "gpu" and result.dtype == np.float32 and result.shape == image.shape
    close_to(result, cfc.richardson_lucy(image, psf, 5, edges=edges, device="cpu"), np.float32)


def tolerance_between(values, first=3):
    """A tolerance that the sequence crosses with a 1% margin from its neighbours (None if none)."""
    for k in range(first, len(values) - 1):
        tolerance = math.sqrt(values[k] * values[k + 1])
        if min(values[: k + 1]) > 1.01 * tolerance and values[k + 1] < tolerance / 1.01:
            return tolerance
    return None


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("edges", ["boundary", "non-circulant"])
@pytest.mark.parametrize("accelerate", [False, True])
def test_gpu_tolerances_stop_at_the_same_iteration(dtype, edges, accelerate):
    image = (blobs((40, 44), 24) * 20).astype(dtype)
    kernel = gaussian((7, 7), 1.5).astype(dtype)
    changes, divergences = [], []

    def record(iteration, divergence, change):
        changes.append(change)
        divergences.append(divergence)

    cfc.richardson_lucy(image, kernel, 40, edges=edges, accelerate=accelerate, callback=record, device="cpu")
    drops = [(a - b) / a for a, b in zip(divergences[1:], divergences[2:])]
    for keyword, values in (("tolerance", changes[1:]), ("divergence_tolerance", drops)):
        tolerance = tolerance_between(values)
        assert tolerance is not None, keyword
        cfc.richardson_lucy(image, kernel, 40, edges=edges, accelerate=accelerate, device="cpu",
                            **{keyword: tolerance})
        cpu = cfc.last_deconvolution_info().iterations
        result = cfc.richardson_lucy(image, kernel, 40, edges=edges, accelerate=accelerate, **{keyword: tolerance})
        assert cfc.last_compute_device() == "gpu"
        assert cfc.last_deconvolution_info().iterations == cpu < 40, keyword
        close_to(result, cfc.richardson_lucy(image, kernel, cpu, edges=edges, accelerate=accelerate, device="cpu"),
                 dtype, keyword, factor=10.0)  # tens of iterations, accelerated: rounding grows


@needs_gpu
def test_gpu_callback_sees_the_cpu_values_and_stops():
    image = (blobs((30, 36), 25) * 5).astype(np.float64)
    kernel = gaussian((5, 5), 1.2)
    seen, results = {"gpu": [], "cpu": []}, {}
    for device in ("gpu", "cpu"):
        def callback(iteration, divergence, change, log=seen[device]):
            log.append((iteration, divergence, change))
            return iteration < 6

        results[device] = cfc.richardson_lucy(image, kernel, 20, callback=callback, device=device)
        assert cfc.last_deconvolution_info().iterations == 6
    assert [s[0] for s in seen["gpu"]] == list(range(7))
    np.testing.assert_allclose(np.array(seen["gpu"][1:]), np.array(seen["cpu"][1:]), rtol=1e-10)
    with pytest.raises(KeyError):
        cfc.richardson_lucy(image, kernel, 5, callback=lambda i, d, c: {}[i], device="gpu")
    close_to(results["gpu"], results["cpu"], np.float64)


@pytest.fixture
def cupy():
    return pytest.importorskip("cupy")


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    return torch


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("edges", ["boundary", "non-circulant"])
def test_cupy_in_cupy_out(cupy, dtype, edges):
    image = (blobs((20, 36, 40), 26) * 10).astype(dtype)
    kernel = gaussian((5, 7, 6), 1.2).astype(dtype)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        device_image = cupy.asarray(image)
        result = cfc.richardson_lucy(device_image, cupy.asarray(kernel), 6, edges=edges, accelerate=True)
        assert isinstance(result, cupy.ndarray) and result.dtype == dtype and result.device.id == device_image.device.id
        attributes = cupy.cuda.runtime.pointerGetAttributes(result.data.ptr)
        assert attributes.type == cupy.cuda.runtime.memoryTypeDevice
        host = cupy.asnumpy(result, stream=stream)
        stream.synchronize()
    close_to(host, cfc.richardson_lucy(image, kernel, 6, edges=edges, accelerate=True), dtype)
    out = cupy.empty((20, 36, 40), dtype)
    assert cfc.richardson_lucy(cupy.asarray(image), kernel, 6, edges=edges, accelerate=True, out=out) is out
    close_to(cupy.asnumpy(out), host, dtype)
    valid = cfc.deconvolve(cupy.asarray(image), kernel, "landweber", 4, mode="valid")
    close_to(cupy.asnumpy(valid), cfc.deconvolve(image, kernel, "landweber", 4, mode="valid", device="cpu"), dtype)


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_in_torch_out(torch, dtype):
    image = (blobs((18, 30, 34), 27) * 10).astype(dtype)
    kernel = gaussian((5, 4, 5), 1.2).astype(dtype)
    tensor = torch.from_numpy(image).cuda()
    result, divergence = cfc.richardson_lucy(tensor, torch.from_numpy(kernel).cuda(), 6, return_divergence=True)
    assert isinstance(result, torch.Tensor) and result.is_cuda and result.device == tensor.device
    assert result.dtype == (torch.float32 if dtype == np.float32 else torch.float64)
    try:
        import cupy
    except ImportError:
        cupy = None
    if cupy is not None:  # the result's pointer is device memory
        attributes = cupy.cuda.runtime.pointerGetAttributes(result.data_ptr())
        assert attributes.type == cupy.cuda.runtime.memoryTypeDevice
    close_to(result.cpu().numpy(), cfc.richardson_lucy(image, kernel, 6), dtype)
    assert len(divergence) == 5


@needs_gpu
@pytest.mark.parametrize("function", ["convolve", "richardson_lucy"])
def test_a_budget_above_the_free_memory_is_retried_on_smaller_tiles(function):
    # One memory policy for every face: when a device allocation fails (the caller's budget of
    # 8 GiB, but only about 60 MiB free), the run is planned again for what is free, also under a
    # caller's budget (the C ABI used to give up), and gives the same result.
    cupy = pytest.importorskip("cupy")
    image = blobs((64, 256, 256), 3).astype(np.float32)
    kernel = gaussian((9, 9, 9), 1.5).astype(np.float32)

    def run(**options):
        if function == "convolve":
            return cfc.convolve(image, kernel, **options)
        return cfc.richardson_lucy(image, kernel, 5, **options)

    expected = run()
    cfc.release()
    _deconvolution.release()
    free, _ = cupy.cuda.runtime.memGetInfo()
    hog = cupy.cuda.runtime.malloc(free - (60 << 20))
    try:
        result = run(memory_budget="8GiB")
    finally:
        cupy.cuda.runtime.free(hog)
        cfc.release()
        _deconvolution.release()
    if function == "richardson_lucy":
        info = cfc.last_deconvolution_info()
        assert info.compute_device == "gpu" and info.tiles > 1, info
    else:
        assert cfc.last_compute_device() == "gpu"
    tolerance = 1e-5 if function == "convolve" else 1e-3  # deconvolution tiles leave a seam error
    assert np.abs(result - expected).max() <= tolerance * np.abs(expected).max()


def seam_difference(image, kernel, edges, halo, budget, untiled):
    """max |tiled - untiled| / max |untiled|; boundary edges: 2K from the image's faces (near them
    each tile's FFT grid pads differently, a boundary-edge result depends on its grid)."""
    estimate = cfc.estimate_deconvolution_memory(image.shape, kernel.shape, edges=edges, halo=halo,
                                                 memory_budget=budget, psf=kernel, iterations=20)
    assert estimate.tiles > 1
    tiled = cfc.richardson_lucy(image, kernel, 20, edges=edges, halo=halo, memory_budget=budget)
    assert cfc.last_deconvolution_info().tiles == estimate.tiles
    difference = np.abs(tiled.astype(np.float64) - untiled)
    if edges == "boundary":
        difference = difference[tuple(slice(2 * k, -2 * k) for k in kernel.shape)]
    return float(difference.max() / np.abs(untiled).max()), estimate.tiles


@needs_gpu
@pytest.mark.parametrize("edges", ["non-circulant", "boundary"])
def test_tiles_under_a_budget_and_their_seams(edges):
    rng = np.random.default_rng(28)
    kernel = gaussian((9, 9, 9), 1.5).astype(np.float32)
    shape = (48, 192, 256)  # large enough that the buffers, not the fixed costs, set the tiles
    truth = (rng.random(shape) ** 8 * 10 + 0.1).astype(np.float32)
    data = rng.poisson(cfc.convolve(truth, kernel, boundary="constant") * 50).astype(np.float32) / 50
    untiled = cfc.richardson_lucy(data, kernel, 20, edges=edges).astype(np.float64)
    assert cfc.last_deconvolution_info().tiles == 1
    budget = int(cfc.estimate_deconvolution_memory(shape, kernel.shape, edges=edges).peak_bytes * 0.6)
    seams = {}
    for name, halo in (("K/2", 4), ("K", 9), ("2K", 18)):
        seams[name] = seam_difference(data, kernel, edges, halo, budget, untiled)
    seams["default"] = seam_difference(data, kernel, edges, None, budget, untiled)
    print(f"\n{edges}: max relative seam difference (tiles) by halo: {seams}")
    values = [seams[name][0] for name in ("K/2", "K", "2K")]
    assert values[0] > values[1] > values[2]
    assert values[2] < 1e-2 and seams["default"][0] == pytest.approx(values[2], rel=1e-3, abs=1e-7)


@needs_gpu
@pytest.mark.parametrize("algorithm,edges,accelerate,total_variation",
                         [("richardson-lucy", "boundary", False, 0.0), ("richardson-lucy", "non-circulant", True, 0.0),
                          ("richardson-lucy", "non-circulant", False, 0.002), ("landweber", "boundary", False, 0.0),
                          ("wiener", "boundary", False, 0.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("budget", [None, "tiles"])
def test_memory_estimate_covers_what_the_engine_allocates(algorithm, edges, accelerate, total_variation, dtype,
                                                          budget):
    # Tiled, a volume large enough that the buffers, not the fixed costs (cuFFT's plan data, the
    # 2 MiB rounding), decide what fits in 60% of the whole plan.
    shape, kernel_shape = ((48, 160, 192) if budget is None else (48, 320, 384)), (7, 9, 8)
    image = (blobs(shape, 29) * 5).astype(dtype)
    kernel = gaussian(kernel_shape, 1.5).astype(dtype)
    options = dict(edges=edges, accelerate=accelerate, total_variation=total_variation)
    precision = np.dtype(dtype).name
    if budget == "tiles":
        whole = cfc.estimate_deconvolution_memory(shape, kernel_shape, algorithm, precision=precision, **options)
        budget = int(whole.peak_bytes * 0.6)
    # The plan the run makes: the same PSF (its energy sets the halo) and iterations (they weigh
    # the tilings).
    estimate = cfc.estimate_deconvolution_memory(shape, kernel_shape, algorithm, precision=precision,
                                                 memory_budget=budget, psf=kernel, iterations=3, **options)
    cfc.release()
    cfc.deconvolve(image, kernel, algorithm, 3, memory_budget=budget, **options)
    info = cfc.last_deconvolution_info()
    allocated = _deconvolution._allocated_gpu_bytes()
    print(f"\n{algorithm} {options} {precision} budget {budget}: estimate {estimate.peak_bytes}, engine {allocated}, "
          f"tiles {info.tiles}")
    assert info.tiles == estimate.tiles and info.grid_shape == estimate.grid_shape
    assert 0 < allocated <= estimate.peak_bytes
    if budget is not None:
        assert estimate.tiles > 1 and estimate.peak_bytes <= budget


def beam_psf(shape, sigma0, rayleigh_range):
    """A widefield-like PSF (the benchmark's Gaussian beam): each plane a Gaussian of width
    sigma0 sqrt(1 + (z / zR)^2), each plane holding the same energy."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    z, y, x = z - shape[0] // 2, y - shape[1] // 2, x - shape[2] // 2
    sigma = sigma0 * np.sqrt(1.0 + (z / rayleigh_range) ** 2)
    planes = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    planes /= planes.sum(axis=(1, 2), keepdims=True)
    return (planes / planes.sum()).astype(np.float32)


@pytest.mark.skipif(_native.LIBRARY is None, reason="the native library is not loaded")
def test_the_halo_from_the_psf_energy_plans_fewer_tiles():
    # deconwolf's case (35x2048x2048, a 69x181x181 widefield PSF, 20 non-circulant iterations)
    # under a third of the untiled peak: 2K per side (362 voxels) against the halo from the PSF's
    # energy, and the plan of the run is the estimate's when given the same PSF and iterations.
    image_shape, psf = (35, 2048, 2048), beam_psf((69, 181, 181), 2.0, 6.0)
    options = dict(edges="non-circulant", iterations=20)
    untiled = cfc.estimate_deconvolution_memory(image_shape, psf.shape, psf=psf, **options)
    budget = untiled.peak_bytes // 3
    energy = cfc.estimate_deconvolution_memory(image_shape, psf.shape, psf=psf, memory_budget=budget, **options)
    twice = cfc.estimate_deconvolution_memory(image_shape, psf.shape, psf=psf, memory_budget=budget,
                                              halo_energy_fraction=0, **options)
    shape_only = cfc.estimate_deconvolution_memory(image_shape, psf.shape, memory_budget=budget, **options)
    print(f"\nbudget {budget}: energy halo {energy.tiles} tiles of {energy.grid_shape}, 2K {twice.tiles} tiles")
    assert untiled.tiles == 1 and 1 < energy.tiles < twice.tiles
    assert energy.peak_bytes <= budget and twice.peak_bytes <= budget
    assert shape_only.tiles == twice.tiles  # no PSF values: 2K
    assert energy.grid_shape[0] == untiled.grid_shape[0]  # the 35 planes are not split
    # An explicit halo wins over the energy's.
    given = cfc.estimate_deconvolution_memory(image_shape, psf.shape, psf=psf, memory_budget=budget, halo=362,
                                              **options)
    assert given.tiles == twice.tiles
    for fraction in (1, 1.5, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="halo_energy_fraction"):
            cfc.estimate_deconvolution_memory(image_shape, psf.shape, psf=psf, halo_energy_fraction=fraction)
    with pytest.raises(ValueError, match="psf"):
        cfc.estimate_deconvolution_memory(image_shape, psf.shape, psf=psf[:-1])


# The seam bound of tiles (docs/deconvolution.md): max |tiled - untiled| / max |untiled|, with the halo from the
# PSF's energy (the iterative methods) or 2K (the direct ones). Inverse and Wiener divide by the
# spectrum, a global operation no halo makes local (measured 0.15-0.25 in the test below), and
# Biggs-Andrews acceleration weighs its extrapolation by inner products over each tile (1e-2 to
# 2.5e-2 with halos from 17 to 45 voxels).
SEAM_BOUNDS = {"richardson-lucy": 1e-4, "landweber": 1e-4, "projected-landweber": 1e-4, "tikhonov": 1e-4,
               "inverse": 0.5, "wiener": 0.5, "accelerated": 5e-2}


def seam_bound(algorithm, options):
    return SEAM_BOUNDS["accelerated" if options.get("accelerate") else algorithm]
ALGORITHM_CASES = [("richardson-lucy", "non-circulant", {}), ("richardson-lucy", "boundary", {}),
                   ("richardson-lucy", "non-circulant", dict(accelerate=True)),
                   ("richardson-lucy", "non-circulant", dict(total_variation=0.002)),
                   ("landweber", "boundary", {}), ("projected-landweber", "boundary", {}),
                   ("tikhonov", "boundary", dict(regularization_constant=1e-2)),
                   ("wiener", "boundary", dict(noise_variance=1e-2)), ("inverse", "boundary", {})]


def planned_halo(psf, algorithm, edges, iterations, **options):
    """The halo per side the package plans for this PSF (on a volume large enough to tile)."""
    shape = (psf.shape[0] + 8, 1024, 2048)
    keywords = dict(edges=edges, psf=psf, iterations=iterations, **options)
    whole = cfc.estimate_deconvolution_memory(shape, psf.shape, algorithm, **keywords)
    return cfc.estimate_deconvolution_memory(shape, psf.shape, algorithm, memory_budget=whole.peak_bytes // 2,
                                             **keywords).halo


@pytest.mark.skipif(_native.LIBRARY is None, reason="the native library is not loaded")
@pytest.mark.parametrize("psf_shape", [(9, 15, 15), (8, 14, 14)])
@pytest.mark.parametrize("algorithm,edges,options", ALGORITHM_CASES)
def test_two_tiles_of_the_reference_with_the_planned_halo_stay_within_the_seam_bound(psf_shape, algorithm, edges,
                                                                                      options):
    # The CPU path does not tile; here its NumPy reference deconvolves the image whole and in two
    # halves along x, each with the halo the package plans (from the PSF's energy, or 2K for the
    # direct methods), as the GPU's tiles do: the seam error stays within the bound.
    psf = beam_psf(psf_shape, 1.2, 3.0).astype(np.float64)
    rng = np.random.default_rng(3)
    shape = (16, 48, 128)
    truth = (rng.random(shape) ** 8 * 10 + 0.1).astype(np.float32)
    blurred = cfc.convolve(truth, psf.astype(np.float32), boundary="constant", device="cpu")
    data = rng.poisson(np.maximum(blurred, 0) * 50) / 50.0
    halo = planned_halo(psf.astype(np.float32), algorithm, edges, 20, **{k: v for k, v in options.items()
                                                                        if k in ("accelerate", "total_variation")})[2]
    keywords = dict(algorithm=algorithm, iterations=20, edges=edges, **options)

    def deconvolve(block, start, size):
        return reference.crop(reference.deconvolve_block(block, psf, **keywords), start, size)

    n, middle = shape[2], shape[2] // 2
    whole = deconvolve(data, (0, 0, 0), shape)
    low = deconvolve(data[:, :, : min(middle + halo, n)], (0, 0, 0), shape[:2] + (middle,))
    start = max(middle - halo, 0)
    high = deconvolve(data[:, :, start:], (0, 0, middle - start), shape[:2] + (n - middle,))
    difference = np.abs(np.concatenate([low, high], axis=2) - whole)
    if edges == "boundary":
        difference = difference[:, :, 2 * psf_shape[2]: -2 * psf_shape[2]]
    seam = float(difference.max() / np.abs(whole).max())
    print(f"\n{algorithm} {edges} {options} PSF {psf_shape}: halo {halo}, seam {seam:.2e}")
    assert halo < (2 * psf_shape[2] if algorithm in ("richardson-lucy", "landweber", "projected-landweber")
                   else 2 * psf_shape[2] + 1)
    assert seam <= seam_bound(algorithm, options)
    if algorithm in ("inverse", "wiener") or options.get("accelerate"):
        assert seam > 1e-3  # as the bound says: these are not local


@needs_gpu
@pytest.mark.parametrize("psf_shape", [(15, 31, 31), (14, 30, 30)])
@pytest.mark.parametrize("algorithm,edges,options", ALGORITHM_CASES)
def test_tiles_with_the_energy_halo_stay_within_the_seam_bound(psf_shape, algorithm, edges, options):
    # Odd and even widefield-like PSFs, every algorithm, 20 iterations: the tiled result under 40%
    # of the untiled peak (the halo from the PSF's energy) against the untiled one; boundary edges
    # 2K from the image's faces (ITK's circulant padding couples opposite faces of the whole image).
    rng = np.random.default_rng(41)
    psf = beam_psf(psf_shape, 1.2, 3.0)
    shape = (40, 160, 320)
    truth = (rng.random(shape) ** 8 * 10 + 0.1).astype(np.float32)
    data = rng.poisson(cfc.convolve(truth, psf, boundary="constant") * 50).astype(np.float32) / 50
    keywords = dict(edges=edges, **options)
    untiled = cfc.deconvolve(data, psf, algorithm, 20, **keywords).astype(np.float64)
    assert cfc.last_deconvolution_info().tiles == 1
    whole = cfc.estimate_deconvolution_memory(shape, psf.shape, algorithm, psf=psf, iterations=20, **keywords)
    budget = int(whole.peak_bytes * 0.4)
    estimate = cfc.estimate_deconvolution_memory(shape, psf.shape, algorithm, psf=psf, iterations=20,
                                                 memory_budget=budget, **keywords)
    tiled = cfc.deconvolve(data, psf, algorithm, 20, memory_budget=budget, **keywords)
    info = cfc.last_deconvolution_info()
    assert info.tiles == estimate.tiles > 1 and estimate.peak_bytes <= budget
    difference = np.abs(tiled - untiled)
    if edges == "boundary":
        difference = difference[tuple(slice(2 * k, -2 * k) for k in psf.shape)]
    seam = float(difference.max() / np.abs(untiled).max())
    print(f"\n{algorithm} {edges} {options} PSF {psf_shape}: {info.tiles} tiles, seam {seam:.2e}")
    assert seam <= seam_bound(algorithm, options)
