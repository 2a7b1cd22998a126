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
#ifndef itkCudaFFTConvolutionFilterSupport_h
#define itkCudaFFTConvolutionFilterSupport_h

#include "itkCudaFFTConvolutionEngine.h"
#include "itkCudaFFTConvolutionMemoryPolicy.h"
#include "itkCudaFFTConvolutionImageFilterEnums.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include "itkMacro.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace itk
{
/** \class CudaFFTConvolutionFilterSupport
 * \brief What the module's ITK filters share: region and buffer conversions, the choice of the
 * device, the engine on that device, and the GPU memory budget (default and after running out).
 *
 * Static functions only; the filters keep the settings (ComputeDevice, GPUDevice,
 * GPUMemoryBudget) and turn the error texts these give into itk::ExceptionObject.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolutionFilterSupport
{
public:
  using Box = CudaFFTConvolutionPlanner::Box;
  using Engine = CudaFFTConvolutionEngine;
  using ComputeDeviceEnum = CudaFFTConvolutionImageFilterEnums::ComputeDevice;
  using FFTBackendEnum = CudaFFTConvolutionImageFilterEnums::FFTBackend;

  /** The filters' backend as the engine's (the values are the same; FFT.cu checks it). */
  static Engine::FFTBackend
  ToEngine(FFTBackendEnum backend)
  {
    return static_cast<Engine::FFTBackend>(static_cast<int>(backend));
  }

  static FFTBackendEnum
  FromEngine(Engine::FFTBackend backend)
  {
    return static_cast<FFTBackendEnum>(static_cast<int>(backend));
  }

  /** A filter's backend before it is set: the environment's (CUDAFFTCONVOLUTION_FFT_BACKEND),
   * cuFFT when unset. */
  static FFTBackendEnum
  DefaultFFTBackend()
  {
    return FromEngine(Engine::DefaultFFTBackend());
  }

  /** A backend's name as the filters' SetFFTBackend(name) reads it (FFTBackendFromName, the one
   * reading of every face); an unknown name throws an itk::ExceptionObject naming the filter. */
  static FFTBackendEnum
  FFTBackendFromName(const std::string & name, const char * filterName)
  {
    try
    {
      return CudaFFTConvolutionImageFilterEnums::FFTBackendFromName(name);
    }
    catch (const std::invalid_argument & error)
    {
      itkGenericExceptionMacro(<< filterName << "::SetFFTBackend: " << error.what());
    }
  }

  template <typename TRegion>
  static Box
  ToBox(const TRegion & region)
  {
    Box box;
    for (unsigned int a = 0; a < TRegion::ImageDimension; ++a)
    {
      box.index[a] = region.GetIndex()[a];
      box.size[a] = region.GetSize()[a];
    }
    return box;
  }

  template <typename TRegion>
  static TRegion
  ToRegion(const Box & box)
  {
    TRegion region;
    for (unsigned int a = 0; a < TRegion::ImageDimension; ++a)
    {
      region.SetIndex(a, box.index[a]);
      region.SetSize(a, box.size[a]);
    }
    return region;
  }

  /** The values of a buffer as TInternal: the buffer itself when the types agree, else a copy. */
  template <typename TInternal>
  static const TInternal *
  AsInternal(const TInternal * values, std::size_t, std::vector<TInternal> &)
  {
    return values;
  }
  template <typename TInternal, typename TPixel>
  static const TInternal *
  AsInternal(const TPixel * values, std::size_t count, std::vector<TInternal> & storage)
  {
    storage.assign(values, values + count);
    return storage.data();
  }

  /** Where to write TInternal results: the output buffer itself when the types agree. */
  template <typename TInternal>
  static TInternal *
  InternalTarget(TInternal * values, std::size_t, std::vector<TInternal> &)
  {
    return values;
  }
  template <typename TInternal, typename TPixel>
  static TInternal *
  InternalTarget(TPixel *, std::size_t count, std::vector<TInternal> & storage)
  {
    storage.resize(count);
    return storage.data();
  }

  /** Copies what InternalTarget put aside into the output buffer (nothing when it wrote there). */
  template <typename TInternal>
  static void
  CopyToOutput(const std::vector<TInternal> &, TInternal *)
  {}
  template <typename TInternal, typename TPixel>
  static void
  CopyToOutput(const std::vector<TInternal> & storage, TPixel * values)
  {
    std::copy(storage.begin(), storage.end(), values);
  }

  [[noreturn]] static void
  ThrowAborted(const char * file, unsigned int line, const char * location, const char * description)
  {
    ProcessAborted aborted(file, line);
    aborted.SetLocation(location);
    aborted.SetDescription(description);
    throw aborted;
  }

  /** True to run on the GPU. When the GPU was required (ComputeDevice GPU, or a device ordinal
   * the machine lacks while it has a device) but cannot be had, returns false and says why in
   * \a error; with AUTOMATIC and no device at all, returns false and leaves \a error empty. */
  static bool
  ChooseGPU(ComputeDeviceEnum device, int ordinal, std::string & error)
  {
    error.clear();
    if (device == ComputeDeviceEnum::CPU)
    {
      return false;
    }
    std::string why;
    if (Engine::DeviceAvailable(&why, ordinal))
    {
      return true;
    }
    const bool wrongOrdinal = ordinal >= 0 && Engine::DeviceAvailable();
    if (device == ComputeDeviceEnum::GPU || wrongOrdinal)
    {
      error = "the GPU was required but " + why;
    }
    return false;
  }

  /** The engine on device \a ordinal (made on first use; moving to another device frees what it
   * held on the previous one) with \a threads staging threads (at most 16: more copy no faster)
   * and the FFT backend \a backend. */
  static Engine &
  PrepareEngine(std::unique_ptr<Engine> & engine, int ordinal, unsigned int threads, FFTBackendEnum backend)
  {
    if (!engine)
    {
      engine.reset(new Engine);
    }
    if (engine->GetDevice() != ordinal)
    {
      engine->ReleaseResources();
      engine->SetDevice(ordinal);
    }
    engine->SetNumberOfThreads(std::min(16u, threads));
    engine->SetFFTBackend(ToEngine(backend));
    return *engine;
  }

  /** Frees what \a engine holds (nothing without one); returns the engine's error text, or "". */
  static std::string
  ReleaseResources(Engine * engine)
  {
    if (engine != nullptr)
    {
      try
      {
        engine->ReleaseResources();
      }
      catch (const CudaFFTConvolutionEngineError & error)
      {
        return error.what();
      }
    }
    return std::string();
  }
};
} // namespace itk

#endif
