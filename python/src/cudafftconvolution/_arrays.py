"""What the package accepts and returns: NumPy (and anything np.asarray takes), CuPy and PyTorch
arrays (CUDA arrays stay on the device: their pointers go to the engine, on the caller's current
stream), and itk.Image (through an array view; see _itk). The one place for what an array may
be: its dtype (real numbers only), and what an `out=` array must be."""
import numpy as np

_REAL_KINDS = "biuf"  # NumPy's kinds of bool (read as 0 and 1), signed and unsigned integers, floats


def library_of(array):
    return type(array).__module__.split(".")[0]


def as_array(value):
    """A NumPy, CuPy or PyTorch array of \\a value: itself when it is one, other CUDA arrays
    through CuPy, anything else through np.asarray."""
    if library_of(value) in ("cupy", "torch") or isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__cuda_array_interface__"):
        try:
            import cupy
        except ImportError:
            raise ValueError("a CUDA array of an unknown library needs CuPy to be wrapped") from None
        return cupy.asarray(value)
    return np.asarray(value)


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


def _kind(dtype):
    """NumPy's kind letter of a NumPy, CuPy or PyTorch dtype ('O' where NumPy has no match)."""
    if library_of(dtype) == "torch":
        name = _dtype_name(dtype)
        if dtype.is_complex:
            return "c"
        if dtype.is_floating_point:
            return "f"
        return "b" if name == "bool" else "i" if name.startswith(("int", "uint")) else "O"
    return np.dtype(dtype).kind


def check_real(array, what):
    """TypeError unless \\a array (as_array's) holds real numbers: bool (as 0 and 1), integers or
    floats; complex, datetime64, timedelta64, strings, objects and records are refused."""
    kind = _kind(array.dtype)
    if kind not in _REAL_KINDS:
        hint = ": process the real and imaginary parts apart" if kind == "c" else ""
        raise TypeError(f"{what} has dtype {_dtype_name(array.dtype)}: only real numbers (bool, integers, floats) "
                        f"are supported{hint}")


def precision_dtype(precision):
    names = {"float32": np.float32, "single": np.float32, "float": np.float32,
             "float64": np.float64, "double": np.float64}
    key = precision if isinstance(precision, str) else np.dtype(precision).name
    if key not in names:
        raise ValueError(f"unknown precision {precision!r}: use 'float32' or 'float64'")
    return np.dtype(names[key])


def computation_dtype(array, precision):
    """The precision's dtype, or by default float64 for float64 (and wider) arrays and float32
    for the others (float16, integers, bool)."""
    if precision is not None:
        return precision_dtype(precision)
    if library_of(array.dtype) == "torch":
        wide = _dtype_name(array.dtype) == "float64"
    else:
        wide = np.dtype(array.dtype).kind == "f" and np.dtype(array.dtype).itemsize >= 8
    return np.dtype(np.float64 if wide else np.float32)


def host_copy(array):
    """A NumPy copy of the values of a NumPy, CuPy or PyTorch array (on the host)."""
    library = library_of(array)
    if library == "cupy":
        array = array.get()
    elif library == "torch":
        array = array.detach().cpu()
        if array.is_floating_point() and _dtype_name(array.dtype) not in ("float16", "float32", "float64"):
            array = array.double()  # bfloat16 and the float8 types have no NumPy dtype
        array = array.numpy()
    return np.array(array, copy=True)


class HostOperand:
    """A NumPy array in the computation's dtype, C-contiguous (a copy only when needed; a 0-d
    array stays 0-d, which np.ascontiguousarray would make 1-d)."""

    on_device = False
    device = None

    def __init__(self, array, dtype, wrap=None):
        self.array = np.asarray(array, dtype=dtype, order="C")
        self.wrap = wrap or (lambda result: result)

    def pointer(self):
        return self.array.ctypes.data

    @staticmethod
    def pointer_of(array):
        return array.ctypes.data

    def empty(self, shape):
        return np.empty(shape, self.array.dtype)

    def stream(self):
        return None

    def to_host(self):
        return self.array


class CupyOperand:
    on_device = True

    def __init__(self, array, dtype):
        import cupy

        self.cupy = cupy
        self.device = array.device.id
        with array.device:
            self.array = cupy.ascontiguousarray(array, dtype=dtype)

    def pointer(self):
        return self.array.data.ptr

    @staticmethod
    def pointer_of(array):
        return array.data.ptr

    def empty(self, shape):
        with self.cupy.cuda.Device(self.device):
            return self.cupy.empty(shape, self.array.dtype)

    def stream(self):
        with self.cupy.cuda.Device(self.device):
            return self.cupy.cuda.get_current_stream().ptr

    def to_host(self):
        return self.cupy.asnumpy(self.array)

    def wrap(self, result):
        return result


class TorchOperand:
    """A torch tensor; CUDA tensors stay on their device, CPU tensors go through NumPy."""

    def __init__(self, tensor, dtype):
        import torch

        self.torch = torch
        torch_dtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
        self.array = tensor.detach().to(dtype=torch_dtype).contiguous()
        self.on_device = self.array.is_cuda
        self.device = self.array.device.index if self.on_device else None

    def pointer(self):
        return self.array.data_ptr()

    @staticmethod
    def pointer_of(array):
        return array.data_ptr() if hasattr(array, "data_ptr") else array.ctypes.data

    def empty(self, shape):
        if self.on_device:
            return self.torch.empty(tuple(shape), dtype=self.array.dtype, device=self.array.device)
        return np.empty(shape, np.float64 if self.array.dtype == self.torch.float64 else np.float32)

    def stream(self):
        return self.torch.cuda.current_stream(self.array.device).cuda_stream if self.on_device else None

    def to_host(self):
        return self.array.cpu().numpy()

    def wrap(self, result):
        return result if isinstance(result, self.torch.Tensor) else self.torch.from_numpy(result)


def device_of(array):
    """The CUDA device ordinal of a CuPy or PyTorch CUDA array; None for host arrays."""
    library = library_of(array)
    if library == "cupy":
        return array.device.id
    if library == "torch" and array.is_cuda:
        return array.device.index
    return None


def operand(array, dtype):
    """The operand of an array of any supported kind (itk.Image is handled by the caller)."""
    array = as_array(array)
    library = library_of(array)
    if library == "cupy":
        return CupyOperand(array, dtype)
    if library == "torch":
        return TorchOperand(array, dtype)
    return HostOperand(array, dtype)


# ---- out= -----------------------------------------------------------------------------------------
def _place(device):
    return "the host" if device is None else f"GPU {device}"


def check_out(out, operand, shape, dtype):
    """ValueError, before anything runs, unless \\a out can take a result of \\a shape and \\a dtype:
    an array of the image's library on the image's device, of that shape and dtype (native byte
    order), C-contiguous and writable (a NumPy array with its WRITEABLE flag on, a tensor that
    does not require grad)."""
    if out is None:
        return
    library, expected = library_of(out), library_of(operand.array)
    if library != expected or not hasattr(out, "shape"):
        raise ValueError(f"out must be a {expected} array as the image is, not a {type(out).__module__}."
                         f"{type(out).__name__}")
    if device_of(out) != operand.device:
        raise ValueError(f"out is on {_place(device_of(out))}, the image on {_place(operand.device)}: they must agree")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"out has shape {tuple(out.shape)}, the result {tuple(shape)}")
    same_type = _dtype_name(out.dtype) == dtype.name if library == "torch" else out.dtype == dtype
    if not same_type:
        raise ValueError(f"out has dtype {out.dtype}, the result {dtype.name} (native byte order)")
    if not (out.is_contiguous() if library == "torch" else out.flags.c_contiguous):
        raise ValueError("out is not C-contiguous")
    if library == "numpy" and not out.flags.writeable:
        raise ValueError("out is read-only (its WRITEABLE flag is off)")
    if library == "torch" and out.requires_grad:
        raise ValueError("out requires grad: writing it in place would bypass autograd (pass out.detach())")


def _byte_range(array):
    """[first, end) of the bytes an array's elements span (None: no array, or empty)."""
    library = library_of(array)
    if library == "torch":
        if array.numel() == 0:
            return None
        size = array.element_size()
        start, strides = array.data_ptr(), [s * size for s in array.stride()]
    elif library == "cupy" or isinstance(array, np.ndarray):
        if array.size == 0:
            return None
        size, strides = array.itemsize, array.strides
        start = array.data.ptr if library == "cupy" else array.__array_interface__["data"][0]
    else:
        return None
    low = start + sum(min(0, (n - 1) * s) for n, s in zip(array.shape, strides))
    high = start + sum(max(0, (n - 1) * s) for n, s in zip(array.shape, strides)) + size
    return low, high


def overlaps(array, *others):
    """True when \\a array may share memory with one of \\a others (host or device addresses)."""
    span = _byte_range(array)
    return span is not None and any(other is not None and other[0] < span[1] and span[0] < other[1]
                                    for other in map(_byte_range, others))


def copy_into(out, values):
    """Writes \\a values (an array of out's library and device) into \\a out, on the current stream."""
    if library_of(out) == "torch":
        out.copy_(values)
    else:
        out[...] = values
