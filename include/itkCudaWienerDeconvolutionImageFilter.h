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
#ifndef itkCudaWienerDeconvolutionImageFilter_h
#define itkCudaWienerDeconvolutionImageFilter_h

#include "itkCudaInverseDeconvolutionImageFilter.h"
#include "itkWienerDeconvolutionImageFilter.h"

namespace itk
{
/** \class CudaWienerDeconvolutionImageFilter
 * \brief Wiener deconvolution on an NVIDIA GPU; ITK's WienerDeconvolutionImageFilter on the CPU.
 *
 * NoiseVariance is the noise's power spectral density, assumed constant (white noise), as in
 * ITK's filter (default 0: the inverse filter); the signal's power spectrum is estimated from
 * the input as ITK does.
 *
 * \sa WienerDeconvolutionImageFilter CudaInverseDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaWienerDeconvolutionImageFilter
  : public CudaInverseDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaWienerDeconvolutionImageFilter);

  using Self = CudaWienerDeconvolutionImageFilter;
  using Superclass = CudaInverseDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkNewMacro(Self);
  itkOverrideGetNameOfClassMacro(CudaWienerDeconvolutionImageFilter);

  using typename Superclass::AlgorithmEnum;
  using typename Superclass::CPUFilterType;
  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::PlannerType;
  using typename Superclass::SettingsType;

  /** The noise variance; 0 by default. */
  itkSetMacro(NoiseVariance, double);
  itkGetConstMacro(NoiseVariance, double);

protected:
  CudaWienerDeconvolutionImageFilter() = default;
  ~CudaWienerDeconvolutionImageFilter() override = default;

  AlgorithmEnum
  GetAlgorithm() const override
  {
    return AlgorithmEnum::Wiener;
  }

  typename CPUFilterType::Pointer
  MakeCPUFilter() const override;

  void
  FillSettings(SettingsType & settings) const override;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

private:
  double m_NoiseVariance{ 0.0 };
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaWienerDeconvolutionImageFilter.hxx"
#endif

#endif
