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
#ifndef itkCudaFFTConvolutionEngine_h
#define itkCudaFFTConvolutionEngine_h

#include "CudaFFTConvolutionExport.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace itk
{
/** \class CudaFFTConvolutionEngineError
 * \brief What the GPU engine throws: the failing call and the CUDA or cuFFT error text.
 *
 * The filter turns it into an itk::ExceptionObject. OutOfMemory() tells a device allocation
 * failure apart, so that a caller can retry with a smaller budget.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionEngineError : public std::runtime_error
{
public:
  CudaFFTConvolutionEngineError(const std::string & what, bool outOfMemory)
    : std::runtime_error(what)
    , m_OutOfMemory(outOfMemory)
  {}
  bool
  OutOfMemory() const
  {
    return m_OutOfMemory;
  }

private:
  bool m_OutOfMemory{ false };
};

/** \class CudaFFTConvolutionEngine
 * \brief Executes a CudaFFTConvolutionPlanner plan on a CUDA device with cuFFT.
 *
 * Plain C++ over raw host pointers, float or double; no CUDA type and no ITK template appears
 * here, so the ITK filter is compiled by the host compiler and nvcc sees only src/*.cu.
 *
 * For each tile: the tile's source block is copied from the host buffer through pinned staging
 * to the device, padded there with the boundary condition into an in-place real-to-complex FFT
 * buffer, transformed, multiplied with the cached kernel spectrum (which carries 1/N and the
 * kernel normalisation), transformed back, cropped and copied to the host output buffer.
 *
 * Caches: the forward and inverse cuFFT plans of the last FFT size (sharing one work area) and
 * the kernel spectrum keyed by the caller's kernel key, FFT size, precision and normalisation.
 * ReleaseResources() frees all device and pinned memory. One engine serves one caller at a time.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT CudaFFTConvolutionEngine
{
public:
  using SizeArray = CudaFFTConvolutionPlanner::SizeArray;
  using Box = CudaFFTConvolutionPlanner::Box;
  using Plan = CudaFFTConvolutionPlanner::Plan;

  /** Called between tiles with the fraction done; returns false to abort the run. */
  using ProgressFunction = std::function<bool(double)>;

  /** A host buffer of values and the image region it holds (x fastest). */
  template <typename TValue>
  struct HostBuffer
  {
    TValue * data{ nullptr };
    Box      region;
  };

  CudaFFTConvolutionEngine();
  ~CudaFFTConvolutionEngine();
  CudaFFTConvolutionEngine(const CudaFFTConvolutionEngine &) = delete;
  CudaFFTConvolutionEngine &
  operator=(const CudaFFTConvolutionEngine &) = delete;

  /** True when a usable CUDA device is present; otherwise \a reason says why not. */
  static bool
  DeviceAvailable(std::string * reason = nullptr);

  /** Free and total memory of the current device, in bytes. */
  static void
  DeviceMemory(std::uint64_t & freeBytes, std::uint64_t & totalBytes);

  /** Makes this engine's forward and inverse cuFFT plans for an FFT size (unless it has them)
   * and returns their work-area bytes: planning asks this, and Run then reuses the plans. */
  std::uint64_t
  PreparePlans(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize);

  /** Exact cuFFT work-area bytes for the forward and inverse plans of an FFT size (the larger),
   * for estimates made without an engine. */
  static std::uint64_t
  WorkAreaBytes(const SizeArray & fftSize, unsigned int dimension, unsigned int elementSize);

  /** Page-locked host memory (cudaMallocHost), which the engine copies to and from by DMA
   * without staging; nullptr when it cannot be had. Free it with FreePinnedHost. */
  static void *
  AllocatePinnedHost(std::uint64_t bytes);
  static void
  FreePinnedHost(void * pointer);

  /** Page-locks an existing host buffer (cudaHostRegister); false when that fails. The buffer
   * must stay allocated until UnregisterHost. */
  static bool
  RegisterHost(const void * pointer, std::uint64_t bytes);
  static void
  UnregisterHost(const void * pointer);

  /** True when the host pointer lies in page-locked memory. */
  static bool
  IsPinnedHost(const void * pointer);

  /** Whether the spectrum for this kernel key and plan is cached (the kernel need not be sent). */
  bool
  HasKernelSpectrum(std::uint64_t kernelKey, const Plan & plan, bool normalize) const;

  /** Runs a plan. \a kernel may be null when HasKernelSpectrum() said true. \a constant is the
   * value of a constant boundary condition. Returns false when \a progress asked to abort. */
  template <typename TValue>
  bool
  Run(const Plan &                     plan,
      const HostBuffer<const TValue> & input,
      const HostBuffer<TValue> &       output,
      const TValue *                   kernel,
      std::uint64_t                    kernelKey,
      bool                             normalize,
      TValue                           constant,
      const ProgressFunction &         progress);

  /** Frees the plans, the kernel spectrum, the device buffers and the pinned staging. */
  void
  ReleaseResources();

  /** Device bytes currently held by this engine. */
  std::uint64_t
  AllocatedDeviceBytes() const;

  /** Largest device bytes held at once since construction or the last ResetPeak(). */
  std::uint64_t
  PeakDeviceBytes() const;

  void
  ResetPeak();

private:
  class Impl;
  std::unique_ptr<Impl> m_Impl;
};
} // namespace itk

#endif
