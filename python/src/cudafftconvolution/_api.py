"""convolve, Convolver, estimate_gpu_memory, release: the package's API over the C ABI."""
import itertools
import math
import numbers
import re
import threading
import warnings
from fractions import Fraction
from typing import NamedTuple, Tuple

import numpy as np

from . import _arrays, _cpu, _itk, _native

MODES = {"same": 0, "valid": 1, "full": 2}
BOUNDARIES = {"zero-flux-neumann": 0, "constant": 1, "periodic": 2}
# The FFT library on the GPU, as the C ABI's cfc_fft_backend numbers them (0: None, the environment's).
FFT_BACKENDS = {"auto": 1, "cufft": 2, "vkfft": 3}
_FFT_BACKEND_NAMES = {code: name for name, code in FFT_BACKENDS.items()}
_BOUNDARY_ALIASES = {"zero_flux_neumann": "zero-flux-neumann", "neumann": "zero-flux-neumann",
                     "zeroflux": "zero-flux-neumann", "wrap": "periodic"}
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20,
          "gib": 2**30, "tib": 2**40}
_BUDGET_TEXT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*")
_UINT64 = 2**64
_INT32 = 2**31
# As the C ABI's CfcCheckSizes: the product over the axes of 2 (N + K) (a bound of every FFT grid
# the planners may choose) must stay below 2**55, so that 256 bytes per voxel of it fit in 63 bits.
_MAXIMUM_EXTENT = 2**55
_MAXIMUM_HALO = 2**40

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
    """True when a CUDA device (None: any; an ordinal or "cuda:N": that one) and the native
    library are usable."""
    return _native.device_available(_gpu_ordinal_of(device))[0]


def gpu_unavailable_reason(device=None):
    """Why gpu_available() is False ("" when it is True)."""
    return _native.device_available(_gpu_ordinal_of(device))[1]


def last_compute_device():
    """"gpu" or "cpu": where this thread's last convolution ran (None before the first)."""
    return getattr(_local, "last", None)


def last_fft_backend():
    """"cufft" or "vkfft": the FFT library this thread's last convolution or deconvolution used on
    the GPU ("cufft" where "vkfft" was asked for but VkFFT could not be had: the library warns on
    stderr); None before the first and after one that ran on the CPU."""
    return getattr(_local, "fft_backend", None)


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


def _fft_backend(fft_backend):
    """The one reading of every fft_backend=: None (the environment's CUDAFFTCONVOLUTION_FFT_BACKEND,
    cuFFT when it is unset) or "auto", "cufft", "vkfft" (case ignored); ValueError otherwise."""
    if fft_backend is None:
        return None
    if isinstance(fft_backend, str) and fft_backend.lower() in FFT_BACKENDS:
        return fft_backend.lower()
    raise ValueError(f"unknown fft_backend {fft_backend!r}: use 'auto', 'cufft', 'vkfft' or None (the environment's "
                     "CUDAFFTCONVOLUTION_FFT_BACKEND, cuFFT when unset)")


def _fft_backend_code(name):
    """The C ABI's cfc_fft_backend of a name _fft_backend returned (0 for None)."""
    return 0 if name is None else FFT_BACKENDS[name]


def _fft_backend_used(code):
    """The name of the backend an info struct reports: "cufft" or "vkfft" (None where none ran)."""
    name = _FFT_BACKEND_NAMES.get(int(code))
    return name if name in ("cufft", "vkfft") else None


def _budget(memory_budget):
    """The one reading of every memory_budget=: GPU bytes as the C ABI's uint64, 0 for the
    automatic budget (None or "auto"). A positive int or finite float of bytes (rounded down), or
    a string of a number and a unit ("4GiB", "512MB", "1.5e9", "2 TiB"); ValueError otherwise,
    below one byte or from 2**64 bytes up."""
    value = memory_budget
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return 0
    if isinstance(value, str):
        match = _BUDGET_TEXT.fullmatch(value)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"cannot read the memory budget {value!r}: use bytes or a number with a unit (B, kB, MB, "
                             "GB, TB, KiB, MiB, GiB, TiB), e.g. '4GiB', '512MB' or '1e9', or None/'auto'")
        value = Fraction(match.group(1)) * _UNITS[match.group(2).lower()]
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"the memory budget must be a number of bytes, a string such as '4GiB' or None, not {value!r}")
    elif not isinstance(value, numbers.Integral):
        if not math.isfinite(float(value)):
            raise ValueError(f"the memory budget must be finite, not {memory_budget!r}")
        value = Fraction(float(value))
    budget = math.floor(value)
    if budget < 1:
        raise ValueError(f"the memory budget must be at least one byte, not {memory_budget!r} (None or 'auto': 80% of "
                         "the free GPU memory)")
    if budget >= _UINT64:
        raise ValueError(f"the memory budget {memory_budget!r} is 2**64 bytes or more")
    return budget


def _device(device):
    """The one reading of every device=: None (the GPU when present, else the CPU), "cpu", "gpu"
    (a GPU, required; "cuda" too) or an ordinal (an int or "cuda:N"/"gpu:N")."""
    if device is None:
        return None
    if isinstance(device, str):
        name = device.strip().lower()
        if name in ("cpu", "gpu", "cuda"):
            return "gpu" if name == "cuda" else name
        match = re.fullmatch(r"(?:cuda|gpu):(\d+)", name)
        if not match:
            raise ValueError(f"unknown device {device!r}: use None, 'cpu', 'gpu', an ordinal or 'cuda:N'")
        device = int(match.group(1))
    if isinstance(device, bool) or not isinstance(device, numbers.Integral):
        raise ValueError(f"unknown device {device!r}: use None, 'cpu', 'gpu', an ordinal or 'cuda:N'")
    if not 0 <= device < _INT32:
        raise ValueError(f"device {device} is not a CUDA device ordinal (0 to 2**31 - 1)")
    return int(device)


def _ordinal(device):
    """The C ABI's device of a _device() that is not "cpu": -1 (the current one) or the ordinal."""
    return -1 if device in (None, "gpu") else device


def _gpu_ordinal_of(device):
    device = _device(device)
    if device == "cpu":
        raise ValueError("device='cpu' names no GPU: use None, 'gpu', an ordinal or 'cuda:N'")
    return _ordinal(device)


def _usable(ordinal, required=True):
    """True when GPU \\a ordinal (-1: the current one) is usable. ValueError for an ordinal this
    machine lacks while it has other GPUs; without any, NoGPUError where \\a required, else False."""
    available, why = _native.device_available(ordinal)
    if available:
        return True
    if ordinal >= 0 and _native.device_available(-1)[0]:
        raise ValueError(f"device {ordinal} does not exist: {why}")
    if required:
        raise _native.NoGPUError(why)
    return False


def _plan_ordinal(device):
    """The device an estimate plans for (without any GPU the plan is modelled)."""
    ordinal = _gpu_ordinal_of(device)
    _usable(ordinal, required=False)
    return ordinal


def _shape(values, what):
    """A shape given to an estimate (NumPy order): an int or a sequence of positive ints."""
    values = (values,) if np.ndim(values) == 0 else tuple(values)
    for n in values:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n < _UINT64:
            raise ValueError(f"the {what} shape {values!r} must hold positive integers (below 2**64)")
    return tuple(int(n) for n in values)


def _check_shapes(image_shape, kernel_shape):
    for what, shape in (("image", image_shape), ("kernel", kernel_shape)):
        if len(shape) == 0:
            raise ValueError(f"the {what} is 0-d (a scalar): arrays of 1, 2 or 3 dimensions are supported")
    if len(image_shape) != len(kernel_shape):
        raise ValueError(f"the image has {len(image_shape)} dimensions and the kernel {len(kernel_shape)}: they must agree")
    if not 1 <= len(image_shape) <= 3:
        raise ValueError(f"1, 2 or 3 dimensions are supported, not {len(image_shape)}")
    if 0 in image_shape or 0 in kernel_shape:
        raise ValueError(f"empty arrays cannot be convolved (image {tuple(image_shape)}, kernel {tuple(kernel_shape)})")
    if math.prod(2 * (n + k) for n, k in zip(image_shape, kernel_shape)) >= _MAXIMUM_EXTENT:
        raise ValueError(f"an image of shape {tuple(image_shape)} and a kernel of shape {tuple(kernel_shape)} are too "
                         "large: their FFT grids' byte counts would overflow 64 bits")


def _problem(image_shape, kernel_shape, mode, boundary, dtype, budget, device_resident, fft_backend=None):
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
    problem.fft_backend = _fft_backend_code(fft_backend)
    return problem


def _estimate_of(info, dimension):
    def shape(values):
        return tuple(int(v) for v in list(values)[:dimension][::-1])

    return MemoryEstimate(int(info.peak_device_bytes), int(info.tiles), shape(info.fft_size),
                          shape(info.output_size), int(info.memory_budget))


def estimate_gpu_memory(image_shape, kernel_shape, mode="same", boundary="zero-flux-neumann", precision="float32",
                        memory_budget=None, device=None, on_device=False, fft_backend=None):
    """The GPU plan of a problem before running it (shapes in NumPy order): a MemoryEstimate.
    on_device: the image and output are GPU arrays (CuPy, PyTorch), so nothing is staged.
    Shapes are positive ints (ValueError otherwise, and for shapes whose plans' byte counts would
    overflow 64 bits); memory_budget and device as convolve's (without a GPU the plan is modelled).
    With a budget that no tiling fits, GPUMemoryBudgetError names the smallest need. fft_backend
    as convolve's: the FFT work area counted is that backend's."""
    backend = _fft_backend(fft_backend)
    if _native.LIBRARY is None:
        raise _native.NoGPUError(f"the native library could not be loaded: {_native.LOAD_ERROR}")
    dtype = _arrays.precision_dtype(precision or "float32")
    image_shape, kernel_shape = _shape(image_shape, "image"), _shape(kernel_shape, "kernel")
    problem = _problem(image_shape, kernel_shape, _mode(mode), _boundary(boundary), dtype, _budget(memory_budget),
                       on_device, backend)
    return _estimate_of(_native.plan(problem, _plan_ordinal(device)), len(image_shape))


# ---- the kernel and the image ---------------------------------------------------------------------
def checked_kernel(kernel):
    """The kernel as an array (itk.Image through its pixels), TypeError unless of real numbers."""
    kernel = np.array(_itk.to_array(kernel)) if _itk.is_image(kernel) else _arrays.as_array(kernel)
    _arrays.check_real(kernel, "the kernel")
    return kernel


def _operand(image, precision, kernel_shape):
    """(the image's operand, the computation's dtype); TypeError unless of real numbers, and
    _check_shapes's ValueError, before the image is converted."""
    image = _arrays.as_array(image)
    _arrays.check_real(image, "the image")
    _check_shapes(tuple(image.shape), kernel_shape)
    dtype = _arrays.computation_dtype(image, precision)
    return _arrays.operand(image, dtype), dtype


class _Kernel:
    """A kernel as given (one call) or as a private host copy with an identity per precision (a
    Convolver): the engine reuses the spectrum of an identity it has seen without comparing values."""

    def __init__(self, kernel, private):
        kernel = checked_kernel(kernel)
        self.source = _arrays.host_copy(kernel) if private else kernel
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
    fft_backend: object = None


def _settings(mode, boundary, constant, normalize, precision, memory_budget, device, fft_backend=None):
    if precision is not None:
        _arrays.precision_dtype(precision)
    return _Settings(_mode(mode), _boundary(boundary), float(constant), bool(normalize), precision,
                     _budget(memory_budget), _device(device), _fft_backend(fft_backend))


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
    """The device to run on, or None for the CPU path; NoGPUError when a GPU was required and
    there is none, ValueError for an ordinal this machine lacks. A GPU array runs on its own
    device: device= may be None, "gpu" or that device's ordinal, nothing else (ValueError)."""
    device = settings.device
    if image.on_device:
        if device == "cpu":
            raise ValueError("device='cpu' was asked for, but the image is a GPU array")
        if device not in (None, "gpu") and device != image.device:
            _usable(device)
            raise ValueError(f"device={device} was asked for, but the image is on GPU {image.device}: a GPU array is "
                             "processed on its own device (move it first, or leave device out)")
        _usable(image.device)
        return image.device
    if device == "cpu":
        return None
    if device is None:
        return -1 if _native.device_available(-1)[0] else None
    _usable(_ordinal(device))
    return _ordinal(device)


def _out_target(out, operand, sizes, dtype, *sources):
    """Checks out (ValueError before anything runs) and returns where a run writes: out, or None
    (a new array, copied into out once the run has succeeded) when out overlaps what the run
    reads, the image's operand or \\a sources. So out may be the image itself, and a failing
    run leaves it as it was."""
    _arrays.check_out(out, operand, sizes, dtype)
    return None if out is not None and _arrays.overlaps(out, operand.array, *sources) else out


def _delivered(result, out):
    """out holding the result (copied in when the run wrote elsewhere), or the result when no out."""
    if out is None or result is out:
        return result
    _arrays.copy_into(out, result)
    return out


def _run_gpu(settings, image, kernel, dtype, engine, out):
    _, sizes = _cpu.output_region(image.array.shape, kernel.shape, settings.mode)
    output = image.empty(sizes) if out is None else out
    if 0 in sizes:
        return output, None, None
    problem = _problem(image.array.shape, kernel.shape, settings.mode, settings.boundary, dtype, settings.budget,
                       image.on_device, settings.fft_backend)
    pointer, on_device, identity, keep = kernel.for_run(dtype, image)
    with engine.lock:
        info = engine.convolve(problem, image.pointer(), image.pointer_of(output), pointer, on_device, identity,
                               settings.normalize, settings.constant, image.stream())
        reused = engine.reused_spectrum()
    del keep  # the kernel was read (host) or its reads are ordered on the stream (device)
    return output, (_estimate_of(info, len(sizes)), reused), _fft_backend_used(info.fft_backend)


def _run_cpu(settings, image, kernel, dtype, out):
    result = _cpu.convolve(image.to_host(), kernel.host(dtype)[0], settings.mode, settings.boundary, settings.constant,
                           settings.normalize, dtype)
    if out is None:
        return result
    out[...] = result if _arrays.library_of(out) == "numpy" else image.wrap(result)
    return out


def _execute(settings, image, kernel, engine_for, record, out=None):
    """Convolves one image (any supported kind); record(device, estimate, reused, fft_backend) notes the path."""
    if _itk.is_image(image):
        if out is not None:
            raise ValueError("out is for arrays; an itk.Image result is a new image")
        pixels = _itk.to_array(image)
        result = _execute(settings, pixels, kernel, engine_for, record)
        starts, _ = _cpu.output_region(pixels.shape, kernel.shape, settings.mode)
        return _itk.from_array(result, image, starts)
    operand, dtype = _operand(image, settings.precision, kernel.shape)
    _, sizes = _cpu.output_region(operand.array.shape, kernel.shape, settings.mode)
    target = _out_target(out, operand, sizes, dtype, kernel.source)
    ordinal = _gpu_ordinal(settings, operand)
    if ordinal is not None:
        try:
            output, details, backend = _run_gpu(settings, operand, kernel, dtype, engine_for(ordinal), target)
            record("gpu", *(details or (None, None)), backend)
            return _delivered(operand.wrap(output), out)
        except (_native.CudaError, _native.NoGPUError) as error:
            if settings.device is not None or operand.on_device:
                raise
            warnings.warn(f"the GPU could not run this convolution, so it runs on the CPU: {error}", RuntimeWarning,
                          stacklevel=3)
    output = _run_cpu(settings, operand, kernel, dtype, target)
    record("cpu", None, None, None)
    return _delivered(operand.wrap(output), out)


def _record_thread(device, estimate, reused, fft_backend):
    _local.last, _local.fft_backend = device, fft_backend


def convolve(image, kernel, mode="same", boundary="zero-flux-neumann", constant=0.0, normalize=False,
             precision=None, memory_budget=None, device=None, out=None, fft_backend=None):
    """Convolves an image with a kernel of the same dimension (1, 2 or 3).

    image, kernel: NumPy arrays (or anything np.asarray takes), CuPy or PyTorch arrays (CUDA
    arrays are read and written on the device, on the current stream, and the result is the same
    library's array on the same device), or itk.Image (the result is an itk.Image placed where
    the C++ filter's output region lies). Real numbers only: bool (0 and 1), integers and floats;
    complex, datetime64, timedelta64, string and object arrays raise TypeError.
    mode: "same" (the image's shape), "valid" (where the kernel fits), "full" (N + K - 1).
    boundary: "zero-flux-neumann" (ITK's default: the nearest edge value), "constant" (the value
    `constant`) or "periodic". normalize: divide the kernel by its sum.
    precision: None (float64 for float64 (and longer) images, float32 otherwise), "float32" or "float64".
    memory_budget: GPU bytes, an int or a float (rounded down), or a string such as "4GiB",
    "512MB" or "1e9"; None or "auto": 80% of the free memory; tiles beyond it. ValueError below
    one byte, from 2**64 bytes up, and for NaN or infinity.
    device: None (the GPU when present, else the CPU), "cpu", "gpu", an ordinal or "cuda:N".
    An ordinal this machine lacks raises ValueError (NoGPUError where it has no GPU at all).
    CuPy and PyTorch CUDA arrays run on their own device: device= may be None, "gpu" or that
    device's ordinal; another one raises ValueError (move the array first).
    out: an array to write the result into (C-contiguous, writable, the result's shape and
    dtype, the image's library and device; ValueError otherwise, before anything runs), e.g. to
    reuse one buffer over a loop. It may be the image itself (or overlap it): the result is then
    computed apart and copied in, and a call that fails leaves out unchanged.
    fft_backend: the FFT library on the GPU: None (the environment's CUDAFFTCONVOLUTION_FFT_BACKEND,
    cuFFT when unset), "cufft", "vkfft" (VkFFT; its kernels are compiled for each size on first
    use; cuFFT stands in, with a warning on stderr, where VkFFT cannot be loaded) or "auto"
    (VkFFT where it plans the size, else cuFFT). Another value raises ValueError. The CPU path
    ignores it.
    The GPU plans and kernel spectrum are kept between calls (release() frees them);
    last_compute_device() says which path ran and last_fft_backend() which FFT library.
    """
    settings = _settings(mode, boundary, constant, normalize, precision, memory_budget, device, fft_backend)
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
                 precision=None, memory_budget=None, device=None, fft_backend=None):
        self.settings = _settings(mode, boundary, constant, normalize, precision, memory_budget, device, fft_backend)
        self._kernel = _Kernel(kernel, private=True)
        if len(self._kernel.shape) == 0:
            raise ValueError("the kernel is 0-d (a scalar): arrays of 1, 2 or 3 dimensions are supported")
        if 0 in self._kernel.shape:
            raise ValueError("the kernel must not be empty")
        if normalize:
            _cpu.normalized(self._kernel.host(np.dtype(np.float64))[0])
        self._engines = {}
        self.last_compute_device = None
        self.last_estimate = None
        self.last_reused_spectrum = None
        self.last_fft_backend = None

    @property
    def kernel_shape(self):
        return self._kernel.shape

    def _engine(self, ordinal):
        if ordinal not in self._engines:
            self._engines[ordinal] = _native.Engine(ordinal)
        return self._engines[ordinal]

    def _record(self, device, estimate, reused, fft_backend):
        self.last_compute_device, self.last_estimate, self.last_reused_spectrum = device, estimate, reused
        self.last_fft_backend = fft_backend
        _record_thread(device, estimate, reused, fft_backend)

    def __call__(self, image, out=None):
        return self.convolve(image, out)

    def convolve(self, image, out=None):
        """The convolution of one image (out: as convolve's)."""
        return _execute(self.settings, image, self._kernel, self._engine, self._record, out)

    def estimate_gpu_memory(self, image_shape, precision=None, on_device=False):
        s = self.settings
        return estimate_gpu_memory(image_shape, self._kernel.shape, s.mode, s.boundary,
                                   precision or s.precision or "float32",
                                   s.budget or None, s.device if s.device not in ("cpu",) else None, on_device,
                                   s.fft_backend)

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
    constant). Other keywords (precision, memory_budget, device, fft_backend) are convolve's. Returns an itk.Image."""
    if kernel_image is None:
        raise ValueError("kernel_image is required")
    name, value = _itk.boundary_of(boundary_condition)
    constant = options.pop("constant", 0.0) if value is None else value
    unknown = set(options) - {"precision", "memory_budget", "device", "fft_backend"}
    if unknown:
        raise ValueError(f"unknown keyword(s) {sorted(unknown)}")
    mode = output_region if output_region is not None else output_region_mode
    return convolve(image, kernel_image, mode=_itk.mode_of(mode), boundary=name, constant=constant,
                    normalize=normalize, **options)
