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
#ifndef itkCudaProjectedLandweberDeconvolutionImageFilter_h
#define itkCudaProjectedLandweberDeconvolutionImageFilter_h

#include "itkCudaLandweberDeconvolutionImageFilter.h"
#include "itkProjectedLandweberDeconvolutionImageFilter.h"

namespace itk
{
/** \class CudaProjectedLandweberDeconvolutionImageFilter
 * \brief Landweber deconvolution with negative values set to 0 after each iteration, on an NVIDIA
 * GPU; ITK's ProjectedLandweberDeconvolutionImageFilter on the CPU.
 *
 * \sa ProjectedLandweberDeconvolutionImageFilter CudaLandweberDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaProjectedLandweberDeconvolutionImageFilter
  : public CudaLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaProjectedLandweberDeconvolutionImageFilter);

  using Self = CudaProjectedLandweberDeconvolutionImageFilter;
  using Superclass = CudaLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaProjectedLandweberDeconvolutionImageFilter);

  using typename Superclass::AlgorithmEnum;
  using typename Superclass::CPUFilterType;
  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::PlannerType;
  using typename Superclass::SettingsType;

protected:
  CudaProjectedLandweberDeconvolutionImageFilter() = default;
  ~CudaProjectedLandweberDeconvolutionImageFilter() override = default;

  AlgorithmEnum
  GetAlgorithm() const override
  {
    return AlgorithmEnum::ProjectedLandweber;
  }

  typename CPUFilterType::Pointer
  MakeCPUFilter() const override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaProjectedLandweberDeconvolutionImageFilter.hxx"
#endif

#endif
