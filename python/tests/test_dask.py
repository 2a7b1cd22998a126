"""The dask map_overlap recipe equals the one-shot SAME convolution, for every boundary."""
import numpy as np
import pytest

import cudafftconvolution as cfc

da = pytest.importorskip("dask.array")
from cudafftconvolution import dask as cfc_dask  # noqa: E402


@pytest.mark.parametrize("boundary", ["zero-flux-neumann", "constant", "periodic"])
@pytest.mark.parametrize("kernel_shape", [(5, 7, 9), (4, 6, 3)])
def test_map_overlap_equals_one_shot(boundary, kernel_shape):
    rng = np.random.default_rng(12)
    volume = rng.random((40, 44, 52)).astype(np.float32)
    kernel = rng.random(kernel_shape).astype(np.float32)
    lazy = cfc_dask.convolve(da.from_array(volume, chunks=(20, 22, 26)), kernel, boundary=boundary, constant=1.5,
                             normalize=True)
    result = lazy.compute(scheduler="synchronous")
    one_shot = cfc.convolve(volume, kernel, boundary=boundary, constant=1.5, normalize=True)
    assert result.dtype == np.float32
    assert np.max(np.abs(result - one_shot)) <= 2e-5 * max(1.0, float(np.abs(one_shot).max()))


# ---- deconvolution chunk by chunk -------------------------------------------------------------------
def gaussian(shape, sigma):
    axes = [np.exp(-((np.arange(k) - k // 2) ** 2) / (2.0 * sigma**2)) for k in shape]
    kernel = axes[0]
    for axis in axes[1:]:
        kernel = np.multiply.outer(kernel, axis)
    return (kernel / kernel.sum()).astype(np.float32)


def sparse_counts(shape, kernel, seed):
    """Bright sparse points on a floor, blurred with a zero boundary and Poisson noise: a hard case
    for seams (a bright point next to a seam is seen by one block only through its halo)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(shape) ** 8 * 10 + 0.1).astype(np.float32)
    return rng.poisson(cfc.convolve(truth, kernel, boundary="constant") * 50).astype(np.float32) / 50


def relative_difference(result, reference):
    reference = np.asarray(reference, np.float64)
    return float(np.abs(np.asarray(result, np.float64) - reference).max() / np.abs(reference).max())


@pytest.fixture(scope="module")
def client():
    """A real dask.distributed scheduler with two worker processes of one thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as connection:
        yield connection


@pytest.mark.parametrize("kernel_shape", [(5, 7, 7), (4, 6, 6)])
def test_richardson_lucy_on_a_cluster_from_zarr_matches_the_untiled_run(client, tmp_path, kernel_shape):
    zarr = pytest.importorskip("zarr")
    kernel = gaussian(kernel_shape, 1.2)
    data = sparse_counts((32, 80, 80), kernel, seed=5)
    store = zarr.open_array(str(tmp_path / "volume.zarr"), mode="w", shape=data.shape, chunks=(16, 40, 40),
                            dtype=data.dtype)
    store[...] = data
    volume = da.from_zarr(str(tmp_path / "volume.zarr"))
    assert volume.numblocks == (2, 2, 2)
    iterations = 20

    lazy = cfc_dask.richardson_lucy(volume, kernel, iterations)
    assert lazy.chunks == volume.chunks and lazy.dtype == np.float32
    lazy.to_zarr(str(tmp_path / "result.zarr"), compute=False).compute()  # on the cluster's workers
    stitched = zarr.open_array(str(tmp_path / "result.zarr"), mode="r")[...]
    untiled = cfc.richardson_lucy(data, kernel, iterations)
    seam = relative_difference(stitched, untiled)
    print(f"\n{kernel_shape}: stitched vs untiled, max relative difference {seam:.2e} (bound {cfc_dask.SEAM_ERROR})")
    assert seam <= cfc_dask.SEAM_ERROR
    # The halo is what keeps the seams small: one voxel of it is far off.
    narrow = client.compute(cfc_dask.richardson_lucy(volume, kernel, iterations, halo=1)).result()
    assert relative_difference(narrow, untiled) > 10 * max(seam, 1e-6)


def test_the_true_edges_are_not_padded():
    """Non-circulant edges at the volume's faces as the untiled run has them: along an axis cut
    in two, the result on the uncut axes' faces differs only by the seam's error; a volume of one
    chunk is the untiled result."""
    kernel = gaussian((3, 5, 5), 1.0)
    data = sparse_counts((12, 40, 40), kernel, seed=7)
    untiled = cfc.richardson_lucy(data, kernel, 5, device="cpu")
    one_chunk = cfc_dask.richardson_lucy(da.from_array(data, chunks=-1), kernel, 5, device="cpu")
    np.testing.assert_array_equal(one_chunk.compute(scheduler="synchronous"), untiled)
    cut = cfc_dask.richardson_lucy(da.from_array(data, chunks=(12, 40, 20)), kernel, 5, device="cpu")
    difference = np.abs(cut.compute(scheduler="synchronous") - untiled) / untiled.max()
    assert difference.max() <= cfc_dask.SEAM_ERROR
    assert difference[:, :, :5].max() < 1e-5 and difference[:, :, -5:].max() < 1e-5  # far from the seam at 20


@pytest.mark.parametrize("mode", ["same", "valid"])
def test_deconvolve_mirrors_the_package(mode):
    kernel = gaussian((3, 4, 5), 1.0)
    data = sparse_counts((16, 40, 44), kernel, seed=9).astype(np.float64)
    options = dict(edges="boundary", mode=mode, normalize=True, total_variation=0.002, device="cpu")
    lazy = cfc_dask.deconvolve(da.from_array(data, chunks=(16, 20, 22)), kernel, "richardson-lucy", 8, **options)
    expected = cfc.deconvolve(data, kernel, "richardson-lucy", 8, **options)
    result = lazy.compute(scheduler="synchronous")
    assert result.dtype == np.float64 and result.shape == expected.shape == lazy.shape
    # ITK's padding is circulant beyond floor(K/2): within 2K of the faces the result depends on
    # the FFT grid, which differs between a block and the whole volume.
    inside = tuple(slice(2 * k, -2 * k) for k in kernel.shape)
    if mode == "valid":
        inside = tuple(slice(max(0, 2 * k - (k - 1 - k // 2)), -2 * k + k // 2) for k in kernel.shape)
    assert relative_difference(result[inside], expected[inside]) <= cfc_dask.SEAM_ERROR


@pytest.mark.parametrize("call,match", [
    (lambda v, k: cfc_dask.richardson_lucy(v, k, halo=-1), "halo"),
    (lambda v, k: cfc_dask.richardson_lucy(v, k, halo=(1, 2)), "halo has 2 values"),
    (lambda v, k: cfc_dask.deconvolve(v, k, "landweber", edges="non-circulant"), "non-circulant"),
    (lambda v, k: cfc_dask.deconvolve(v, k, mode="full"), "full"),
    (lambda v, k: cfc_dask.richardson_lucy(v, -k), "positive sum"),
    (lambda v, k: cfc_dask.richardson_lucy(v, k, iterations=-1), "iterations"),
    (lambda v, k: cfc_dask.richardson_lucy(v, k[0]), "dimensions"),
    (lambda v, k: cfc_dask.richardson_lucy(v, k, memory_budget="lots"), "budget"),
])
def test_arguments_are_checked_before_anything_runs(call, match):
    volume = da.ones((8, 16, 16), chunks=4)
    with pytest.raises(ValueError, match=match):
        call(volume, gaussian((3, 3, 3), 1.0))


def test_bad_values_fail_when_their_chunk_computes():
    with pytest.raises(TypeError, match="unexpected keyword"):
        cfc_dask.richardson_lucy(da.ones((8, 8), chunks=4), np.ones((3, 3)), callback=print)
    values = np.ones((8, 16), np.float32)
    values[6, 13] = -1
    lazy = cfc_dask.richardson_lucy(da.from_array(values, chunks=4), np.ones((3, 3)), 2, device="cpu")
    with pytest.raises(ValueError, match="negative"):
        lazy.compute(scheduler="synchronous")


def test_suggest_chunks_fit_one_gpu_with_their_halo():
    from cudafftconvolution import _native

    if _native.LIBRARY is None:
        pytest.skip(f"the native library is needed for the estimates: {_native.LOAD_ERROR}")
    shape, kernel_shape, budget = (96, 512, 640), (9, 17, 17), 512 << 20
    chunks = cfc_dask.suggest_chunks(shape, kernel_shape, budget)
    assert all(1 <= c <= n for c, n in zip(chunks, shape)) and chunks != shape
    window = [min(n, c + 4 * k) for n, c, k in zip(shape, chunks, kernel_shape)]
    assert cfc.estimate_deconvolution_memory(window, kernel_shape, edges="non-circulant",
                                             memory_budget=budget).tiles == 1
    doubled = []  # the chunks are the largest that fit: the one halved last, doubled, did not
    for axis in range(3):
        larger = list(window)
        larger[axis] = min(shape[axis], 2 * chunks[axis] + 4 * kernel_shape[axis])
        doubled.append(cfc.estimate_deconvolution_memory(larger, kernel_shape, edges="non-circulant").peak_bytes)
    assert max(doubled) > budget
    assert cfc_dask.suggest_chunks(shape, kernel_shape, "1TiB") == shape
    assert cfc_dask.suggest_chunks(shape, kernel_shape, budget, multiple=(32, 100, 100)) == tuple(
        c // m * m if c >= m else c for c, m in zip(chunks, (32, 100, 100)))
    with pytest.raises(ValueError, match="no chunk"):
        cfc_dask.suggest_chunks(shape, kernel_shape, 1 << 20)


def test_the_ome_zarr_example_on_the_cluster(client, tmp_path):
    """examples/deconvolve_zarr.py writes an OME-Zarr, deconvolves it on the cluster and writes the
    result as OME-Zarr with the input's axes and scale."""
    import json
    import pathlib
    import subprocess
    import sys

    zarr = pytest.importorskip("zarr")
    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "deconvolve_zarr.py"
    output = tmp_path / "out.ome.zarr"
    run = subprocess.run([sys.executable, str(example), "--output", str(output), "--iterations", "3",
                          "--example-shape", "40", "96", "96", "--scheduler", client.scheduler.address, "--compare"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["shape"] == [40, 96, 96] and summary["chunks"] == [20, 48, 48]
    assert 0 <= summary["seam_error"] <= cfc_dask.SEAM_ERROR
    written = zarr.open_group(str(output), mode="r")
    image = written.attrs["ome"]["multiscales"][0]
    assert [axis["name"] for axis in image["axes"]] == ["z", "y", "x"]
    assert image["datasets"][0]["coordinateTransformations"][0]["scale"] == [0.3, 0.1, 0.1]
    source = zarr.open_group(str(tmp_path / "example.ome.zarr"), mode="r")["0"][...]
    result = written["0"][...]
    assert result.shape == source.shape and result.dtype == np.float32
    # Deconvolution sharpens: the beads' peaks rise above the blurred data's.
    assert result.max() > 1.2 * source.max()
