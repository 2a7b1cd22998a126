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
#ifndef itkCudaFFTConvolutionImageFilterEnums_h
#define itkCudaFFTConvolutionImageFilterEnums_h

#include "CudaFFTConvolutionExport.h"
#include <cstdint>
#include <ostream>
#include <string>

namespace itk
{
/** \class CudaFFTConvolutionImageFilterEnums
 * \brief Enums of CudaFFTConvolutionImageFilter.
 *
 * ITK's ConvolutionImageFilterBaseEnums cannot be extended, so the module carries its own
 * output-region enum with the FULL mode. SAME and VALID have the values of ITK's enum.
 *
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionImageFilterEnums
{
public:
  /** \brief Which part of the convolution the output holds.
   *
   * With an input region starting at s of size N and a kernel of size K (centre c = floor(K/2)):
   * SAME has index s and size N; VALID has index s + K - 1 - c and size N - K + 1 (ITK's
   * GetValidRegion, empty when the kernel does not fit); FULL has index s - c and size N + K - 1.
   * \ingroup CudaFFTConvolution */
  enum class OutputRegion : uint8_t
  {
    SAME = 0,
    VALID = 1,
    FULL = 2
  };

  /** \brief Where the convolution runs.
   *
   * AUTOMATIC uses the GPU when a CUDA device is present and the CPU (ITK's FFT filters) when
   * not; GPU makes a missing device an exception; CPU always uses ITK's FFT filters.
   * \ingroup CudaFFTConvolution */
  enum class ComputeDevice : uint8_t
  {
    AUTOMATIC = 0,
    GPU = 1,
    CPU = 2
  };

  /** \brief A boundary condition by name, for estimates made before a filter exists
   * (EstimateGPUMemory, MakeGPUPlan): a periodic boundary reads whole axes per tile.
   * \ingroup CudaFFTConvolution */
  enum class Boundary : uint8_t
  {
    ZERO_FLUX_NEUMANN = 0,
    CONSTANT = 1,
    PERIODIC = 2
  };

  /** \brief The FFT library under the GPU engine, shared by the convolution and deconvolution
   * filters (and, by name, by the C ABI, the Python package and the command-line tools).
   *
   * AUTO: VkFFT where its plugin loads and plans the size, cuFFT otherwise; CUFFT and VKFFT force
   * one (VKFFT falls back to cuFFT with a warning where the plugin is absent). Names: "auto",
   * "cufft", "vkfft". The values are the engine's (CudaFFTConvolutionEngine::FFTBackend).
   * \ingroup CudaFFTConvolution */
  enum class FFTBackend : uint8_t
  {
    AUTO = 0,
    CUFFT = 1,
    VKFFT = 2
  };

  /** The one reading of a backend name, for every face: "auto", "cufft" or "vkfft", case
   * ignored. Any other name throws std::invalid_argument naming it and the choices. */
  static FFTBackend
  FFTBackendFromName(const std::string & name);

  /** "auto", "cufft" or "vkfft". */
  static const char *
  FFTBackendName(FFTBackend backend);
};

extern CudaFFTConvolution_EXPORT std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::OutputRegion value);
extern CudaFFTConvolution_EXPORT std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::ComputeDevice value);
extern CudaFFTConvolution_EXPORT std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::Boundary value);
extern CudaFFTConvolution_EXPORT std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::FFTBackend value);
} // namespace itk

#endif
