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
#ifndef itkCudaWienerDeconvolutionImageFilter_hxx
#define itkCudaWienerDeconvolutionImageFilter_hxx

#include "itkCudaWienerDeconvolutionImageFilter.h"

namespace itk
{
template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaWienerDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeCPUFilter() const
  -> typename CPUFilterType::Pointer
{
  using ITKFilterType =
    WienerDeconvolutionImageFilter<TInputImage, TKernelImage, InternalImageType, TInternalPrecision>;
  auto filter = ITKFilterType::New();
  filter->SetKernelZeroMagnitudeThreshold(this->GetKernelZeroMagnitudeThreshold());
  filter->SetNoiseVariance(m_NoiseVariance);
  return typename CPUFilterType::Pointer(filter.GetPointer());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaWienerDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillSettings(
  SettingsType & settings) const
{
  Superclass::FillSettings(settings);
  settings.noiseVariance = m_NoiseVariance;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaWienerDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "NoiseVariance: " << m_NoiseVariance << std::endl;
}

} // namespace itk

#endif
