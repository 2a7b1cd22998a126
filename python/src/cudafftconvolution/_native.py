"""ctypes binding of libcudafftconvolution (the module's C ABI, capi/cudafftconvolution.h).

ctypes rather than cffi: it is in the standard library (no build step, no dependency), and the
C ABI has a dozen functions with plain structs, so one wheel serves every CPython >= 3.9.

cuFFT (libcufft.so.12, CUDA 13) is loaded before the library, looked for in this order: a copy
already in the process (loaded by CuPy or PyTorch, say), PyPI's nvidia-cufft in this environment
(site-packages/nvidia/cu13/lib: `pip install cudafftconvolution[cuda]`, so that what the user
installed is what runs, as NVIDIA's cuda-pathfinder does), the system's loader path, then
CUDA_HOME/CUDA_PATH and /usr/local/cuda. CUFFT_SOURCE names the file loaded. The CUDA runtime is
linked statically into the library (no libcudart.so is needed). When the library cannot be
loaded the package still imports: everything runs on the NumPy CPU path and LOAD_ERROR says why.

The VkFFT backend is a plugin beside the library (libCudaFFTConvolutionVkFFT.so), which the
library dlopen()s from its own folder when VkFFT is asked for. It needs the driver (libcuda.so.1)
and NVRTC (libnvrtc.so.13), looked for like cuFFT (PyPI's nvidia-cuda-nvrtc) and loaded first when
found (with the builtins beside it, which PyPI's NVRTC would not find alone); without it the
library warns once and does its FFTs with cuFFT. NVRTC_SOURCE names the file loaded (None: not
found).
"""
import ctypes
import glob
import os
import site
import sys
import threading

CUFFT_SONAME = "libcufft.so.12"
NVRTC_SONAME = "libnvrtc.so.13"
VKFFT_PLUGIN_NAME = "libCudaFFTConvolutionVkFFT.so"
ABI_VERSION = 5  # 2: the deconvolution section (cfc_deconvolution, cfc_deconvolve); 3: fft_backend fields; 4: the energy halo; 5: computed PSFs (cfc_psf)

OK, INVALID_ARGUMENT, BUDGET, OUT_OF_MEMORY, CUDA, NO_DEVICE, INTERNAL = range(7)


class Problem(ctypes.Structure):
    _fields_ = [
        ("dimension", ctypes.c_uint32),
        ("image_size", ctypes.c_uint64 * 3),
        ("kernel_size", ctypes.c_uint64 * 3),
        ("mode", ctypes.c_int32),
        ("boundary", ctypes.c_int32),
        ("element_size", ctypes.c_uint32),
        ("memory_budget", ctypes.c_uint64),
        ("device_resident", ctypes.c_int32),
        ("fft_backend", ctypes.c_int32),
    ]


class PlanInfo(ctypes.Structure):
    _fields_ = [
        ("output_index", ctypes.c_int64 * 3),
        ("output_size", ctypes.c_uint64 * 3),
        ("fft_size", ctypes.c_uint64 * 3),
        ("tiles", ctypes.c_uint64),
        ("peak_device_bytes", ctypes.c_uint64),
        ("memory_budget", ctypes.c_uint64),
        ("fft_backend", ctypes.c_int32),
    ]


class Deconvolution(ctypes.Structure):
    """cfc_deconvolution (ABI version 4): one deconvolution problem, x first in the size arrays."""

    _fields_ = [
        ("dimension", ctypes.c_uint32),
        ("image_size", ctypes.c_uint64 * 3),
        ("kernel_size", ctypes.c_uint64 * 3),
        ("mode", ctypes.c_int32),
        ("boundary", ctypes.c_int32),
        ("algorithm", ctypes.c_int32),
        ("edges", ctypes.c_int32),
        ("element_size", ctypes.c_uint32),
        ("memory_budget", ctypes.c_uint64),
        ("device_resident", ctypes.c_int32),
        ("greatest_prime_factor", ctypes.c_uint32),
        ("halo", ctypes.c_uint64 * 3),
        ("iterations", ctypes.c_uint32),
        ("accelerate", ctypes.c_int32),
        ("normalize", ctypes.c_int32),
        ("compute_divergence", ctypes.c_int32),
        ("constant", ctypes.c_double),
        ("alpha", ctypes.c_double),
        ("division_threshold", ctypes.c_double),
        ("kernel_zero_magnitude_threshold", ctypes.c_double),
        ("regularization_constant", ctypes.c_double),
        ("noise_variance", ctypes.c_double),
        ("weight_threshold", ctypes.c_double),
        ("background", ctypes.c_double),
        ("total_variation", ctypes.c_double),
        ("relative_change_tolerance", ctypes.c_double),
        ("divergence_tolerance", ctypes.c_double),
        ("fft_backend", ctypes.c_int32),
        ("halo_energy_fraction", ctypes.c_double),
    ]


class DeconvolutionInfo(ctypes.Structure):
    """cfc_deconvolution_info: the plan that ran (or would run) and the last tile's iterations."""

    _fields_ = [
        ("output_index", ctypes.c_int64 * 3),
        ("output_size", ctypes.c_uint64 * 3),
        ("grid_size", ctypes.c_uint64 * 3),
        ("tiles", ctypes.c_uint64),
        ("peak_device_bytes", ctypes.c_uint64),
        ("memory_budget", ctypes.c_uint64),
        ("iterations", ctypes.c_uint32),
        ("fft_backend", ctypes.c_int32),
        ("halo", ctypes.c_uint64 * 3),
    ]


class PSF(ctypes.Structure):
    """cfc_psf (ABI version 3): a computed PSF's model, grid (x first) and optics."""

    _fields_ = [
        ("model", ctypes.c_int32),
        ("confocal", ctypes.c_int32),
        ("dimension", ctypes.c_uint32),
        ("size", ctypes.c_uint64 * 3),
        ("spacing", ctypes.c_double * 3),
        ("numerical_aperture", ctypes.c_double),
        ("wavelength", ctypes.c_double),
        ("immersion_index", ctypes.c_double),
        ("sample_index", ctypes.c_double),
        ("particle_depth", ctypes.c_double),
        ("immersion_design_index", ctypes.c_double),
        ("coverslip_index", ctypes.c_double),
        ("coverslip_design_index", ctypes.c_double),
        ("coverslip_thickness", ctypes.c_double),
        ("coverslip_design_thickness", ctypes.c_double),
        ("working_distance", ctypes.c_double),
    ]


# int (*)(void * user, uint32_t iteration, uint64_t tile, uint64_t tiles, double divergence, double relative_change)
IterationCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64,
                                     ctypes.c_uint64, ctypes.c_double, ctypes.c_double)


class CudaError(RuntimeError):
    """A CUDA or cuFFT call failed (the message carries CUDA's error text)."""


class CudaOutOfMemoryError(CudaError, MemoryError):
    """A device allocation failed."""


class GPUMemoryBudgetError(MemoryError):
    """No tiling of the problem fits the GPU memory budget that was set."""


class NoGPUError(RuntimeError):
    """The GPU was asked for, but no usable CUDA device (or native library) is present."""


_EXCEPTIONS = {
    INVALID_ARGUMENT: ValueError,
    BUDGET: GPUMemoryBudgetError,
    OUT_OF_MEMORY: CudaOutOfMemoryError,
    CUDA: CudaError,
    NO_DEVICE: NoGPUError,
    INTERNAL: RuntimeError,
}


def _wheel_directories():
    """The library folders of PyPI's nvidia wheels (nvidia-cufft, nvidia-cuda-nvrtc) in this environment."""
    roots = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    roots += [site.getusersitepackages()] + [p for p in sys.path if p.endswith("site-packages")]
    for root in dict.fromkeys(roots):
        for package in ("cu13", "cufft", "cuda_nvrtc"):  # CUDA 13's shared folder, then older layouts
            yield os.path.join(root, "nvidia", package, "lib")


def _toolkit_directories():
    for variable in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(variable):
            yield os.path.join(os.environ[variable], "lib64")
            yield os.path.join(os.environ[variable], "lib")
    yield "/usr/local/cuda/lib64"


def _mapped_file(soname):
    """The file of a library of that soname mapped into this process (from /proc/self/maps), or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if os.path.basename(path).startswith(soname):
                    return path
    except OSError:
        pass
    return None


def _load_from(directories, soname):
    for directory in directories:
        path = os.path.join(directory, soname)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return path
    return None


def _load_global(soname):
    """Loads a CUDA library globally (so that a later dependency on its soname resolves): the copy
    already in the process, else PyPI's nvidia wheels, the loader path, CUDA_HOME/CUDA_PATH or
    /usr/local/cuda. Returns the file loaded, or None."""
    if _mapped_file(soname) is None:
        path = _load_from(_wheel_directories(), soname)
        if path is not None:
            return path
    try:
        ctypes.CDLL(soname, mode=ctypes.RTLD_GLOBAL)  # already loaded: made global; else the loader path
        return _mapped_file(soname) or soname
    except OSError:
        pass
    return _load_from(_toolkit_directories(), soname)


def _load_cufft():
    """Loads cuFFT globally so that the library's dependency resolves; returns where from."""
    source = _load_global(CUFFT_SONAME)
    if source is not None:
        return source
    raise OSError(
        f"{CUFFT_SONAME} (cuFFT of CUDA 13) was not found in PyPI's nvidia-cufft (pip install "
        "cudafftconvolution[cuda]), on the loader path, in CUDA_HOME/CUDA_PATH or /usr/local/cuda"
    )


def _declare(lib):
    p = ctypes.POINTER
    u64 = ctypes.c_uint64
    lib.cfc_last_error.restype = ctypes.c_char_p
    lib.cfc_last_error.argtypes = []
    lib.cfc_abi_version.restype = ctypes.c_int
    lib.cfc_device_available.restype = ctypes.c_int
    lib.cfc_device_available.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    lib.cfc_device_memory.argtypes = [ctypes.c_int, p(u64), p(u64)]
    lib.cfc_plan.argtypes = [p(Problem), ctypes.c_int, p(PlanInfo)]
    lib.cfc_engine_create.argtypes = [ctypes.c_int, p(ctypes.c_void_p)]
    lib.cfc_engine_destroy.restype = None
    lib.cfc_engine_destroy.argtypes = [ctypes.c_void_p]
    lib.cfc_engine_release.argtypes = [ctypes.c_void_p]
    lib.cfc_engine_allocated_bytes.argtypes = [ctypes.c_void_p, p(u64)]
    lib.cfc_engine_reused_spectrum.argtypes = [ctypes.c_void_p]
    lib.cfc_convolve.argtypes = [
        ctypes.c_void_p, p(Problem), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
        u64, ctypes.c_int, ctypes.c_double, ctypes.c_void_p, p(PlanInfo),
    ]
    lib.cfc_deconvolution_defaults.restype = None
    lib.cfc_deconvolution_defaults.argtypes = [p(Deconvolution)]
    lib.cfc_deconvolution_plan.argtypes = [p(Deconvolution), ctypes.c_int, p(DeconvolutionInfo)]
    lib.cfc_deconvolution_plan_kernel.argtypes = [p(Deconvolution), ctypes.c_void_p, ctypes.c_int,
                                                  p(DeconvolutionInfo)]
    lib.cfc_deconvolve.argtypes = [
        ctypes.c_void_p, p(Deconvolution), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
        IterationCallback, ctypes.c_void_p, ctypes.c_void_p, p(DeconvolutionInfo),
    ]
    lib.cfc_psf_defaults.restype = None
    lib.cfc_psf_defaults.argtypes = [p(PSF)]
    lib.cfc_psf_compute.argtypes = [p(PSF), ctypes.c_void_p]
    for name in ("cfc_psf_compute", "cfc_device_memory", "cfc_plan", "cfc_engine_create", "cfc_engine_release",
                 "cfc_engine_allocated_bytes", "cfc_convolve", "cfc_deconvolution_plan", "cfc_deconvolution_plan_kernel",
                 "cfc_deconvolve"):
        getattr(lib, name).restype = ctypes.c_int


def _load():
    path = os.environ.get("CUDAFFTCONVOLUTION_LIBRARY") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "libcudafftconvolution.so")
    try:
        cufft = _load_cufft()
        _load_nvrtc()
        lib = ctypes.CDLL(path)
        lib.cfc_abi_version.restype = ctypes.c_int
        lib.cfc_abi_version.argtypes = []
        if lib.cfc_abi_version() != ABI_VERSION:
            raise OSError(f"{path} has C ABI version {lib.cfc_abi_version()}, this package needs {ABI_VERSION}")
        _declare(lib)  # after the version check: an older library lacks the newer functions
        return lib, None, cufft
    except OSError as error:
        return None, str(error), None


def _load_nvrtc():
    """NVRTC for the VkFFT plugin, where it can be found (optional: cuFFT works without it)."""
    global NVRTC_SOURCE
    try:
        NVRTC_SOURCE = _load_global(NVRTC_SONAME)
        if NVRTC_SOURCE is not None and os.path.isabs(NVRTC_SOURCE):
            _load_nvrtc_builtins(os.path.dirname(NVRTC_SOURCE))
    except OSError:
        NVRTC_SOURCE = None


def _load_nvrtc_builtins(directory):
    """NVRTC dlopen()s its builtins (libnvrtc-builtins.so.13.N) by soname at its first compile, and
    PyPI's NVRTC has no RPATH to find those beside it: with no toolkit on the loader path every
    compile failed. Loaded first, from NVRTC's own folder, they are the ones found."""
    for path in sorted(glob.glob(os.path.join(directory, "libnvrtc-builtins.so.13.*"))):
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


NVRTC_SOURCE = None
LIBRARY, LOAD_ERROR, CUFFT_SOURCE = _load()


def vkfft_plugin_path():
    """Where the library looks for its VkFFT plugin: beside itself."""
    library = os.environ.get("CUDAFFTCONVOLUTION_LIBRARY") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "libcudafftconvolution.so")
    return os.path.join(os.path.dirname(os.path.abspath(library)), VKFFT_PLUGIN_NAME)


def check(status):
    """Raises the exception of a C ABI status, with the library's message."""
    if status != OK:
        message = LIBRARY.cfc_last_error().decode("utf-8", "replace")
        raise _EXCEPTIONS.get(status, RuntimeError)(message)


def device_available(device=-1):
    """(True, "") or (False, why)."""
    if LIBRARY is None:
        return False, f"the native library could not be loaded: {LOAD_ERROR}"
    reason = ctypes.create_string_buffer(1024)
    available = LIBRARY.cfc_device_available(int(device), reason, len(reason)) == 1
    return available, reason.value.decode("utf-8", "replace")


class Engine:
    """A cfc_engine handle: plans, kernel spectrum and buffers on one device; one call at a time."""

    def __init__(self, device):
        self.device = device
        self._handle = ctypes.c_void_p()
        self.lock = threading.Lock()
        check(LIBRARY.cfc_engine_create(int(device), ctypes.byref(self._handle)))

    def convolve(self, problem, input_pointer, output_pointer, kernel_pointer, kernel_on_device, identity,
                 normalize, constant, stream):
        info = PlanInfo()
        check(LIBRARY.cfc_convolve(self._handle, ctypes.byref(problem), input_pointer, output_pointer,
                                   kernel_pointer, int(kernel_on_device), int(identity), int(bool(normalize)),
                                   float(constant), stream, ctypes.byref(info)))
        return info

    def deconvolve(self, problem, input_pointer, output_pointer, kernel_pointer, kernel_on_device, callback, stream):
        """cfc_deconvolve; callback is an IterationCallback (or None). Returns the DeconvolutionInfo."""
        info = DeconvolutionInfo()
        check(LIBRARY.cfc_deconvolve(self._handle, ctypes.byref(problem), input_pointer, output_pointer,
                                     kernel_pointer, int(kernel_on_device),
                                     callback if callback is not None else IterationCallback(), None, stream,
                                     ctypes.byref(info)))
        return info

    def reused_spectrum(self):
        return LIBRARY.cfc_engine_reused_spectrum(self._handle) == 1

    def allocated_bytes(self):
        value = ctypes.c_uint64()
        check(LIBRARY.cfc_engine_allocated_bytes(self._handle, ctypes.byref(value)))
        return value.value

    def release(self):
        if self._handle:
            check(LIBRARY.cfc_engine_release(self._handle))

    def close(self):
        if self._handle:
            LIBRARY.cfc_engine_destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter exit ctypes may be gone
            pass


def deconvolution_defaults():
    """A cfc_deconvolution with ITK's defaults (cfc_deconvolution_defaults)."""
    problem = Deconvolution()
    LIBRARY.cfc_deconvolution_defaults(ctypes.byref(problem))
    return problem


def psf_defaults():
    """A cfc_psf with the defaults of itk::MicroscopePSF (cfc_psf_defaults)."""
    psf = PSF()
    LIBRARY.cfc_psf_defaults(ctypes.byref(psf))
    return psf


def psf_compute(psf, output_pointer):
    """cfc_psf_compute into a C-contiguous float64 buffer of the PSF's size."""
    check(LIBRARY.cfc_psf_compute(ctypes.byref(psf), output_pointer))


def deconvolution_plan(problem, device, kernel=None):
    """The plan of a problem; with a host kernel (contiguous, the problem's precision) the halo
    comes from its energy, as cfc_deconvolve's."""
    info = DeconvolutionInfo()
    pointer = None if kernel is None else kernel.ctypes.data
    check(LIBRARY.cfc_deconvolution_plan_kernel(ctypes.byref(problem), pointer, int(device), ctypes.byref(info)))
    return info


def plan(problem, device):
    info = PlanInfo()
    check(LIBRARY.cfc_plan(ctypes.byref(problem), int(device), ctypes.byref(info)))
    return info
