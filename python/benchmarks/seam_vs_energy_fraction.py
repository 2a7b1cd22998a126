#!/usr/bin/env python3
"""The seam error of tiles against the halo's energy fraction, on the CPU (NumPy, float64).

    python benchmarks/seam_vs_energy_fraction.py [--psf compact,beam,born-wolf] [--iterations 20]

For each PSF, the package plans a tiled non-circulant Richardson-Lucy (its halo from the PSF's
energy, estimate_deconvolution_memory(psf=...)), and the package's NumPy reference
(_deconvolution_cpu.deconvolve_block) deconvolves the whole image and its two halves along x,
each half with that halo of data; the seam error is max |tiled - untiled| / max |untiled|. PSFs:
- compact: a Gaussian, sigma 1.5 voxels laterally, 1 axially, in an 11x21x21 array;
- beam: the example notebook's widefield model (each plane a Gaussian of width
  2 sqrt(1 + (z/6)^2), every plane the same energy) in 33x65x65;
- born-wolf: a scalar widefield PSF (the defocused pupil's angular spectrum: NA 1.4, n 1.515,
  520 nm, 100 nm pixels, 250 nm planes) in 33x65x65; its energy reaches the array's edges.
Prints one JSON line per PSF and fraction.
"""
import argparse
import json

import numpy as np

import cudafftconvolution as cfc
from cudafftconvolution import _deconvolution_cpu as reference


def compact_psf():
    z, y, x = np.ogrid[:11, :21, :21]
    psf = np.exp(-((z - 5) ** 2 / 2.0 + ((y - 10) ** 2 + (x - 10) ** 2) / (2 * 1.5**2)))
    return psf / psf.sum()


def beam_psf(shape=(33, 65, 65), sigma0=2.0, rayleigh_range=6.0):
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    z, y, x = z - shape[0] // 2, y - shape[1] // 2, x - shape[2] // 2
    sigma = sigma0 * np.sqrt(1.0 + (z / rayleigh_range) ** 2)
    planes = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    planes /= planes.sum(axis=(1, 2), keepdims=True)
    return planes / planes.sum()


def born_wolf_psf(shape=(33, 65, 65), na=1.4, n=1.515, wavelength=0.52, pixel=0.1, plane=0.25):
    """|field|^2 of a circular pupil propagated to each defocus (angular spectrum), cropped."""
    pad = 4
    fy = np.fft.fftfreq(shape[1] * pad, pixel)[:, None]
    fx = np.fft.fftfreq(shape[2] * pad, pixel)[None, :]
    f2 = fx**2 + fy**2
    pupil = f2 <= (na / wavelength) ** 2
    kz = np.sqrt(np.maximum((n / wavelength) ** 2 - f2, 0.0))
    psf = np.empty(shape)
    cy, cx = shape[1] * pad // 2 - shape[1] // 2, shape[2] * pad // 2 - shape[2] // 2
    for i, z in enumerate((np.arange(shape[0]) - shape[0] // 2) * plane):
        field = np.fft.fftshift(np.fft.ifft2(pupil * np.exp(2j * np.pi * kz * z)))
        psf[i] = np.abs(field[cy: cy + shape[1], cx: cx + shape[2]]) ** 2
    return psf / psf.sum()


PSFS = {"compact": compact_psf, "beam": beam_psf, "born-wolf": born_wolf_psf}


def blurred_spots(shape, psf, seed=1):
    """Sparse bright spots on a background, blurred (zero outside) and Poisson counts."""
    rng = np.random.default_rng(seed)
    truth = rng.random(shape) ** 16 * 200 + 5
    grid = [s + k for s, k in zip(shape, psf.shape)]
    axes = tuple(range(3))
    blurred = np.fft.irfftn(np.fft.rfftn(truth, grid, axes=axes) * np.fft.rfftn(psf, grid, axes=axes), grid, axes=axes)
    blurred = blurred[tuple(slice(k // 2, k // 2 + s) for s, k in zip(shape, psf.shape))]
    return rng.poisson(np.maximum(blurred, 0)).astype(np.float64)


def package_halo(shape, psf, fraction, iterations):
    """The halo the package plans for this PSF (a budget that forces tiles on a larger image: the
    halo does not depend on the image)."""
    shape = (shape[0], 1024, 2048)
    options = dict(edges="non-circulant", psf=psf.astype(np.float32), iterations=iterations,
                   halo_energy_fraction=fraction)
    whole = cfc.estimate_deconvolution_memory(shape, psf.shape, **options)
    return cfc.estimate_deconvolution_memory(shape, psf.shape, memory_budget=whole.peak_bytes // 2, **options).halo


def deconvolve(data, psf, iterations):
    return reference.deconvolve_block(data, psf, iterations=iterations, edges="non-circulant")


def seam(data, psf, halo_x, iterations, untiled):
    """Two tiles split at the middle of x, each with halo_x voxels of data beyond its half."""
    n = data.shape[2]
    middle = n // 2
    low = reference.crop(deconvolve(data[:, :, : min(middle + halo_x, n)], psf, iterations), (0, 0, 0),
                         data.shape[:2] + (middle,))
    start = max(middle - halo_x, 0)
    high = reference.crop(deconvolve(data[:, :, start:], psf, iterations), (0, 0, middle - start),
                          data.shape[:2] + (n - middle,))
    tiled = np.concatenate([low, high], axis=2)
    return float(np.abs(tiled - untiled).max() / np.abs(untiled).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--psf", default="compact,beam,born-wolf")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--fractions", default="1e-1,1e-2,1e-3,1e-4")
    args = parser.parse_args()
    for name in args.psf.split(","):
        psf = PSFS[name]().astype(np.float32).astype(np.float64)
        shape = (20, 64, 200)
        data = blurred_spots(shape, psf)
        untiled = reference.crop(deconvolve(data, psf, args.iterations), (0, 0, 0), shape)
        for fraction in map(float, args.fractions.split(",")):
            halo = package_halo(shape, psf, fraction, args.iterations)
            if halo[2] >= shape[2] // 2:
                print(json.dumps({"psf": name, "fraction": fraction, "halo": halo, "seam": None,
                                  "note": "the halo covers the image: no seam to measure"}), flush=True)
                continue
            print(json.dumps({"psf": name, "fraction": fraction, "halo": halo,
                              "seam": seam(data, psf, halo[2], args.iterations, untiled)}), flush=True)


if __name__ == "__main__":
    main()
