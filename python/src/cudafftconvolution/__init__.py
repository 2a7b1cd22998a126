"""FFT convolution on NVIDIA GPUs through cuFFT, for NumPy, CuPy, PyTorch and itk.Image.

The engine of the ITK module CudaFFTConvolution (ITK's geometry: SAME, VALID and FULL, kernel
centre floor(K/2), ITK's boundary conditions), reached through its C ABI. Where there is no GPU,
the same results come from NumPy's FFT; last_compute_device() says which path ran.

    import cudafftconvolution as cfc
    blurred = cfc.convolve(volume, psf, mode="same", normalize=True)
    restored = cfc.richardson_lucy(blurred, psf, iterations=50, accelerate=True)
    psf = cfc.psf.gibson_lanni((32, 64, 64), (0.2, 0.065, 0.065), na=1.4, wavelength=0.52,
                               immersion_index=1.515, sample_index=1.33)   # when none was measured
"""
from ._api import (
    BOUNDARIES,
    FFT_BACKENDS,
    MODES,
    Convolver,
    MemoryEstimate,
    convolve,
    cuda_fft_convolution_image_filter,
    estimate_gpu_memory,
    gpu_available,
    gpu_unavailable_reason,
    last_compute_device,
    last_fft_backend,
)
from ._deconvolution import (
    ALGORITHMS,
    EDGES,
    HALO_ENERGY_FRACTION,
    DeconvolutionInfo,
    DeconvolutionMemoryEstimate,
    deconvolve,
    estimate_deconvolution_memory,
    last_deconvolution_info,
    release,
    richardson_lucy,
)
from . import psf
from ._native import CUFFT_SOURCE, LOAD_ERROR, NVRTC_SOURCE, CudaError, CudaOutOfMemoryError, GPUMemoryBudgetError, NoGPUError

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "BOUNDARIES",
    "MODES",
    "Convolver",
    "CudaError",
    "CudaOutOfMemoryError",
    "DeconvolutionInfo",
    "DeconvolutionMemoryEstimate",
    "EDGES",
    "FFT_BACKENDS",
    "GPUMemoryBudgetError",
    "HALO_ENERGY_FRACTION",
    "MemoryEstimate",
    "NoGPUError",
    "convolve",
    "cuda_fft_convolution_image_filter",
    "deconvolve",
    "estimate_deconvolution_memory",
    "estimate_gpu_memory",
    "gpu_available",
    "gpu_unavailable_reason",
    "last_compute_device",
    "last_deconvolution_info",
    "last_fft_backend",
    "release",
    "psf",
    "richardson_lucy",
]
