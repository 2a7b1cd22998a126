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
#include "itkCudaFFTConvolutionImageFilterEnums.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace itk
{
std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::OutputRegion value)
{
  switch (value)
  {
    case CudaFFTConvolutionImageFilterEnums::OutputRegion::SAME:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::SAME";
    case CudaFFTConvolutionImageFilterEnums::OutputRegion::VALID:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::VALID";
    case CudaFFTConvolutionImageFilterEnums::OutputRegion::FULL:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::OutputRegion::FULL";
  }
  return out << "INVALID VALUE FOR itk::CudaFFTConvolutionImageFilterEnums::OutputRegion";
}

std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::ComputeDevice value)
{
  switch (value)
  {
    case CudaFFTConvolutionImageFilterEnums::ComputeDevice::AUTOMATIC:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::AUTOMATIC";
    case CudaFFTConvolutionImageFilterEnums::ComputeDevice::GPU:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::GPU";
    case CudaFFTConvolutionImageFilterEnums::ComputeDevice::CPU:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice::CPU";
  }
  return out << "INVALID VALUE FOR itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice";
}

std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::Boundary value)
{
  switch (value)
  {
    case CudaFFTConvolutionImageFilterEnums::Boundary::ZERO_FLUX_NEUMANN:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::Boundary::ZERO_FLUX_NEUMANN";
    case CudaFFTConvolutionImageFilterEnums::Boundary::CONSTANT:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::Boundary::CONSTANT";
    case CudaFFTConvolutionImageFilterEnums::Boundary::PERIODIC:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::Boundary::PERIODIC";
  }
  return out << "INVALID VALUE FOR itk::CudaFFTConvolutionImageFilterEnums::Boundary";
}

std::ostream &
operator<<(std::ostream & out, const CudaFFTConvolutionImageFilterEnums::FFTBackend value)
{
  switch (value)
  {
    case CudaFFTConvolutionImageFilterEnums::FFTBackend::AUTO:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::FFTBackend::AUTO";
    case CudaFFTConvolutionImageFilterEnums::FFTBackend::CUFFT:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::FFTBackend::CUFFT";
    case CudaFFTConvolutionImageFilterEnums::FFTBackend::VKFFT:
      return out << "itk::CudaFFTConvolutionImageFilterEnums::FFTBackend::VKFFT";
  }
  return out << "INVALID VALUE FOR itk::CudaFFTConvolutionImageFilterEnums::FFTBackend";
}

CudaFFTConvolutionImageFilterEnums::FFTBackend
CudaFFTConvolutionImageFilterEnums::FFTBackendFromName(const std::string & name)
{
  std::string lower(name);
  std::transform(
    lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const FFTBackend backend : { FFTBackend::AUTO, FFTBackend::CUFFT, FFTBackend::VKFFT })
  {
    if (lower == FFTBackendName(backend))
    {
      return backend;
    }
  }
  throw std::invalid_argument("unknown FFT backend '" + name + "': use auto, cufft or vkfft");
}

const char *
CudaFFTConvolutionImageFilterEnums::FFTBackendName(FFTBackend backend)
{
  switch (backend)
  {
    case FFTBackend::CUFFT:
      return "cufft";
    case FFTBackend::VKFFT:
      return "vkfft";
    case FFTBackend::AUTO:
      break;
  }
  return "auto";
}
} // namespace itk
