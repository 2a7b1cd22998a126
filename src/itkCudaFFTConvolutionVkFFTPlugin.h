/*=========================================================================
 *
 *  Copyright NumFOCUS
 *
 *  Licensed under the Apache License, Version 2.0 (the "License");
 *  you may not use this file except in compliance with the License.
 *  You may obtain a copy of the License at
 *
 *         https://www.apache.org/licenses/LICENSE-2.0.txt
 *
 *  Unless required by applicable law or agreed to in writing, software
 *  distributed under the License is distributed on an "AS IS" BASIS,
 *  WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 *  See the License for the specific language governing permissions and
 *  limitations under the License.
 *
 *=========================================================================*/
#ifndef itkCudaFFTConvolutionVkFFTPlugin_h
#define itkCudaFFTConvolutionVkFFTPlugin_h

/* The C interface between the engine and its VkFFT plugin (libCudaFFTConvolutionVkFFT.so).
 * VkFFT's CUDA backend needs the CUDA driver (libcuda) and NVRTC; the engine's library must load
 * where neither exists (machines without an NVIDIA driver run the CPU path), so only the plugin
 * links them and the engine dlopen()s it on first use. No CUDA type crosses this interface. */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

/* Raised whenever a function's meaning changes: the engine refuses a plugin of another ABI. */
#define CUDAFFT_VKFFT_PLUGIN_ABI 2
/* The plugin's one exported symbol, a CudaFFTVkFFTEntry. */
#define CUDAFFT_VKFFT_PLUGIN_ENTRY "CudaFFTConvolutionVkFFTPlugin"

  typedef struct CudaFFTVkFFTPlan CudaFFTVkFFTPlan;

  typedef struct CudaFFTVkFFTFunctions
  {
    unsigned int abi;          /* CUDAFFT_VKFFT_PLUGIN_ABI */
    int          vkfftVersion; /* VkFFTGetVersion(): 10226 for VkFFT 1.2.26 */

    /* Plans the in-place forward (real to half-complex) and inverse (half-complex to real,
     * unnormalised) transforms of size[0] (x, fastest) x size[1] x size[2] values of elementSize
     * bytes (4: float, 8: double), rows padded to 2 * (size[0] / 2 + 1) reals (cuFFT's in-place
     * layout), on CUDA device ordinal `device`. zeroBegin/zeroEnd (NULL: none): per axis, the
     * positions [zeroBegin, zeroEnd) (empty when not less) where the forward transform's input is
     * zero and is not read, and where the inverse transform's output is not needed and is not
     * written (VkFFT's zero padding). *workAreaBytes: the device memory the plan needs attached
     * before it runs (0: none). Returns 0, or an error code with its text in message. */
    int (*create)(int                 device,
                  const uint64_t      size[3],
                  unsigned int        dimension,
                  unsigned int        elementSize,
                  const uint64_t *    zeroBegin,
                  const uint64_t *    zeroEnd,
                  CudaFFTVkFFTPlan ** plan,
                  uint64_t *          workAreaBytes,
                  char *              message,
                  size_t              messageBytes);
    /* The work area (device memory of workAreaBytes) used by every later execute. */
    void (*set_work_area)(CudaFFTVkFFTPlan * plan, void * workArea);
    /* The CUDA stream (a cudaStream_t / CUstream; NULL: the legacy default stream) of later executes. */
    void (*set_stream)(CudaFFTVkFFTPlan * plan, void * stream);
    /* Enqueues the forward (inverse = 0) or inverse transform of `data` (device memory) on the
     * stream. Returns 0, or an error code with its text in message. */
    int (*execute)(CudaFFTVkFFTPlan * plan, void * data, int inverse, char * message, size_t messageBytes);
    /* Frees the plan (what it enqueued must have finished). */
    void (*destroy)(CudaFFTVkFFTPlan * plan);
  } CudaFFTVkFFTFunctions;

  typedef const CudaFFTVkFFTFunctions * (*CudaFFTVkFFTEntry)(void);

#ifdef __cplusplus
}
#endif

#endif
