#!/usr/bin/env python3
"""Richardson-Lucy deconvolution of an OME-Zarr volume chunk by chunk on a dask cluster.

Reads the full-resolution level of an OME-Zarr image (axes ending in z, y, x; leading t or c
axes are deconvolved one 3D volume at a time), deconvolves it with
cudafftconvolution.dask.richardson_lucy (each chunk with a halo of 2K per side, on the
workers' GPUs or their CPUs) and writes the result as an OME-Zarr image of the same axes and
scale. Without an input it first writes a small one (bright beads blurred by a Gaussian PSF,
with Poisson noise). Nothing is held in memory whole unless --compare asks for the untiled run.

    python examples/deconvolve_zarr.py [--input IN.zarr] [--output OUT.zarr] [--psf PSF.npy]
        [--iterations 20] [--workers 2 | --cuda | --scheduler tcp://host:8786]
        [--memory-budget 20GiB | --chunks Z Y X] [--compare]

--cuda starts dask_cuda.LocalCUDACluster (one worker per GPU); --scheduler joins a running
cluster; otherwise a LocalCluster of --workers processes with one thread each. --memory-budget
(one worker GPU's bytes) rechunks with suggest_chunks, in multiples of the store's chunks.
--compare also deconvolves the whole volume at once in this process and prints the seams' largest
difference relative to the untiled maximum. Printed times: chunked_seconds (the cluster reads,
deconvolves and writes), untiled_seconds (this process reads the whole volume and deconvolves it).
"""
import argparse
import json
import os
import time

import dask.array as da
import numpy as np
import zarr

import cudafftconvolution as cfc
from cudafftconvolution import dask as cfc_dask


def gaussian_psf(shape, sigmas):
    axes = [np.exp(-((np.arange(k) - k // 2) ** 2) / (2.0 * s**2)) for k, s in zip(shape, sigmas)]
    psf = np.multiply.outer(np.multiply.outer(axes[0], axes[1]), axes[2])
    return (psf / psf.sum()).astype(np.float32)


def multiscales(group):
    """The OME-Zarr multiscales entry: attributes "ome" (0.5, zarr v3) or top-level (0.4)."""
    attributes = group.attrs.asdict()
    entries = attributes.get("ome", attributes).get("multiscales")
    if not entries:
        raise ValueError(f"{group.store} holds no OME-Zarr image (no 'multiscales' attribute)")
    return entries[0]


def write_ome_zarr(path, volume, chunks, axes, scale, name):
    """One full-resolution level "0" and OME-Zarr 0.5 metadata (volume: a dask or NumPy array)."""
    group = zarr.open_group(path, mode="w", zarr_format=3)
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "name": name, "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]}]}
    array = group.create_array("0", shape=volume.shape, chunks=chunks, dtype=volume.dtype)
    if isinstance(volume, da.Array):
        da.store(volume, array, lock=False)
    else:
        array[...] = volume


def example_input(path, psf, shape):
    """Beads (a few voxels wide) on a dim background, blurred by the PSF with Poisson noise,
    stored in chunks of half the shape."""
    rng = np.random.default_rng(3)
    truth = np.full(shape, 0.05, np.float32)
    beads = int(np.prod(shape) // 5000)
    for z, y, x in zip(*(rng.integers(0, n, beads) for n in shape)):
        truth[max(z - 1, 0):z + 1, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] += rng.uniform(1, 10)
    blurred = cfc.convolve(truth, psf, boundary="constant")
    data = rng.poisson(blurred * 100).astype(np.float32) / 100
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    write_ome_zarr(path, data, tuple((n + 1) // 2 for n in shape), axes, [0.3, 0.1, 0.1], "beads")


def start_client(arguments):
    from distributed import Client, LocalCluster

    if arguments.scheduler:
        return Client(arguments.scheduler)
    if arguments.cuda:
        from dask_cuda import LocalCUDACluster  # one worker per visible GPU

        return Client(LocalCUDACluster(threads_per_worker=1))
    return Client(LocalCluster(n_workers=arguments.workers, threads_per_worker=1, processes=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", help="an OME-Zarr image (default: write example.ome.zarr first)")
    parser.add_argument("--output", default="deconvolved.ome.zarr")
    parser.add_argument("--psf", help="a .npy PSF (z, y, x); default a Gaussian of --sigma voxels")
    parser.add_argument("--sigma", type=float, nargs=3, default=(1.5, 1.2, 1.2))
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cuda", action="store_true", help="dask_cuda.LocalCUDACluster: one worker per GPU")
    parser.add_argument("--scheduler", help="the address of a running dask scheduler")
    parser.add_argument("--memory-budget", help="one worker GPU's budget: rechunk with suggest_chunks")
    parser.add_argument("--chunks", type=int, nargs=3, help="rechunk z, y, x to these (default: the store's)")
    parser.add_argument("--example-shape", type=int, nargs=3, default=(48, 192, 192), help="without --input")
    parser.add_argument("--compare", action="store_true", help="also run untiled and print the seam error")
    arguments = parser.parse_args()

    psf = np.load(arguments.psf).astype(np.float32) if arguments.psf else gaussian_psf((9, 11, 11), arguments.sigma)
    if not arguments.input:
        arguments.input = "example.ome.zarr"
        example_input(arguments.input, psf, tuple(arguments.example_shape))
    # Absolute paths: the workers read and write the stores from their own working directories.
    arguments.input, arguments.output = os.path.abspath(arguments.input), os.path.abspath(arguments.output)
    group = zarr.open_group(arguments.input, mode="r")
    image = multiscales(group)
    level = image["datasets"][0]
    volume = da.from_zarr(group[level["path"]])
    if arguments.memory_budget:
        store_chunks = tuple(c[0] for c in volume.chunks[-3:])
        chunks = cfc_dask.suggest_chunks(volume.shape[-3:], psf.shape, arguments.memory_budget, multiple=store_chunks)
        volume = volume.rechunk(volume.chunksize[:-3] + chunks)
    elif arguments.chunks:
        volume = volume.rechunk(volume.chunksize[:-3] + tuple(arguments.chunks))
    leading = volume.shape[:-3]

    with start_client(arguments) as client:
        print("dask dashboard:", client.dashboard_link, "| chunks:", volume.chunksize, "| halo:",
              cfc_dask.deconvolution_depth(None, psf.shape))
        results = [cfc_dask.richardson_lucy(volume[index], psf, arguments.iterations) for index in np.ndindex(leading)]
        result = da.stack(results).reshape(volume.shape) if leading else results[0]
        started = time.perf_counter()
        write_ome_zarr(arguments.output, result, tuple(c[0] for c in volume.chunks), image["axes"],
                       level["coordinateTransformations"][0]["scale"], image.get("name", "image") + " deconvolved")
        seconds = time.perf_counter() - started
    summary = {"input": arguments.input, "output": arguments.output, "shape": volume.shape,
               "chunks": volume.chunksize, "psf": psf.shape, "iterations": arguments.iterations,
               "chunked_seconds": round(seconds, 3)}
    if arguments.compare:
        stitched = zarr.open_group(arguments.output, mode="r")["0"][...]
        started = time.perf_counter()
        whole = volume.compute()
        untiled = np.stack([cfc.richardson_lucy(whole[index], psf, arguments.iterations)
                            for index in np.ndindex(leading)]).reshape(whole.shape)
        summary.update(untiled_seconds=round(time.perf_counter() - started, 3), device=cfc.last_compute_device(),
                       seam_error=float(np.abs(stitched - untiled).max() / np.abs(untiled).max()),
                       seam_bound=cfc_dask.SEAM_ERROR)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
