#!/usr/bin/env python3
"""Richardson-Lucy on the GPU machine: the package against a CuPy loop (JSON lines, and a file).

    python benchmarks/benchmark_deconvolution.py [--cases notebook,deconwolf,small] [--repeats N]
        [--iterations N] [--ffts cufft,vkfft-unpruned,vkfft] [--output benchmark-deconvolution.json]

Cases (NumPy order):
- notebook: the example notebook's 128x512x512 volume and 128x256x256 PSF (CuPy loop grid 256x768x768);
- deconwolf: deconwolf's benchmark, a 35x2048x2048 image and a 69x181x181 PSF (CuPy loop grid
  104x2240x2240);
- small: 32x128x128 and 15x31x31 (quick check).
For each case:
- device: richardson_lucy on CuPy arrays (device resident; the PSF from host memory, its spectrum
  cached between calls), plain with boundary and non-circulant edges, accelerated with both, for
  each FFT configuration of --ffts (fft_backends.py; the first call's wall time after new engines,
  plans made then, is first_call_ms): ms
  per iteration ((time of N iterations - time of 0) / N, so the set-up is apart), set-up ms, the
  planned peak, the engine's device bytes after the run and the device memory the run took
  (cudaMemGetInfo, beyond the caller's arrays);
- numpy: richardson_lucy from NumPy to NumPy, end to end (notebook: 100 iterations; deconwolf: 50,
  non-circulant, its case), the transfers included;
- cupy_loop: Richardson-Lucy as a Python user writes it with CuPy: float32, rfftn, the transfer
  function computed once, circulant on the zero-padded grid, with the pool's peak
  (pool.total_bytes());
- tiled: richardson_lucy NumPy to NumPy, 20 non-circulant iterations, untiled and under budgets of
  1/3 and 1/6 of the untiled plan's peak (the halo from the PSF's energy, the tiling of least
  predicted time): time ratios, tiles, the seam error (max |tiled - untiled| / max |untiled|),
  the planned peak against the engine's device bytes; then the seam error and time against the
  halo's energy fraction under 1/6.
Each line has the grid's voxels, ms per iteration and the effective bandwidth assuming 100 bytes of
device traffic per grid voxel and iteration. Timed with CUDA events and synchronisation, after one
warm-up run; medians over the repeats.
"""
import argparse
import json
import time

import numpy as np

import fft_backends

CASES = {
    "notebook": {"image": (128, 512, 512), "psf": (128, 256, 256), "numpy_iterations": 100,
                 "loop_grid": (256, 768, 768)},
    "deconwolf": {"image": (35, 2048, 2048), "psf": (69, 181, 181), "numpy_iterations": 50,
                  "loop_grid": (104, 2240, 2240)},
    "small": {"image": (32, 128, 128), "psf": (15, 31, 31), "numpy_iterations": 50, "loop_grid": None},
}
BYTES_PER_VOXEL = 100
RECORDS = []


def emit(record):
    RECORDS.append(record)
    print(json.dumps(record), flush=True)


def with_bandwidth(record, voxels, ms_per_iteration):
    record["grid_voxels"] = int(voxels)
    record["ms_per_iteration"] = ms_per_iteration
    record["effective_GB_per_s"] = BYTES_PER_VOXEL * voxels / (ms_per_iteration * 1e-3) / 1e9 if ms_per_iteration else None
    return record


def gaussian_beam_psf(shape, sigma0, rayleigh_range):
    """The example notebook's widefield PSF, normalised."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    z, y, x = z - shape[0] // 2, y - shape[1] // 2, x - shape[2] // 2
    sigma = sigma0 * np.sqrt(1.0 + (z / rayleigh_range) ** 2)
    planes = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    planes /= planes.sum(axis=(1, 2), keepdims=True)
    return (planes / planes.sum()).astype(np.float32)


def problem(case):
    """A positive image (sparse bright spots on a background, Poisson counts) and the PSF."""
    spec = CASES[case]
    rng = np.random.default_rng(0)
    image = (rng.random(spec["image"], dtype=np.float32) ** 16 * 200 + 5).astype(np.float32)
    image = rng.poisson(image).astype(np.float32)
    psf = gaussian_beam_psf(spec["psf"], 2.0, 6.0)
    return image, psf


def cuda_timer():
    import cupy as cp

    def run(function):
        stream = cp.cuda.get_current_stream()
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        stream.synchronize()
        wall = time.perf_counter()
        start.record(stream)
        function()
        stop.record(stream)
        stop.synchronize()
        return cp.cuda.get_elapsed_time(start, stop), (time.perf_counter() - wall) * 1e3

    return run


def median_ms(function, repeats, timer):
    timer(function)  # warm-up
    samples = [timer(function) for _ in range(repeats)]
    # CUDA-event time, except where the call waits on the host (then the wall time is the larger)
    return float(np.median([max(event, wall) for event, wall in samples]))


def package_on_device(case, image, psf, repeats, iterations, fft):
    import cupy as cp

    import cudafftconvolution as cfc
    from cudafftconvolution import _deconvolution

    fft_backends.use(fft)
    timer = cuda_timer()
    pool = cp.get_default_memory_pool()
    image_gpu = cp.asarray(image)
    out = cp.empty_like(image_gpu)
    for edges, accelerate in (("boundary", False), ("non-circulant", False), ("boundary", True),
                              ("non-circulant", True)):
        cfc.release()
        pool.free_all_blocks()
        free_before = cp.cuda.runtime.memGetInfo()[0]
        try:
            def run(n):
                return lambda: cfc.richardson_lucy(image_gpu, psf, n, edges=edges, accelerate=accelerate, out=out)

            first_call = timer(run(1))[1]
            setup = median_ms(run(0), repeats, timer)
            total = median_ms(run(iterations), repeats, timer)
        except (cfc.CudaOutOfMemoryError, cfc.GPUMemoryBudgetError) as error:
            emit({"bench": "device", "fft": fft, "case": case, "edges": edges, "accelerate": accelerate,
                  "error": str(error)})
            continue
        info = cfc.last_deconvolution_info()
        taken = free_before - cp.cuda.runtime.memGetInfo()[0]
        voxels = int(np.prod(info.grid_shape))
        per_iteration = (total - setup) / iterations
        emit(with_bandwidth({"bench": "device", "fft": fft, "case": case, "edges": edges, "accelerate": accelerate,
                             "iterations": iterations, "first_call_ms": first_call, "total_ms": total, "setup_ms": setup, "tiles": info.tiles,
                             "grid": info.grid_shape, "planned_peak_bytes": info.peak_bytes,
                             "engine_bytes": _deconvolution._allocated_gpu_bytes(image_gpu.device.id),
                             "device_bytes_taken": int(taken), "io_bytes": 2 * image.nbytes}, voxels, per_iteration))
    image_gpu = out = None
    cfc.release()
    pool.free_all_blocks()


def numpy_end_to_end(case, image, psf, repeats, iterations):
    import cudafftconvolution as cfc
    from cudafftconvolution import _deconvolution

    def timer(function):
        start = time.perf_counter()
        function()
        elapsed = (time.perf_counter() - start) * 1e3
        return elapsed, elapsed

    cfc.release()
    out = np.empty_like(image)
    try:
        total = median_ms(lambda: cfc.richardson_lucy(image, psf, iterations, out=out, device="gpu"), repeats, timer)
    except (cfc.CudaOutOfMemoryError, cfc.GPUMemoryBudgetError) as error:
        emit({"bench": "numpy", "case": case, "error": str(error)})
        return
    info = cfc.last_deconvolution_info()
    voxels = int(np.prod(info.grid_shape))
    emit(with_bandwidth({"bench": "numpy", "case": case, "edges": "non-circulant", "iterations": iterations,
                         "total_ms": total, "tiles": info.tiles, "grid": info.grid_shape,
                         "planned_peak_bytes": info.peak_bytes, "engine_bytes": _deconvolution._allocated_gpu_bytes(),
                         "note": "end to end, host transfers and set-up included"}, voxels, total / iterations))
    cfc.release()


def tiled_numpy(case, image, psf, repeats, iterations=20):
    """Untiled against tiled under 1/3 and 1/6 of the untiled peak, NumPy in and out."""
    import cudafftconvolution as cfc
    from cudafftconvolution import _deconvolution

    def timer(function):
        start = time.perf_counter()
        function()
        elapsed = (time.perf_counter() - start) * 1e3
        return elapsed, elapsed

    def run(budget, fraction=None, repeat=repeats):
        cfc.release()
        out = np.empty_like(image)
        call = lambda: cfc.richardson_lucy(image, psf, iterations, out=out, device="gpu", memory_budget=budget,
                                           halo_energy_fraction=fraction)
        total = median_ms(call, repeat, timer) if repeat else timer(call)[0]
        info = cfc.last_deconvolution_info()
        estimate = cfc.estimate_deconvolution_memory(image.shape, psf.shape, edges="non-circulant", psf=psf,
                                                     iterations=iterations, memory_budget=budget,
                                                     halo_energy_fraction=fraction)
        record = {"bench": "tiled", "case": case, "iterations": iterations, "budget_bytes": budget,
                  "halo_energy_fraction": cfc.HALO_ENERGY_FRACTION if fraction is None else fraction,
                  "total_ms": total, "tiles": info.tiles, "grid": info.grid_shape,
                  "estimate_bytes": estimate.peak_bytes, "estimate_tiles": estimate.tiles,
                  "engine_bytes": _deconvolution._allocated_gpu_bytes()}
        return out, record

    untiled, base = run(None)
    emit(dict(base, ratio=1.0))
    peak = base["estimate_bytes"]
    scale = float(np.abs(untiled).max())
    for divisor in (3, 6):
        tiled, record = run(peak // divisor)
        record.update(ratio=record["total_ms"] / base["total_ms"], budget=f"1/{divisor} of the untiled peak",
                      seam=float(np.abs(tiled.astype(np.float64) - untiled).max() / scale))
        emit(record)
    for fraction in (1e-1, 1e-3, 1e-4):
        tiled, record = run(peak // 6, fraction, 0)
        record.update(ratio=record["total_ms"] / base["total_ms"], budget="1/6 of the untiled peak (one run)",
                      seam=float(np.abs(tiled.astype(np.float64) - untiled).max() / scale))
        emit(record)
    cfc.release()


def cupy_loop(case, image, psf, repeats, iterations, grid):
    """Richardson-Lucy as a CuPy user writes it (circulant on the zero-padded grid)."""
    import cupy as cp
    import cupyx.scipy.fft as cfft

    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    cp.fft.config.get_plan_cache().clear()
    if grid is None:
        grid = tuple(cfft.next_fast_len(n + k - 1, real=True) for n, k in zip(image.shape, psf.shape))
    timer = cuda_timer()
    try:
        data = cp.zeros(grid, cp.float32)
        data[tuple(slice(0, n) for n in image.shape)] = cp.asarray(image)
        placed = cp.zeros(grid, cp.float32)
        placed[tuple(slice(0, k) for k in psf.shape)] = cp.asarray(psf)
        placed = cp.roll(placed, [-(k // 2) for k in psf.shape], axis=(0, 1, 2))
        transfer = cp.fft.rfftn(placed)
        adjoint = cp.conj(transfer)
        del placed
        state = {"x": data.copy()}

        def iterate(n):
            def run():
                x = state["x"]
                for _ in range(n):
                    blurred = cp.fft.irfftn(cp.fft.rfftn(x) * transfer, s=grid)
                    ratio = data / cp.maximum(blurred, 1e-6)
                    x = x * cp.fft.irfftn(cp.fft.rfftn(ratio) * adjoint, s=grid)
                state["x"] = x
            return run

        total = median_ms(iterate(iterations), repeats, timer)
        emit(with_bandwidth({"bench": "cupy_loop", "case": case, "iterations": iterations, "total_ms": total,
                             "grid": list(grid), "pool_bytes": pool.total_bytes()}, int(np.prod(grid)),
                            total / iterations))
    except cp.cuda.memory.OutOfMemoryError as error:
        emit({"bench": "cupy_loop", "case": case, "grid": list(grid), "error": str(error)})
    finally:
        state = data = transfer = adjoint = None
        pool.free_all_blocks()
        cp.fft.config.get_plan_cache().clear()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="notebook,deconwolf,small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20, help="per-iteration timing runs (default %(default)s)")
    parser.add_argument("--output", default="benchmark-deconvolution.json")
    parser.add_argument("--skip", default="", help="comma-separated benches to skip: device,numpy,cupy_loop,tiled")
    parser.add_argument("--ffts", default="default",
                        help="FFT configurations of the device rows, from " + ",".join(fft_backends.CONFIGURATIONS))
    args = parser.parse_args()
    ffts = fft_backends.names(args.ffts)
    import cudafftconvolution as cfc

    if not cfc.gpu_available():
        raise SystemExit(f"no GPU: {cfc.gpu_unavailable_reason()}")
    try:
        import cupy
    except ImportError:
        cupy = None
    skip = set(filter(None, args.skip.split(",")))
    for case in filter(None, args.cases.split(",")):
        image, psf = problem(case)
        spec = CASES[case]
        print(f"# {case}: image {image.shape}, PSF {psf.shape}", flush=True)
        if cupy is not None and "device" not in skip:
            for fft in ffts:
                package_on_device(case, image, psf, args.repeats, args.iterations, fft)
        if "numpy" not in skip:
            numpy_end_to_end(case, image, psf, max(1, args.repeats // 2), spec["numpy_iterations"])
        if cupy is not None and "cupy_loop" not in skip:
            cupy_loop(case, image, psf, args.repeats, args.iterations, spec["loop_grid"])
        if "tiled" not in skip:
            tiled_numpy(case, image, psf, max(1, args.repeats // 2))
        for record in RECORDS:
            if record.get("case") == case and "ms_per_iteration" in record:
                print(f"#   {record['bench']:9s} {record.get('fft', ''):14s} {record.get('edges', ''):13s} "
                      f"{'accelerated' if record.get('accelerate') else '':11s} grid {record['grid_voxels'] / 1e6:8.1f} "
                      f"Mvoxels  {record['ms_per_iteration']:8.2f} ms/iteration  "
                      f"{record['effective_GB_per_s']:7.0f} GB/s at {BYTES_PER_VOXEL} B/voxel", flush=True)
    with open(args.output, "w") as file:
        json.dump({"device": cupy.cuda.runtime.getDeviceProperties(0)["name"].decode() if cupy else None,
                   "bytes_per_voxel_assumed": BYTES_PER_VOXEL, "records": RECORDS}, file, indent=1)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
