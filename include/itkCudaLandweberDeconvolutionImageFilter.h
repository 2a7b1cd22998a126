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
#ifndef itkCudaLandweberDeconvolutionImageFilter_h
#define itkCudaLandweberDeconvolutionImageFilter_h

#include "itkCudaIterativeDeconvolutionImageFilter.h"
#include "itkLandweberDeconvolutionImageFilter.h"

namespace itk
{
/** \class CudaLandweberDeconvolutionImageFilter
 * \brief Landweber deconvolution on an NVIDIA GPU; ITK's LandweberDeconvolutionImageFilter on the CPU.
 *
 * Each iteration is, in Fourier space, F <- alpha conj(H) G + (1 - alpha |H|^2) F, with the
 * step Alpha (default 0.1, as ITK's); the initial estimate is the input. It converges for
 * 0 < Alpha < 2 / max|H|^2 (2 for a normalized non-negative kernel).
 *
 * \sa LandweberDeconvolutionImageFilter CudaProjectedLandweberDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaLandweberDeconvolutionImageFilter
  : public CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaLandweberDeconvolutionImageFilter);

  using Self = CudaLandweberDeconvolutionImageFilter;
  using Superclass = CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaLandweberDeconvolutionImageFilter);

  using typename Superclass::AlgorithmEnum;
  using typename Superclass::CPUFilterType;
  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::PlannerType;
  using typename Superclass::SettingsType;

  /** The step; 0.1 by default. */
  itkSetMacro(Alpha, double);
  itkGetConstMacro(Alpha, double);

protected:
  CudaLandweberDeconvolutionImageFilter() = default;
  ~CudaLandweberDeconvolutionImageFilter() override = default;

  AlgorithmEnum
  GetAlgorithm() const override
  {
    return AlgorithmEnum::Landweber;
  }

  typename CPUFilterType::Pointer
  MakeCPUFilter() const override;

  void
  FillSettings(SettingsType & settings) const override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

private:
  double m_Alpha{ 0.1 };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaLandweberDeconvolutionImageFilter.hxx"
#endif

#endif
