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
// The engine's deconvolution entry points: a deconvolution over host buffers (each tile's data
// go up once, its output block comes back once) or over device buffers on the caller's stream,
// both run by a DeconvolutionRun (itkCudaFFTConvolutionDeconvolutionRun.cuh).
#include "itkCudaFFTConvolutionDeconvolutionRun.cuh"

namespace itk
{
namespace
{
/** Marks a run as the one CopyCurrentEstimate reaches, for its lifetime. */
class ActiveRun
{
public:
  ActiveRun(void *& slot, unsigned int & elementSize, void * run, unsigned int size)
    : m_Slot(slot)
    , m_ElementSize(elementSize)
  {
    m_Slot = run;
    m_ElementSize = size;
  }
  ~ActiveRun()
  {
    m_Slot = nullptr;
    m_ElementSize = 0;
  }
  ActiveRun(const ActiveRun &) = delete;
  ActiveRun &
  operator=(const ActiveRun &) = delete;

private:
  void *&        m_Slot;
  unsigned int & m_ElementSize;
};
} // namespace

template <typename TValue>
void
CudaFFTConvolutionEngine::Deconvolve(const DeconvolutionPlan &        plan,
                                     const HostBuffer<const TValue> & input,
                                     const HostBuffer<TValue> &       output,
                                     const KernelValues<TValue> &     kernel,
                                     const DeconvolutionSettings &    settings,
                                     const IterationFunction &        onIteration)
{
  if (!plan.input.IsInside(input.region) || input.data == nullptr)
  {
    throw std::invalid_argument("the input buffer does not hold the deconvolution's input");
  }
  if (!plan.output.IsInside(output.region) || output.data == nullptr)
  {
    throw std::invalid_argument("the output buffer does not hold the deconvolution's output region");
  }
  Impl &                       engine = *m_Impl;
  std::unique_ptr<DeviceScope> scope;
  engine.m_LastDevice = engine.Enter(scope);
  engine.EnsureStreams();
  engine.WaitForDeviceRuns();
  try
  {
    DeconvolutionRun<TValue> run(engine, plan, settings, onIteration, engine.m_Compute);
    ActiveRun                active(engine.m_ActiveDeconvolution, engine.m_ActiveElementSize, &run, sizeof(TValue));
    run.Prepare(kernel);
    const auto load = [&](const CudaDeconvolutionPlanner::Tile & tile) {
      CudaFFTConvolutionStaging::Transfer upload{
        const_cast<TValue *>(input.data), input.region, tile.data, sizeof(TValue), run.DataBuffer()
      };
      engine.m_Staging.Move(&upload, engine.m_Upload, nullptr, engine.m_Download, *engine.m_Workers);
      CUDAFFT_CHECK(cudaEventRecord(engine.m_InputReady[0], engine.m_Upload));
      CUDAFFT_CHECK(cudaStreamWaitEvent(run.Stream(), engine.m_InputReady[0], 0));
    };
    const auto store =
      [&](const CudaDeconvolutionPlanner::Tile & tile, const TValue * estimate, const Planner::IndexArray & offset) {
        CopyBox<TValue>(estimate,
                        plan.gridSize,
                        offset,
                        run.DataBuffer(),
                        tile.output.size,
                        tile.output.size,
                        run.Stream(),
                        run.GridLayout().pitch);
        CUDAFFT_CHECK(cudaStreamSynchronize(run.Stream()));
        run.Download(output, run.DataBuffer());
      };
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      run.RunTile(t, load, store);
    }
  }
  catch (...)
  {
    engine.Drain();
    throw;
  }
}

template <typename TValue>
void
CudaFFTConvolutionEngine::DeconvolveOnDevice(const DeconvolutionPlan &          plan,
                                             const DeviceBuffer<const TValue> & input,
                                             const DeviceBuffer<TValue> &       output,
                                             const KernelValues<TValue> &       kernel,
                                             const DeconvolutionSettings &      settings,
                                             const IterationFunction &          onIteration,
                                             StreamHandle                       streamHandle)
{
  if (!plan.input.IsInside(input.region) || input.data == nullptr)
  {
    throw std::invalid_argument("the input buffer does not hold the deconvolution's input");
  }
  if (!plan.output.IsInside(output.region) || output.data == nullptr)
  {
    throw std::invalid_argument("the output buffer does not hold the deconvolution's output region");
  }
  Impl &                       engine = *m_Impl;
  const auto                   stream = static_cast<cudaStream_t>(streamHandle);
  std::unique_ptr<DeviceScope> scope;
  engine.m_LastDevice = engine.Enter(scope);
  engine.EnsureStreams();
  engine.WaitForDeviceRuns();
  try
  {
    DeconvolutionRun<TValue> run(engine, plan, settings, onIteration, stream);
    ActiveRun                active(engine.m_ActiveDeconvolution, engine.m_ActiveElementSize, &run, sizeof(TValue));
    run.Prepare(kernel);
    const auto load = [&](const CudaDeconvolutionPlanner::Tile & tile) {
      Planner::IndexArray at;
      for (unsigned int axis = 0; axis < 3; ++axis)
      {
        at[axis] = tile.data.index[axis] - input.region.index[axis];
      }
      CopyBox<TValue>(input.data, input.region.size, at, run.DataBuffer(), tile.data.size, tile.data.size, stream);
    };
    const auto store =
      [&](const CudaDeconvolutionPlanner::Tile & tile, const TValue * estimate, const Planner::IndexArray & offset) {
        TValue * to = output.data + Impl::Offset(output.region, tile.output.index);
        CopyBox<TValue>(
          estimate, plan.gridSize, offset, to, output.region.size, tile.output.size, stream, run.GridLayout().pitch);
      };
    for (std::size_t t = 0; t < plan.tiles.size(); ++t)
    {
      run.RunTile(t, load, store);
    }
    // The engine's buffers are reused by the next run on any stream: it waits for this one.
    CUDAFFT_CHECK(cudaEventRecord(engine.m_DeviceRunDone, stream));
    engine.m_DeviceRunPending = true;
  }
  catch (...)
  {
    cudaStreamSynchronize(stream);
    engine.Drain();
    throw;
  }
}

template <typename TValue>
void
CudaFFTConvolutionEngine::CopyCurrentEstimate(const HostBuffer<TValue> & output)
{
  if (m_Impl->m_ActiveDeconvolution == nullptr || m_Impl->m_ActiveElementSize != sizeof(TValue))
  {
    throw std::logic_error("CopyCurrentEstimate is only available during a deconvolution of this precision");
  }
  static_cast<DeconvolutionRun<TValue> *>(m_Impl->m_ActiveDeconvolution)->CopyEstimate(output);
}

unsigned int
CudaFFTConvolutionEngine::LastIterations() const
{
  return m_Impl->m_LastIterations;
}

#define CUDAFFT_INSTANTIATE_DECONVOLUTION(T)                                                                     \
  template CudaFFTConvolution_EXPORT void CudaFFTConvolutionEngine::Deconvolve<T>(const DeconvolutionPlan &,     \
                                                                                  const HostBuffer<const T> &,   \
                                                                                  const HostBuffer<T> &,         \
                                                                                  const KernelValues<T> &,       \
                                                                                  const DeconvolutionSettings &, \
                                                                                  const IterationFunction &);    \
  template CudaFFTConvolution_EXPORT void CudaFFTConvolutionEngine::DeconvolveOnDevice<T>(                       \
    const DeconvolutionPlan &,                                                                                   \
    const DeviceBuffer<const T> &,                                                                               \
    const DeviceBuffer<T> &,                                                                                     \
    const KernelValues<T> &,                                                                                     \
    const DeconvolutionSettings &,                                                                               \
    const IterationFunction &,                                                                                   \
    StreamHandle);                                                                                               \
  template CudaFFTConvolution_EXPORT void CudaFFTConvolutionEngine::CopyCurrentEstimate<T>(const HostBuffer<T> &)

CUDAFFT_INSTANTIATE_DECONVOLUTION(float);
CUDAFFT_INSTANTIATE_DECONVOLUTION(double);
} // namespace itk
