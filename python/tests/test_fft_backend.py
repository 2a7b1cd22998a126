"""fft_backend= on every function that runs or plans on the GPU: one reading of the names
("auto", "cufft", "vkfft", case ignored; None: the environment's CUDAFFTCONVOLUTION_FFT_BACKEND),
a clear ValueError for anything else, and on the GPU the same results from cuFFT and VkFFT with
the backend that ran reported."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cudafftconvolution as cfc
import cudafftconvolution.dask as cfc_dask
from cudafftconvolution import _api, _native
from conftest import GPU, needs_gpu

IMAGE = np.random.default_rng(18).random((12, 14, 10)).astype(np.float32) + 0.1
PSF = np.random.default_rng(19).random((5, 4, 3)).astype(np.float32) + 0.05

CALLS = {
    "convolve": lambda b: cfc.convolve(IMAGE, PSF, fft_backend=b, device="cpu"),
    "Convolver": lambda b: cfc.Convolver(PSF, fft_backend=b),
    "deconvolve": lambda b: cfc.deconvolve(IMAGE, PSF, iterations=1, fft_backend=b, device="cpu"),
    "richardson_lucy": lambda b: cfc.richardson_lucy(IMAGE, PSF, iterations=1, fft_backend=b, device="cpu"),
    "estimate_gpu_memory": lambda b: cfc.estimate_gpu_memory(IMAGE.shape, PSF.shape, fft_backend=b),
    "estimate_deconvolution_memory": lambda b: cfc.estimate_deconvolution_memory(IMAGE.shape, PSF.shape,
                                                                                  fft_backend=b),
    "cuda_fft_convolution_image_filter": lambda b: cfc.cuda_fft_convolution_image_filter(
        IMAGE, kernel_image=PSF, fft_backend=b, device="cpu"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("bad", ["fftw", "", "cuFFT13", 2, b"vkfft", ["cufft"]])
def test_an_unknown_backend_is_refused_naming_the_choices(call, bad):
    with pytest.raises(ValueError) as error:
        CALLS[call](bad)
    message = str(error.value)
    assert repr(bad) in message
    for name in ("'auto'", "'cufft'", "'vkfft'", "None"):
        assert name in message


def test_dask_refuses_an_unknown_backend_before_building_the_graph():
    pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="'auto', 'cufft', 'vkfft'"):
        cfc_dask.convolve(IMAGE, PSF, fft_backend="fft")


@pytest.mark.parametrize("call", ["convolve", "deconvolve", "richardson_lucy", "cuda_fft_convolution_image_filter"])
@pytest.mark.parametrize("name", [None, "auto", "cufft", "vkfft", "VkFFT", "CUFFT"])
def test_every_backend_name_is_taken_and_the_cpu_reports_none(call, name):
    result = CALLS[call](name)
    assert result.shape == IMAGE.shape
    assert cfc.last_compute_device() == "cpu"
    assert cfc.last_fft_backend() is None


def test_the_names_are_the_c_abis():
    assert cfc.FFT_BACKENDS == {"auto": 1, "cufft": 2, "vkfft": 3}


def test_estimates_take_every_backend():
    if cfc.LOAD_ERROR:
        pytest.skip(f"the native library is not loaded: {cfc.LOAD_ERROR}")
    for name in (None, "auto", "cufft", "vkfft"):
        estimate = cfc.estimate_gpu_memory(IMAGE.shape, PSF.shape, fft_backend=name)
        assert estimate.peak_bytes > 0 and estimate.tiles == 1
        deconvolution = cfc.estimate_deconvolution_memory(IMAGE.shape, PSF.shape, fft_backend=name)
        assert deconvolution.peak_bytes > 0 and deconvolution.tiles == 1


def test_the_c_abi_refuses_an_unknown_backend_number():
    if cfc.LOAD_ERROR:
        pytest.skip(f"the native library is not loaded: {cfc.LOAD_ERROR}")
    problem = _api._problem((10, 10), (3, 3), "same", "constant", np.float32, 0, False)
    for code in (-1, 4):
        problem.fft_backend = code
        with pytest.raises(ValueError, match=rf"unknown fft_backend {code} \(0 the environment's default, 1 auto, "
                                             r"2 cufft, 3 vkfft\)"):
            _native.plan(problem, -1)
    deconvolution = _native.deconvolution_defaults()
    assert deconvolution.fft_backend == 0  # the environment's
    deconvolution.fft_backend = 9
    with pytest.raises(ValueError, match="unknown fft_backend 9"):
        _native.deconvolution_plan(deconvolution, -1)


# ---- GPU ---------------------------------------------------------------------------------------
def _plugin_fallback_or(expected, used, stderr):
    """VkFFT asked for: it ran, or cuFFT stood in and the library said why on stderr."""
    if used == expected:
        return True
    return expected == "vkfft" and used == "cufft" and "VkFFT" in stderr and "cuFFT does these" in stderr


@needs_gpu
def test_cufft_and_vkfft_convolve_alike_and_report_what_ran():
    results = {}
    for name in ("cufft", "vkfft"):
        with cfc.Convolver(PSF, mode="full", boundary="constant", fft_backend=name) as blur:
            results[name] = blur(IMAGE)
            assert blur.last_compute_device == "gpu"
            results[name + " used"] = blur.last_fft_backend
        assert cfc.last_fft_backend() == results[name + " used"]
    assert results["cufft used"] == "cufft"
    assert results["vkfft used"] in ("vkfft", "cufft")
    scale = np.abs(results["cufft"]).max()
    assert np.abs(results["cufft"] - results["vkfft"]).max() <= 1e-5 * scale
    double = {name: cfc.convolve(IMAGE.astype(np.float64), PSF, fft_backend=name) for name in ("cufft", "vkfft")}
    assert np.abs(double["cufft"] - double["vkfft"]).max() <= 1e-12 * np.abs(double["cufft"]).max()


@needs_gpu
@pytest.mark.parametrize("edges", ["boundary", "non-circulant"])
def test_cufft_and_vkfft_deconvolve_alike_and_report_what_ran(edges):
    results = {}
    for name in ("cufft", "vkfft"):
        results[name] = cfc.richardson_lucy(IMAGE, PSF, iterations=5, edges=edges, fft_backend=name)
        info = cfc.last_deconvolution_info()
        assert info.compute_device == "gpu"
        assert info.fft_backend == cfc.last_fft_backend()
        results[name + " used"] = info.fft_backend
    assert results["cufft used"] == "cufft"
    assert results["vkfft used"] in ("vkfft", "cufft")
    scale = np.abs(results["cufft"]).max()
    assert np.abs(results["cufft"] - results["vkfft"]).max() <= 1e-4 * scale


@needs_gpu
def test_a_forced_vkfft_runs_or_falls_back_to_cufft_with_a_warning():
    """In a fresh process (the library warns once per reason and process)."""
    script = ("import numpy as np, cudafftconvolution as cfc\n"
              "cfc.convolve(np.ones((16, 16), np.float32), np.ones((3, 3), np.float32), fft_backend='vkfft')\n"
              "print(cfc.last_fft_backend())\n")
    environment = dict(os.environ)
    environment.pop("CUDAFFTCONVOLUTION_FFT_BACKEND", None)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env=environment)
    assert run.returncode == 0, run.stderr
    assert _plugin_fallback_or("vkfft", run.stdout.strip(), run.stderr), (run.stdout, run.stderr)


@needs_gpu
def test_none_follows_the_environment():
    script = ("import numpy as np, cudafftconvolution as cfc\n"
              "cfc.convolve(np.ones((16, 16), np.float32), np.ones((3, 3), np.float32))\n"
              "print(cfc.last_fft_backend())\n")
    for variable, expected in ((None, "cufft"), ("cufft", "cufft"), ("vkfft", "vkfft")):
        environment = dict(os.environ)
        environment.pop("CUDAFFTCONVOLUTION_FFT_BACKEND", None)
        if variable is not None:
            environment["CUDAFFTCONVOLUTION_FFT_BACKEND"] = variable
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                             env=environment)
        assert run.returncode == 0, run.stderr
        assert _plugin_fallback_or(expected, run.stdout.strip(), run.stderr), (variable, run.stdout, run.stderr)
