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
#ifndef cudafftconvolution_internal_h
#define cudafftconvolution_internal_h

// Internal to the C ABI: the handle, error translation and problem checks shared by its
// convolution (cudafftconvolution.cxx) and deconvolution (cudafftconvolution_deconvolution.cxx).
#include "cudafftconvolution.h"

#include "itkCudaFFTConvolutionMemoryPolicy.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

using Engine = itk::CudaFFTConvolutionEngine;
using Planner = itk::CudaFFTConvolutionPlanner;
using EngineError = itk::CudaFFTConvolutionEngineError;
using MemoryPolicy = itk::CudaFFTConvolutionMemoryPolicy;

/** The calling thread's last error message. */
inline std::string &
CfcLastError()
{
  thread_local std::string message;
  return message;
}

inline cfc_status
CfcFail(cfc_status status, const std::string & message)
{
  CfcLastError() = message;
  return status;
}

/** Runs \a body; any exception becomes a status and the thread's message. */
template <typename TBody>
inline cfc_status
CfcGuarded(TBody && body)
{
  try
  {
    CfcLastError().clear();
    return body();
  }
  catch (const EngineError & error)
  {
    return CfcFail(error.OutOfMemory() ? CFC_ERROR_OUT_OF_MEMORY : CFC_ERROR_CUDA, error.what());
  }
  catch (const std::invalid_argument & error)
  {
    return CfcFail(CFC_ERROR_INVALID_ARGUMENT, error.what());
  }
  catch (const std::length_error & error)
  {
    return CfcFail(CFC_ERROR_BUDGET, error.what());
  }
  catch (const std::bad_alloc &)
  {
    return CfcFail(CFC_ERROR_OUT_OF_MEMORY, "a host allocation failed");
  }
  catch (const std::exception & error)
  {
    return CfcFail(CFC_ERROR_INTERNAL, error.what());
  }
  catch (...)
  {
    return CfcFail(CFC_ERROR_INTERNAL, "an unknown C++ exception");
  }
}

inline Planner::Boundary
CfcBoundaryOf(std::int32_t boundary)
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

inline Planner::OutputRegionEnum
CfcModeOf(std::int32_t mode)
{
  if (mode < CFC_MODE_SAME || mode > CFC_MODE_FULL)
  {
    throw std::invalid_argument("unknown mode " + std::to_string(mode) + " (0 same, 1 valid, 2 full)");
  }
  return static_cast<Planner::OutputRegionEnum>(mode);
}

/** The engine's backend for a problem's fft_backend (DEFAULT: the environment's); an unknown
 * value throws std::invalid_argument naming the choices. */
inline Engine::FFTBackend
CfcFFTBackendOf(std::int32_t backend)
{
  switch (backend)
  {
    case CFC_FFT_BACKEND_DEFAULT:
      return Engine::DefaultFFTBackend();
    case CFC_FFT_BACKEND_AUTO:
      return Engine::FFTBackend::Auto;
    case CFC_FFT_BACKEND_CUFFT:
      return Engine::FFTBackend::CuFFT;
    case CFC_FFT_BACKEND_VKFFT:
      return Engine::FFTBackend::VkFFT;
    default:
      throw std::invalid_argument("unknown fft_backend " + std::to_string(backend) +
                                  " (0 the environment's default, 1 auto, 2 cufft, 3 vkfft)");
  }
}

/** The info's fft_backend for the backend an engine's last run used. */
inline std::int32_t
CfcFFTBackendCode(Engine::FFTBackend used)
{
  switch (used)
  {
    case Engine::FFTBackend::CuFFT:
      return CFC_FFT_BACKEND_CUFFT;
    case Engine::FFTBackend::VkFFT:
      return CFC_FFT_BACKEND_VKFFT;
    case Engine::FFTBackend::Auto:
      break;
  }
  return CFC_FFT_BACKEND_DEFAULT;
}

/** The bound of every size a problem brings across the ABI: the product over the axes of
 * 2 (N + K), more than any FFT grid a planner may choose (N + K - 1 rounded up to a smooth size,
 * or a tile's data plus the kernel), stays below 2^55, so that 256 bytes per voxel of it (the
 * buffers of a plan) fit in 63 bits and no voxel or byte count of a plan overflows. It refuses
 * sizes that wrapped from negative values; the Python package mirrors it (_api._MAXIMUM_EXTENT). */
constexpr std::uint64_t CfcMaximumExtent = std::uint64_t{ 1 } << 55;
/** The largest halo per side (a deconvolution's; more than the image reads the whole image). */
constexpr std::uint64_t CfcMaximumHalo = std::uint64_t{ 1 } << 40;

inline std::string
CfcSizeText(const std::uint64_t * size, unsigned int dimension)
{
  std::string text = "[";
  for (unsigned int a = 0; a < dimension; ++a)
  {
    text += (a > 0 ? ", " : "") + std::to_string(size[a]);
  }
  return text + "]";
}

/** Throws std::invalid_argument unless the image and kernel sizes (x first) are within
 * CfcMaximumExtent. */
inline void
CfcCheckSizes(unsigned int dimension, const std::uint64_t * image, const std::uint64_t * kernel)
{
  std::uint64_t extent = 1;
  for (unsigned int a = 0; a < dimension; ++a)
  {
    const bool          fits = image[a] < CfcMaximumExtent && kernel[a] < CfcMaximumExtent;
    const std::uint64_t axis = fits ? 2 * (image[a] + kernel[a]) : CfcMaximumExtent;
    if (axis >= CfcMaximumExtent || extent > (CfcMaximumExtent - 1) / axis)
    {
      throw std::invalid_argument(
        "an image of size " + CfcSizeText(image, dimension) + " and a kernel of size " +
        CfcSizeText(kernel, dimension) +
        " (x first) are too large: the byte counts of their FFT grids would overflow 64 bits");
    }
    extent *= axis;
  }
}

/** CFC_OK for a device that is usable, and on a machine without GPUs for any ordinal (plans are
 * then modelled); CFC_ERROR_INVALID_ARGUMENT below -1, CFC_ERROR_NO_DEVICE for an ordinal this
 * machine lacks while it has GPUs. */
inline cfc_status
CfcCheckDevice(int device)
{
  if (device < -1)
  {
    return CfcFail(CFC_ERROR_INVALID_ARGUMENT,
                   "device " + std::to_string(device) + " is not a CUDA device ordinal (-1: the current device)");
  }
  std::string why;
  if (device >= 0 && !Engine::DeviceAvailable(&why, device) && Engine::DeviceAvailable(nullptr, -1))
  {
    return CfcFail(CFC_ERROR_NO_DEVICE, why);
  }
  return CFC_OK;
}

inline void
CfcCheckProblem(const cfc_problem * problem)
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
  CfcCheckSizes(problem->dimension, problem->image_size, problem->kernel_size);
  CfcFFTBackendOf(problem->fft_backend);
}

/** The planner's request for a problem (the budget is filled in by the caller). */
Planner::Request
CfcRequestFor(const cfc_problem & problem);

/** The handle: an engine and the plan of its last problem, reused while the problem and the
 * budget it was planned with stay the same. */
struct cfc_engine
{
  Engine        engine;
  int           device{ -1 };
  bool          havePlan{ false };
  cfc_problem   planned{};
  std::uint64_t plannedBudget{ 0 };
  Planner::Plan plan;

  static bool
  SameProblem(const cfc_problem & a, const cfc_problem & b)
  {
    return a.dimension == b.dimension && std::equal(a.image_size, a.image_size + 3, b.image_size) &&
           std::equal(a.kernel_size, a.kernel_size + 3, b.kernel_size) && a.mode == b.mode &&
           a.boundary == b.boundary && a.element_size == b.element_size && a.memory_budget == b.memory_budget &&
           (a.device_resident != 0) == (b.device_resident != 0) && a.fft_backend == b.fft_backend;
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
    Planner::Request request = CfcRequestFor(problem);
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

#endif
