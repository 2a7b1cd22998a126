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
