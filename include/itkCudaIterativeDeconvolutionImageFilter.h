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
#ifndef itkCudaIterativeDeconvolutionImageFilter_h
#define itkCudaIterativeDeconvolutionImageFilter_h

#include "itkCudaDeconvolutionImageFilterBase.h"
#include "itkIterativeDeconvolutionImageFilter.h"

#include <limits>
#include <vector>

namespace itk
{
/** \class CudaIterativeDeconvolutionImageFilter
 * \brief Base of the iterative deconvolution filters: the iterations, their events, stopping.
 *
 * As ITK's IterativeDeconvolutionImageFilter: NumberOfIterations (default 1); an IterationEvent
 * is invoked at the start of each iteration, before StopIteration is checked, so an observer
 * that calls SetStopIteration(true) stops the deconvolution there (GetIteration() iterations
 * done). Like ITK, StopIteration is not reset by an update: call SetStopIteration(false) before
 * updating again. GetCurrentEstimate() called from an IterationEvent observer returns the
 * estimate after GetIteration() iterations, over the output region; outside an iteration it
 * returns nullptr. Zero iterations return the initial estimate, which is the input.
 *
 * On the GPU all iterations of a tile run on the device. When the GPU tiles the volume, each
 * tile iterates in turn: the events come for each tile (GetCurrentTile() says which, and
 * GetIteration() starts again at 0), GetCurrentEstimate() fills the current tile's block (those
 * of earlier tiles stay as last filled), and a stop at iteration k stops every later tile at k.
 *
 * GPU-only options (exceptions on the CPU path), measured by the engine for Richardson-Lucy:
 * RelativeChangeTolerance stops when sum|x_k+1 - x_k| / sum|x_k| falls below it;
 * DivergenceTolerance when the I-divergence falls by less than that fraction in an iteration;
 * ComputeDivergence records the I-divergence in GetDivergenceHistory(). 0 (default) is off.
 * Acceleration (Biggs-Andrews extrapolation) applies to Richardson-Lucy only.
 *
 * \sa IterativeDeconvolutionImageFilter
 * \ingroup CudaFFTConvolution
 */
template <typename TInputImage,
          typename TKernelImage = TInputImage,
          typename TOutputImage = TInputImage,
          typename TInternalPrecision = float>
class ITK_TEMPLATE_EXPORT CudaIterativeDeconvolutionImageFilter
  : public CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>
{
public:
  ITK_DISALLOW_COPY_AND_MOVE(CudaIterativeDeconvolutionImageFilter);

  using Self = CudaIterativeDeconvolutionImageFilter;
  using Superclass = CudaDeconvolutionImageFilterBase<TInputImage, TKernelImage, TOutputImage, TInternalPrecision>;
  using Pointer = SmartPointer<Self>;
  using ConstPointer = SmartPointer<const Self>;

  itkOverrideGetNameOfClassMacro(CudaIterativeDeconvolutionImageFilter);

  using typename Superclass::InternalImageType;
  using typename Superclass::InternalPrecisionType;
  using typename Superclass::CPUFilterType;
  using typename Superclass::PlannerType;
  using typename Superclass::PlanType;
  using typename Superclass::SettingsType;
  using typename Superclass::IterationFunctionType;

  /** ITK's iterative filter: the CPU path's. */
  using CPUIterativeFilterType =
    IterativeDeconvolutionImageFilter<TInputImage, TKernelImage, InternalImageType, TInternalPrecision>;

  itkSetMacro(NumberOfIterations, unsigned int);
  itkGetConstMacro(NumberOfIterations, unsigned int);

  /** Stops the deconvolution at the next IterationEvent check (does not modify the filter). */
  void
  SetStopIteration(bool stop)
  {
    m_StopIteration = stop;
  }
  itkGetConstMacro(StopIteration, bool);

  /** Iterations done: during an IterationEvent those before the coming one (of the current
   * tile); after an update, those of the last tile. */
  itkGetConstMacro(Iteration, unsigned int);

  /** The tile the current iteration belongs to (0 on the CPU and without tiles). */
  itkGetConstMacro(CurrentTile, SizeValueType);

  /** From an IterationEvent observer: the current estimate over the output region (filled on the
   * first call of each iteration); nullptr outside an iteration. */
  const InternalImageType *
  GetCurrentEstimate() const;

  /** Biggs-Andrews acceleration (Richardson-Lucy, GPU only). */
  itkSetMacro(Acceleration, bool);
  itkGetConstMacro(Acceleration, bool);
  itkBooleanMacro(Acceleration);

  /** Stopping tolerances (GPU only); 0 is off. */
  itkSetClampMacro(RelativeChangeTolerance, double, 0.0, NumericTraits<double>::max());
  itkGetConstMacro(RelativeChangeTolerance, double);
  itkSetClampMacro(DivergenceTolerance, double, 0.0, NumericTraits<double>::max());
  itkGetConstMacro(DivergenceTolerance, double);

  /** Measure the I-divergence of every iteration (GPU only). */
  itkSetMacro(ComputeDivergence, bool);
  itkGetConstMacro(ComputeDivergence, bool);
  itkBooleanMacro(ComputeDivergence);

  /** Entry i: the I-divergence of the data from the blurred estimate after i iterations (the
   * engine measures it during iteration i + 1, so the final estimate's is not included), summed
   * over the tiles. Empty unless ComputeDivergence or DivergenceTolerance was set. */
  const std::vector<double> &
  GetDivergenceHistory() const
  {
    return m_DivergenceHistory;
  }

protected:
  CudaIterativeDeconvolutionImageFilter() = default;
  ~CudaIterativeDeconvolutionImageFilter() override = default;

  void
  PrintSelf(std::ostream & os, Indent indent) const override;

  void
  FillRequest(typename PlannerType::Request & request) const override;

  void
  FillSettings(SettingsType & settings) const override;

  std::string
  GetGPUOnlyOption() const override;

  IterationFunctionType
  MakeIterationFunction(const PlanType & plan) override;

  void
  AfterGPURun() override;

  /** Sets the iterations, forwards ITK's IterationEvents as this filter's and this filter's
   * StopIteration to ITK's. */
  void
  RunCPUFilter(CPUFilterType * filter) override;

private:
  /** The engine's IterationFunction: events, progress, stopping. */
  bool
  OnIteration(const CudaFFTConvolutionEngine::IterationReport & report);

  /** Invokes IterationEvent with the current estimate available to observers. */
  void
  InvokeIterationEvent();

  void
  ForwardCPUIteration();

  void
  RecordDivergence(const CudaFFTConvolutionEngine::IterationReport & report);

  unsigned int        m_NumberOfIterations{ 1 };
  unsigned int        m_Iteration{ 0 };
  bool                m_StopIteration{ false };
  SizeValueType       m_CurrentTile{ 0 };
  bool                m_Acceleration{ false };
  double              m_RelativeChangeTolerance{ 0 };
  double              m_DivergenceTolerance{ 0 };
  bool                m_ComputeDivergence{ false };
  std::vector<double> m_DivergenceHistory;

  // The iteration a stop happened at, which later tiles stop at too; none yet: the largest value.
  unsigned int m_StoppedAt{ std::numeric_limits<unsigned int>::max() };
  bool         m_InIteration{ false };

  // GetCurrentEstimate's image, filled once per iteration on demand.
  mutable typename InternalImageType::Pointer m_CurrentEstimate;
  mutable bool                                m_EstimateFilled{ false };
  CPUIterativeFilterType *                    m_CPUFilter{ nullptr }; // during a CPU update
};
} // namespace itk

#ifndef ITK_MANUAL_INSTANTIATION
#  include "itkCudaIterativeDeconvolutionImageFilter.hxx"
#endif

#endif
