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
#ifndef itkCudaDeconvolutionImageFilterEnums_h
#define itkCudaDeconvolutionImageFilterEnums_h

#include "CudaFFTConvolutionExport.h"
#include <cstdint>
#include <ostream>

namespace itk
{
/** \class CudaDeconvolutionImageFilterEnums
 * \brief Enums of the CUDA deconvolution filters (CudaDeconvolutionImageFilterBase and subclasses).
 *
 * \ingroup CudaFFTConvolution
 */
class CudaDeconvolutionImageFilterEnums
{
public:
  /** \brief How the deconvolution treats the image edges.
   *
   * BoundaryCondition (the default) pads as ITK's deconvolution filters do: the image extended
   * by the kernel radius with the filter's boundary condition, then to an FFT-friendly size, and
   * deconvolved circulantly on that grid; results match ITK's. NonCirculant (Bertero and
   * Boccacci) reconstructs every object voxel that reaches the image and takes the likelihood
   * over the measured voxels only, so objects cut by the image border do not ring; it needs a
   * CUDA device and applies to Richardson-Lucy (the planner refuses it, with an exception, for the
   * other algorithms).
   * \ingroup CudaFFTConvolution */
  enum class Edges : uint8_t
  {
    BoundaryCondition = 0,
    NonCirculant = 1
  };
};

extern CudaFFTConvolution_EXPORT std::ostream &
                                 operator<<(std::ostream & out, const CudaDeconvolutionImageFilterEnums::Edges value);
} // namespace itk

#endif
