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
#ifndef itkCudaFFTConvolutionFFTPlans_h
#define itkCudaFFTConvolutionFFTPlans_h

// Internal to the engine's FFT layer: what each FFT backend provides (the plans of one FFT size)
// and the functions that make them. The engine itself uses CudaFFTConvolutionFFT.

#include "itkCudaFFTConvolutionEngine.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>

namespace itk
{
namespace CudaFFTConvolutionFFTDetail
{
using SizeArray = CudaFFTConvolutionPlanner::SizeArray;
using Backend = CudaFFTConvolutionEngine::FFTBackend;

/** The forward (real to half-complex) and inverse (half-complex to real, unnormalised) in-place
 * transforms of one FFT size (x fastest), rows padded to 2 * (x / 2 + 1) reals: cuFFT's layout.
 * Both share one work area, which must be attached before they run. Failures throw
 * CudaFFTConvolutionEngineError. */
class FFTPlans
{
public:
  virtual ~FFTPlans() = default;
  virtual Backend
  Kind() const = 0;
  virtual std::uint64_t
  WorkAreaBytes() const = 0;
  virtual void
  AttachWorkArea(void * workArea) = 0;
  virtual void
  SetStream(cudaStream_t stream) = 0;
  virtual void
  Forward(void * data) = 0;
  virtual void
  Inverse(void * data) = 0;
};

/** cuFFT's plans of an FFT size; throws when cuFFT cannot make them. */
std::unique_ptr<FFTPlans>
MakeCuFFTPlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize);

/** Per axis, the positions [begin, end) where the forward transform's input is zero and the
 * inverse transform's output is not needed (empty where begin >= end). */
struct ZeroBlock
{
  SizeArray begin{ { 0, 0, 0 } };
  SizeArray end{ { 0, 0, 0 } };

  bool
  operator==(const ZeroBlock & o) const
  {
    return begin == o.begin && end == o.end;
  }
};

/** VkFFT's plans of an FFT size on a device, or nullptr with the reason in \a whyNot (the plugin
 * cannot be loaded, or VkFFT cannot plan the size). With \a zero, pruned plans: the forward
 * transform does not read the zero block, the inverse does not write it. */
std::unique_ptr<FFTPlans>
MakeVkFFTPlans(const SizeArray & fft,
               unsigned int      dimension,
               unsigned int      elementSize,
               int               device,
               std::string &     whyNot,
               const ZeroBlock * zero = nullptr);

/** Whether pruned plans give what the full plans of their size give where it matters (the
 * forward transform of values that are zero in the block; the inverse transform outside the
 * block), on random values in two scratch grids allocated for the check, on \a stream (waits for
 * it); false with the reason (also when the scratch cannot be allocated). */
bool
PrunedPlansAgree(FFTPlans &        full,
                 FFTPlans &        pruned,
                 const SizeArray & fft,
                 unsigned int      dimension,
                 unsigned int      elementSize,
                 const ZeroBlock & zero,
                 cudaStream_t      stream,
                 std::string &     whyNot);

/** Whether this build has the VkFFT plugin (vkFFT.h was found when it was configured). */
bool
VkFFTBuilt();

/** Loads the VkFFT plugin (once per process); false with the reason when it cannot be loaded. */
bool
VkFFTLoadable(std::string * whyNot);
} // namespace CudaFFTConvolutionFFTDetail
} // namespace itk

#endif
