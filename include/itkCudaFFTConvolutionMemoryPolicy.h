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
#ifndef itkCudaFFTConvolutionMemoryPolicy_h
#define itkCudaFFTConvolutionMemoryPolicy_h

#include "itkCudaFFTConvolutionEngine.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace itk
{
/** \class CudaFFTConvolutionMemoryPolicy
 * \brief The device-memory policy every face (ITK filters, C ABI, command-line tools) follows:
 * the default budget and what happens when a device allocation fails anyway.
 *
 * - Budget: the caller's when non-zero; otherwise 80% of the device's free memory plus what the
 *   engine already holds (it is released before the next plan allocates); 0 (no limit) where no
 *   device is present, so that a plan can still be estimated.
 * - Out of memory while running (something else took the memory the plan counted on, or cuFFT
 *   needed more than it said): the engine frees everything, the budget becomes the smaller of
 *   half the last one and the default for what is free now, and the work is planned and run
 *   again, at most MaximumRetries times. A caller's budget is a ceiling, so smaller tiles honour
 *   it too; the result is the same. When nothing fits any more, the error says how much is free.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolutionMemoryPolicy
{
public:
  using Engine = CudaFFTConvolutionEngine;
  using EngineError = CudaFFTConvolutionEngineError;

  static constexpr unsigned int MaximumRetries = 3;

  /** The budget to plan with (see the class description); \a engine may be nullptr. */
  static std::uint64_t
  Budget(std::uint64_t requested, const Engine * engine, int device)
  {
    if (requested != 0 || !Engine::DeviceAvailable(nullptr, device))
    {
      return requested;
    }
    std::uint64_t freeBytes = 0;
    std::uint64_t totalBytes = 0;
    Engine::DeviceMemory(freeBytes, totalBytes, device);
    return CudaFFTConvolutionPlanner::DefaultMemoryBudget(freeBytes,
                                                          engine != nullptr ? engine->AllocatedDeviceBytes() : 0);
  }

  /** After a failed allocation: frees what \a engine holds and returns the next budget;
   * \a freeBytes receives what is free now. */
  static std::uint64_t
  BudgetAfterOutOfMemory(Engine & engine, int device, std::uint64_t previous, std::uint64_t & freeBytes)
  {
    engine.ReleaseResources();
    std::uint64_t totalBytes = 0;
    Engine::DeviceMemory(freeBytes, totalBytes, device);
    const std::uint64_t fresh = CudaFFTConvolutionPlanner::DefaultMemoryBudget(freeBytes, 0);
    return previous != 0 && previous / 2 < fresh ? previous / 2 : fresh;
  }

  /** Runs \a plan with \a run(plan); on an out-of-memory EngineError re-plans with
   * \a replan(budget) (which throws std::length_error when nothing fits) and runs again, as the
   * class description says. Other errors pass through; so does \a run's result. */
  template <typename TPlan, typename TReplan, typename TRun>
  static void
  Run(Engine & engine, int device, std::uint64_t budget, TPlan plan, TReplan && replan, TRun && run)
  {
    for (unsigned int retry = 0;; ++retry)
    {
      try
      {
        run(plan);
        return;
      }
      catch (const EngineError & error)
      {
        if (!error.OutOfMemory() || retry == MaximumRetries)
        {
          throw;
        }
        std::uint64_t freeBytes = 0;
        budget = BudgetAfterOutOfMemory(engine, device, budget, freeBytes);
        try
        {
          plan = replan(budget);
        }
        catch (const std::length_error & nothingFits)
        {
          throw EngineError(std::string(error.what()) + "; only " + std::to_string(freeBytes) +
                              " bytes are free now, and " + nothingFits.what(),
                            true);
        }
      }
    }
  }
};
} // namespace itk

#endif
