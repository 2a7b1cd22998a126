"""What crosses from Python to the C ABI: out= arrays (read-only, aliased, of the wrong kind),
dtypes that are not real numbers, 0-d arrays, device=, memory budgets, shapes and the integers
that ctypes would wrap or refuse with OverflowError. Every refusal is a ValueError (TypeError for a
dtype) raised before anything runs, and a failing call leaves its inputs as they were. On the
CPU path here; the GPU's own cases (a device this machine lacks) run where there is one."""
import numpy as np
import pytest
from conftest import direct_convolution, needs_gpu

import cudafftconvolution as cfc
from cudafftconvolution import _api, _native

needs_library = pytest.mark.skipif(_native.LIBRARY is None, reason="the native library is not loaded")


def blob_image(shape=(12, 14), seed=0):
    return np.random.default_rng(seed).random(shape) + 0.1


def psf(shape=(3, 5)):
    kernel = np.random.default_rng(1).random(shape) + 0.2
    return kernel / kernel.sum()


def run_with(function, image, kernel, **options):
    """One call of each function that takes out=, with 3 iterations for the deconvolutions."""
    if function == "convolve":
        return cfc.convolve(image, kernel, **options)
    if function == "Convolver":
        with cfc.Convolver(kernel, **{k: v for k, v in options.items() if k != "out"}) as blur:
            return blur(image, out=options.get("out"))
    if function == "richardson_lucy":
        return cfc.richardson_lucy(image, kernel, 3, **options)
    return cfc.deconvolve(image, kernel, "landweber", 3, **options)


FUNCTIONS = ["convolve", "Convolver", "richardson_lucy", "deconvolve"]


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fails the test when a call gets as far as choosing where to run."""
    def refuse(*args, **kwargs):
        raise AssertionError("the call went on to run")

    monkeypatch.setattr(_api, "_gpu_ordinal", refuse)


# ---- out= ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("function", FUNCTIONS)
def test_read_only_out_is_refused_before_anything_runs(function, nothing_runs):
    image = blob_image().astype(np.float32)
    out = np.full(image.shape, 7.0, np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        run_with(function, image, psf(), out=out)
    assert np.all(out == 7.0)


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("wrong,message", [
    (lambda shape: np.empty((shape[0], shape[1] + 1), np.float32), "shape"),
    (lambda shape: np.empty(shape, np.float64), "dtype float64"),
    (lambda shape: np.empty(shape, ">f4"), "dtype >f4"),
    (lambda shape: np.empty(shape[::-1], np.float32).T, "C-contiguous"),
    (lambda shape: np.empty((shape[0], 2 * shape[1]), np.float32)[:, ::2], "C-contiguous"),
    (lambda shape: [[0.0] * shape[1]] * shape[0], "numpy array"),
    (lambda shape: np.empty(shape, np.complex64), "dtype complex64"),
])
def test_out_of_the_wrong_kind_is_refused(function, wrong, message, nothing_runs):
    image = blob_image().astype(np.float32)
    with pytest.raises(ValueError, match=message):
        run_with(function, image, psf(), out=wrong(image.shape))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_out_may_be_the_image_itself(function):
    image = blob_image().astype(np.float32)
    expected = run_with(function, image.copy(), psf())
    result = run_with(function, image, psf(), out=image)
    assert result is image
    np.testing.assert_allclose(image, expected, rtol=1e-6, atol=1e-7)


def test_out_may_overlap_the_image_or_be_the_kernel():
    kernel = psf((5, 5)).astype(np.float32)
    buffer = blob_image((1, 200)).astype(np.float32).ravel()
    image = buffer[:140].reshape(10, 14)
    out = buffer[4:144].reshape(10, 14)  # the image's bytes, 4 elements on
    expected = direct_convolution(image, kernel, "same", "zero-flux-neumann")
    assert cfc.convolve(image, kernel, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    square = blob_image((5, 5)).astype(np.float32)
    own = kernel.copy()
    assert cfc.convolve(square, own, out=own) is own  # the kernel's own buffer
    np.testing.assert_allclose(own, direct_convolution(square, kernel, "same", "zero-flux-neumann"), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda image, kernel: cfc.convolve(image, kernel - kernel.mean(), normalize=True, out=image),
    lambda image, kernel: cfc.richardson_lucy(image, kernel, 5, callback=lambda i, d, c: 1 / (i - 2), out=image),
    lambda image, kernel: cfc.richardson_lucy(image - 1.0, kernel, 5, out=image),
    lambda image, kernel: cfc.deconvolve(image, kernel, "landweber", 3, memory_budget="1 parsec", out=image),
    lambda image, kernel: cfc.convolve(image, kernel, memory_budget=2**64, out=image),
    lambda image, kernel: cfc.convolve(image, kernel, device=-1, out=image),
    lambda image, kernel: cfc.convolve(image, kernel.astype(np.complex128), out=image),
    lambda image, kernel: cfc.convolve(image, kernel, out=image[:, :-1]),
    lambda image, kernel: cfc.richardson_lucy(image, kernel, 2**40, out=image),
], ids=["normalize a zero sum", "callback raises", "negative image", "budget", "huge budget", "device", "complex",
        "out shape", "iterations"])
def test_a_failing_call_leaves_its_inputs_unchanged(call):
    image = blob_image((10, 12))
    kernel = psf()
    before = image.copy(), kernel.copy()
    with pytest.raises((ValueError, TypeError, ZeroDivisionError)):
        call(image, kernel)
    np.testing.assert_array_equal(image, before[0])
    np.testing.assert_array_equal(kernel, before[1])


# ---- dtypes and 0-d arrays -----------------------------------------------------------------------
NOT_REAL = [np.complex64, np.complex128, "datetime64[s]", "timedelta64[ms]", object, "U3", "S2", [("a", "f4")]]


@pytest.mark.parametrize("dtype", NOT_REAL, ids=str)
@pytest.mark.parametrize("role", ["image", "kernel"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_arrays_that_are_not_real_numbers_raise_type_error(dtype, role, function, nothing_runs):
    image, kernel = blob_image(), psf()
    bad = np.zeros(image.shape if role == "image" else kernel.shape, dtype)
    arguments = (bad, kernel) if role == "image" else (image, bad)
    with pytest.raises(TypeError, match=f"the {role} has dtype"):
        run_with(function, *arguments)
    with pytest.raises(TypeError, match="real numbers"):
        run_with(function, *arguments, precision="float32")  # a precision does not cast them either


def test_the_error_names_the_dtype():
    with pytest.raises(TypeError, match="the kernel has dtype complex128"):
        cfc.convolve(blob_image(), psf() + 1j)
    with pytest.raises(TypeError, match="the image has dtype datetime64"):
        cfc.convolve(np.zeros((4, 4), "datetime64[s]"), psf())
    with pytest.raises(TypeError, match="the kernel has dtype timedelta64"):
        cfc.richardson_lucy(blob_image(), np.ones((3, 3), "timedelta64[s]"))
    with pytest.raises(TypeError, match="the image has dtype <U1"):
        cfc.convolve([["1", "2"], ["3", "4"]], np.ones((1, 1)))  # np.asarray's strings are not parsed
    with pytest.raises(TypeError, match="the kernel has dtype complex"):
        cfc.Convolver(psf().astype(np.complex64))


def test_dask_refuses_them_before_computing():
    pytest.importorskip("dask")
    from cudafftconvolution import dask as cfc_dask

    with pytest.raises(TypeError, match="the kernel has dtype complex"):
        cfc_dask.convolve(blob_image(), psf() + 1j)
    with pytest.raises(TypeError, match="the image has dtype complex"):
        cfc_dask.convolve(blob_image().astype(np.complex64), psf())
    with pytest.raises(ValueError, match="memory budget"):
        cfc_dask.convolve(blob_image(), psf(), memory_budget=float("inf"))


def test_bool_and_integer_arrays_are_their_values():
    mask = np.random.default_rng(2).random((9, 11)) > 0.5
    box = np.ones((3, 3), bool)
    result = cfc.convolve(mask, box)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, cfc.convolve(mask.astype(np.float32), box.astype(np.float32)))
    np.testing.assert_array_equal(cfc.convolve(mask.astype(np.int64), box.astype(np.uint8)), result)
    counts = cfc.richardson_lucy(mask.astype(np.uint16) * 10, box, 2)
    np.testing.assert_array_equal(counts, cfc.richardson_lucy(mask.astype(np.float32) * 10, box.astype(float), 2))


def test_longdouble_computes_in_float64():
    image = blob_image().astype(np.longdouble)
    assert cfc.convolve(image, psf()).dtype == np.float64


@pytest.mark.parametrize("function", FUNCTIONS)
def test_0d_arrays_are_refused(function):
    with pytest.raises(ValueError, match="0-d"):
        run_with(function, np.ones((), np.float32), psf())
    with pytest.raises(ValueError, match="0-d"):
        run_with(function, blob_image(), np.ones(()))


def test_0d_torch_tensors_are_refused_as_numpy_ones():
    torch = pytest.importorskip("torch")
    for function in FUNCTIONS:
        with pytest.raises(ValueError, match="0-d"):
            run_with(function, torch.tensor(3.0), torch.tensor(1.0))
        with pytest.raises(ValueError, match="0-d"):
            run_with(function, torch.rand(6, 7), torch.tensor(1.0))
    with pytest.raises(TypeError, match="the kernel has dtype complex64"):
        cfc.convolve(torch.rand(6, 7), torch.ones(3, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="the image has dtype complex128"):
        cfc.richardson_lucy(torch.ones(6, 7, dtype=torch.complex128), torch.ones(3, 3))


def test_torch_cpu_out_checks():
    torch = pytest.importorskip("torch")
    image = torch.rand(8, 9)
    out = torch.empty(8, 9, requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        cfc.convolve(image, torch.ones(3, 3), out=out)
    in_place = image.clone()
    assert cfc.convolve(in_place, torch.ones(3, 3), out=in_place) is in_place
    np.testing.assert_array_equal(in_place.numpy(), cfc.convolve(image, torch.ones(3, 3)).numpy())


# ---- device= ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", [-1, -5, 2**31, 2**63, 2**70, True, 1.0, "cuda:-1", "cuda:99999999999",
                                    "tpu", np.int64(-2)], ids=repr)
def test_device_values_ctypes_cannot_take_raise_value_error(device):
    image, kernel = blob_image(), psf()
    for call in (lambda: cfc.convolve(image, kernel, device=device),
                 lambda: cfc.richardson_lucy(image, kernel, 2, device=device),
                 lambda: cfc.Convolver(kernel, device=device),
                 lambda: cfc.gpu_available(device)):
        with pytest.raises(ValueError, match="device"):
            call()


def one_gpu_machine(monkeypatch):
    """The native library's answers on a machine with one GPU (ordinal 0)."""
    def available(device=-1):
        if device in (-1, 0):
            return True, ""
        return False, f"CUDA device {device} was asked for, but this machine has 1 device(s)"

    monkeypatch.setattr(_native, "device_available", available)


def test_an_ordinal_the_machine_lacks_is_a_value_error(monkeypatch):
    one_gpu_machine(monkeypatch)
    image, kernel = blob_image(), psf()
    for device in (3, "cuda:3", np.int32(3)):
        with pytest.raises(ValueError, match="device 3 does not exist.*1 device"):
            cfc.convolve(image, kernel, device=device)
        with pytest.raises(ValueError, match="device 3 does not exist"):
            cfc.richardson_lucy(image, kernel, 2, device=device)
        with pytest.raises(ValueError, match="device 3 does not exist"):
            with cfc.Convolver(kernel, device=device) as blur:
                blur(image)
    if _native.LIBRARY is not None:
        with pytest.raises(ValueError, match="device 3 does not exist"):
            cfc.estimate_gpu_memory((10, 10), (3, 3), device=3)
        with pytest.raises(ValueError, match="device 3 does not exist"):
            cfc.estimate_deconvolution_memory((10, 10), (3, 3), device="cuda:3")


def test_without_any_gpu_an_ordinal_is_no_gpu():
    if cfc.gpu_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(cfc.NoGPUError):
        cfc.convolve(blob_image(), psf(), device=3)


@needs_gpu
def test_a_gpu_the_machine_lacks_raises_value_error():
    count = next(n for n in range(1024) if not cfc.gpu_available(n))
    image, kernel = blob_image(), psf()
    with pytest.raises(ValueError, match=f"device {count} does not exist"):
        cfc.convolve(image, kernel, device=count)
    with pytest.raises(ValueError, match=f"device {count} does not exist"):
        cfc.richardson_lucy(image, kernel, 2, device=f"cuda:{count}")
    with pytest.raises(ValueError, match=f"device {count} does not exist"):
        cfc.estimate_gpu_memory((10, 10), (3, 3), device=count)
    with pytest.raises(ValueError, match=f"device {count} does not exist"):
        cfc.estimate_deconvolution_memory((10, 10), (3, 3), device=count)
    with pytest.raises(cfc.NoGPUError):  # the C ABI's own answer (CFC_ERROR_NO_DEVICE)
        _native.plan(_api._problem((10, 10), (3, 3), "same", "constant", np.float32, 0, False), count)


@needs_gpu
def test_a_failing_gpu_run_leaves_out_and_the_image_unchanged():
    image = blob_image((40, 50)).astype(np.float32)
    kernel = psf((9, 9)).astype(np.float32)
    before = image.copy()
    with pytest.raises(cfc.GPUMemoryBudgetError):
        cfc.convolve(image, kernel, memory_budget=1, out=image, device="gpu")
    with pytest.raises(ZeroDivisionError):
        cfc.richardson_lucy(image, kernel, 6, callback=lambda i, d, c: 1 / (i - 3), out=image, device="gpu")
    np.testing.assert_array_equal(image, before)
    expected = cfc.richardson_lucy(image.copy(), kernel, 6, device="gpu")
    assert cfc.richardson_lucy(image, kernel, 6, out=image, device="gpu") is image
    np.testing.assert_array_equal(image, expected)


# ---- memory budgets ------------------------------------------------------------------------------
@pytest.mark.parametrize("budget,expected", [
    (None, 0), ("auto", 0), (" AUTO ", 0), (4096, 4096), (np.int64(4096), 4096), (1e9, 10**9), (2.5e9, 25 * 10**8),
    (1.9, 1), (np.float32(2**20), 2**20), ("1e9", 10**9), ("1E9 B", 10**9), ("4GiB", 4 * 2**30), ("512MB", 512 * 10**6),
    (" 1.5 gib ", 3 * 2**29), ("2TB", 2 * 10**12), (".5KiB", 512), ("4096", 4096), (2**64 - 1, 2**64 - 1),
])
def test_budgets_that_are_read(budget, expected):
    assert _api._budget(budget) == expected


@pytest.mark.parametrize("budget", [
    0, -1, -1e9, 0.5, "0", "-4GiB", "0.1B", float("inf"), float("-inf"), float("nan"), np.float64("nan"), "inf", "nan",
    2**64, 2**64 + 4096, 1.9e19, "16EiB", "18446744073709551616", "2e19", "1e400", "4 GiBs", "four", "", "1e9e9",
    True, [4096], 4096j,
], ids=repr)
def test_budgets_that_are_refused_with_value_error(budget, nothing_runs):
    with pytest.raises(ValueError, match="memory budget"):
        _api._budget(budget)
    image, kernel = blob_image(), psf()
    for call in (lambda: cfc.convolve(image, kernel, memory_budget=budget),
                 lambda: cfc.Convolver(kernel, memory_budget=budget),
                 lambda: cfc.richardson_lucy(image, kernel, 2, memory_budget=budget),
                 lambda: cfc.deconvolve(image, kernel, "wiener", memory_budget=budget)):
        with pytest.raises(ValueError, match="memory budget"):
            call()


@needs_library
@pytest.mark.parametrize("budget", [2**64 + 4096, float("inf"), float("nan"), "1e9e9", -4096])
def test_estimates_refuse_those_budgets(budget):
    with pytest.raises(ValueError, match="memory budget"):
        cfc.estimate_gpu_memory((64, 64), (5, 5), memory_budget=budget)
    with pytest.raises(ValueError, match="memory budget"):
        cfc.estimate_deconvolution_memory((64, 64), (5, 5), memory_budget=budget)


@needs_library
def test_a_budget_of_1e9_plans_as_one_of_a_billion_bytes():
    for budget in ("1e9", 1e9, 10**9):
        assert cfc.estimate_gpu_memory((64, 64), (5, 5), memory_budget=budget).memory_budget == 10**9
        assert cfc.estimate_deconvolution_memory((64, 64), (5, 5), memory_budget=budget).memory_budget == 10**9


# ---- shapes and integers -------------------------------------------------------------------------
BAD_SHAPES = [((-5, 10), (3, 3)), ((10, -1), (3, 3)), ((10, 10), (-3, 3)), ((0, 10), (3, 3)), ((10, 10), (3, 0)),
              ((2**64 - 5, 10), (3, 3)), ((2**64, 10), (3, 3)), ((2**40, 2**40), (3, 3)), ((2**30,) * 3, (3, 3, 3)),
              ((10.0, 10), (3, 3)), ((10, 10), (3.5, 3)), ((True, 10), (3, 3)), (("10", 10), (3, 3)), ((), ()),
              ((10, 10, 10, 10), (3, 3, 3, 3)), ((10, 10), (3,))]


@needs_library
@pytest.mark.parametrize("image_shape,kernel_shape", BAD_SHAPES, ids=str)
def test_estimates_refuse_shapes_that_are_not_positive_or_too_large(image_shape, kernel_shape):
    with pytest.raises(ValueError):
        cfc.estimate_gpu_memory(image_shape, kernel_shape)
    with pytest.raises(ValueError):
        cfc.estimate_deconvolution_memory(image_shape, kernel_shape)


@needs_library
def test_the_c_abi_checks_its_sizes_and_devices_itself():
    """Problems built past the Python checks: every size is checked in the C ABI too."""
    problem = _api._problem((10, 10), (3, 3), "same", "constant", np.float32, 0, False)
    for axis, value in ((0, 2**64 - 5), (1, 2**63), (0, 2**54)):
        wrapped = _api._problem((10, 10), (3, 3), "same", "constant", np.float32, 0, False)
        wrapped.image_size[axis] = value
        with pytest.raises(ValueError, match="too large"):
            _native.plan(wrapped, -1)
        wrapped.image_size[axis] = 10
        wrapped.kernel_size[axis] = value
        with pytest.raises(ValueError, match="too large"):
            _native.plan(wrapped, -1)
    with pytest.raises(ValueError, match="not a CUDA device ordinal"):
        _native.plan(problem, -2)
    assert _native.device_available(-7) == (False, "device -7 is not a CUDA device ordinal (-1: the current device)")
    deconvolution = _native.deconvolution_defaults()
    deconvolution.dimension = 2
    for axis, (n, k) in enumerate(((10, 3), (12, 5))):
        deconvolution.image_size[axis], deconvolution.kernel_size[axis] = n, k
    _native.deconvolution_plan(deconvolution, -1)
    deconvolution.halo[0] = 2**41
    with pytest.raises(ValueError, match="halo"):
        _native.deconvolution_plan(deconvolution, -1)
    deconvolution.halo[0] = 0
    deconvolution.image_size[1] = 2**64 - 1
    with pytest.raises(ValueError, match="too large"):
        _native.deconvolution_plan(deconvolution, -1)


@pytest.mark.parametrize("options,message", [
    (dict(iterations=2**32), "iterations"), (dict(iterations=-1), "iterations"), (dict(iterations=2**70), "iterations"),
    (dict(halo=2**64), "halo"), (dict(halo=2**41), "halo"), (dict(halo=(4, -1)), "halo"), (dict(halo=1.5), "halo"),
    (dict(greatest_prime_factor=2**32 + 7), "greatest_prime_factor"),
    (dict(greatest_prime_factor=-7), "greatest_prime_factor"),
], ids=str)
def test_deconvolution_integers_ctypes_would_wrap_raise_value_error(options, message, nothing_runs):
    options = dict(options)
    iterations = options.pop("iterations", 2)
    with pytest.raises(ValueError, match=message):
        cfc.richardson_lucy(blob_image(), psf(), iterations, **options)
    if _native.LIBRARY is not None and "halo" in options:
        with pytest.raises(ValueError, match=message):
            cfc.estimate_deconvolution_memory((10, 12), (3, 5), **options)
