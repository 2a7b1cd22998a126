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
#ifndef itkCudaFFTConvolutionFFT_h
#define itkCudaFFTConvolutionFFT_h

// Internal to the engine (CUDA code and the GPU tests): the FFT layer. The engine transforms
// through this class only; which library does it (cuFFT or VkFFT) is decided here.

#include "itkCudaFFTConvolutionEngine.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace itk
{
namespace CudaFFTConvolutionFFTDetail
{
class FFTPlans;
struct ZeroBlock;
} // namespace CudaFFTConvolutionFFTDetail

/** \class CudaFFTConvolutionFFT
 * \brief The forward and inverse in-place real transforms of one FFT size, by cuFFT or VkFFT.
 *
 * Layout (both backends): x fastest, rows of 2 * (x / 2 + 1) reals, which the forward transform
 * turns into x / 2 + 1 complex values; the inverse is unnormalised. Both transforms share one
 * work area that the caller allocates (WorkAreaBytes) and attaches, and run on the stream set.
 *
 * Pruning: a transform may be told the live box of the grid. For Forward, the input is zero
 * outside it; for Inverse, only the output inside it is needed. VkFFT then skips what lies in the
 * larger zero slab of each axis (its zero-padding mode: one more plan per box, kept); cuFFT
 * ignores the box. So the caller still writes the zeros outside a forward box, and must not read
 * outside an inverse box (VkFFT leaves it undefined). CUDAFFTCONVOLUTION_FFT_PRUNING=0 (read
 * by Make) turns pruning off.
 *
 * Auto picks VkFFT for grids of 2^24 values and more, cuFFT for smaller ones. Auto and VkFFT
 * fall back to cuFFT, with one warning line on stderr (once per reason), when the
 * VkFFT plugin cannot be loaded or VkFFT cannot plan the size; Auto stays silent in a build
 * without the plugin. Failures of cuFFT and of a transform throw CudaFFTConvolutionEngineError.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionFFT
{
public:
  using Backend = CudaFFTConvolutionEngine::FFTBackend;
  using SizeArray = CudaFFTConvolutionPlanner::SizeArray;

  /** A box of the FFT grid (x first); axes beyond the dimension are ignored. */
  struct Box
  {
    SizeArray index{ { 0, 0, 0 } };
    SizeArray size{ { 0, 0, 0 } };
  };

  CudaFFTConvolutionFFT();
  ~CudaFFTConvolutionFFT();
  CudaFFTConvolutionFFT(const CudaFFTConvolutionFFT &) = delete;
  CudaFFTConvolutionFFT &
  operator=(const CudaFFTConvolutionFFT &) = delete;

  /** True when the plans made last are those of this size and requested backend. */
  bool
  Has(const SizeArray & fft, unsigned int dimension, unsigned int elementSize, Backend requested) const;

  /** Replaces the plans by those of an FFT size on the current device; returns their work-area
   * bytes. Nothing may still run on the old plans. */
  std::uint64_t
  Make(const SizeArray & fft, unsigned int dimension, unsigned int elementSize, Backend requested);

  bool
  Valid() const;

  /** The backend of the plans (CuFFT or VkFFT); Auto without plans. */
  Backend
  UsedBackend() const;

  std::uint64_t
  WorkAreaBytes() const;

  /** At least WorkAreaBytes() of device memory (any pointer when that is 0). */
  void
  AttachWorkArea(void * workArea);

  void
  SetStream(cudaStream_t stream);

  /** In place, enqueued on the stream. \a live (optional): the input is zero outside it. */
  void
  Forward(void * data, const Box * live = nullptr);
  /** In place, enqueued on the stream. \a live (optional): only the output inside it is needed;
   * the values outside are then undefined. */
  void
  Inverse(void * data, const Box * live = nullptr);

  /** Whether transforms told a live box prune (VkFFT plans, pruning not turned off). */
  bool
  Prunes() const;

  /** Frees the plans (what they enqueued must have finished). */
  void
  Destroy();

  /** CUDAFFTCONVOLUTION_FFT_BACKEND (cufft, vkfft, auto); Auto when unset. */
  static Backend
  DefaultBackend();

  static const char *
  BackendName(Backend backend);

  /** Work-area bytes of the plans Make would make on the current device, remembered per size.
   * VkFFT's plans made to find out are kept for the next Make of that size (VkFFT compiles its
   * kernels at plan time). */
  static std::uint64_t
  EstimateWorkAreaBytes(const SizeArray & fft, unsigned int dimension, unsigned int elementSize, Backend requested);

  /** Whether this build has the VkFFT plugin (vkFFT.h was found when it was configured). */
  static bool
  VkFFTBuilt();

  /** Whether the VkFFT plugin loads here; otherwise \a whyNot says why. */
  static bool
  VkFFTAvailable(std::string * whyNot = nullptr);

  /** Whether CUDAFFTCONVOLUTION_FFT_PRUNING leaves pruning on (unset, or not 0/off/no/false). */
  static bool
  PruningEnabled();

private:
  using PlansPointer = std::unique_ptr<CudaFFTConvolutionFFTDetail::FFTPlans>;

  /** The plans of a live box: pruned ones (made on first use) or the full ones. */
  CudaFFTConvolutionFFTDetail::FFTPlans &
  PlansFor(const Box * live);

  /** Pruned plans of a zero block, or nullptr where VkFFT cannot make them. */
  PlansPointer
  MakePruned(const CudaFFTConvolutionFFTDetail::ZeroBlock & zero);

  std::unique_ptr<CudaFFTConvolutionFFTDetail::FFTPlans> m_Plans;
  // Pruned plans per zero block (nullptr: VkFFT declined it), oldest first.
  std::vector<std::pair<std::unique_ptr<CudaFFTConvolutionFFTDetail::ZeroBlock>, PlansPointer>> m_Pruned;
  bool                                                                                          m_Pruning{ true };
  cudaStream_t                                                                                  m_Stream{ nullptr };
  SizeArray                                                                                     m_Size{ { 0, 0, 0 } };
  unsigned int                                                                                  m_Dimension{ 0 };
  unsigned int                                                                                  m_ElementSize{ 0 };
  Backend m_Requested{ Backend::Auto };
  void *  m_AttachedWorkArea{ nullptr };
};
} // namespace itk

#endif
