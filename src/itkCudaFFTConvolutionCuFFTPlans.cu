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

// The cuFFT backend of the FFT layer: in-place R2C / C2R (D2Z / Z2D) plans without automatic
// work-area allocation, so that one work area (counted by the planners) serves both.

#include "itkCudaFFTConvolutionFFTPlans.h"

#include "itkCudaFFTConvolutionCudaSupport.h"

#include <cufft.h>

#include <algorithm>

namespace itk
{
namespace CudaFFTConvolutionFFTDetail
{
namespace
{
using namespace CudaFFTConvolutionCuda;

/** Makes a plan for an in-place real transform of an FFT size (cuFFT's slowest axis first). */
void
MakePlan(cufftHandle       plan,
         const SizeArray & fft,
         unsigned int      dimension,
         unsigned int      elementSize,
         bool              forward,
         std::size_t &     workBytes)
{
  long long n[3];
  long long realEmbed[3];
  long long complexEmbed[3];
  for (unsigned int i = 0; i < dimension; ++i)
  {
    n[i] = static_cast<long long>(fft[dimension - 1 - i]);
    realEmbed[i] = complexEmbed[i] = n[i];
  }
  realEmbed[dimension - 1] = 2 * (n[dimension - 1] / 2 + 1);
  complexEmbed[dimension - 1] = n[dimension - 1] / 2 + 1;
  const long long realDistance = realEmbed[dimension - 1] * static_cast<long long>(fft[1] * fft[2]);
  const long long complexDistance = complexEmbed[dimension - 1] * static_cast<long long>(fft[1] * fft[2]);
  const bool      isDouble = elementSize == 8;
  const cufftType type = forward ? (isDouble ? CUFFT_D2Z : CUFFT_R2C) : (isDouble ? CUFFT_Z2D : CUFFT_C2R);
  CUDAFFT_CHECK(cufftSetAutoAllocation(plan, 0));
  CUDAFFT_CHECK(cufftMakePlanMany64(plan,
                                    static_cast<int>(dimension),
                                    n,
                                    forward ? realEmbed : complexEmbed,
                                    1,
                                    forward ? realDistance : complexDistance,
                                    forward ? complexEmbed : realEmbed,
                                    1,
                                    forward ? complexDistance : realDistance,
                                    type,
                                    1,
                                    &workBytes));
}

class CuFFTPlans final : public FFTPlans
{
public:
  /** Both plans of an FFT size; nothing leaks when either step throws. */
  CuFFTPlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize)
    : m_Double(elementSize == 8)
  {
    std::size_t forwardWork = 0;
    std::size_t inverseWork = 0;
    CUDAFFT_CHECK(cufftCreate(&m_Forward));
    try
    {
      CUDAFFT_CHECK(cufftCreate(&m_Inverse));
    }
    catch (...)
    {
      cufftDestroy(m_Forward);
      throw;
    }
    try
    {
      MakePlan(m_Forward, fft, dimension, elementSize, true, forwardWork);
      MakePlan(m_Inverse, fft, dimension, elementSize, false, inverseWork);
    }
    catch (...)
    {
      cufftDestroy(m_Forward);
      cufftDestroy(m_Inverse);
      throw;
    }
    m_WorkBytes = std::max(forwardWork, inverseWork);
  }

  ~CuFFTPlans() override
  {
    cufftDestroy(m_Forward);
    cufftDestroy(m_Inverse);
  }

  Backend
  Kind() const override
  {
    return Backend::CuFFT;
  }

  std::uint64_t
  WorkAreaBytes() const override
  {
    return m_WorkBytes;
  }

  void
  AttachWorkArea(void * workArea) override
  {
    CUDAFFT_CHECK(cufftSetWorkArea(m_Forward, workArea));
    CUDAFFT_CHECK(cufftSetWorkArea(m_Inverse, workArea));
  }

  void
  SetStream(cudaStream_t stream) override
  {
    CUDAFFT_CHECK(cufftSetStream(m_Forward, stream));
    CUDAFFT_CHECK(cufftSetStream(m_Inverse, stream));
  }

  void
  Forward(void * data) override
  {
    if (m_Double)
    {
      CUDAFFT_CHECK(cufftExecD2Z(m_Forward, static_cast<double *>(data), static_cast<cufftDoubleComplex *>(data)));
    }
    else
    {
      CUDAFFT_CHECK(cufftExecR2C(m_Forward, static_cast<float *>(data), static_cast<cufftComplex *>(data)));
    }
  }

  void
  Inverse(void * data) override
  {
    if (m_Double)
    {
      CUDAFFT_CHECK(cufftExecZ2D(m_Inverse, static_cast<cufftDoubleComplex *>(data), static_cast<double *>(data)));
    }
    else
    {
      CUDAFFT_CHECK(cufftExecC2R(m_Inverse, static_cast<cufftComplex *>(data), static_cast<float *>(data)));
    }
  }

private:
  bool          m_Double{ false };
  cufftHandle   m_Forward{};
  cufftHandle   m_Inverse{};
  std::uint64_t m_WorkBytes{ 0 };
};
} // namespace

std::unique_ptr<FFTPlans>
MakeCuFFTPlans(const SizeArray & fft, unsigned int dimension, unsigned int elementSize)
{
  return std::unique_ptr<FFTPlans>(new CuFFTPlans(fft, dimension, elementSize));
}
} // namespace CudaFFTConvolutionFFTDetail
} // namespace itk
