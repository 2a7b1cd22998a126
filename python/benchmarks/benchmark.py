#!/usr/bin/env python3
"""The package against CuPy, PyTorch and SciPy on the GPU machine, in one run (JSON lines).

    python benchmarks/benchmark.py [--cases abc] [--repeats N] [--budget-factor F]
        [--boundary zero-flux-neumann|constant|periodic] [--ffts cufft,vkfft-unpruned,vkfft]

Cases (NumPy order, SAME): (a) 128x512x512 * 128x256x256, (b) 128x512x512 * 15^3,
(c) 512x1024x1024 * 31^3. For each case:
- device: CuPy array in and out through a Convolver (kernel spectrum cached), the default budget,
  and under a budget of F x (input + output bytes); the engine's bytes and the device memory the
  first call took (cudaMemGetInfo, beyond the caller's arrays); the package's boundary is --boundary
  (constant: zero, as the CuPy rows pad), for each FFT configuration of --ffts (fft_backends.py);
- cupy_fftconvolve: cupyx.scipy.signal.fftconvolve(mode="same") with its pool;
- cupy_careful: the kernel's transfer function computed once, then pad, rfftn, multiply, irfftn
  and crop per image, with its pool; torch_careful: the same with torch.fft;
- numpy: NumPy in and out through a Convolver (host path), a new output each call (as the C++
  filter's batch) and into one reused output (out=, as the C++ filter's same); scipy: scipy.signal.fftconvolve ((b));
- first: import time and first call in a fresh process.
Medians of warm calls; each call is timed from before it is made until the GPU has finished it.
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

import fft_backends

CASES = {
    "a": ((128, 512, 512), (128, 256, 256)),
    "b": ((128, 512, 512), (15, 15, 15)),
    "c": ((512, 1024, 1024), (31, 31, 31)),
}


def emit(record):
    print(json.dumps(record), flush=True)


def median_ms(function, repeats, synchronize):
    function()
    synchronize()
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        function()
        synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.min(times))


def package_on_device(case, image, kernel, repeats, budget, boundary, fft):
    import cupy as cp

    import cudafftconvolution as cfc

    fft_backends.use(fft)
    sync = cp.cuda.get_current_stream().synchronize
    image_gpu = cp.asarray(image)
    output = cfc.convolve(image_gpu, kernel, device="gpu")  # allocates the output's pool block
    del output
    cfc.release()
    pool = cp.get_default_memory_pool()
    free_before = cp.cuda.runtime.memGetInfo()[0]
    pool_before = pool.total_bytes()
    with cfc.Convolver(kernel, boundary=boundary, memory_budget=budget) as blur:
        wall = time.perf_counter()
        result = blur(image_gpu)
        sync()
        first_call = (time.perf_counter() - wall) * 1e3
        taken = free_before - cp.cuda.runtime.memGetInfo()[0] - (pool.total_bytes() - pool_before)
        median, fastest = median_ms(lambda: blur(image_gpu), repeats, sync)
        emit({"bench": "device", "fft_config": fft, "boundary": boundary, "case": case, "budget": budget or 0,
              "first_call_ms": first_call, "median_ms": median, "min_ms": fastest,
              "tiles": blur.last_estimate.tiles, "fft": blur.last_estimate.fft_shape,
              "reused_spectrum": blur.last_reused_spectrum, "engine_bytes": blur.allocated_gpu_bytes(),
              "device_bytes_taken": int(taken), "estimate_peak": blur.last_estimate.peak_bytes,
              "io_bytes": 2 * image.nbytes})
        check = result
    return check


def cupy_fftconvolve(case, image, kernel, repeats):
    import cupy as cp
    import cupyx.scipy.signal as signal

    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    image_gpu, kernel_gpu = cp.asarray(image), cp.asarray(kernel)
    sync = cp.cuda.get_current_stream().synchronize
    median, fastest = median_ms(lambda: signal.fftconvolve(image_gpu, kernel_gpu, mode="same"), repeats, sync)
    emit({"bench": "cupy_fftconvolve", "case": case, "median_ms": median, "min_ms": fastest,
          "pool_bytes": pool.total_bytes()})
    del image_gpu, kernel_gpu
    pool.free_all_blocks()
    cp.fft.config.get_plan_cache().clear()


def cupy_careful(case, image, kernel, repeats):
    import cupy as cp
    import cupyx.scipy.fft as cfft

    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    shape = [cfft.next_fast_len(n + k - 1, real=True) for n, k in zip(image.shape, kernel.shape)]
    transfer = cp.fft.rfftn(cp.asarray(kernel), s=shape)
    start = [(k - 1) // 2 for k in kernel.shape]
    crop = tuple(slice(s, s + n) for s, n in zip(start, image.shape))
    place = tuple(slice(0, n) for n in image.shape)
    image_gpu = cp.asarray(image)

    def run():
        padded = cp.zeros(shape, cp.float32)
        padded[place] = image_gpu
        return cp.fft.irfftn(cp.fft.rfftn(padded) * transfer, s=shape)[crop].copy()

    sync = cp.cuda.get_current_stream().synchronize
    median, fastest = median_ms(run, repeats, sync)
    emit({"bench": "cupy_careful", "case": case, "median_ms": median, "min_ms": fastest,
          "pool_bytes": pool.total_bytes()})
    del transfer, image_gpu
    pool.free_all_blocks()
    cp.fft.config.get_plan_cache().clear()


def torch_careful(case, image, kernel, repeats):
    import torch

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    shape = [n + k - 1 for n, k in zip(image.shape, kernel.shape)]
    transfer = torch.fft.rfftn(torch.from_numpy(kernel).cuda(), s=shape)
    start = [(k - 1) // 2 for k in kernel.shape]
    crop = tuple(slice(s, s + n) for s, n in zip(start, image.shape))
    place = tuple(slice(0, n) for n in image.shape)
    image_gpu = torch.from_numpy(image).cuda()

    def run():
        padded = torch.zeros(shape, dtype=torch.float32, device="cuda")
        padded[place] = image_gpu
        return torch.fft.irfftn(torch.fft.rfftn(padded) * transfer, s=shape)[crop].contiguous()

    median, fastest = median_ms(run, repeats, torch.cuda.synchronize)
    emit({"bench": "torch_careful", "case": case, "median_ms": median, "min_ms": fastest,
          "peak_bytes": torch.cuda.max_memory_allocated()})
    del transfer, image_gpu
    torch.cuda.empty_cache()


def numpy_path(case, image, kernel, repeats):
    import cudafftconvolution as cfc

    with cfc.Convolver(kernel, device="gpu") as blur:
        median, fastest = median_ms(lambda: blur(image), repeats, lambda: None)
        emit({"bench": "numpy", "case": case, "median_ms": median, "min_ms": fastest,
              "tiles": blur.last_estimate.tiles})
        out = np.empty_like(image)
        median, fastest = median_ms(lambda: blur(image, out=out), repeats, lambda: None)
        emit({"bench": "numpy_out", "case": case, "median_ms": median, "min_ms": fastest,
              "tiles": blur.last_estimate.tiles})


def scipy_path(case, image, kernel):
    from scipy.signal import fftconvolve

    start = time.perf_counter()
    fftconvolve(image, kernel, mode="same")
    emit({"bench": "scipy", "case": case, "ms": (time.perf_counter() - start) * 1e3})


FIRST = r"""
import time, json
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import cudafftconvolution as cfc
t2 = time.perf_counter()
rng = np.random.default_rng(0)
image = rng.random((128, 512, 512), dtype=np.float32); kernel = rng.random((15, 15, 15), dtype=np.float32)
t3 = time.perf_counter()
cfc.convolve(image, kernel)
t4 = time.perf_counter()
cfc.convolve(image, kernel)
t5 = time.perf_counter()
print(json.dumps({"bench": "first", "numpy_import_ms": (t1 - t0) * 1e3, "import_ms": (t2 - t1) * 1e3,
                  "first_call_ms": (t4 - t3) * 1e3, "second_call_ms": (t5 - t4) * 1e3,
                  "device": cfc.last_compute_device()}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="abc")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--budget-factor", type=float, default=1.5)
    parser.add_argument("--skip", default="", help="comma-separated benches to skip (budget: the budgeted device row)")
    parser.add_argument("--boundary", default="zero-flux-neumann", help="the package's boundary condition")
    parser.add_argument("--ffts", default="default",
                        help="FFT configurations of the device rows, from " + ",".join(fft_backends.CONFIGURATIONS))
    args = parser.parse_args()
    ffts = fft_backends.names(args.ffts)
    skip = set(args.skip.split(","))
    if "first" not in skip:
        subprocess.run([sys.executable, "-c", FIRST], check=True)
    for case in args.cases:
        image_shape, kernel_shape = CASES[case]
        rng = np.random.default_rng(1)
        image = rng.random(image_shape, dtype=np.float32)
        kernel = rng.random(kernel_shape, dtype=np.float32)
        for fft in ffts:
            package_on_device(case, image, kernel, args.repeats, None, args.boundary, fft)
            if "budget" not in skip:
                package_on_device(case, image, kernel, args.repeats, int(args.budget_factor * 2 * image.nbytes),
                                  args.boundary, fft)
        if "cupy" not in skip:
            cupy_fftconvolve(case, image, kernel, args.repeats)
            cupy_careful(case, image, kernel, args.repeats)
        if "torch" not in skip:
            torch_careful(case, image, kernel, args.repeats)
        if "numpy" not in skip:
            numpy_path(case, image, kernel, max(3, args.repeats // 2))
        if case == "b" and "scipy" not in skip:
            scipy_path(case, image, kernel)


if __name__ == "__main__":
    main()
