"""Checks an installation of `cudafftconvolution[cuda]` as a user with only an NVIDIA driver has it
(run by scripts/test-python-install.sh in a fresh virtual environment, outside the source tree):

- the package's libraries need nothing but the C/C++ runtime, what the [cuda] extra installs
  (cuFFT, NVRTC) and the driver (libcuda.so.1, the VkFFT plugin only): the CUDA runtime is static;
- cuFFT and NVRTC were loaded from the files that PyPI's nvidia-cufft and nvidia-cuda-nvrtc
  installed (their RECORDs say where), no other copy is mapped into the process, and both work
  without a GPU: cufftGetVersion gives the wheel's release, NVRTC compiles a kernel to PTX (with
  the builtins beside it);
- a small FULL convolution gives the direct sum (on the CPU where there is no GPU).
"""
import ctypes
import importlib.metadata
import os
import subprocess
import sys

import numpy as np

import cudafftconvolution as cfc
from cudafftconvolution import _native

SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libdl.so.2",
                    "libpthread.so.0", "librt.so.1", "ld-linux-x86-64.so.2"}
# What each of the wheel's libraries may need beyond the system's, and who provides it.
PROVIDED = {"libcudafftconvolution.so": {"libcufft.so.12": "nvidia-cufft"},
            "libCudaFFTConvolutionVkFFT.so": {"libnvrtc.so.13": "nvidia-cuda-nvrtc",
                                              "libcuda.so.1": "the NVIDIA driver"}}


def fail(message):
    sys.exit(f"FAILED: {message}")


def wheel_file(distribution, name):
    """The file `name` that PyPI's `distribution` installed, from its RECORD."""
    for record in importlib.metadata.files(distribution) or []:
        if record.name == name:
            return os.path.realpath(record.locate())
    fail(f"{distribution} installed no {name}")


def mapped_files(prefix):
    with open("/proc/self/maps") as maps:
        paths = {line.split(maxsplit=5)[-1].strip() for line in maps if "/" in line}
    return {os.path.realpath(p) for p in paths if os.path.basename(p).startswith(prefix)}


def check_dependencies():
    package = os.path.dirname(cfc.__file__)
    for library, provided in PROVIDED.items():
        path = os.path.join(package, library)
        if not os.path.exists(path):
            fail(f"the wheel has no {library}")
        dynamic = subprocess.run(["readelf", "-d", path], check=True, capture_output=True, text=True).stdout
        needed = {line.split("[")[1].split("]")[0] for line in dynamic.splitlines() if "(NEEDED)" in line}
        unprovided = needed - SYSTEM_LIBRARIES - set(provided)
        if unprovided:
            fail(f"{library} needs {sorted(unprovided)}, which neither the system nor the [cuda] extra provides")
        print(f"{library} needs, beyond the C/C++ runtime: "
              + (", ".join(f"{n} ({provided[n]})" for n in sorted(needed & set(provided))) or "nothing"))


def check_loaded(label, source, soname, distribution):
    expected = wheel_file(distribution, soname)
    if source is None or not os.path.exists(source) or not os.path.samefile(source, expected):
        fail(f"{label} came from {source!r}, not from {distribution}'s {expected}")
    mapped = mapped_files(soname)
    if mapped != {expected}:
        fail(f"the process maps {sorted(mapped)} for {soname}, expected only {expected}")
    print(f"{label}: {source} ({distribution} {importlib.metadata.version(distribution)})")
    return ctypes.CDLL(expected), expected


def check_cufft(loaded):
    cufft, _ = loaded
    version = ctypes.c_int()
    if cufft.cufftGetVersion(ctypes.byref(version)) != 0:
        fail("cufftGetVersion failed")
    major, minor = (int(v) for v in importlib.metadata.version("nvidia-cufft").split(".")[:2])
    if version.value // 1000 != major or version.value // 100 % 10 != minor:
        fail(f"cufftGetVersion gives {version.value}, the wheel is nvidia-cufft {major}.{minor}")
    print(f"cuFFT {version.value} answers")


def check_nvrtc(loaded):
    nvrtc, path = loaded
    kernel = b'extern "C" __global__ void twice(float * x) { x[threadIdx.x] *= 2.0f; }'
    program = ctypes.c_void_p()
    if nvrtc.nvrtcCreateProgram(ctypes.byref(program), kernel, b"twice.cu", 0, None, None) != 0:
        fail("nvrtcCreateProgram failed")
    options = (ctypes.c_char_p * 1)(b"--gpu-architecture=compute_75")
    status = nvrtc.nvrtcCompileProgram(program, 1, options)
    size = ctypes.c_size_t()
    if status != 0 or nvrtc.nvrtcGetPTXSize(program, ctypes.byref(size)) != 0:
        fail(f"NVRTC cannot compile a kernel (status {status})")
    ptx = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetPTX(program, ptx)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    if b".entry twice" not in ptx.value:
        fail("NVRTC's PTX lacks the kernel's entry")
    builtins = mapped_files("libnvrtc-builtins")
    if not builtins or any(os.path.dirname(b) != os.path.dirname(path) for b in builtins):
        fail(f"NVRTC compiled with the builtins {sorted(builtins)}, not those beside {path}")
    print(f"NVRTC compiles a kernel ({size.value} bytes of PTX)")


def check_convolution():
    rng = np.random.default_rng(7)
    image = rng.random((9, 12), dtype=np.float32)
    kernel = rng.random((3, 5), dtype=np.float32)
    result = cfc.convolve(image, kernel, mode="full", boundary="constant", constant=0.0)
    direct = np.zeros((11, 16))
    for (i, j), weight in np.ndenumerate(kernel):
        direct[i:i + 9, j:j + 12] += weight * image.astype(np.float64)
    error = np.abs(result - direct).max()
    if result.shape != direct.shape or error > 1e-4:
        fail(f"the FULL convolution differs from the direct sum by {error}")
    expected = "gpu" if cfc.gpu_available() else "cpu"
    if cfc.last_compute_device() != expected:
        fail(f"the convolution ran on the {cfc.last_compute_device()}, expected the {expected}")
    print(f"a 9x12 (*) 3x5 FULL convolution on the {cfc.last_compute_device()} matches the direct sum"
          f" (max error {error:.1e})")


def main():
    if _native.LOAD_ERROR is not None:
        fail(f"the native library did not load: {_native.LOAD_ERROR}")
    check_dependencies()
    check_cufft(check_loaded("cuFFT", cfc.CUFFT_SOURCE, _native.CUFFT_SONAME, "nvidia-cufft"))
    check_nvrtc(check_loaded("NVRTC", cfc.NVRTC_SOURCE, _native.NVRTC_SONAME, "nvidia-cuda-nvrtc"))
    check_convolution()
    print("GPU:", cfc.gpu_available(), cfc.gpu_unavailable_reason() or "")


if __name__ == "__main__":
    main()
