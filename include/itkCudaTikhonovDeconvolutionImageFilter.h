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
#ifndef itkCudaTikhonovDeconvolutionImageFilter_h
#define itkCudaTikhonovDeconvolutionImageFilter_h

#include "itkCudaInverseDeconvolutionImageFilter.h"
#include "itkTikhonovDeconvolutionImageFilter.h"

namespace itk
{
/** \class CudaTikhonovDeconvolutionImageFilter
 * \brief Tikhonov-regularised direct deconvolution, conj(H) G / (|H|^2 + mu), on an NVIDIA GPU;
 * ITK's TikhonovDeconvolutionImageFilter on the CPU.
 *
 * RegularizationConstant mu defaults to 0 (ITK's), which is the inverse filter.
 *
 * \sa TikhonovDeconvolutionImageFilter CudaInverseDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaTikhonovDeconvolutionImageFilter
  : public CudaInverseDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaTikhonovDeconvolutionImageFilter);

  using Self = CudaTikhonovDeconvolutionImageFilter;
  using Superclass = CudaInverseDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaTikhonovDeconvolutionImageFilter);

  using typename Superclass::AlgorithmEnum;
  using typename Superclass::CPUFilterType;
  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::PlannerType;
  using typename Superclass::SettingsType;

  /** mu; 0 by default. */
  itkSetMacro(RegularizationConstant, double);
  itkGetConstMacro(RegularizationConstant, double);

protected:
  CudaTikhonovDeconvolutionImageFilter() = default;
  ~CudaTikhonovDeconvolutionImageFilter() override = default;

  AlgorithmEnum
  GetAlgorithm() const override
  {
    return AlgorithmEnum::Tikhonov;
  }

  typename CPUFilterType::Pointer
  MakeCPUFilter() const override;

  void
  FillSettings(SettingsType & settings) const override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

private:
  double m_RegularizationConstant{ 0.0 };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaTikhonovDeconvolutionImageFilter.hxx"
#endif

#endif
