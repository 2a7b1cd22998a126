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
#ifndef itkCudaInverseDeconvolutionImageFilter_h
#define itkCudaInverseDeconvolutionImageFilter_h

#include "itkCudaDeconvolutionImageFilterBase.h"
#include "itkInverseDeconvolutionImageFilter.h"

namespace itk
{
/** \class CudaInverseDeconvolutionImageFilter
 * \brief Direct inverse-filter deconvolution (G / H) on an NVIDIA GPU; ITK's
 * InverseDeconvolutionImageFilter on the CPU.
 *
 * Frequencies where |H| is below KernelZeroMagnitudeThreshold (default 1e-4, as ITK's) are set
 * to 0. Noise is amplified wherever |H| is small: Tikhonov and Wiener regularise that.
 *
 * \sa InverseDeconvolutionImageFilter CudaTikhonovDeconvolutionImageFilter CudaWienerDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaInverseDeconvolutionImageFilter
  : public CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaInverseDeconvolutionImageFilter);

  using Self = CudaInverseDeconvolutionImageFilter;
  using Superclass = CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaInverseDeconvolutionImageFilter);

  using typename Superclass::AlgorithmEnum;
  using typename Superclass::CPUFilterType;
  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::PlannerType;
  using typename Superclass::SettingsType;

  /** Frequencies with a smaller kernel magnitude are set to 0; 1e-4 by default. */
  itkSetMacro(KernelZeroMagnitudeThreshold, double);
  itkGetConstMacro(KernelZeroMagnitudeThreshold, double);

protected:
  CudaInverseDeconvolutionImageFilter() = default;
  ~CudaInverseDeconvolutionImageFilter() override = default;

  AlgorithmEnum
  GetAlgorithm() const override
  {
    return AlgorithmEnum::Inverse;
  }

  typename CPUFilterType::Pointer
  MakeCPUFilter() const override;

  void
  FillSettings(SettingsType & settings) const override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

private:
  double m_KernelZeroMagnitudeThreshold{ 1.0e-4 };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaInverseDeconvolutionImageFilter.hxx"
#endif

#endif
