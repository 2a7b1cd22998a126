"""CuPy and PyTorch CUDA arrays: read and written on the device (no host round trip), on the
caller's current stream, tiled under a budget; and a Convolver over device arrays."""
import numpy as np
import pytest
from conftest import assert_close, direct_convolution, needs_gpu, scipy_reference

import cudafftconvolution as cfc

pytestmark = needs_gpu


@pytest.fixture
def cupy():
    return pytest.importorskip("cupy")


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    return torch


def forbid_host_copies(monkeypatch, cupy):
    """Any CuPy device-to-host copy during the call fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a device array went through the host")

    monkeypatch.setattr(cupy.ndarray, "get", refuse)
    monkeypatch.setattr(cupy, "asnumpy", refuse)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["same", "valid", "full"])
def test_cupy_in_cupy_out_on_the_device(cupy, monkeypatch, dtype, mode):
    rng = np.random.default_rng(1)
    image = rng.random((24, 30, 36)).astype(dtype)
    kernel = rng.random((5, 4, 7)).astype(dtype)
    device_image = cupy.asarray(image)
    device_kernel = cupy.asarray(kernel)
    with monkeypatch.context() as patch:
        forbid_host_copies(patch, cupy)
        result = cfc.convolve(device_image, device_kernel, mode=mode, boundary="constant")
        assert isinstance(result, cupy.ndarray) and result.dtype == dtype
        attributes = cupy.cuda.runtime.pointerGetAttributes(result.data.ptr)
        assert attributes.type == cupy.cuda.runtime.memoryTypeDevice  # device-only memory, not host or managed
        assert result.device.id == device_image.device.id
    assert_close(cupy.asnumpy(result), scipy_reference(image, kernel, mode), dtype)


def test_cupy_normalized_device_kernel_and_tiles_under_a_budget(cupy):
    """Tiles read and write the caller's device buffers in place; against the CPU path (itself
    tested against direct sums)."""
    rng = np.random.default_rng(2)
    image = rng.random((60, 200, 256)).astype(np.float32)
    kernel = rng.random((7, 6, 5)).astype(np.float32)
    one = cfc.estimate_gpu_memory(image.shape, kernel.shape, on_device=True)
    budget = int(one.peak_bytes * 0.6)
    for boundary in ("zero-flux-neumann", "periodic", "constant"):
        for mode in ("same", "full", "valid"):
            estimate = cfc.estimate_gpu_memory(image.shape, kernel.shape, mode, boundary, memory_budget=budget,
                                               on_device=True)
            assert estimate.tiles > 1
            result = cfc.convolve(cupy.asarray(image), cupy.asarray(kernel), mode=mode, boundary=boundary,
                                  constant=0.5, normalize=True, memory_budget=budget)
            reference = cfc.convolve(image, kernel, mode=mode, boundary=boundary, constant=0.5, normalize=True,
                                     device="cpu")
            assert_close(cupy.asnumpy(result), reference, np.float32)


def test_cupy_non_default_stream_is_followed(cupy):
    """The input is written late by a kernel on a non-blocking stream: only work ordered on that
    stream sees it."""
    rng = np.random.default_rng(3)
    image = rng.random((32, 64, 64)).astype(np.float32)
    kernel = rng.random((5, 5, 5)).astype(np.float32)
    source = cupy.asarray(image)
    late_copy = cupy.RawKernel(r'''
    extern "C" __global__ void late_copy(const float* from, float* to, long long n, long long cycles) {
        long long start = clock64();
        while (clock64() - start < cycles) {}
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
            to[i] = from[i];
    }''', "late_copy")
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        target = cupy.zeros_like(source)
        stream.synchronize()
        late_copy((64,), (256,), (source, target, np.int64(source.size), np.int64(200_000_000)))
        result = cfc.convolve(target, kernel)
        host = cupy.asnumpy(result, stream=stream)
        stream.synchronize()
    assert_close(host, direct_convolution(image, kernel, "same", "zero-flux-neumann"), np.float32)


def test_convolver_over_cupy_arrays_reuses_its_spectrum(cupy):
    rng = np.random.default_rng(4)
    kernel = rng.random((9, 9, 9)).astype(np.float32)
    with cfc.Convolver(cupy.asarray(kernel), normalize=True) as blur:
        for _ in range(3):
            image = rng.random((20, 40, 40)).astype(np.float32)
            result = blur(cupy.asarray(image))
            assert isinstance(result, cupy.ndarray)
            assert_close(cupy.asnumpy(result), direct_convolution(image, kernel / kernel.sum(), "same",
                                                                  "zero-flux-neumann"), np.float32)
        assert blur.last_reused_spectrum and blur.last_compute_device == "gpu"


@pytest.mark.parametrize("mode", ["same", "full"])
def test_torch_in_torch_out_on_the_device(torch, monkeypatch, mode):
    rng = np.random.default_rng(5)
    image = rng.random((16, 40, 24))
    kernel = rng.random((3, 6, 5))
    device_image = torch.from_numpy(image).cuda()
    device_kernel = torch.from_numpy(kernel).cuda()
    with monkeypatch.context() as patch:
        def refuse(*args, **kwargs):
            raise AssertionError("a device tensor went through the host")

        patch.setattr(torch.Tensor, "cpu", refuse)
        patch.setattr(torch.Tensor, "numpy", refuse)
        result = cfc.convolve(device_image, device_kernel, mode=mode, boundary="periodic")
        assert isinstance(result, torch.Tensor) and result.is_cuda and result.dtype == torch.float64
        assert result.device == device_image.device
    assert_close(result.cpu().numpy(), direct_convolution(image, kernel, mode, "periodic"), np.float64)


def test_torch_non_default_stream_is_followed(torch):
    rng = np.random.default_rng(6)
    image = torch.from_numpy(rng.random((32, 48, 48)).astype(np.float32)).cuda()
    kernel = rng.random((5, 3, 7)).astype(np.float32)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        target = torch.zeros_like(image)
        stream.synchronize()
        torch.cuda._sleep(200_000_000)
        target.copy_(image)
        result = cfc.convolve(target, kernel)
        host = result.cpu()
    assert_close(host.numpy(), direct_convolution(image.cpu().numpy(), kernel, "same", "zero-flux-neumann"),
                 np.float32)


def test_torch_cpu_tensor_gives_a_cpu_tensor(torch):
    image = torch.rand(10, 12)
    result = cfc.convolve(image, torch.ones(3, 3))
    assert isinstance(result, torch.Tensor) and not result.is_cuda and result.dtype == torch.float32


def test_cupy_out_buffer_is_written_in_place(cupy):
    rng = np.random.default_rng(7)
    image = rng.random((16, 30, 40)).astype(np.float32)
    kernel = rng.random((5, 4, 3)).astype(np.float32)
    out = cupy.full((20, 33, 42), np.nan, cupy.float32)
    result = cfc.convolve(cupy.asarray(image), cupy.asarray(kernel), mode="full", out=out)
    assert result is out
    assert_close(cupy.asnumpy(out), direct_convolution(image, kernel, "full", "zero-flux-neumann"), np.float32)
    with pytest.raises(ValueError, match="out"):
        cfc.convolve(cupy.asarray(image), kernel, out=np.empty((16, 30, 40), np.float32))


def gpu_count():
    return next(n for n in range(1024) if not cfc.gpu_available(n))


def test_cupy_device_must_be_the_arrays_own(cupy):
    """A CuPy array runs on its device: device= may name it ("gpu", its ordinal); an ordinal the
    machine lacks, another GPU or "cpu" raise ValueError instead of being ignored."""
    rng = np.random.default_rng(8)
    image = rng.random((12, 20, 16)).astype(np.float32)
    kernel = rng.random((3, 3, 3)).astype(np.float32)
    device_image = cupy.asarray(image)
    own = device_image.device.id
    expected = cfc.convolve(image, kernel, device="cpu")
    for device in (None, "gpu", "cuda", own, f"cuda:{own}"):
        assert_close(cupy.asnumpy(cfc.convolve(device_image, kernel, device=device)), expected, np.float32)
    count = gpu_count()
    for call in (cfc.convolve, lambda i, k, device: cfc.richardson_lucy(i, k, 2, device=device)):
        with pytest.raises(ValueError, match=f"device {count} does not exist"):
            call(device_image, kernel, device=count)
        with pytest.raises(ValueError, match="cpu"):
            call(device_image, kernel, device="cpu")
        if count > 1:
            with pytest.raises(ValueError, match="own device"):
                call(device_image, kernel, device=(own + 1) % count)


def test_torch_device_must_be_the_tensors_own(torch):
    image = torch.rand(10, 14, 12, device="cuda")
    kernel = torch.rand(3, 3, 3)
    own = image.device.index
    assert cfc.convolve(image, kernel, device=own).device == image.device
    count = gpu_count()
    with pytest.raises(ValueError, match=f"device {count} does not exist"):
        cfc.convolve(image, kernel, device=f"cuda:{count}")
    if count > 1:
        with pytest.raises(ValueError, match="own device"):
            cfc.deconvolve(image, kernel, "landweber", 2, device=(own + 1) % count)


def test_cupy_arrays_that_are_not_real_or_0d_are_refused(cupy):
    image = cupy.random.random((8, 9)).astype(cupy.float32)
    with pytest.raises(TypeError, match="the kernel has dtype complex64"):
        cfc.convolve(image, cupy.ones((3, 3), cupy.complex64))
    with pytest.raises(TypeError, match="the kernel has dtype complex128"):
        cfc.richardson_lucy(image, cupy.ones((3, 3), cupy.complex128))
    with pytest.raises(TypeError, match="the image has dtype complex64"):
        cfc.convolve(image.astype(cupy.complex64), cupy.ones((3, 3)), precision="float32")
    with pytest.raises(ValueError, match="0-d"):
        cfc.convolve(cupy.asarray(2.0), cupy.asarray(2.0))
    with pytest.raises(ValueError, match="0-d"):
        cfc.richardson_lucy(image, cupy.asarray(2.0))
    assert_close(cupy.asnumpy(cfc.convolve(image > 0.5, cupy.ones((3, 3), bool))),
                 cfc.convolve(cupy.asnumpy(image > 0.5).astype(np.float32), np.ones((3, 3), np.float32),
                              device="cpu"), np.float32)


def test_torch_arrays_that_are_not_real_or_0d_are_refused(torch):
    image = torch.rand(8, 9, device="cuda")
    with pytest.raises(TypeError, match="the kernel has dtype complex64"):
        cfc.convolve(image, torch.ones(3, 3, dtype=torch.complex64, device="cuda"))
    with pytest.raises(TypeError, match="the kernel has dtype complex64"):
        cfc.Convolver(torch.ones(3, 3, dtype=torch.complex64, device="cuda"))
    with pytest.raises(TypeError, match="the image has dtype complex128"):
        cfc.deconvolve(image.to(torch.complex128), torch.ones(3, 3), "wiener")
    with pytest.raises(ValueError, match="0-d"):
        cfc.convolve(torch.tensor(2.0, device="cuda"), torch.tensor(2.0, device="cuda"))
    with pytest.raises(ValueError, match="0-d"):
        cfc.richardson_lucy(image, torch.tensor(2.0, device="cuda"))
    bfloat = cfc.convolve(image.to(torch.bfloat16), torch.ones(3, 3, dtype=torch.bfloat16, device="cuda"))
    assert bfloat.dtype == torch.float32


def test_cupy_out_may_be_the_image(cupy):
    """out= the image itself (or overlapping it) is computed apart and copied in; tiles would
    otherwise read what earlier tiles wrote."""
    rng = np.random.default_rng(9)
    image = rng.random((48, 192, 256)).astype(np.float32)  # large enough that 60% of its plan tiles it
    kernel = rng.random((7, 5, 9)).astype(np.float32)
    expected = cfc.convolve(image, kernel, device="cpu")
    budget = int(cfc.estimate_gpu_memory(image.shape, kernel.shape, on_device=True).peak_bytes * 0.6)
    assert cfc.estimate_gpu_memory(image.shape, kernel.shape, memory_budget=budget, on_device=True).tiles > 1
    in_place = cupy.asarray(image)
    assert cfc.convolve(in_place, cupy.asarray(kernel), memory_budget=budget, out=in_place) is in_place
    assert_close(cupy.asnumpy(in_place), expected, np.float32)
    flat = cupy.zeros(image.size + 8, cupy.float32)
    flat[:image.size] = cupy.asarray(image.ravel())
    shifted = flat[8:].reshape(image.shape)  # the image's bytes, 8 elements on
    source = flat[:image.size].reshape(image.shape)
    assert cfc.convolve(source, kernel, memory_budget=budget, out=shifted) is shifted
    assert_close(cupy.asnumpy(shifted), expected, np.float32)
    counts = cupy.asarray(image * 10)
    restored = cfc.richardson_lucy(counts.copy(), kernel, 4)
    assert cfc.richardson_lucy(counts, kernel, 4, out=counts) is counts
    assert_close(cupy.asnumpy(counts), cupy.asnumpy(restored), np.float32)


def test_torch_out_may_be_the_image_and_must_not_require_grad(torch):
    rng = np.random.default_rng(10)
    image = rng.random((20, 32, 36)).astype(np.float32)
    kernel = rng.random((5, 5, 3)).astype(np.float32)
    expected = cfc.convolve(image, kernel, device="cpu")
    tensor = torch.from_numpy(image).cuda()
    assert cfc.convolve(tensor, kernel, out=tensor) is tensor
    assert_close(tensor.cpu().numpy(), expected, np.float32)
    with pytest.raises(ValueError, match="requires grad"):
        cfc.convolve(tensor, kernel, out=torch.empty_like(tensor).requires_grad_())
    with pytest.raises(ValueError, match="out"):
        cfc.convolve(tensor, kernel, out=torch.empty(image.shape))  # on the host
