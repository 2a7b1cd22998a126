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
// The C ABI's deconvolution: a cfc_deconvolution becomes a planner request and engine settings.
#include "cudafftconvolution_internal.h"

#include "itkCudaDeconvolutionPlanner.h"

#include <cuda_runtime_api.h>

#include <cmath>
#include <limits>
#include <vector>

namespace
{
using DeconvolutionPlanner = itk::CudaDeconvolutionPlanner;
using Settings = Engine::DeconvolutionSettings;

DeconvolutionPlanner::Algorithm
AlgorithmOf(std::int32_t algorithm)
{
  if (algorithm < CFC_RICHARDSON_LUCY || algorithm > CFC_WIENER)
  {
    throw std::invalid_argument(
      "unknown algorithm " + std::to_string(algorithm) +
      " (0 Richardson-Lucy, 1 Landweber, 2 projected Landweber, 3 inverse, 4 Tikhonov, 5 Wiener)");
  }
  return static_cast<DeconvolutionPlanner::Algorithm>(algorithm);
}

DeconvolutionPlanner::Request
DeconvolutionRequest(const cfc_deconvolution & problem)
{
  cfc_problem shape{};
  shape.dimension = problem.dimension;
  std::copy(problem.image_size, problem.image_size + 3, shape.image_size);
  std::copy(problem.kernel_size, problem.kernel_size + 3, shape.kernel_size);
  shape.mode = problem.mode;
  shape.boundary = problem.boundary;
  shape.element_size = problem.element_size;
  shape.fft_backend = problem.fft_backend;
  CfcCheckProblem(&shape);
  if (problem.mode == CFC_MODE_FULL)
  {
    throw std::invalid_argument("a deconvolution's output is SAME or VALID, not FULL");
  }
  if (problem.edges != CFC_EDGES_BOUNDARY_CONDITION && problem.edges != CFC_EDGES_NON_CIRCULANT)
  {
    throw std::invalid_argument("unknown edges " + std::to_string(problem.edges) +
                                " (0 boundary condition, 1 non-circulant)");
  }
  DeconvolutionPlanner::Request request;
  request.dimension = problem.dimension;
  for (unsigned int a = 0; a < 3; ++a)
  {
    if (problem.halo[a] > CfcMaximumHalo)
    {
      throw std::invalid_argument("a halo of " + std::to_string(problem.halo[a]) + " voxels is more than 2^40");
    }
    request.input.size[a] = problem.image_size[a];
    request.kernelSize[a] = problem.kernel_size[a];
    request.halo[a] = problem.halo[a];
  }
  request.output = Planner::OutputRegion(CfcModeOf(problem.mode), problem.dimension, request.input, request.kernelSize);
  if (request.output.IsEmpty())
  {
    throw std::invalid_argument("the VALID region is empty: the kernel is larger than the image");
  }
  request.algorithm = AlgorithmOf(problem.algorithm);
  request.edges = static_cast<DeconvolutionPlanner::Edges>(problem.edges);
  request.boundary = CfcBoundaryOf(problem.boundary);
  request.greatestPrimeFactor = problem.greatest_prime_factor == 0 ? 7 : problem.greatest_prime_factor;
  request.accelerate = problem.accelerate != 0;
  request.totalVariation = problem.total_variation > 0;
  request.elementSize = problem.element_size;
  request.iterations = problem.iterations;
  if (!(problem.halo_energy_fraction >= 0.0 && problem.halo_energy_fraction < 1.0))
  {
    throw std::invalid_argument("the halo's energy fraction must be in [0, 1)");
  }
  request.haloEnergyFraction = problem.halo_energy_fraction;
  return request;
}

/** The kernel's marginal energy profiles (none without a kernel); a device kernel is copied. */
DeconvolutionPlanner::EnergyProfiles
KernelEnergy(const cfc_deconvolution & problem, const void * kernel, bool kernelOnDevice)
{
  if (kernel == nullptr || problem.halo_energy_fraction == 0.0)
  {
    return {};
  }
  const Planner::SizeArray   size{ { problem.kernel_size[0], problem.kernel_size[1], problem.kernel_size[2] } };
  const std::size_t          bytes = static_cast<std::size_t>(size[0] * size[1] * size[2]) * problem.element_size;
  std::vector<unsigned char> host;
  if (kernelOnDevice)
  {
    host.resize(bytes);
    if (cudaMemcpy(host.data(), kernel, bytes, cudaMemcpyDefault) != cudaSuccess)
    {
      throw std::invalid_argument("the device kernel could not be read");
    }
    kernel = host.data();
  }
  return problem.element_size == 4 ? DeconvolutionPlanner::MarginalEnergy(static_cast<const float *>(kernel), size)
                                   : DeconvolutionPlanner::MarginalEnergy(static_cast<const double *>(kernel), size);
}

Settings
SettingsOf(const cfc_deconvolution & problem)
{
  if (problem.iterations > DeconvolutionPlanner::MaximumIterations)
  {
    throw std::invalid_argument("more than " + std::to_string(DeconvolutionPlanner::MaximumIterations) +
                                " iterations were asked for");
  }
  for (const double value : { problem.constant,
                              problem.alpha,
                              problem.division_threshold,
                              problem.background,
                              problem.total_variation,
                              problem.regularization_constant,
                              problem.noise_variance,
                              problem.kernel_zero_magnitude_threshold,
                              problem.weight_threshold,
                              problem.relative_change_tolerance,
                              problem.divergence_tolerance })
  {
    if (!std::isfinite(value))
    {
      throw std::invalid_argument("a deconvolution parameter is not finite");
    }
  }
  for (const double value : { problem.total_variation,
                              problem.regularization_constant,
                              problem.noise_variance,
                              problem.weight_threshold,
                              problem.relative_change_tolerance,
                              problem.divergence_tolerance })
  {
    if (value < 0)
    {
      throw std::invalid_argument("total_variation, regularization_constant, noise_variance, weight_threshold and "
                                  "the tolerances must not be negative");
    }
  }
  Settings settings;
  settings.iterations = problem.iterations;
  settings.normalize = problem.normalize != 0;
  settings.constant = problem.constant;
  settings.alpha = problem.alpha;
  settings.divisionThreshold = problem.division_threshold;
  settings.kernelZeroMagnitudeThreshold = problem.kernel_zero_magnitude_threshold;
  settings.regularizationConstant = problem.regularization_constant;
  settings.noiseVariance = problem.noise_variance;
  settings.weightThreshold = problem.weight_threshold;
  settings.background = problem.background;
  settings.totalVariation = problem.total_variation;
  settings.relativeChangeTolerance = problem.relative_change_tolerance;
  settings.divergenceTolerance = problem.divergence_tolerance;
  settings.computeDivergence = problem.compute_divergence != 0;
  return settings;
}

void
FillDeconvolutionInfo(const DeconvolutionPlanner::Plan & plan,
                      std::uint64_t                      budget,
                      unsigned int                       iterations,
                      cfc_deconvolution_info *           info)
{
  if (info == nullptr)
  {
    return;
  }
  *info = cfc_deconvolution_info{};
  for (unsigned int a = 0; a < 3; ++a)
  {
    info->output_index[a] = plan.output.index[a];
    info->output_size[a] = plan.output.size[a];
    info->grid_size[a] = plan.gridSize[a];
    info->halo[a] = plan.tiles.size() > 1 ? plan.halo[a] : 0;
  }
  info->tiles = plan.tiles.size();
  info->peak_device_bytes = plan.memory.Peak();
  info->memory_budget = budget;
  info->iterations = iterations;
}

DeconvolutionPlanner::Plan
PlanDeconvolution(const cfc_deconvolution &                    problem,
                  std::uint64_t                                budget,
                  int                                          device,
                  bool                                         gpu,
                  const DeconvolutionPlanner::EnergyProfiles & energy)
{
  DeconvolutionPlanner::Request request = DeconvolutionRequest(problem);
  request.memoryBudget = budget;
  request.kernelEnergy = energy;
  if (gpu)
  {
    const unsigned int       elementSize = problem.element_size;
    const Engine::FFTBackend backend = CfcFFTBackendOf(problem.fft_backend);
    request.workArea = [elementSize, backend](const Planner::SizeArray & fft, unsigned int dimension) {
      return Engine::WorkAreaBytes(fft, dimension, elementSize, backend);
    };
  }
  (void)device;
  return DeconvolutionPlanner::MakePlan(request);
}

template <typename T>
void
RunDeconvolution(cfc_engine &                       handle,
                 const DeconvolutionPlanner::Plan & plan,
                 const cfc_deconvolution &          problem,
                 const void *                       input,
                 void *                             output,
                 const void *                       kernel,
                 bool                               kernelOnDevice,
                 const Engine::IterationFunction &  onIteration,
                 void *                             stream)
{
  if (input == nullptr || output == nullptr || kernel == nullptr)
  {
    throw std::invalid_argument("the input, output and kernel buffers must not be NULL");
  }
  const Settings                settings = SettingsOf(problem);
  const Engine::KernelValues<T> values{ static_cast<const T *>(kernel), kernelOnDevice, 0 };
  if (problem.device_resident == 0)
  {
    if (kernelOnDevice)
    {
      throw std::invalid_argument("a host problem takes its kernel in host memory");
    }
    handle.engine.Deconvolve<T>(plan,
                                { static_cast<const T *>(input), plan.input },
                                { static_cast<T *>(output), plan.output },
                                values,
                                settings,
                                onIteration);
    return;
  }
  handle.engine.DeconvolveOnDevice<T>(plan,
                                      { static_cast<const T *>(input), plan.input },
                                      { static_cast<T *>(output), plan.output },
                                      values,
                                      settings,
                                      onIteration,
                                      stream);
}
} // namespace

extern "C"
{
  void
  cfc_deconvolution_defaults(cfc_deconvolution * problem)
  {
    if (problem == nullptr)
    {
      return;
    }
    *problem = cfc_deconvolution{};
    problem->dimension = 3;
    for (unsigned int a = 0; a < 3; ++a)
    {
      problem->image_size[a] = 1;
      problem->kernel_size[a] = 1;
    }
    problem->mode = CFC_MODE_SAME;
    problem->boundary = CFC_BOUNDARY_ZERO_FLUX_NEUMANN;
    problem->algorithm = CFC_RICHARDSON_LUCY;
    problem->edges = CFC_EDGES_BOUNDARY_CONDITION;
    problem->element_size = 4;
    problem->greatest_prime_factor = 7;
    problem->iterations = DeconvolutionPlanner::DefaultIterations;
    problem->alpha = 0.1;
    problem->division_threshold = 1e-5;
    problem->kernel_zero_magnitude_threshold = 1e-4;
    problem->weight_threshold = 0.01;
    problem->halo_energy_fraction = DeconvolutionPlanner::DefaultHaloEnergyFraction;
  }

  cfc_status
  cfc_deconvolution_plan(const cfc_deconvolution * problem, int device, cfc_deconvolution_info * info)
  {
    return cfc_deconvolution_plan_kernel(problem, nullptr, device, info);
  }

  cfc_status
  cfc_deconvolution_plan_kernel(const cfc_deconvolution * problem,
                                const void *              kernel,
                                int                       device,
                                cfc_deconvolution_info *  info)
  {
    return CfcGuarded([&] {
      if (problem == nullptr)
      {
        throw std::invalid_argument("no problem was given");
      }
      if (const cfc_status status = CfcCheckDevice(device); status != CFC_OK)
      {
        return status;
      }
      const bool          gpu = Engine::DeviceAvailable(nullptr, device);
      const std::uint64_t budget = MemoryPolicy::Budget(problem->memory_budget, nullptr, device);
      FillDeconvolutionInfo(
        PlanDeconvolution(*problem, budget, device, gpu, KernelEnergy(*problem, kernel, false)), budget, 0, info);
      return CFC_OK;
    });
  }

  cfc_status
  cfc_deconvolve(cfc_engine *              engine,
                 const cfc_deconvolution * problem,
                 const void *              input,
                 void *                    output,
                 const void *              kernel,
                 int                       kernel_on_device,
                 cfc_iteration_callback    callback,
                 void *                    user,
                 void *                    stream,
                 cfc_deconvolution_info *  info)
  {
    return CfcGuarded([&] {
      if (engine == nullptr || problem == nullptr)
      {
        throw std::invalid_argument("cfc_deconvolve needs an engine and a problem");
      }
      std::string why;
      if (!Engine::DeviceAvailable(&why, engine->device))
      {
        return CfcFail(CFC_ERROR_NO_DEVICE, why);
      }
      Engine::IterationFunction onIteration;
      if (callback != nullptr)
      {
        onIteration = [callback, user](const Engine::IterationReport & report) {
          return callback(
                   user, report.iteration, report.tile, report.tiles, report.divergence, report.relativeChange) != 0;
        };
      }
      engine->engine.SetFFTBackend(CfcFFTBackendOf(problem->fft_backend)); // checked by the plan below too
      // A device allocation that fails anyway is retried on smaller tiles (MemoryPolicy::Run).
      const DeconvolutionPlanner::EnergyProfiles energy = KernelEnergy(*problem, kernel, kernel_on_device != 0);
      std::uint64_t budget = MemoryPolicy::Budget(problem->memory_budget, &engine->engine, engine->device);
      MemoryPolicy::Run(
        engine->engine,
        engine->device,
        budget,
        PlanDeconvolution(*problem, budget, engine->device, true, energy),
        [&](std::uint64_t smaller) {
          budget = smaller;
          engine->havePlan = false;
          return PlanDeconvolution(*problem, budget, engine->device, true, energy);
        },
        [&](const DeconvolutionPlanner::Plan & plan) {
          if (problem->element_size == 4)
          {
            RunDeconvolution<float>(
              *engine, plan, *problem, input, output, kernel, kernel_on_device != 0, onIteration, stream);
          }
          else
          {
            RunDeconvolution<double>(
              *engine, plan, *problem, input, output, kernel, kernel_on_device != 0, onIteration, stream);
          }
          FillDeconvolutionInfo(plan, budget, engine->engine.LastIterations(), info);
          if (info != nullptr)
          {
            info->fft_backend = CfcFFTBackendCode(engine->engine.GetLastFFTBackend());
          }
        });
      return CFC_OK;
    });
  }
}
