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
#ifndef itkCudaRichardsonLucyDeconvolutionImageFilter_h
#define itkCudaRichardsonLucyDeconvolutionImageFilter_h

#include "itkCudaIterativeDeconvolutionImageFilter.h"
#include "itkRichardsonLucyDeconvolutionImageFilter.h"

namespace itk
{
/** \class CudaRichardsonLucyDeconvolutionImageFilter
 * \brief Richardson-Lucy deconvolution on an NVIDIA GPU; ITK's RichardsonLucyDeconvolutionImageFilter
 * on the CPU.
 *
 * Each iteration multiplies the estimate by H^T (g / (H x + b)), the ratio taken as 0 where the
 * blurred estimate is below 1e-5 (as ITK's); the initial estimate is the input. The input must
 * not be negative (counts of photons) and the kernel must sum to a positive value: other values
 * are an exception. GPU-only options: Background b (a constant added to the blurred estimate,
 * e.g. a camera offset; default 0), TotalVariation (the regularisation weight lambda of
 * Richardson-Lucy-TV, Dey et al. 2006; 0, the default, is off) and, from the superclass,
 * Acceleration, the stopping tolerances and the divergence history.
 *
 * \sa RichardsonLucyDeconvolutionImageFilter CudaIterativeDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaRichardsonLucyDeconvolutionImageFilter
  : public CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaRichardsonLucyDeconvolutionImageFilter);

  using Self = CudaRichardsonLucyDeconvolutionImageFilter;
  using Superclass = CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaRichardsonLucyDeconvolutionImageFilter);

  using typename Superclass::AlgorithmEnum;
  using typename Superclass::CPUFilterType;
  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::PlannerType;
  using typename Superclass::SettingsType;

  /** A constant added to the blurred estimate (GPU only); 0 by default. */
  itkSetMacro(Background, double);
  itkGetConstMacro(Background, double);

  /** Total-variation weight lambda (GPU only); 0 (default) is off. Typical: 0.001 to 0.01. */
  itkSetClampMacro(TotalVariation, double, 0.0, NumericTraits<double>::max());
  itkGetConstMacro(TotalVariation, double);

protected:
  CudaRichardsonLucyDeconvolutionImageFilter() = default;
  ~CudaRichardsonLucyDeconvolutionImageFilter() override = default;

  AlgorithmEnum
  GetAlgorithm() const override
  {
    return AlgorithmEnum::RichardsonLucy;
  }

  typename CPUFilterType::Pointer
  MakeCPUFilter() const override;

  void
  FillRequest(typename PlannerType::Request & request) const override;

  void
  FillSettings(SettingsType & settings) const override;

  std::string
  GetGPUOnlyOption() const override;

  /** Besides the base's checks: no negative input, a kernel with a positive sum. */
  void
  VerifyValues(const InternalPrecisionType * input, const InternalPrecisionType * kernel) const override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

private:
  double m_Background{ 0 };
  double m_TotalVariation{ 0 };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaRichardsonLucyDeconvolutionImageFilter.hxx"
#endif

#endif
