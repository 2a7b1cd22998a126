"""The FFT backends under the engine: the VkFFT plugin ships beside the library, runs when asked
for (CUDAFFTCONVOLUTION_FFT_BACKEND=vkfft; last_fft_backend() reports it), and its pruned transforms (CUDAFFTCONVOLUTION_FFT_PRUNING)
give what the unpruned ones give; the kernels it compiled are kept on disk
(CUDAFFTCONVOLUTION_KERNEL_CACHE) and a later process loads them, with equal results.

The backend is read when an engine is made, so each configuration runs in its own process
(RUNNER below), which saves every case's result; the results are compared here, and the cuFFT
process's against direct sums (conftest.direct_convolution), so that all three are checked."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cudafftconvolution import _native
from conftest import direct_convolution, needs_gpu

# (dimension, image shape, odd kernel shape, even kernel shape), NumPy order.
SHAPES = [
    (1, (301,), (31,), (30,)),
    (2, (67, 90), (9, 11), (8, 10)),
    (3, (20, 33, 41), (7, 5, 9), (6, 4, 8)),
]
# Convolutions: constant-zero FULL and SAME (input and output pruned), Neumann SAME (output only).
CONVOLUTIONS = [("full", "constant"), ("same", "constant"), ("same", "zero-flux-neumann")]
# Deconvolutions: every algorithm; Richardson-Lucy also non-circulant, plain and accelerated.
DECONVOLUTIONS = [
    ("richardson-lucy", "non-circulant", False),
    ("richardson-lucy", "non-circulant", True),
    ("richardson-lucy", "boundary", False),
    ("landweber", "boundary", False),
    ("projected-landweber", "boundary", False),
    ("inverse", "boundary", False),
    ("tikhonov", "boundary", False),
    ("wiener", "boundary", False),
]

RUNNER = r"""
import json, sys
import numpy as np
import cudafftconvolution as cfc

shapes, convolutions, deconvolutions, path = json.loads(sys.argv[1])
rng = np.random.default_rng(5)
results = {}
for dimension, image_shape, odd, even in shapes:
    image = (rng.random(image_shape) + 0.5).astype(np.float32)
    for parity, kernel_shape in (("odd", odd), ("even", even)):
        kernel = rng.random(kernel_shape).astype(np.float32) + 0.1
        kernel /= kernel.sum()
        for mode, boundary in convolutions:
            results[f"convolve {dimension}D {parity} {mode} {boundary}"] = cfc.convolve(
                image, kernel, mode=mode, boundary=boundary, device="gpu")
            backends = results.setdefault("used", set())
            backends.add(cfc.last_fft_backend())
        for algorithm, edges, accelerate in deconvolutions:
            results[f"deconvolve {dimension}D {parity} {algorithm} {edges} {accelerate}"] = cfc.deconvolve(
                image, kernel, algorithm, 5, edges=edges, accelerate=accelerate, regularization_constant=0.01,
                noise_variance=0.01, device="gpu")
used = sorted(results.pop("used"))
np.savez(path, **results)
with open("/proc/self/maps") as maps:
    loaded = maps.read()
print(json.dumps({"vkfft_plugin_loaded": "libCudaFFTConvolutionVkFFT.so" in loaded, "used": used,
                  "nvrtc": cfc._native.NVRTC_SOURCE}))
"""


def run_configuration(tmp_path, name, backend, pruning, cases=(SHAPES, CONVOLUTIONS, DECONVOLUTIONS), **environ):
    path = tmp_path / f"{name}.npz"
    environment = dict(os.environ, CUDAFFTCONVOLUTION_FFT_BACKEND=backend, CUDAFFTCONVOLUTION_FFT_PRUNING=pruning,
                       **environ)
    argument = json.dumps([*cases, str(path)])
    done = subprocess.run([sys.executable, "-c", RUNNER, argument], env=environment, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    print(f"--- {name}: stderr\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}, report, done.stderr


def relative_difference(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b)) / max(np.max(np.abs(b)), 1e-30))


def test_wheel_carries_the_vkfft_plugin_beside_the_library():
    """The package's native folder holds the plugin where the library dlopen()s it (CPU test)."""
    if _native.LIBRARY is None or os.environ.get("CUDAFFTCONVOLUTION_LIBRARY"):
        pytest.skip(f"no packaged native library: {_native.LOAD_ERROR or 'CUDAFFTCONVOLUTION_LIBRARY is set'}")
    plugin = _native.vkfft_plugin_path()
    assert os.path.dirname(plugin) == os.path.dirname(os.path.abspath(_native.__file__))
    assert os.path.isfile(plugin), f"{plugin} is missing from the package"
    with open(plugin, "rb") as file:
        contents = file.read()
    assert contents[:4] == b"\x7fELF"
    # Its one entry point, and its run-time needs: the driver and NVRTC of CUDA 13.
    assert b"CudaFFTConvolutionVkFFTPlugin" in contents
    assert b"libnvrtc.so.13" in contents and b"libcuda.so.1" in contents


@pytest.fixture(scope="module")
def configurations(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fft-backends")
    return {
        "cufft": run_configuration(tmp_path, "cufft", "cufft", "1"),
        "vkfft": run_configuration(tmp_path, "vkfft", "vkfft", "1"),
        "vkfft-unpruned": run_configuration(tmp_path, "vkfft-unpruned", "vkfft", "0"),
    }


@needs_gpu
def test_vkfft_backend_is_loaded_and_used(configurations):
    """Asked for, VkFFT runs: its plugin is mapped into the process, and no fall-back to cuFFT is
    reported; without the plugin's needs the same request falls back with a warning instead."""
    _, report, stderr = configurations["vkfft"]
    assert report["vkfft_plugin_loaded"], f"the VkFFT plugin was not loaded (NVRTC: {report['nvrtc']}): {stderr}"
    assert "cuFFT does these transforms" not in stderr, stderr
    assert report["used"] == ["vkfft"], report
    _, cufft_report, _ = configurations["cufft"]
    assert not cufft_report["vkfft_plugin_loaded"]
    assert cufft_report["used"] == ["cufft"], cufft_report


@needs_gpu
def test_cufft_results_match_direct_sums(configurations):
    """The reference for the comparisons below is right: cuFFT's convolutions against direct sums."""
    results, _, _ = configurations["cufft"]
    rng = np.random.default_rng(5)
    for dimension, image_shape, odd, even in SHAPES:
        image = (rng.random(image_shape) + 0.5).astype(np.float32)
        for parity, kernel_shape in (("odd", odd), ("even", even)):
            kernel = rng.random(kernel_shape).astype(np.float32) + 0.1
            kernel /= kernel.sum()
            for mode, boundary in CONVOLUTIONS:
                key = f"convolve {dimension}D {parity} {mode} {boundary}"
                expected = direct_convolution(image, kernel, mode, boundary)
                assert relative_difference(results[key], expected) < 2e-5, key


@needs_gpu
@pytest.mark.parametrize("other", ["vkfft-unpruned", "cufft"])
def test_pruned_transforms_give_the_unpruned_results(configurations, other):
    """VkFFT pruned == VkFFT unpruned == cuFFT to float precision: every case, 1D to 3D, odd and
    even kernels, every deconvolution algorithm (5 iterations), constant-zero FULL and SAME."""
    pruned, _, _ = configurations["vkfft"]
    reference, _, _ = configurations[other]
    assert sorted(pruned) == sorted(reference)
    failures = []
    for key in sorted(pruned):
        # The direct methods divide by small spectra: a larger, still float-sized, tolerance.
        tolerance = 1e-4 if key.split()[3] in ("inverse", "tikhonov", "wiener") else 2e-5
        difference = relative_difference(pruned[key], reference[key])
        if not difference <= tolerance:
            failures.append(f"{key}: {difference:.2e}")
    if failures:
        pytest.fail("\n".join(failures))


@needs_gpu
def test_a_second_process_loads_the_compiled_kernels_from_disk(tmp_path):
    """The first process compiles VkFFT's kernels (NVRTC) and stores them in the cache folder; the
    second loads them, gives bit-identical results, and stores nothing new. Times printed."""
    import time
    cache = tmp_path / "kernels"
    cases = (SHAPES[1:], CONVOLUTIONS, DECONVOLUTIONS[:1])
    seconds, results = [], []
    for run in ("compiles", "loads"):
        start = time.perf_counter()
        result, report, stderr = run_configuration(tmp_path, f"cache-{run}", "vkfft", "1", cases,
                                                   CUDAFFTCONVOLUTION_KERNEL_CACHE=str(cache))
        seconds.append(time.perf_counter() - start)
        assert report["used"] == ["vkfft"], stderr
        results.append(result)
        files = sorted(os.listdir(cache))
        if run == "compiles":
            stored = files
            assert stored and all(name.endswith(".vkfft") for name in stored), files
        else:
            assert files == stored, "the second process compiled plans the first had stored"
    print(f"VkFFT kernels compiled in the first process: {seconds[0]:.2f} s, loaded in the second: "
          f"{seconds[1]:.2f} s ({len(stored)} plans cached)")
    for key in results[0]:
        assert np.array_equal(results[0][key], results[1][key]), key
