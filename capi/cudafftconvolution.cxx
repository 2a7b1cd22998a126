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
#include "cudafftconvolution_internal.h"

#include <thread>

/** The planner's request for a problem (the budget is filled in by the caller). */
Planner::Request
CfcRequestFor(const cfc_problem & problem)
{
  CfcCheckProblem(&problem);
  Planner::Request request;
  request.dimension = problem.dimension;
  for (unsigned int a = 0; a < 3; ++a)
  {
    request.inputLargest.size[a] = problem.image_size[a];
    request.kernelSize[a] = problem.kernel_size[a];
  }
  request.inputBuffered = request.inputLargest;
  request.output =
    Planner::OutputRegion(CfcModeOf(problem.mode), problem.dimension, request.inputLargest, request.kernelSize);
  request.boundary = CfcBoundaryOf(problem.boundary);
  request.elementSize = problem.element_size;
  request.deviceResident = problem.device_resident != 0;
  request.pageLockedHostBytes = request.deviceResident ? 0 : Engine::StagingHostBytes();
  return request;
}

namespace
{
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

/** Plans (or reuses the plan) and runs; a device allocation that fails anyway is retried on
 * smaller tiles by the policy every face follows (MemoryPolicy::Run). */
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
  // Before planning (the work areas planned with are this backend's); a deconvolution on the same
  // handle may have set another.
  handle.engine.SetFFTBackend(CfcFFTBackendOf(problem.fft_backend));
  std::uint64_t budget = MemoryPolicy::Budget(problem.memory_budget, &handle.engine, handle.device);
  MemoryPolicy::Run(
    handle.engine,
    handle.device,
    budget,
    handle.PlanFor(problem, budget),
    [&](std::uint64_t smaller) {
      budget = smaller;
      handle.havePlan = false;
      return handle.PlanFor(problem, budget);
    },
    [&](const Planner::Plan & plan) {
      if (problem.element_size == 4)
      {
        RunPlan<float>(
          handle, plan, problem, input, output, kernel, kernelOnDevice, identity, normalize, constant, stream);
      }
      else
      {
        RunPlan<double>(
          handle, plan, problem, input, output, kernel, kernelOnDevice, identity, normalize, constant, stream);
      }
      FillInfo(plan, budget, info);
      if (info != nullptr)
      {
        info->fft_backend = CfcFFTBackendCode(handle.engine.GetLastFFTBackend());
      }
    });
  return CFC_OK;
}
} // namespace

extern "C"
{
  const char *
  cfc_last_error(void)
  {
    return CfcLastError().c_str();
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
      if (device < -1)
      {
        why = "device " + std::to_string(device) + " is not a CUDA device ordinal (-1: the current device)";
      }
      else
      {
        available = Engine::DeviceAvailable(&why, device);
      }
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
    return CfcGuarded([&] {
      if (free_bytes == nullptr || total_bytes == nullptr)
      {
        throw std::invalid_argument("cfc_device_memory needs two results");
      }
      if (const cfc_status status = CfcCheckDevice(device); status != CFC_OK)
      {
        return status;
      }
      std::string why;
      if (!Engine::DeviceAvailable(&why, device))
      {
        return CfcFail(CFC_ERROR_NO_DEVICE, why);
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
    return CfcGuarded([&] {
      if (const cfc_status status = CfcCheckDevice(device); status != CFC_OK)
      {
        return status;
      }
      Planner::Request request = CfcRequestFor(*problem);
      const bool       gpu = Engine::DeviceAvailable(nullptr, device);
      request.memoryBudget = MemoryPolicy::Budget(problem->memory_budget, nullptr, device);
      if (gpu)
      {
        const Engine::FFTBackend backend = CfcFFTBackendOf(problem->fft_backend);
        request.workArea = [problem, backend](const Planner::SizeArray & fft, unsigned int dimension) {
          return Engine::WorkAreaBytes(fft, dimension, problem->element_size, backend);
        };
      }
      FillInfo(Planner::MakePlan(request), request.memoryBudget, info);
      return CFC_OK;
    });
  }

  cfc_status
  cfc_engine_create(int device, cfc_engine ** engine)
  {
    return CfcGuarded([&] {
      if (engine == nullptr)
      {
        throw std::invalid_argument("cfc_engine_create needs a place for the handle");
      }
      if (const cfc_status status = CfcCheckDevice(device); status != CFC_OK)
      {
        return status;
      }
      auto * handle = new cfc_engine;
      handle->device = device;
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
    return CfcGuarded([&] {
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
    return CfcGuarded([&] {
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
    return CfcGuarded([&] {
      if (engine == nullptr)
      {
        throw std::invalid_argument("no engine was given");
      }
      CfcCheckProblem(problem);
      std::string why;
      if (!Engine::DeviceAvailable(&why, engine->device))
      {
        return CfcFail(CFC_ERROR_NO_DEVICE, why);
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
