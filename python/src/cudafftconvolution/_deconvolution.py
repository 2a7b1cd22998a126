"""deconvolve, richardson_lucy, estimate_deconvolution_memory: FFT deconvolution over the C ABI's
deconvolution section (cfc_deconvolve), with the NumPy CPU path of _deconvolution_cpu where there
is no GPU.

Each tile's data go to the GPU once, every iteration runs there (cuFFT and fused elementwise
kernels) and the result comes back once; CuPy and PyTorch CUDA arrays never leave the device.
"""
import math
import threading
import warnings
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from . import _api, _arrays, _cpu, _itk, _native
from . import _deconvolution_cpu as _reference

ALGORITHMS = {"richardson-lucy": 0, "landweber": 1, "projected-landweber": 2, "inverse": 3, "tikhonov": 4,
              "wiener": 5}
EDGES = {"boundary": 0, "non-circulant": 1}
_ALGORITHM_ALIASES = {"rl": "richardson-lucy", "richardsonlucy": "richardson-lucy", "lucy-richardson": "richardson-lucy",
                      "projectedlandweber": "projected-landweber", "inverse-deconvolution": "inverse"}
_EDGES_ALIASES = {"boundary-condition": "boundary", "circulant": "boundary", "itk": "boundary",
                  "noncirculant": "non-circulant", "bertero-boccacci": "non-circulant"}
_MAXIMUM_ITERATIONS = 100000  # the C ABI's limit
HALO_ENERGY_FRACTION = 1e-2  # the C ABI's default (DefaultHaloEnergyFraction): docs/deconvolution.md has its seam errors

_local = threading.local()
_shared_engines = {}
_shared_lock = threading.Lock()


class DeconvolutionMemoryEstimate(NamedTuple):
    """The GPU plan of a deconvolution: device bytes held at most beyond the caller's arrays,
    tiles, the FFT grid of every tile and the output shape (NumPy order), the budget it was
    planned under (0: none) and the halo per side of the tiles (NumPy order; 0 untiled)."""

    peak_bytes: int
    tiles: int
    grid_shape: Tuple[int, ...]
    output_shape: Tuple[int, ...]
    memory_budget: int
    halo: Tuple[int, ...] = ()


class DeconvolutionInfo(NamedTuple):
    """What this thread's last deconvolution did: the device ("gpu" or "cpu"), the iterations
    run (the last tile's when tiled), tiles, the FFT grid (NumPy order), the planned peak device
    bytes (None on the CPU), the I-divergence list when one was measured, and the FFT library the
    GPU used ("cufft" or "vkfft"; None on the CPU)."""

    compute_device: str
    iterations: int
    tiles: int
    grid_shape: Tuple[int, ...]
    peak_bytes: Optional[int]
    divergence: Optional[List[float]]
    fft_backend: Optional[str] = None


def last_deconvolution_info():
    """A DeconvolutionInfo of this thread's last deconvolution (None before the first)."""
    return getattr(_local, "info", None)


def _shared_engine(ordinal):
    """The deconvolution's engine of a device: apart from convolve()'s, so that an iteration
    callback may convolve."""
    with _shared_lock:
        if ordinal not in _shared_engines:
            _shared_engines[ordinal] = _native.Engine(ordinal)
        return _shared_engines[ordinal]


def release():
    """Frees the GPU memory that convolve() and the deconvolutions keep between calls (plans,
    kernel spectra, estimates and buffers)."""
    _api.release()
    with _shared_lock:
        for engine in _shared_engines.values():
            with engine.lock:
                engine.release()


def _allocated_gpu_bytes(device=None):
    """Device bytes the deconvolution engine of a device holds now (0 when it has none)."""
    engine = _shared_engines.get(_api._gpu_ordinal_of(device))
    return engine.allocated_bytes() if engine is not None else 0


# ---- arguments ----------------------------------------------------------------------------------
def _name(value, table, aliases, what):
    name = value.lower().replace("_", "-").replace(" ", "-") if isinstance(value, str) else value
    name = aliases.get(name, name)
    if name not in table:
        raise ValueError(f"unknown {what} {value!r}: use " + ", ".join(repr(n) for n in table))
    return name


def _deconvolution_mode(mode):
    name = _itk.mode_of(mode)
    name = name.lower() if isinstance(name, str) else name
    if name == "full":
        raise ValueError("a deconvolution's output is 'same' or 'valid', not 'full' (the object beyond the image is "
                         "not determined by the data)")
    if name not in ("same", "valid"):
        raise ValueError(f"unknown mode {mode!r}: use 'same' or 'valid'")
    return name


def _finite(value, what):
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, not {value}")
    return value


class _Settings(NamedTuple):
    algorithm: str
    iterations: int
    edges: str
    boundary: str
    constant: float
    mode: str
    normalize: bool
    accelerate: bool
    alpha: float
    division_threshold: float
    kernel_zero_magnitude_threshold: float
    regularization_constant: float
    noise_variance: float
    weight_threshold: float
    background: float
    total_variation: float
    tolerance: float
    divergence_tolerance: float
    greatest_prime_factor: int
    halo: Optional[Tuple[int, ...]]
    precision: object
    budget: int
    device: object
    fft_backend: object = None
    halo_energy_fraction: float = 0.0

    @property
    def richardson_lucy(self):
        return self.algorithm == "richardson-lucy"

    def cpu_keywords(self):
        return dict(algorithm=self.algorithm, iterations=self.iterations, edges=self.edges, boundary=self.boundary,
                    constant=self.constant, normalize=self.normalize, greatest_prime_factor=self.greatest_prime_factor,
                    accelerate=self.accelerate, alpha=self.alpha, division_threshold=self.division_threshold,
                    kernel_zero_magnitude_threshold=self.kernel_zero_magnitude_threshold,
                    regularization_constant=self.regularization_constant, noise_variance=self.noise_variance,
                    weight_threshold=self.weight_threshold, background=self.background,
                    total_variation=self.total_variation, relative_change_tolerance=self.tolerance,
                    divergence_tolerance=self.divergence_tolerance)


def _halo(halo):
    if halo is None:
        return None
    values = (halo,) if np.ndim(halo) == 0 else tuple(halo)
    result = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= _api._MAXIMUM_HALO:
            raise ValueError(f"the halo must be voxel counts from 0 to 2**40 (an int or one per axis), not {halo!r}")
        result.append(int(value))
    return tuple(result)


def _settings(algorithm, iterations, edges, boundary, constant, mode, normalize, accelerate, alpha,
              division_threshold, kernel_zero_magnitude_threshold, regularization_constant, noise_variance,
              weight_threshold, background, total_variation, tolerance, divergence_tolerance, greatest_prime_factor,
              halo, precision, memory_budget, device, fft_backend=None, halo_energy_fraction=None):
    algorithm = _name(algorithm, ALGORITHMS, _ALGORITHM_ALIASES, "algorithm")
    edges = _name(edges, EDGES, _EDGES_ALIASES, "edges")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise ValueError(f"iterations must be an int, not {iterations!r}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, not {iterations}")
    if iterations > _MAXIMUM_ITERATIONS:
        raise ValueError(f"at most {_MAXIMUM_ITERATIONS} iterations can be asked for")
    richardson_lucy = algorithm == "richardson-lucy"
    if not richardson_lucy and edges == "non-circulant":
        raise ValueError("non-circulant edges apply to Richardson-Lucy only: use edges='boundary'")
    if not richardson_lucy and (accelerate or total_variation):
        raise ValueError("accelerate and total_variation apply to Richardson-Lucy only")
    values = {name: _finite(value, name) for name, value in dict(
        constant=constant, alpha=alpha, division_threshold=division_threshold,
        kernel_zero_magnitude_threshold=kernel_zero_magnitude_threshold,
        regularization_constant=regularization_constant, noise_variance=noise_variance,
        weight_threshold=weight_threshold, background=background, total_variation=total_variation,
        tolerance=tolerance, divergence_tolerance=divergence_tolerance).items()}
    for name in ("total_variation", "tolerance", "divergence_tolerance", "weight_threshold", "noise_variance"):
        if values[name] < 0:
            raise ValueError(f"{name} must be >= 0, not {values[name]}")
    if isinstance(greatest_prime_factor, bool) or not isinstance(greatest_prime_factor, (int, np.integer)) or \
            not 2 <= greatest_prime_factor <= 1000:
        raise ValueError(f"greatest_prime_factor must be an int from 2 (7: cuFFT's fast sizes), not {greatest_prime_factor!r}")
    if precision is not None:
        _arrays.precision_dtype(precision)
    if halo_energy_fraction is None:
        halo_energy_fraction = HALO_ENERGY_FRACTION
    if isinstance(halo_energy_fraction, bool) or not isinstance(halo_energy_fraction, (int, float, np.floating)) or \
            not 0 <= halo_energy_fraction < 1:
        raise ValueError(f"halo_energy_fraction must be a number in [0, 1), not {halo_energy_fraction!r}")
    return _Settings(algorithm, int(iterations), edges, _api._boundary(boundary), values["constant"],
                     _deconvolution_mode(mode), bool(normalize), bool(accelerate), values["alpha"],
                     values["division_threshold"], values["kernel_zero_magnitude_threshold"],
                     values["regularization_constant"], values["noise_variance"], values["weight_threshold"],
                     values["background"], values["total_variation"], values["tolerance"],
                     values["divergence_tolerance"], int(greatest_prime_factor), _halo(halo), precision,
                     _api._budget(memory_budget), _api._device(device), _api._fft_backend(fft_backend),
                     float(halo_energy_fraction))


def halo_per_axis(halo, dimension):
    """The halo of each axis (NumPy order; 0: the default, twice the kernel's size) from _halo's
    reading of halo=."""
    halo = halo or (0,)
    if len(halo) == 1:
        halo = halo * dimension
    if len(halo) != dimension:
        raise ValueError(f"the halo has {len(halo)} values for {dimension} axes")
    return halo


def _problem(settings, image_shape, kernel_shape, dtype, device_resident, compute_divergence):
    """The cfc_deconvolution of a problem (shapes in NumPy order)."""
    _api._check_shapes(image_shape, kernel_shape)
    problem = _native.deconvolution_defaults()
    dimension = len(image_shape)
    problem.dimension = dimension
    halo = halo_per_axis(settings.halo, dimension)
    for axis in range(3):
        used = axis < dimension
        problem.image_size[axis] = image_shape[::-1][axis] if used else 1
        problem.kernel_size[axis] = kernel_shape[::-1][axis] if used else 1
        problem.halo[axis] = halo[::-1][axis] if used else 0
    problem.mode = _api.MODES[settings.mode]
    problem.boundary = _api.BOUNDARIES[settings.boundary]
    problem.algorithm = ALGORITHMS[settings.algorithm]
    problem.edges = EDGES[settings.edges]
    problem.element_size = np.dtype(dtype).itemsize
    problem.memory_budget = settings.budget
    problem.device_resident = int(device_resident)
    problem.greatest_prime_factor = settings.greatest_prime_factor
    problem.iterations = settings.iterations
    problem.accelerate = int(settings.accelerate)
    problem.normalize = int(settings.normalize)
    problem.compute_divergence = int(compute_divergence)
    problem.constant = settings.constant
    problem.alpha = settings.alpha
    problem.division_threshold = settings.division_threshold
    problem.kernel_zero_magnitude_threshold = settings.kernel_zero_magnitude_threshold
    problem.regularization_constant = settings.regularization_constant
    problem.noise_variance = settings.noise_variance
    problem.weight_threshold = settings.weight_threshold
    problem.background = settings.background
    problem.total_variation = settings.total_variation
    problem.relative_change_tolerance = settings.tolerance
    problem.divergence_tolerance = settings.divergence_tolerance
    problem.fft_backend = _api._fft_backend_code(settings.fft_backend)
    problem.halo_energy_fraction = settings.halo_energy_fraction
    return problem


def _shape_of(values, dimension):
    return tuple(int(v) for v in list(values)[:dimension][::-1])


def estimate_deconvolution_memory(image_shape, kernel_shape, algorithm="richardson-lucy", *, edges="boundary",
                                  mode="same", boundary="zero-flux-neumann", accelerate=False, total_variation=0.0,
                                  greatest_prime_factor=7, halo=None, precision="float32", memory_budget=None,
                                  device=None, on_device=False, fft_backend=None, psf=None, iterations=10,
                                  halo_energy_fraction=None):
    """The GPU plan of a deconvolution before running it (shapes in NumPy order): a
    DeconvolutionMemoryEstimate (peak device bytes, tiles, grid shape, output shape, budget).
    The defaults are deconvolve()'s (richardson_lucy() uses edges="non-circulant"); with a GPU
    the cuFFT work areas are exact, otherwise modelled. Shapes, memory_budget and device as
    estimate_gpu_memory's. With a budget that no tiling fits, GPUMemoryBudgetError names the
    smallest need. fft_backend as deconvolve's: the FFT work area counted is that backend's.
    The plan is the one deconvolve() makes when given the same psf (its halo from the PSF's
    energy) and iterations (they weigh the tilings); without psf, the halo is 2K unless given."""
    _api._fft_backend(fft_backend)  # refused before anything else, as everywhere
    if _native.LIBRARY is None:
        raise _native.NoGPUError(f"the native library could not be loaded: {_native.LOAD_ERROR}")
    settings = _settings(algorithm, iterations, edges, boundary, 0.0, mode, False, accelerate, 0.1, 1e-5, 1e-4, 0.0,
                         0.0, 0.01, 0.0, total_variation, 0.0, 0.0, greatest_prime_factor, halo, precision,
                         memory_budget, device, fft_backend, halo_energy_fraction)
    dtype = _arrays.precision_dtype(precision or "float32")
    image_shape, kernel_shape = _api._shape(image_shape, "image"), _api._shape(kernel_shape, "kernel")
    _check_region(settings, image_shape, kernel_shape)
    problem = _problem(settings, image_shape, kernel_shape, dtype, on_device, False)
    kernel = None
    if psf is not None:
        kernel = np.ascontiguousarray(_host_kernel(psf), dtype=dtype)
        if kernel.shape != tuple(kernel_shape):
            raise ValueError(f"the psf's shape {kernel.shape} is not kernel_shape {tuple(kernel_shape)}")
    info = _native.deconvolution_plan(problem, _api._plan_ordinal(device), kernel)
    dimension = len(image_shape)
    return DeconvolutionMemoryEstimate(int(info.peak_device_bytes), int(info.tiles), _shape_of(info.grid_size, dimension),
                                       _shape_of(info.output_size, dimension), int(info.memory_budget),
                                       _shape_of(info.halo, dimension))


# ---- operands ---------------------------------------------------------------------------------------
def _host_kernel(kernel):
    """The kernel's values as a float64 NumPy array (from NumPy, CuPy, PyTorch or itk.Image);
    TypeError unless of real numbers."""
    return _arrays.host_copy(_api.checked_kernel(kernel)).astype(np.float64)


def _range_of(operand):
    """(min, max) of an operand's values, NaN when one is NaN, in one pass on its device."""
    array = operand.array
    if isinstance(operand, _arrays.CupyOperand):
        cupy = operand.cupy
        with cupy.cuda.Device(operand.device):
            values = cupy.stack([cupy.min(array), cupy.max(array)]).get()
        return float(values[0]), float(values[1])
    if isinstance(operand, _arrays.TorchOperand):
        torch = operand.torch
        values = torch.stack([torch.min(array), torch.max(array)]).cpu().numpy()
        return float(values[0]), float(values[1])
    return float(np.min(array)), float(np.max(array))


def check_kernel(settings, kernel):
    """ValueError for a kernel these settings cannot deconvolve by (host values)."""
    if not np.all(np.isfinite(kernel)):
        raise ValueError("the kernel has NaN or infinite values")
    total = float(kernel.sum())
    if settings.normalize:
        _cpu.normalized(kernel)  # ValueError for a kernel summing to 0
    if settings.richardson_lucy and not total > 0:
        raise ValueError(f"the kernel sums to {total}: Richardson-Lucy needs a kernel with a positive sum")


def _check_values(settings, operand, kernel):
    check_kernel(settings, kernel)
    low, high = _range_of(operand)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("the image has NaN or infinite values")
    if settings.richardson_lucy and low < 0:
        raise ValueError(f"the image has negative values (minimum {low}): Richardson-Lucy needs counts; subtract less "
                         "background or use algorithm='landweber'")


def _check_region(settings, image_shape, kernel_shape):
    _api._check_shapes(image_shape, kernel_shape)
    starts, sizes = _output_region(settings.mode, image_shape, kernel_shape)
    if 0 in sizes:
        raise ValueError(f"the VALID region of a {image_shape} image and a {kernel_shape} kernel is empty: the kernel is "
                         "larger than the image (use mode='same')")
    return starts, sizes


def _output_region(mode, image_shape, kernel_shape):
    if mode == "same":
        return (0,) * len(image_shape), tuple(image_shape)
    return _reference.valid_region(image_shape, kernel_shape)


# ---- iteration callbacks ------------------------------------------------------------------------------
class _Iterations:
    """The per-iteration hook of one run: the user's callback (False stops; once it has stopped a
    tile, later tiles stop at the same iteration) and the I-divergence history per tile."""

    def __init__(self, callback, collect):
        self.callback = callback
        self.collect = collect
        self.stop_at = None
        self.error = None
        self.divergence = {}  # tile -> [D(x_0), D(x_1), ...]

    def __call__(self, iteration, divergence, change, tile=0):
        if self.error is not None:
            return False
        if self.collect and iteration > 0:
            self.divergence.setdefault(tile, []).append(float(divergence))
        if self.stop_at is not None and iteration >= self.stop_at:
            return False
        if self.callback is not None:
            try:
                if self.callback(int(iteration), float(divergence), float(change)) is False:
                    self.stop_at = int(iteration)
                    return False
            except BaseException as error:  # raised again once the run has returned
                self.error = error
                return False
        return True

    def native(self):
        def hook(user, iteration, tile, tiles, divergence, change):
            return 1 if self(iteration, divergence, change, int(tile)) else 0

        return _native.IterationCallback(hook)

    def history(self):
        """The divergence per iteration: one tile's list, or the sum over tiles where all have one."""
        if not self.divergence:
            return []
        lists = [self.divergence[t] for t in sorted(self.divergence)]
        if len(lists) == 1:
            return list(lists[0])
        count = min(len(values) for values in lists)
        return [float(sum(values[i] for values in lists)) for i in range(count)]

    def raise_error(self):
        if self.error is not None:
            raise self.error


def _cpu_divergence(result):
    """Result.divergence is [D(x_0) .. D(x_{n-1})] already (the estimate each iteration started from)."""
    return [float(v) for v in result.divergence]


# ---- running -------------------------------------------------------------------------------------------
def _run_gpu(settings, operand, kernel, dtype, engine, out, hooks, measure):
    _, sizes = _output_region(settings.mode, operand.array.shape, kernel.shape)
    output = operand.empty(sizes) if out is None else out
    problem = _problem(settings, operand.array.shape, kernel.shape, dtype, operand.on_device, measure)
    values = np.ascontiguousarray(kernel, dtype=dtype)  # host: the engine compares it to reuse the spectrum
    callback = hooks.native() if hooks is not None else None
    with engine.lock:
        info = engine.deconvolve(problem, operand.pointer(), operand.pointer_of(output), values.ctypes.data, False,
                                 callback, operand.stream())
    if hooks is not None:
        hooks.raise_error()
    dimension = len(sizes)
    return output, DeconvolutionInfo("gpu", int(info.iterations), int(info.tiles), _shape_of(info.grid_size, dimension),
                                     int(info.peak_device_bytes), None, _api._fft_backend_used(info.fft_backend))


def _run_cpu(settings, operand, kernel, dtype, out, hooks):
    data = operand.to_host()
    values = np.asarray(kernel, dtype=dtype)  # the values the GPU would see (float32 rounds them)
    result = _reference.deconvolve_block(data, values, callback=hooks, **settings.cpu_keywords())
    if hooks is not None:
        hooks.raise_error()
    starts, sizes = _output_region(settings.mode, data.shape, kernel.shape)
    estimate = np.ascontiguousarray(_reference.crop(result, starts, sizes), dtype=dtype)
    if out is None:
        output = estimate
    else:
        output = out
        output[...] = estimate if _arrays.library_of(output) == "numpy" else operand.wrap(estimate)
    return output, DeconvolutionInfo("cpu", int(result.iterations), 1, tuple(result.geometry.grid), None,
                                     _cpu_divergence(result) if settings.richardson_lucy else [])


def _execute(settings, image, kernel, callback, return_divergence, out):
    if getattr(_local, "running", False):
        raise RuntimeError("a deconvolution's callback cannot start another deconvolution (convolve() is fine)")
    if _itk.is_image(image):
        if out is not None:
            raise ValueError("out is for arrays; an itk.Image result is a new image")
        pixels = _itk.to_array(image)
        result = _execute(settings, pixels, kernel, callback, return_divergence, None)
        starts, _ = _output_region(settings.mode, pixels.shape, kernel.shape)
        if return_divergence:
            return _itk.from_array(result[0], image, starts), result[1]
        return _itk.from_array(result, image, starts)
    operand, dtype = _api._operand(image, settings.precision, kernel.shape)
    _, sizes = _check_region(settings, tuple(operand.array.shape), kernel.shape)
    target = _api._out_target(out, operand, sizes, dtype)  # the kernel is a private copy
    ordinal = _api._gpu_ordinal(settings, operand)
    _check_values(settings, operand, kernel)
    collect = bool(return_divergence) and settings.richardson_lucy
    measure = settings.richardson_lucy and (collect or callback is not None)
    hooks = _Iterations(callback, collect) if (callback is not None or collect) else None
    info = None
    _local.running = True
    try:
        if ordinal is not None:
            try:
                output, info = _run_gpu(settings, operand, kernel, dtype, _shared_engine(ordinal), target, hooks, measure)
                if collect:
                    info = info._replace(divergence=hooks.history())
            except (_native.CudaError, _native.NoGPUError) as error:
                if settings.device is not None or operand.on_device:
                    raise
                warnings.warn(f"the GPU could not run this deconvolution, so it runs on the CPU: {error}",
                              RuntimeWarning, stacklevel=4)
                hooks = _Iterations(callback, collect) if hooks is not None else None
        if info is None:
            output, info = _run_cpu(settings, operand, kernel, dtype, target, hooks)
    finally:
        _local.running = False
    _local.info = info
    _api._local.last, _api._local.fft_backend = info.compute_device, info.fft_backend
    result = _api._delivered(operand.wrap(output), out)
    if return_divergence:
        return result, list(info.divergence or [])
    return result


def deconvolve(image, kernel, algorithm="richardson-lucy", iterations=10, *, edges="boundary",
               boundary="zero-flux-neumann", constant=0.0, mode="same", normalize=False, accelerate=False,
               alpha=0.1, division_threshold=1e-5, kernel_zero_magnitude_threshold=1e-4, regularization_constant=0.0,
               noise_variance=0.0, weight_threshold=0.01, background=0.0, total_variation=0.0, tolerance=0.0,
               divergence_tolerance=0.0, greatest_prime_factor=7, return_divergence=False, precision=None,
               memory_budget=None, device=None, halo=None, callback=None, out=None, fft_backend=None,
               halo_energy_fraction=None):
    """Deconvolves an image by a kernel (the PSF) of the same dimension (1, 2 or 3).

    algorithm: "richardson-lucy", "landweber", "projected-landweber" (iterative, `iterations`
    of them, 10 by default as everywhere in this module but ITK's filters, which keep ITK's 1),
    "inverse", "tikhonov" (regularization_constant) or "wiener" (noise_variance): ITK's
    filters of those names, with ITK's defaults (alpha, division_threshold,
    kernel_zero_magnitude_threshold).
    edges: "boundary" (ITK parity: the image padded by floor(K/2) with `boundary`/`constant`,
    then to an FFT size whose largest prime factor is `greatest_prime_factor`, circulant there)
    or "non-circulant" (Richardson-Lucy only; Bertero-Boccacci: the object is estimated on
    N + K - 1 voxels per axis, the likelihood is taken over the image only and the update
    weighted by 1/(H^T 1), zero where that is below weight_threshold times the kernel's sum: no
    ringing or darkening at the borders, no boundary assumption).
    mode: "same" (the image's shape) or "valid" (where the kernel fits; ITK's GetValidRegion).
    The kernel's centre is floor(K/2), as convolve's; normalize divides it by its sum.
    Richardson-Lucy options: accelerate (Biggs-Andrews vector extrapolation), background (a
    constant added to the blurred estimate), total_variation (RL-TV's lambda, e.g. 0.002),
    tolerance (stop when sum|x_k+1 - x_k| / sum|x_k| falls below it), divergence_tolerance (stop
    when the I-divergence falls by less than this fraction in an iteration).
    iterations=0 returns the initial estimate: the image ("boundary" edges), or its mean inside
    the cropped region ("non-circulant").
    return_divergence: also return the I-divergence list (Richardson-Lucy; [] otherwise): entry i
    is the divergence of the data from the blurred estimate that iteration i started from. The
    GPU reports each one before the next iteration, so when a run ends by its iteration count or
    a tolerance its list lacks the last iteration's entry (the CPU path has them all: the GPU's
    list is a prefix of it); tiled, the sum over tiles (halos counted in each).
    callback(iteration, divergence, relative_change): called before each iteration with the
    previous iteration's values (NaN before the first and where not measured); returning False
    stops. Tiled GPU runs call it for each tile in turn (iteration restarts at 0); once it has
    returned False the later tiles stop at the same iteration. It may call convolve(), not
    another deconvolution. A callback or return_divergence makes a GPU run wait every iteration.
    halo: voxels of data around each tile when the GPU tiles under memory_budget (an int or one
    per axis, NumPy order); None or 0 on an axis: from the kernel's energy, twice the radius about
    its centre that holds all but halo_energy_fraction of its marginal energy on that axis plus the
    iterations' spread (default HALO_ENERGY_FRACTION = 1e-2; 0: 2K per side; 2K also for the
    direct methods). docs/deconvolution.md gives the seam error measured against the fraction. The tiling is the
    one of least predicted time under memory_budget.
    image: NumPy (or anything np.asarray takes; integers compute in float32), CuPy or PyTorch
    arrays (CUDA arrays are deconvolved on their device, on the current stream, and the result is
    the same library's array), torch CPU tensors, or itk.Image (the result is an itk.Image with
    the input's spacing and direction, its origin at the first output voxel).
    precision, memory_budget, device, out, fft_backend: as convolve's. Without a GPU (or with
    device="cpu") the NumPy path of _deconvolution_cpu runs on the whole image;
    last_compute_device(), last_fft_backend() and last_deconvolution_info() say what ran.
    """
    settings = _settings(algorithm, iterations, edges, boundary, constant, mode, normalize, accelerate, alpha,
                         division_threshold, kernel_zero_magnitude_threshold, regularization_constant, noise_variance,
                         weight_threshold, background, total_variation, tolerance, divergence_tolerance,
                         greatest_prime_factor, halo, precision, memory_budget, device, fft_backend,
                         halo_energy_fraction)
    if callback is not None and not callable(callback):
        raise ValueError("callback must be callable: callback(iteration, divergence, relative_change)")
    return _execute(settings, image, _host_kernel(kernel), callback, return_divergence, out)


def check_richardson_lucy_options(options):
    """TypeError for keywords beyond those of deconvolve that richardson_lucy passes through."""
    unknown = set(options) - {"division_threshold", "weight_threshold", "greatest_prime_factor",
                              "halo_energy_fraction"}
    if unknown:
        raise TypeError(f"richardson_lucy() got unexpected keyword(s) {sorted(unknown)}")


def richardson_lucy(image, psf, iterations=10, *, edges="non-circulant", boundary="zero-flux-neumann", constant=0.0,
                    mode="same", normalize=False, accelerate=False, background=0.0, total_variation=0.0,
                    tolerance=0.0, divergence_tolerance=0.0, return_divergence=False, precision=None,
                    memory_budget=None, device=None, halo=None, callback=None, out=None, fft_backend=None,
                    **options):
    """Richardson-Lucy deconvolution (deconvolve(algorithm="richardson-lucy")), by default with
    non-circulant edges: the image must be non-negative and the PSF sum to a positive value.
    Other keywords of deconvolve (division_threshold, weight_threshold, greatest_prime_factor)
    pass through."""
    check_richardson_lucy_options(options)
    return deconvolve(image, psf, "richardson-lucy", iterations, edges=edges, boundary=boundary, constant=constant,
                      mode=mode, normalize=normalize, accelerate=accelerate, background=background,
                      total_variation=total_variation, tolerance=tolerance, divergence_tolerance=divergence_tolerance,
                      return_divergence=return_divergence, precision=precision, memory_budget=memory_budget,
                      device=device, halo=halo, callback=callback, out=out, fft_backend=fft_backend, **options)
