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
#ifndef itkCudaRichardsonLucyDeconvolutionImageFilter_hxx
#define itkCudaRichardsonLucyDeconvolutionImageFilter_hxx

#include "itkCudaRichardsonLucyDeconvolutionImageFilter.h"

namespace itk
{
template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaRichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::MakeCPUFilter()
  const -> typename CPUFilterType::Pointer
{
  using ITKFilterType =
    RichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, InternalImageType, TInternalPrecision>;
  return typename CPUFilterType::Pointer(ITKFilterType::New().GetPointer());
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaRichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillRequest(
  typename PlannerType::Request & request) const
{
  Superclass::FillRequest(request);
  request.totalVariation = m_TotalVariation > 0;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaRichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillSettings(
  SettingsType & settings) const
{
  Superclass::FillSettings(settings);
  settings.background = m_Background;
  settings.totalVariation = m_TotalVariation;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
std::string
CudaRichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  GetGPUOnlyOption() const
{
  const std::string option = Superclass::GetGPUOnlyOption();
  if (!option.empty())
  {
    return option;
  }
  if (m_Background != 0)
  {
    return "Background";
  }
  return m_TotalVariation > 0 ? "TotalVariation" : "";
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaRichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::VerifyValues(
  const InternalPrecisionType * input,
  const InternalPrecisionType * kernel) const
{
  Superclass::VerifyValues(input, kernel);
  const auto *      inputImage = this->GetInput();
  const std::size_t inputCount = inputImage->GetBufferedRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < inputCount; ++i)
  {
    if (input[i] < 0)
    {
      itkExceptionMacro(<< "Richardson-Lucy needs a non-negative input (it models counts), but the input is "
                        << input[i] << " at " << Superclass::VoxelName(inputImage, i));
    }
  }
  const std::size_t kernelCount = this->GetKernelImage()->GetBufferedRegion().GetNumberOfPixels();
  double            sum = 0;
  for (std::size_t i = 0; i < kernelCount; ++i)
  {
    sum += static_cast<double>(kernel[i]);
  }
  if (!(sum > 0))
  {
    itkExceptionMacro(<< "Richardson-Lucy needs a kernel with a positive sum, but the kernel sums to " << sum);
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaRichardsonLucyDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "Background: " << m_Background << std::endl;
  os << indent << "TotalVariation: " << m_TotalVariation << std::endl;
}

} // namespace itk

#endif
