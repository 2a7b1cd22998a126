#!/usr/bin/env python3
"""Richardson-Lucy deconvolution of the example notebook's phantom, plain and accelerated.

The phantom (three solid spheres) of convolution.ipynb and a widefield PSF computed from a
microscope's parameters (cudafftconvolution.psf.gibson_lanni: an NA 1.4 oil objective, 0.52 um
emission, the spheres in water 5 um below the coverslip; --psf gaussian-beam: the notebook's
Gaussian-beam model instead) are blurred with the PSF (a zero boundary: the object is zero beyond the
volume, so SAME is the physical FULL convolution cropped to the camera), Poisson noise is added
(fixed seed), and the result is deconvolved with richardson_lucy (non-circulant edges), plain
and with Biggs-Andrews acceleration. Written to the output folder:
- phantom_xy_zy.png, blurred_xy_zy.png, rl_plain_xy_zy.png, rl_accelerated_xy_zy.png: xy | zy
  maximum-intensity projections;
- divergence.png: the I-divergence per iteration, plain and accelerated;
- summary.json (and the same printed): sizes, device, timings, iterations, divergences, errors.

    python examples/deconvolution_demo.py [OUT] [--scale 0.25] [--iterations 50] [--device cpu]

--scale 1 is the notebook's size (a 128x512x512 volume, a 128x256x256 PSF: a GPU's work);
0.25 runs on a CPU in about a minute.
"""
import argparse
import json
import os
import platform
import time

import numpy as np

import cudafftconvolution as cfc


def phantom(shape, radius, centres):
    """convolution.ipynb's phantom: solid spheres of value 1 (centres as x, y, z)."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    volume = np.zeros(shape, np.float32)
    for cx, cy, cz in centres:
        volume[(x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius**2] = 1.0
    return volume


def gaussian_beam_psf(shape, sigma0, rayleigh_range):
    """convolution.ipynb's widefield PSF: each z plane a Gaussian of width sigma0 sqrt(1 + (z/zR)^2),
    each plane carrying the same energy."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    z, y, x = z - shape[0] // 2, y - shape[1] // 2, x - shape[2] // 2
    sigma = sigma0 * np.sqrt(1.0 + (z / rayleigh_range) ** 2)
    planes = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return (planes / planes.sum(axis=(1, 2), keepdims=True)).astype(np.float32)


# Voxel sizes at --scale 1 (um): a 100x objective on a 6.5 um camera, 0.2 um steps; 1/scale larger.
LATERAL_VOXEL, AXIAL_VOXEL = 0.065, 0.2


def microscope_psf(shape, scale):
    """A Gibson-Lanni widefield PSF: NA 1.4 oil objective, 0.52 um emission, a water sample 5 um
    below the coverslip (spherical aberration, focal shift), normalised to sum 1."""
    spacing = (AXIAL_VOXEL / scale, LATERAL_VOXEL / scale, LATERAL_VOXEL / scale)
    return cfc.psf.gibson_lanni(shape, spacing, na=1.4, wavelength=0.52, immersion_index=1.515, sample_index=1.33,
                                particle_depth=5.0)


def show_xy_zy_max(volume, title, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [volume.shape[2], volume.shape[0]]})
    axes[0].imshow(volume.max(axis=0), cmap="magma")
    axes[0].set_title(f"{title}: xy")
    axes[1].imshow(volume.max(axis=2).T, cmap="magma")
    axes[1].set_title("zy")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_divergence(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        axis.semilogy(range(len(values)), values, label=label)
    axis.set_xlabel("iteration (the estimate it started from)")
    axis.set_ylabel("I-divergence of the data from the blurred estimate")
    axis.legend()
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="deconvolution-demo", help="output folder (default %(default)s)")
    parser.add_argument("--scale", type=float, default=0.25, help="1: the notebook's 128x512x512 (default %(default)s)")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--photons", type=float, default=200.0, help="expected counts of a sphere's brightest voxel")
    parser.add_argument("--device", default=None, help="None (the GPU when present), 'cpu' or 'gpu'")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--psf", choices=("gibson-lanni", "gaussian-beam"), default="gibson-lanni",
                        help="the computed microscope PSF (default) or the notebook's Gaussian-beam model")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    s = args.scale

    def size(n):
        return max(int(round(n * s)), 1)

    image_shape = (size(128), size(512), size(512))
    psf_shape = (size(128), size(256), size(256))
    truth = phantom(image_shape, 50 * s, [(100 * s, 100 * s, 50 * s), (250 * s, 200 * s, 100 * s),
                                          (400 * s, 400 * s, 150 * s)])
    psf = microscope_psf(psf_shape, s) if args.psf == "gibson-lanni" else gaussian_beam_psf(psf_shape, 2.0 * s, 6.0 * s)
    summary = {"image_shape": image_shape, "psf_shape": psf_shape, "psf": args.psf, "iterations": args.iterations,
               "photons": args.photons, "seed": args.seed, "gpu_available": cfc.gpu_available(),
               "gpu_unavailable_reason": cfc.gpu_unavailable_reason(), "host": platform.node()}
    print(f"phantom {image_shape}, {args.psf} PSF {psf_shape}; GPU: {cfc.gpu_available()} {cfc.gpu_unavailable_reason()}")

    start = time.perf_counter()
    blurred = cfc.convolve(truth, psf, mode="same", boundary="constant", normalize=True, device=args.device)
    summary["blur_seconds"] = time.perf_counter() - start
    rng = np.random.default_rng(args.seed)
    data = rng.poisson(np.maximum(blurred, 0) * args.photons / max(float(blurred.max()), 1e-12)).astype(np.float32)
    scale = args.photons / max(float(blurred.max()), 1e-12)  # counts per unit of the phantom
    summary["total_counts"] = float(data.sum(dtype=np.float64))
    try:
        estimate = cfc.estimate_deconvolution_memory(image_shape, psf_shape, edges="non-circulant", accelerate=True)
        summary["gpu_plan"] = {"peak_bytes": estimate.peak_bytes, "tiles": estimate.tiles,
                               "grid_shape": estimate.grid_shape}
        print(f"GPU plan (accelerated): {estimate.peak_bytes / 2**30:.2f} GiB, {estimate.tiles} tile(s), grid "
              f"{estimate.grid_shape}")
    except cfc.NoGPUError as why:
        print("no GPU plan without the native library:", why)

    results, curves = {}, {}
    for name, accelerate in (("plain", False), ("accelerated", True)):
        start = time.perf_counter()
        restored, divergence = cfc.richardson_lucy(data, psf, args.iterations, normalize=True, accelerate=accelerate,
                                                   return_divergence=True, device=args.device)
        seconds = time.perf_counter() - start
        info = cfc.last_deconvolution_info()
        results[name] = restored
        curves[name] = divergence
        error = float(np.sqrt(np.mean((restored / scale - truth) ** 2)))
        summary[name] = {"seconds": seconds, "ms_per_iteration": 1e3 * seconds / max(args.iterations, 1),
                         "device": info.compute_device, "iterations": info.iterations, "tiles": info.tiles,
                         "grid_shape": info.grid_shape, "planned_peak_bytes": info.peak_bytes,
                         "divergence_first": divergence[0] if divergence else None,
                         "divergence_last_reported": divergence[-1] if divergence else None,
                         "rms_error_vs_phantom": error}
        print(f"{name:11s}: {args.iterations} iterations in {seconds:.2f} s on {info.compute_device} "
              f"({summary[name]['ms_per_iteration']:.1f} ms/iteration), grid {info.grid_shape}, RMS error {error:.4f}")
    summary["rms_error_of_the_data"] = float(np.sqrt(np.mean((data / scale - truth) ** 2)))
    plain = curves["plain"]
    if plain:
        target = plain[-1]
        reached = next((i for i, value in enumerate(curves["accelerated"]) if value <= target), None)
        summary["accelerated_reaches_the_plain_final_divergence_at"] = reached
        print(f"the accelerated run reaches the plain run's last divergence ({target:.6g}) at iteration {reached}")

    show_xy_zy_max(truth, "phantom", os.path.join(args.out, "phantom_xy_zy.png"))
    show_xy_zy_max(data, "blurred + Poisson noise", os.path.join(args.out, "blurred_xy_zy.png"))
    show_xy_zy_max(results["plain"], f"Richardson-Lucy, {args.iterations} iterations",
                   os.path.join(args.out, "rl_plain_xy_zy.png"))
    show_xy_zy_max(results["accelerated"], f"accelerated Richardson-Lucy, {args.iterations} iterations",
                   os.path.join(args.out, "rl_accelerated_xy_zy.png"))
    plot_divergence(curves, os.path.join(args.out, "divergence.png"))
    summary["divergence"] = curves
    with open(os.path.join(args.out, "summary.json"), "w") as file:
        json.dump(summary, file, indent=1, default=lambda value: list(value) if isinstance(value, tuple) else str(value))
    print("wrote", ", ".join(sorted(name for name in os.listdir(args.out) if name.endswith((".png", ".json")))),
          "to", os.path.abspath(args.out))
    return summary


if __name__ == "__main__":
    main()
