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
#ifndef itkCudaFFTConvolutionEngineError_h
#define itkCudaFFTConvolutionEngineError_h

#include "CudaFFTConvolutionExport.h"

#include <stdexcept>
#include <string>

namespace itk
{
/** \class CudaFFTConvolutionEngineError
 * \brief What the GPU engine throws: the failing call and the CUDA or cuFFT error text.
 *
 * The filter turns it into an itk::ExceptionObject. OutOfMemory() tells a device allocation
 * failure apart, so that a caller can retry with a smaller budget.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionEngineError : public std::runtime_error
{
public:
  CudaFFTConvolutionEngineError(const std::string & what, bool outOfMemory)
    : std::runtime_error(what)
    , m_OutOfMemory(outOfMemory)
  {}
  bool
  OutOfMemory() const
  {
    return m_OutOfMemory;
  }

private:
  bool m_OutOfMemory{ false };
};
} // namespace itk

#endif
