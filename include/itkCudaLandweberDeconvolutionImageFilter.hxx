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
#ifndef itkCudaLandweberDeconvolutionImageFilter_hxx
#define itkCudaLandweberDeconvolutionImageFilter_hxx

#include "itkCudaLandweberDeconvolutionImageFilter.h"

namespace itk
{
template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeCPUFilter()
  const -> typename CPUFilterType::Pointer
{
  using ITKFilterType =
    LandweberDeconvolutionImageFilter<TInputImage, TKernelImage, InternalImageType, TInternalPrecision>;
  auto filter = ITKFilterType::New();
  filter->SetAlpha(m_Alpha);
  return typename CPUFilterType::Pointer(filter.GetPointer());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillSettings(
  SettingsType & settings) const
{
  Superclass::FillSettings(settings);
  settings.alpha = m_Alpha;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "Alpha: " << m_Alpha << std::endl;
}

} // namespace itk

#endif
