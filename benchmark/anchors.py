#!/usr/bin/env python3
"""Anchors for the benchmark, run on the GPU machine: the same cases through
cupyx.scipy.signal.fftconvolve (data already on the GPU, and NumPy in / NumPy out) and a torch
rfftn/irfftn version (NumPy in / out), then one side-by-side table with the C++ harness's JSON.

    python3 benchmark/anchors.py [--cases abc] [--repeats N] [--cpp bench.jsonl]

Medians of warm runs; the GPU side is synchronised before the clock is read. Inputs are random
(never zeros). 'same' for odd kernels equals ITK's SAME with a zero boundary; the harness uses
ITK's default boundary, which does not change the cost.
"""
import argparse
import json
import time

import numpy as np

CASES = {
    "a": ((128, 512, 512), (128, 256, 256)),
    "b": ((128, 512, 512), (15, 15, 15)),
    "c": ((512, 1024, 1024), (31, 31, 31)),
}


def median_ms(function, repeats, synchronize):
    function()
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def cupy_anchors(image, kernel, repeats):
    import cupy as cp
    import cupyx.scipy.signal as signal

    sync = cp.cuda.Device().synchronize
    image_gpu, kernel_gpu = cp.asarray(image), cp.asarray(kernel)
    on_gpu = median_ms(lambda: signal.fftconvolve(image_gpu, kernel_gpu, mode="same"), repeats, sync)
    host = median_ms(lambda: cp.asnumpy(signal.fftconvolve(cp.asarray(image), kernel_gpu, mode="same")), repeats, sync)
    pool = cp.get_default_memory_pool()
    peak = pool.total_bytes()
    del image_gpu, kernel_gpu
    pool.free_all_blocks()
    cp.fft.config.get_plan_cache().clear()
    return on_gpu, host, peak


def torch_anchor(image, kernel, repeats):
    import torch

    shape = [n + k - 1 for n, k in zip(image.shape, kernel.shape)]
    kernel_gpu = torch.from_numpy(kernel).cuda()
    kernel_spectrum = torch.fft.rfftn(kernel_gpu, s=shape)
    start = [(k - 1) // 2 for k in kernel.shape]

    def run():
        x = torch.from_numpy(image).cuda()
        y = torch.fft.irfftn(torch.fft.rfftn(x, s=shape) * kernel_spectrum, s=shape)
        y = y[tuple(slice(s, s + n) for s, n in zip(start, image.shape))]
        return y.cpu().numpy()

    host = median_ms(run, repeats, torch.cuda.synchronize)
    del kernel_gpu, kernel_spectrum
    torch.cuda.empty_cache()
    return host


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="abc")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cpp", help="JSON lines from CudaFFTConvolutionBenchmark")
    args = parser.parse_args()
    cpp = {}
    if args.cpp:
        for line in open(args.cpp):
            if line.startswith("{"):
                record = json.loads(line)
                if record["mode"] == "same":
                    cpp[record["case"]] = record
    rng = np.random.default_rng(1)
    rows = []
    for case in args.cases:
        if case not in CASES:
            continue
        image_shape, kernel_shape = CASES[case]
        image = rng.random(image_shape, dtype=np.float32) - 0.3
        kernel = rng.random(kernel_shape, dtype=np.float32) + 0.05
        kernel /= kernel.sum()
        on_gpu, host, peak = cupy_anchors(image, kernel, args.repeats)
        torch_host = torch_anchor(image, kernel, args.repeats)
        record = {"case": case, "cupy_on_gpu_ms": on_gpu, "cupy_host_ms": host, "cupy_pool_bytes": peak,
                  "torch_host_ms": torch_host}
        print(json.dumps(record), flush=True)
        rows.append(record)
    print()
    header = ("case", "this filter (host->host)", "CuPy on GPU", "CuPy host->host", "torch host->host",
              "ITK CPU", "vs CuPy host", "vs ITK CPU", "peak GPU")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for record in rows:
        mine = cpp.get(record["case"], {})
        ours = mine.get("warm_median_ms")
        itk = mine.get("itk_cpu_ms")
        cells = [record["case"],
                 f"{ours:.1f} ms" if ours else "-",
                 f"{record['cupy_on_gpu_ms']:.1f} ms",
                 f"{record['cupy_host_ms']:.1f} ms",
                 f"{record['torch_host_ms']:.1f} ms",
                 f"{itk / 1e3:.2f} s" if itk else "-",
                 f"{record['cupy_host_ms'] / ours:.1f}x" if ours else "-",
                 f"{itk / ours:.0f}x" if ours and itk else "-",
                 f"{mine['peak_gpu_bytes'] / 2**30:.2f} GiB (CuPy pool {record['cupy_pool_bytes'] / 2**30:.2f})"
                 if mine else "-"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
