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
#ifndef itkCudaProjectedLandweberDeconvolutionImageFilter_hxx
#define itkCudaProjectedLandweberDeconvolutionImageFilter_hxx

#include "itkCudaProjectedLandweberDeconvolutionImageFilter.h"

namespace itk
{
template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaProjectedLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  MakeCPUFilter() const -> typename CPUFilterType::Pointer
{
  using ITKFilterType =
    ProjectedLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, InternalImageType, TInternalPrecision>;
  auto filter = ITKFilterType::New();
  filter->SetAlpha(this->GetAlpha());
  return typename CPUFilterType::Pointer(filter.GetPointer());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaProjectedLandweberDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
}

} // namespace itk

#endif
