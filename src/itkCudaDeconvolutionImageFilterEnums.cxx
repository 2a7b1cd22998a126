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
#include "itkCudaDeconvolutionImageFilterEnums.h"

namespace itk
{
std::ostream &
operator<<(std::ostream & out, const CudaDeconvolutionImageFilterEnums::Edges value)
{
  switch (value)
  {
    case CudaDeconvolutionImageFilterEnums::Edges::BoundaryCondition:
      return out << "itk::CudaDeconvolutionImageFilterEnums::Edges::BoundaryCondition";
    case CudaDeconvolutionImageFilterEnums::Edges::NonCirculant:
      return out << "itk::CudaDeconvolutionImageFilterEnums::Edges::NonCirculant";
  }
  return out << "INVALID VALUE FOR itk::CudaDeconvolutionImageFilterEnums::Edges";
}
} // namespace itk
