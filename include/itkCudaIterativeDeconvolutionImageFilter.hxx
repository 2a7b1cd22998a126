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
#ifndef itkCudaIterativeDeconvolutionImageFilter_hxx
#define itkCudaIterativeDeconvolutionImageFilter_hxx

#include "itkCudaIterativeDeconvolutionImageFilter.h"

#include "itkCommand.h"
#include "itkImageRegionConstIterator.h"
#include "itkImageRegionIterator.h"

#include <algorithm>

namespace itk
{
template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetCurrentEstimate()
  const -> const InternalImageType *
{
  if (!m_InIteration)
  {
    return nullptr;
  }
  if (m_EstimateFilled)
  {
    return m_CurrentEstimate;
  }
  const TOutputImage * output = this->GetOutput();
  const auto           region = output->GetBufferedRegion();
  if (m_CurrentEstimate.IsNull() || m_CurrentEstimate->GetBufferedRegion() != region)
  {
    m_CurrentEstimate = InternalImageType::New();
    m_CurrentEstimate->SetRegions(region);
    m_CurrentEstimate->SetOrigin(output->GetOrigin());
    m_CurrentEstimate->SetSpacing(output->GetSpacing());
    m_CurrentEstimate->SetDirection(output->GetDirection());
    m_CurrentEstimate->Allocate(true); // tiles not reached yet read 0
  }
  if (this->IsRunningOnGPU())
  {
    this->CopyCurrentEstimateFromGPU(m_CurrentEstimate->GetBufferPointer());
  }
  else if (m_CPUFilter != nullptr)
  {
    // ITK's estimate is on its padded grid, which holds the image at its own indices.
    ImageRegionConstIterator<InternalImageType> from(m_CPUFilter->GetCurrentEstimate(), region);
    ImageRegionIterator<InternalImageType>      to(m_CurrentEstimate, region);
    for (; !from.IsAtEnd(); ++from, ++to)
    {
      to.Set(from.Get());
    }
  }
  m_EstimateFilled = true;
  return m_CurrentEstimate;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillRequest(
  typename PlannerType::Request & request) const
{
  Superclass::FillRequest(request);
  request.accelerate = m_Acceleration;
  request.iterations = m_NumberOfIterations;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::FillSettings(
  SettingsType & settings) const
{
  Superclass::FillSettings(settings);
  settings.iterations = m_NumberOfIterations;
  settings.relativeChangeTolerance = m_RelativeChangeTolerance;
  settings.divergenceTolerance = m_DivergenceTolerance;
  settings.computeDivergence = m_ComputeDivergence;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
std::string
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::GetGPUOnlyOption()
  const
{
  const std::string option = Superclass::GetGPUOnlyOption();
  if (!option.empty())
  {
    return option;
  }
  if (m_Acceleration)
  {
    return "Acceleration";
  }
  if (m_RelativeChangeTolerance > 0)
  {
    return "RelativeChangeTolerance";
  }
  if (m_DivergenceTolerance > 0)
  {
    return "DivergenceTolerance";
  }
  return m_ComputeDivergence ? "ComputeDivergence" : "";
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
auto
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  MakeIterationFunction(const PlanType &) -> IterationFunctionType
{
  m_Iteration = 0;
  m_CurrentTile = 0;
  m_StoppedAt = std::numeric_limits<unsigned int>::max();
  m_DivergenceHistory.clear();
  m_CurrentEstimate = nullptr;
  // Without one the engine need not wait for the device after each iteration.
  const bool needed = m_StopIteration || m_ComputeDivergence || m_DivergenceTolerance > 0 ||
                      this->HasObserver(IterationEvent()) || this->HasObserver(ProgressEvent());
  if (!needed)
  {
    return IterationFunctionType();
  }
  return [this](const CudaFFTConvolutionEngine::IterationReport & report) { return this->OnIteration(report); };
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
bool
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::OnIteration(
  const CudaFFTConvolutionEngine::IterationReport & report)
{
  m_Iteration = report.iteration;
  m_CurrentTile = report.tile;
  this->RecordDivergence(report);
  const double iterations = std::max(1u, m_NumberOfIterations);
  this->UpdateProgress(static_cast<float>((report.tile + report.iteration / iterations) / report.tiles));
  if (this->GetAbortGenerateData() || report.iteration > m_StoppedAt)
  {
    return false;
  }
  this->InvokeIterationEvent();
  if (report.iteration == m_StoppedAt)
  {
    return false; // a stop in an earlier tile: every tile does as many iterations
  }
  if (m_StopIteration && m_StoppedAt == std::numeric_limits<unsigned int>::max())
  {
    m_StoppedAt = report.iteration;
    return false;
  }
  return !this->GetAbortGenerateData();
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  InvokeIterationEvent()
{
  m_EstimateFilled = false;
  m_InIteration = true;
  try
  {
    this->InvokeEvent(IterationEvent());
  }
  catch (...)
  {
    m_InIteration = false;
    throw;
  }
  m_InIteration = false;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RecordDivergence(
  const CudaFFTConvolutionEngine::IterationReport & report)
{
  if (report.iteration == 0 || !(m_ComputeDivergence || m_DivergenceTolerance > 0))
  {
    return; // the report before iteration k + 1 carries the divergence of x_k
  }
  const std::size_t at = report.iteration - 1;
  if (m_DivergenceHistory.size() <= at)
  {
    m_DivergenceHistory.resize(at + 1, 0.0);
  }
  m_DivergenceHistory[at] += report.divergence;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::AfterGPURun()
{
  m_Iteration = this->GetLastGPUIterations();
  m_CurrentEstimate = nullptr;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::RunCPUFilter(
  CPUFilterType * filter)
{
  auto * iterative = dynamic_cast<CPUIterativeFilterType *>(filter);
  if (iterative == nullptr)
  {
    itkExceptionMacro(<< "the CPU filter " << filter->GetNameOfClass() << " is not iterative");
  }
  iterative->SetNumberOfIterations(m_NumberOfIterations);
  iterative->SetStopIteration(m_StopIteration);
  auto forward = SimpleMemberCommand<Self>::New();
  forward->SetCallbackFunction(this, &Self::ForwardCPUIteration);
  iterative->AddObserver(IterationEvent(), forward);
  m_Iteration = 0;
  m_CurrentTile = 0;
  m_DivergenceHistory.clear();
  m_CurrentEstimate = nullptr;
  m_CPUFilter = iterative;
  try
  {
    iterative->Update();
  }
  catch (...)
  {
    m_CPUFilter = nullptr;
    throw;
  }
  m_CPUFilter = nullptr;
  m_Iteration = iterative->GetIteration();
  m_CurrentEstimate = nullptr;
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::
  ForwardCPUIteration()
{
  m_Iteration = m_CPUFilter->GetIteration();
  this->InvokeIterationEvent();
  if (m_StopIteration)
  {
    m_CPUFilter->SetStopIteration(true); // ITK checks it right after this event
  }
}

template <typename TInputImage, typename TKernelImage, typename TOutputImage, typename TInternalPrecision>
void
CudaIterativeDeconvolutionImageFilter<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>::PrintSelf(
  std::ostream & os,
  Indent         indent) const
{
  Superclass::PrintSelf(os, indent);
  os << indent << "NumberOfIterations: " << m_NumberOfIterations << std::endl;
  os << indent << "Iteration: " << m_Iteration << std::endl;
  os << indent << "StopIteration: " << (m_StopIteration ? "true" : "false") << std::endl;
  os << indent << "CurrentTile: " << m_CurrentTile << std::endl;
  os << indent << "Acceleration: " << (m_Acceleration ? "true" : "false") << std::endl;
  os << indent << "RelativeChangeTolerance: " << m_RelativeChangeTolerance << std::endl;
  os << indent << "DivergenceTolerance: " << m_DivergenceTolerance << std::endl;
  os << indent << "ComputeDivergence: " << (m_ComputeDivergence ? "true" : "false") << std::endl;
  os << indent << "DivergenceHistory: " << m_DivergenceHistory.size() << " values" << std::endl;
}
} // namespace itk

#endif
