"""convolve, Convolver, estimate_gpu_memory, release: the package's API over the C ABI."""
import itertools
import re
import threading
import warnings
from typing import NamedTuple, Tuple

import numpy as np

from . import _arrays, _cpu, _itk, _native

MODES = {"same": 0, "valid": 1, "full": 2}
BOUNDARIES = {"zero-flux-neumann": 0, "constant": 1, "periodic": 2}
_BOUNDARY_ALIASES = {"zero_flux_neumann": "zero-flux-neumann", "neumann": "zero-flux-neumann",
                     "zeroflux": "zero-flux-neumann", "wrap": "periodic"}
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}

_local = threading.local()
_identities = itertools.count(1)


class MemoryEstimate(NamedTuple):
    """The GPU plan of a problem: device bytes held at most beyond the caller's arrays, tiles,
    FFT shape and output shape (NumPy order), and the budget it was planned under (0: none)."""

    peak_bytes: int
    tiles: int
    fft_shape: Tuple[int, ...]
    output_shape: Tuple[int, ...]
    memory_budget: int


def gpu_available(device=None):
    """True when a CUDA device and the native library are usable."""
    return _native.device_available(-1 if device in (None, "gpu", "cuda") else _device_ordinal(device))[0]


def gpu_unavailable_reason(device=None):
    """Why gpu_available() is False ("" when it is True)."""
    return _native.device_available(-1 if device in (None, "gpu", "cuda") else _device_ordinal(device))[1]


def last_compute_device():
    """"gpu" or "cpu": where this thread's last convolution ran (None before the first)."""
    return getattr(_local, "last", None)


# ---- arguments ----------------------------------------------------------------------------------
def _mode(mode):
    name = _itk.mode_of(mode)
    if not isinstance(name, str) or name.lower() not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use 'same', 'valid' or 'full'")
    return name.lower()


def _boundary(boundary):
    name = boundary.lower() if isinstance(boundary, str) else boundary
    name = _BOUNDARY_ALIASES.get(name, name)
    if name not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}: use 'zero-flux-neumann', 'constant' or 'periodic'")
    return name


def _budget(memory_budget):
    if memory_budget is None:
        return 0
    if isinstance(memory_budget, str):
        match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", memory_budget)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"cannot read the memory budget {memory_budget!r} (e.g. 4GiB, 500MB, 1e9)")
        memory_budget = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if memory_budget <= 0:
        raise ValueError("the memory budget must be positive (None: 80% of the free GPU memory)")
    return int(memory_budget)


def _device_ordinal(device):
    if isinstance(device, str):
        match = re.fullmatch(r"(?:cuda|gpu):(\d+)", device.lower())
        if not match:
            raise ValueError(f"unknown device {device!r}: use None, 'cpu', 'gpu', an ordinal or 'cuda:N'")
        return int(match.group(1))
    if isinstance(device, (int, np.integer)) and device >= 0:
        return int(device)
    raise ValueError(f"unknown device {device!r}")


def _check_shapes(image_shape, kernel_shape):
    if len(image_shape) != len(kernel_shape):
        raise ValueError(f"the image has {len(image_shape)} dimensions and the kernel {len(kernel_shape)}: they must agree")
    if not 1 <= len(image_shape) <= 3:
        raise ValueError(f"1, 2 or 3 dimensions are supported, not {len(image_shape)}")
    if 0 in image_shape or 0 in kernel_shape:
        raise ValueError(f"empty arrays cannot be convolved (image {tuple(image_shape)}, kernel {tuple(kernel_shape)})")


def _problem(image_shape, kernel_shape, mode, boundary, dtype, budget, device_resident):
    _check_shapes(image_shape, kernel_shape)
    problem = _native.Problem()
    problem.dimension = len(image_shape)
    for axis in range(3):
        problem.image_size[axis] = image_shape[::-1][axis] if axis < len(image_shape) else 1
        problem.kernel_size[axis] = kernel_shape[::-1][axis] if axis < len(kernel_shape) else 1
    problem.mode = MODES[mode]
    problem.boundary = BOUNDARIES[boundary]
    problem.element_size = np.dtype(dtype).itemsize
    problem.memory_budget = budget
    problem.device_resident = int(device_resident)
    return problem


def _estimate_of(info, dimension):
    def shape(values):
        return tuple(int(v) for v in list(values)[:dimension][::-1])

    return MemoryEstimate(int(info.peak_device_bytes), int(info.tiles), shape(info.fft_size),
                          shape(info.output_size), int(info.memory_budget))


def estimate_gpu_memory(image_shape, kernel_shape, mode="same", boundary="zero-flux-neumann", precision="float32",
                        memory_budget=None, device=None, on_device=False):
    """The GPU plan of a problem before running it (shapes in NumPy order): a MemoryEstimate.
    on_device: the image and output are GPU arrays (CuPy, PyTorch), so nothing is staged.
    With a budget that no tiling fits, GPUMemoryBudgetError names the smallest need."""
    if _native.LIBRARY is None:
        raise _native.NoGPUError(f"the native library could not be loaded: {_native.LOAD_ERROR}")
    dtype = _arrays.computation_dtype(np.empty(0, np.float32), precision or "float32")
    problem = _problem(tuple(image_shape), tuple(kernel_shape), _mode(mode), _boundary(boundary), dtype,
                       _budget(memory_budget), on_device)
    ordinal = -1 if device in (None, "gpu", "cuda") else _device_ordinal(device)
    return _estimate_of(_native.plan(problem, ordinal), len(image_shape))


# ---- the kernel -------------------------------------------------------------------------------
class _Kernel:
    """A kernel as given (one call) or as a private host copy with an identity per precision (a
    Convolver): the engine reuses the spectrum of an identity it has seen without comparing values."""

    def __init__(self, kernel, private):
        if _itk.is_image(kernel):
            kernel = np.array(_itk.to_array(kernel))
        elif private:
            library = _arrays.library_of(kernel)
            if library == "cupy":
                kernel = kernel.get()
            elif library == "torch":
                kernel = kernel.detach().cpu().numpy()
            kernel = np.array(kernel, copy=True)
        self.source = kernel
        self.shape = tuple(int(n) for n in np.shape(kernel))
        self.private = private
        self._host = {}

    def host(self, dtype):
        if dtype not in self._host or not self.private:
            source = self.source
            if _arrays.library_of(source) in ("cupy", "torch"):
                source = _arrays.operand(source, dtype).to_host()
            self._host[dtype] = (np.ascontiguousarray(source, dtype=dtype), next(_identities) if self.private else 0)
        return self._host[dtype]

    def for_run(self, dtype, image):
        """(pointer, on_device, identity, what must stay alive) for a run on \\a image's operand."""
        library = _arrays.library_of(self.source)
        if image.on_device and not self.private and library in ("cupy", "torch"):
            device_kernel = _arrays.operand(self.source, dtype)
            if device_kernel.on_device and device_kernel.device == image.device:
                return device_kernel.pointer(), True, 0, device_kernel
        values, identity = self.host(dtype)
        return values.ctypes.data, False, identity, values


# ---- running --------------------------------------------------------------------------------------
class _Settings(NamedTuple):
    mode: str
    boundary: str
    constant: float
    normalize: bool
    precision: object
    budget: int
    device: object


def _settings(mode, boundary, constant, normalize, precision, memory_budget, device):
    if device not in (None, "cpu", "gpu", "cuda"):
        _device_ordinal(device)
    if precision is not None:
        _arrays.computation_dtype(None, precision)
    return _Settings(_mode(mode), _boundary(boundary), float(constant), bool(normalize), precision,
                     _budget(memory_budget), device)


_shared_engines = {}
_shared_lock = threading.Lock()


def _shared_engine(ordinal):
    with _shared_lock:
        if ordinal not in _shared_engines:
            _shared_engines[ordinal] = _native.Engine(ordinal)
        return _shared_engines[ordinal]


def release():
    """Frees the GPU memory (plans, kernel spectra, buffers) that convolve() keeps between calls."""
    with _shared_lock:
        for engine in _shared_engines.values():
            with engine.lock:
                engine.release()


def _gpu_ordinal(settings, image):
    """The device to run on, or None for the CPU path; NoGPUError when the GPU was required."""
    if settings.device == "cpu":
        if image.on_device:
            raise ValueError("device='cpu' was asked for, but the image is a GPU array")
        return None
    ordinal = image.device if image.on_device else (
        -1 if settings.device in (None, "gpu", "cuda") else _device_ordinal(settings.device))
    available, why = _native.device_available(ordinal)
    if available:
        return ordinal
    if settings.device is not None or image.on_device:
        raise _native.NoGPUError(why)
    return None


def _output(image, sizes, out, dtype):
    """A new output array, or \a out when it is a C-contiguous array of the result's shape, type
    and place (NumPy, or the image's CUDA library on its device)."""
    if out is None:
        return image.empty(sizes)
    if _arrays.library_of(out) != _arrays.library_of(image.array):
        raise ValueError(f"out is a {_arrays.library_of(out)} array, the image a {_arrays.library_of(image.array)} one")
    flags = getattr(out, "flags", None)
    contiguous = flags.c_contiguous if flags is not None else out.is_contiguous()
    same_type = str(out.dtype).split(".")[-1] == np.dtype(dtype).name
    if tuple(out.shape) != tuple(sizes) or not same_type or not contiguous:
        raise ValueError(f"out must be a C-contiguous {np.dtype(dtype).name} array of shape {tuple(sizes)}")
    if _arrays.device_of(out) != image.device:
        raise ValueError("out must be on the image's device")
    return out


def _run_gpu(settings, image, kernel, dtype, engine, out):
    _, sizes = _cpu.output_region(image.array.shape, kernel.shape, settings.mode)
    output = _output(image, sizes, out, dtype)
    if 0 in sizes:
        return output, None
    problem = _problem(image.array.shape, kernel.shape, settings.mode, settings.boundary, dtype, settings.budget,
                       image.on_device)
    pointer, on_device, identity, keep = kernel.for_run(dtype, image)
    with engine.lock:
        info = engine.convolve(problem, image.pointer(), image.pointer_of(output), pointer, on_device, identity,
                               settings.normalize, settings.constant, image.stream())
        reused = engine.reused_spectrum()
    del keep  # the kernel was read (host) or its reads are ordered on the stream (device)
    return output, (_estimate_of(info, len(sizes)), reused)


def _run_cpu(settings, image, kernel, dtype, out):
    result = _cpu.convolve(image.to_host(), kernel.host(dtype)[0], settings.mode, settings.boundary, settings.constant,
                           settings.normalize, dtype)
    if out is None:
        return result
    output = _output(image, result.shape, out, dtype)
    output[...] = result if _arrays.library_of(output) == "numpy" else image.wrap(result)
    return output


def _execute(settings, image, kernel, engine_for, record, out=None):
    """Convolves one image (any supported kind); record(device, estimate, reused) notes the path."""
    if _itk.is_image(image):
        if out is not None:
            raise ValueError("out is for arrays; an itk.Image result is a new image")
        pixels = _itk.to_array(image)
        result = _execute(settings, pixels, kernel, engine_for, record)
        starts, _ = _cpu.output_region(pixels.shape, kernel.shape, settings.mode)
        return _itk.from_array(result, image, starts)
    dtype = _arrays.computation_dtype(image, settings.precision)
    operand = _arrays.operand(image, dtype)
    _check_shapes(operand.array.shape, kernel.shape)
    ordinal = _gpu_ordinal(settings, operand)
    if ordinal is not None:
        try:
            output, details = _run_gpu(settings, operand, kernel, dtype, engine_for(ordinal), out)
            record("gpu", *(details or (None, None)))
            return operand.wrap(output)
        except (_native.CudaError, _native.NoGPUError) as error:
            if settings.device is not None or operand.on_device:
                raise
            warnings.warn(f"the GPU could not run this convolution, so it runs on the CPU: {error}", RuntimeWarning,
                          stacklevel=3)
    output = _run_cpu(settings, operand, kernel, dtype, out)
    record("cpu", None, None)
    return operand.wrap(output)


def _record_thread(device, estimate, reused):
    _local.last = device


def convolve(image, kernel, mode="same", boundary="zero-flux-neumann", constant=0.0, normalize=False,
             precision=None, memory_budget=None, device=None, out=None):
    """Convolves an image with a kernel of the same dimension (1, 2 or 3).

    image, kernel: NumPy arrays (or anything np.asarray takes), CuPy or PyTorch arrays (CUDA
    arrays are read and written on the device, on the current stream, and the result is the same
    library's array on the same device), or itk.Image (the result is an itk.Image placed where
    the C++ filter's output region lies).
    mode: "same" (the image's shape), "valid" (where the kernel fits), "full" (N + K - 1).
    boundary: "zero-flux-neumann" (ITK's default: the nearest edge value), "constant" (the value
    `constant`) or "periodic". normalize: divide the kernel by its sum.
    precision: None (float64 for float64 images, float32 otherwise), "float32" or "float64".
    memory_budget: GPU bytes (or "4GiB"); None: 80% of the free memory; tiles beyond it.
    device: None (the GPU when present, else the CPU), "cpu", "gpu", an ordinal or "cuda:N".
    out: an array to write the result into (C-contiguous, the result's shape and type, the
    image's library and device), e.g. to reuse one buffer over a loop.
    The GPU plans and kernel spectrum are kept between calls (release() frees them);
    last_compute_device() says which path ran.
    """
    settings = _settings(mode, boundary, constant, normalize, precision, memory_budget, device)
    return _execute(settings, image, _Kernel(kernel, private=False), _shared_engine, _record_thread, out)


class Convolver:
    """Convolves a series of images with one kernel and one set of settings (those of convolve),
    keeping the GPU plans and the kernel spectrum between calls: a time series, a batch, the
    steps of a deconvolution. The kernel is copied at construction; later changes to the array
    passed in do not reach it.

        with Convolver(psf, normalize=True) as blur:
            for volume in series:
                result = blur(volume)
    """

    def __init__(self, kernel, mode="same", boundary="zero-flux-neumann", constant=0.0, normalize=False,
                 precision=None, memory_budget=None, device=None):
        self.settings = _settings(mode, boundary, constant, normalize, precision, memory_budget, device)
        self._kernel = _Kernel(kernel, private=True)
        if len(self._kernel.shape) == 0 or 0 in self._kernel.shape:
            raise ValueError("the kernel must not be empty")
        if normalize:
            _cpu.normalized(self._kernel.host(np.dtype(np.float64))[0])
        self._engines = {}
        self.last_compute_device = None
        self.last_estimate = None
        self.last_reused_spectrum = None

    @property
    def kernel_shape(self):
        return self._kernel.shape

    def _engine(self, ordinal):
        if ordinal not in self._engines:
            self._engines[ordinal] = _native.Engine(ordinal)
        return self._engines[ordinal]

    def _record(self, device, estimate, reused):
        self.last_compute_device, self.last_estimate, self.last_reused_spectrum = device, estimate, reused
        _local.last = device

    def __call__(self, image, out=None):
        return self.convolve(image, out)

    def convolve(self, image, out=None):
        """The convolution of one image (out: as convolve's)."""
        return _execute(self.settings, image, self._kernel, self._engine, self._record, out)

    def estimate_gpu_memory(self, image_shape, precision=None, on_device=False):
        s = self.settings
        return estimate_gpu_memory(image_shape, self._kernel.shape, s.mode, s.boundary,
                                   precision or s.precision or "float32",
                                   s.budget or None, s.device if s.device not in ("cpu",) else None, on_device)

    def allocated_gpu_bytes(self):
        """Device bytes this object's engines hold now (plans' work areas, FFT buffer, spectrum)."""
        return sum(engine.allocated_bytes() for engine in self._engines.values())

    def release(self):
        """Frees this object's GPU memory; it stays usable."""
        for engine in self._engines.values():
            with engine.lock:
                engine.release()

    def close(self):
        for engine in self._engines.values():
            with engine.lock:
                engine.close()
        self._engines = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def cuda_fft_convolution_image_filter(image, kernel_image=None, output_region_mode="same", normalize=False,
                                      boundary_condition="zero-flux-neumann", output_region=None, **options):
    """ITK's functional form, as the SWIG wrapping's itk.cuda_fft_convolution_image_filter:
    output_region_mode takes "same"/"valid"/"full", 0/1/2 or ITK's enums (output_region= is the same);
    boundary_condition a name or one of ITK's boundary condition objects (a constant one keeps its
    constant). Other keywords (precision, memory_budget, device) are convolve's. Returns an itk.Image."""
    if kernel_image is None:
        raise ValueError("kernel_image is required")
    name, value = _itk.boundary_of(boundary_condition)
    constant = options.pop("constant", 0.0) if value is None else value
    unknown = set(options) - {"precision", "memory_budget", "device"}
    if unknown:
        raise ValueError(f"unknown keyword(s) {sorted(unknown)}")
    mode = output_region if output_region is not None else output_region_mode
    return convolve(image, kernel_image, mode=_itk.mode_of(mode), boundary=name, constant=constant,
                    normalize=normalize, **options)
