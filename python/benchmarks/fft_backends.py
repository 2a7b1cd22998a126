"""The FFT configurations the benchmarks compare, chosen through the library's environment
(CUDAFFTCONVOLUTION_FFT_BACKEND, CUDAFFTCONVOLUTION_FFT_PRUNING), which an engine reads when it
is created: use() sets them and drops the package's shared engines, so the next call makes new ones.

- default: the environment as it is (the library's default backend);
- cufft: cuFFT;
- vkfft-unpruned: VkFFT, every transform over the whole grid;
- vkfft: VkFFT, transforms pruned where the data leave zeros (the library's behaviour with VkFFT);
- auto: the library's automatic choice.
"""
import os

CONFIGURATIONS = {
    "default": None,
    "cufft": ("cufft", "1"),
    "vkfft-unpruned": ("vkfft", "0"),
    "vkfft": ("vkfft", "1"),
    "auto": ("auto", "1"),
}


def names(text):
    chosen = [name for name in text.split(",") if name]
    unknown = [name for name in chosen if name not in CONFIGURATIONS]
    if unknown:
        raise SystemExit(f"unknown FFT configuration(s) {unknown}: choose from {sorted(CONFIGURATIONS)}")
    return chosen


def use(name):
    """Makes the package's next GPU calls use an FFT configuration (new engines)."""
    from cudafftconvolution import _api, _deconvolution

    setting = CONFIGURATIONS[name]
    if setting is not None:
        os.environ["CUDAFFTCONVOLUTION_FFT_BACKEND"], os.environ["CUDAFFTCONVOLUTION_FFT_PRUNING"] = setting
    for engines in (_api._shared_engines, _deconvolution._shared_engines):
        for engine in list(engines.values()):
            with engine.lock:
                engine.close()
        engines.clear()
