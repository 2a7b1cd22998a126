"""What the package accepts and returns: NumPy (and anything np.asarray takes), CuPy and PyTorch
arrays (CUDA arrays stay on the device: their pointers go to the engine, on the caller's current
stream), and itk.Image (through an array view; see _itk)."""
import numpy as np


def library_of(array):
    return type(array).__module__.split(".")[0]


class HostOperand:
    """A NumPy array in the computation's dtype, contiguous (a copy only when needed)."""

    on_device = False
    device = None

    def __init__(self, array, dtype, wrap=None):
        self.array = np.ascontiguousarray(array, dtype=dtype)
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


def computation_dtype(array, precision):
    """float64 for float64 inputs (or when asked), float32 otherwise; integers become float32."""
    if precision is not None:
        names = {"float32": np.float32, "single": np.float32, "float": np.float32,
                 "float64": np.float64, "double": np.float64}
        key = precision if isinstance(precision, str) else np.dtype(precision).name
        if key not in names:
            raise ValueError(f"unknown precision {precision!r}: use 'float32' or 'float64'")
        return np.dtype(names[key])
    dtype = getattr(array, "dtype", None)
    name = str(dtype).split(".")[-1] if dtype is not None else "float64"
    if "complex" in name:
        raise ValueError("complex images are not supported: convolve the real and imaginary parts")
    if name == "bool":
        return np.dtype(np.float32)
    return np.dtype(np.float64) if name == "float64" else np.dtype(np.float32)


def operand(array, dtype):
    """The operand for an array of any supported kind (itk.Image is handled by the caller)."""
    library = library_of(array)
    if library == "cupy":
        return CupyOperand(array, dtype)
    if library == "torch":
        return TorchOperand(array, dtype)
    if hasattr(array, "__cuda_array_interface__"):
        try:
            import cupy
        except ImportError:
            raise ValueError("a CUDA array of an unknown library needs CuPy to be wrapped") from None
        return CupyOperand(cupy.asarray(array), dtype)
    return HostOperand(np.asarray(array), dtype)
