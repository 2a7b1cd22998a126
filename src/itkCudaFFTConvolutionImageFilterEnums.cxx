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
} // namespace itk
