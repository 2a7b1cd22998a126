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
// The C ABI over the planner and the engine: it translates structs, plans with the engine's
// exact work areas and the default budget rule, and turns every exception into a status code
// and a per-thread message.
#include "cudafftconvolution.h"

#include "itkCudaFFTConvolutionEngine.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

namespace
{
using Engine = itk::CudaFFTConvolutionEngine;
using Planner = itk::CudaFFTConvolutionPlanner;
using EngineError = itk::CudaFFTConvolutionEngineError;

thread_local std::string lastError;

cfc_status
Fail(cfc_status status, const std::string & message)
{
  lastError = message;
  return status;
}

/** Runs \a body; any exception becomes a status and the thread's message. */
template <typename TBody>
cfc_status
Guarded(TBody && body)
{
  try
  {
    lastError.clear();
    return body();
  }
  catch (const EngineError & error)
  {
    return Fail(error.OutOfMemory() ? CFC_ERROR_OUT_OF_MEMORY : CFC_ERROR_CUDA, error.what());
  }
  catch (const std::invalid_argument & error)
  {
    return Fail(CFC_ERROR_INVALID_ARGUMENT, error.what());
  }
  catch (const std::length_error & error)
  {
    return Fail(CFC_ERROR_BUDGET, error.what());
  }
  catch (const std::bad_alloc &)
  {
    return Fail(CFC_ERROR_OUT_OF_MEMORY, "a host allocation failed");
  }
  catch (const std::exception & error)
  {
    return Fail(CFC_ERROR_INTERNAL, error.what());
  }
  catch (...)
  {
    return Fail(CFC_ERROR_INTERNAL, "an unknown C++ exception");
  }
}

Planner::Boundary
BoundaryOf(std::int32_t boundary)
{
  switch (boundary)
  {
    case CFC_BOUNDARY_ZERO_FLUX_NEUMANN:
      return Planner::Boundary::ZeroFluxNeumann;
    case CFC_BOUNDARY_CONSTANT:
      return Planner::Boundary::Constant;
    case CFC_BOUNDARY_PERIODIC:
      return Planner::Boundary::Periodic;
    default:
      throw std::invalid_argument("unknown boundary " + std::to_string(boundary) +
                                  " (0 zero-flux Neumann, 1 constant, 2 periodic)");
  }
}

Planner::OutputRegionEnum
ModeOf(std::int32_t mode)
{
  if (mode < CFC_MODE_SAME || mode > CFC_MODE_FULL)
  {
    throw std::invalid_argument("unknown mode " + std::to_string(mode) + " (0 same, 1 valid, 2 full)");
  }
  return static_cast<Planner::OutputRegionEnum>(mode);
}

void
CheckProblem(const cfc_problem * problem)
{
  if (problem == nullptr)
  {
    throw std::invalid_argument("no problem was given");
  }
  if (problem->dimension < 1 || problem->dimension > 3)
  {
    throw std::invalid_argument("the dimension must be 1, 2 or 3, not " + std::to_string(problem->dimension));
  }
  if (problem->element_size != 4 && problem->element_size != 8)
  {
    throw std::invalid_argument("the element size must be 4 (float) or 8 (double)");
  }
  for (unsigned int a = 0; a < 3; ++a)
  {
    const bool used = a < problem->dimension;
    if (used && (problem->image_size[a] == 0 || problem->kernel_size[a] == 0))
    {
      throw std::invalid_argument("the image and the kernel must not be empty");
    }
    if (!used && (problem->image_size[a] != 1 || problem->kernel_size[a] != 1))
    {
      throw std::invalid_argument("axes beyond the dimension must have size 1");
    }
  }
}

/** The planner's request for a problem (the budget is filled in by the caller). */
Planner::Request
RequestFor(const cfc_problem & problem)
{
  CheckProblem(&problem);
  Planner::Request request;
  request.dimension = problem.dimension;
  for (unsigned int a = 0; a < 3; ++a)
  {
    request.inputLargest.size[a] = problem.image_size[a];
    request.kernelSize[a] = problem.kernel_size[a];
  }
  request.inputBuffered = request.inputLargest;
  request.output = Planner::OutputRegion(ModeOf(problem.mode), problem.dimension, request.inputLargest, request.kernelSize);
  request.boundary = BoundaryOf(problem.boundary);
  request.elementSize = problem.element_size;
  request.deviceResident = problem.device_resident != 0;
  request.pageLockedHostBytes = request.deviceResident ? 0 : Engine::StagingHostBytes();
  return request;
}

void
FillInfo(const Planner::Plan & plan, std::uint64_t budget, cfc_plan_info * info)
{
  if (info == nullptr)
  {
    return;
  }
  *info = cfc_plan_info{};
  for (unsigned int a = 0; a < 3; ++a)
  {
    info->output_index[a] = plan.output.index[a];
    info->output_size[a] = plan.output.size[a];
    info->fft_size[a] = plan.fftSize[a];
  }
  info->tiles = plan.tiles.size();
  info->peak_device_bytes = plan.tiles.empty() ? 0 : plan.memory.Peak();
  info->memory_budget = budget;
}

/** The budget to plan with: the caller's, or 80% of what is free plus what \a held already. */
std::uint64_t
BudgetFor(const cfc_problem & problem, int device, std::uint64_t held)
{
  if (problem.memory_budget != 0)
  {
    return problem.memory_budget;
  }
  std::uint64_t freeBytes = 0;
  std::uint64_t totalBytes = 0;
  Engine::DeviceMemory(freeBytes, totalBytes, device);
  return Planner::DefaultMemoryBudget(freeBytes, held);
}
} // namespace

/** The handle: an engine and the plan of its last problem, reused while the problem and the
 * budget it was planned with stay the same. */
struct cfc_engine
{
  Engine              engine;
  int                 device{ -1 };
  bool                havePlan{ false };
  cfc_problem         planned{};
  std::uint64_t       plannedBudget{ 0 };
  Planner::Plan       plan;

  static bool
  SameProblem(const cfc_problem & a, const cfc_problem & b)
  {
    return a.dimension == b.dimension && std::equal(a.image_size, a.image_size + 3, b.image_size) &&
           std::equal(a.kernel_size, a.kernel_size + 3, b.kernel_size) && a.mode == b.mode &&
           a.boundary == b.boundary && a.element_size == b.element_size && a.memory_budget == b.memory_budget &&
           (a.device_resident != 0) == (b.device_resident != 0);
  }

  /** The last plan serves while the problem is the same and, under the automatic budget (which
   * follows the free memory), while it is one tile or its budget has not changed and it fits. */
  bool
  PlanServes(const cfc_problem & problem, std::uint64_t budget) const
  {
    if (!havePlan || !SameProblem(planned, problem))
    {
      return false;
    }
    if (problem.memory_budget != 0 || budget == plannedBudget)
    {
      return true;
    }
    return plan.tiles.size() <= 1 && (budget == 0 || plan.memory.Peak() <= budget);
  }

  const Planner::Plan &
  PlanFor(const cfc_problem & problem, std::uint64_t budget)
  {
    if (PlanServes(problem, budget))
    {
      return plan;
    }
    havePlan = false;
    Planner::Request request = RequestFor(problem);
    request.memoryBudget = budget;
    request.workArea = [this, &problem](const Planner::SizeArray & fft, unsigned int dimension) {
      return engine.PreparePlans(fft, dimension, problem.element_size);
    };
    plan = Planner::MakePlan(request);
    planned = problem;
    plannedBudget = budget;
    havePlan = true;
    return plan;
  }
};

namespace
{
template <typename T>
void
RunPlan(cfc_engine &          handle,
        const Planner::Plan & plan,
        const cfc_problem &   problem,
        const void *          input,
        void *                output,
        const void *          kernel,
        bool                  kernelOnDevice,
        std::uint64_t         identity,
        bool                  normalize,
        double                constant,
        void *                stream)
{
  if ((input == nullptr || output == nullptr || kernel == nullptr) && !plan.tiles.empty())
  {
    throw std::invalid_argument("the input, output and kernel buffers must not be NULL");
  }
  const Planner::Box inputRegion = plan.inputLargest;
  if (problem.device_resident == 0)
  {
    if (kernelOnDevice)
    {
      throw std::invalid_argument("a host problem takes its kernel in host memory");
    }
    handle.engine.Run<T>(plan,
                         { static_cast<const T *>(input), inputRegion },
                         { static_cast<T *>(output), plan.output },
                         static_cast<const T *>(kernel),
                         normalize,
                         static_cast<T>(constant),
                         Engine::ProgressFunction());
    return;
  }
  handle.engine.RunOnDevice<T>(plan,
                               { static_cast<const T *>(input), inputRegion },
                               { static_cast<T *>(output), plan.output },
                               { static_cast<const T *>(kernel), kernelOnDevice, identity },
                               normalize,
                               static_cast<T>(constant),
                               stream);
}

/** Plans (or reuses the plan) and runs; with the automatic budget, a device allocation that
 * fails (memory taken by others since the budget was read) is retried once on a fresh plan. */
cfc_status
Convolve(cfc_engine &        handle,
         const cfc_problem & problem,
         const void *        input,
         void *              output,
         const void *        kernel,
         bool                kernelOnDevice,
         std::uint64_t       identity,
         bool                normalize,
         double              constant,
         void *              stream,
         cfc_plan_info *     info)
{
  for (int attempt = 0;; ++attempt)
  {
    const std::uint64_t   budget = BudgetFor(problem, handle.device, attempt == 0 ? handle.engine.AllocatedDeviceBytes() : 0);
    const Planner::Plan & plan = handle.PlanFor(problem, budget);
    try
    {
      if (problem.element_size == 4)
      {
        RunPlan<float>(handle, plan, problem, input, output, kernel, kernelOnDevice, identity, normalize, constant, stream);
      }
      else
      {
        RunPlan<double>(handle, plan, problem, input, output, kernel, kernelOnDevice, identity, normalize, constant, stream);
      }
      FillInfo(plan, budget, info);
      return CFC_OK;
    }
    catch (const EngineError & error)
    {
      if (!error.OutOfMemory() || problem.memory_budget != 0 || attempt > 0)
      {
        throw;
      }
      handle.havePlan = false;
      handle.engine.ReleaseResources();
    }
  }
}
} // namespace

extern "C"
{
  const char *
  cfc_last_error(void)
  {
    return lastError.c_str();
  }

  int
  cfc_abi_version(void)
  {
    return CFC_ABI_VERSION;
  }

  int
  cfc_device_available(int device, char * reason, size_t capacity)
  {
    std::string why;
    bool        available = false;
    try
    {
      available = Engine::DeviceAvailable(&why, device);
    }
    catch (const std::exception & error)
    {
      why = error.what();
    }
    if (reason != nullptr && capacity > 0)
    {
      const std::size_t length = std::min(capacity - 1, why.size());
      std::memcpy(reason, why.data(), length);
      reason[length] = '\0';
    }
    return available ? 1 : 0;
  }

  cfc_status
  cfc_device_memory(int device, uint64_t * free_bytes, uint64_t * total_bytes)
  {
    return Guarded([&] {
      if (free_bytes == nullptr || total_bytes == nullptr)
      {
        throw std::invalid_argument("cfc_device_memory needs two results");
      }
      std::string why;
      if (!Engine::DeviceAvailable(&why, device))
      {
        return Fail(CFC_ERROR_NO_DEVICE, why);
      }
      std::uint64_t freeBytes = 0;
      std::uint64_t totalBytes = 0;
      Engine::DeviceMemory(freeBytes, totalBytes, device);
      *free_bytes = freeBytes;
      *total_bytes = totalBytes;
      return CFC_OK;
    });
  }

  cfc_status
  cfc_plan(const cfc_problem * problem, int device, cfc_plan_info * info)
  {
    return Guarded([&] {
      Planner::Request request = RequestFor(*problem);
      const bool       gpu = Engine::DeviceAvailable(nullptr, device);
      request.memoryBudget = gpu ? BudgetFor(*problem, device, 0) : problem->memory_budget;
      if (gpu)
      {
        request.workArea = [problem](const Planner::SizeArray & fft, unsigned int dimension) {
          return Engine::WorkAreaBytes(fft, dimension, problem->element_size);
        };
      }
      FillInfo(Planner::MakePlan(request), request.memoryBudget, info);
      return CFC_OK;
    });
  }

  cfc_status
  cfc_engine_create(int device, cfc_engine ** engine)
  {
    return Guarded([&] {
      if (engine == nullptr)
      {
        throw std::invalid_argument("cfc_engine_create needs a place for the handle");
      }
      auto * handle = new cfc_engine;
      handle->device = device < 0 ? -1 : device;
      handle->engine.SetDevice(handle->device);
      handle->engine.SetNumberOfThreads(std::min(16u, std::max(1u, std::thread::hardware_concurrency())));
      *engine = handle;
      return CFC_OK;
    });
  }

  void
  cfc_engine_destroy(cfc_engine * engine)
  {
    delete engine; // the engine's destructor waits and frees; it does not throw
  }

  cfc_status
  cfc_engine_release(cfc_engine * engine)
  {
    return Guarded([&] {
      if (engine == nullptr)
      {
        throw std::invalid_argument("no engine was given");
      }
      engine->havePlan = false;
      engine->engine.ReleaseResources();
      return CFC_OK;
    });
  }

  cfc_status
  cfc_engine_allocated_bytes(const cfc_engine * engine, uint64_t * bytes)
  {
    return Guarded([&] {
      if (engine == nullptr || bytes == nullptr)
      {
        throw std::invalid_argument("cfc_engine_allocated_bytes needs an engine and a result");
      }
      *bytes = engine->engine.AllocatedDeviceBytes();
      return CFC_OK;
    });
  }

  int
  cfc_engine_reused_spectrum(const cfc_engine * engine)
  {
    return engine != nullptr && engine->engine.LastRunReusedSpectrum() ? 1 : 0;
  }

  cfc_status
  cfc_convolve(cfc_engine *        engine,
               const cfc_problem * problem,
               const void *        input,
               void *              output,
               const void *        kernel,
               int                 kernel_on_device,
               uint64_t            kernel_identity,
               int                 normalize,
               double              constant,
               void *              stream,
               cfc_plan_info *     info)
  {
    return Guarded([&] {
      if (engine == nullptr)
      {
        throw std::invalid_argument("no engine was given");
      }
      CheckProblem(problem);
      std::string why;
      if (!Engine::DeviceAvailable(&why, engine->device))
      {
        return Fail(CFC_ERROR_NO_DEVICE, why);
      }
      return Convolve(*engine,
                      *problem,
                      input,
                      output,
                      kernel,
                      kernel_on_device != 0,
                      kernel_identity,
                      normalize != 0,
                      constant,
                      stream,
                      info);
    });
  }
}
