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
#ifndef CudaFFTConvolutionCLISupport_h
#define CudaFFTConvolutionCLISupport_h

// What the module's command-line tools (CudaFFTConvolution, CudaDeconvolution) share as 3D Slicer
// CLI modules: --xml, argument parsing helpers, writing files atomically, progress lines,
// return parameters, and the way a failure ends the process (one line on stderr, exit 1, no
// partial output file).

#include "itkCommand.h"
#include "itkConstantBoundaryCondition.h"
#include "itkCudaFFTConvolutionMemoryPolicy.h"
#include "itkCudaFFTConvolutionPlanner.h"
#include "itkCudaFFTConvolutionImageFilterEnums.h"
#include "itkImageBoundaryCondition.h"
#include "itkImageFileWriter.h"
#include "itkImageIOFactory.h"
#include "itkPeriodicBoundaryCondition.h"
#include "itkProcessObject.h"
#include "itkZeroFluxNeumannBoundaryCondition.h"
#include "itksys/SystemTools.hxx"

#include <tclap/CmdLine.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace CudaFFTConvolutionCLI
{
/** A failure the user caused: its message is printed on one line. */
struct UsageError : std::runtime_error
{
  using std::runtime_error::runtime_error;
};

/** True when \a argv holds --xml: Slicer then reads the description from stdout, so the tool
 * prints it before parsing anything else and prints nothing more. */
inline bool
PrintXMLIfAsked(int argc, char * argv[], const char * xml)
{
  for (int i = 1; i < argc; ++i)
  {
    if (std::string(argv[i]) == "--xml")
    {
      std::cout << xml;
      return true;
    }
  }
  return false;
}

/** ITK's messages can span lines; a CLI says what went wrong on one. */
inline std::string
OneLine(std::string text)
{
  for (auto & c : text)
  {
    if (c == '\n' || c == '\r')
      c = ' ';
  }
  const auto first = text.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : text.substr(first);
}

/** Runs a tool's \a body; any exception becomes "TOOL: message" on one line of stderr and
 * EXIT_FAILURE. */
template <typename TBody>
int
RunReportingErrors(const char * tool, TBody && body)
{
  try
  {
    return body();
  }
  catch (const TCLAP::ArgException & error)
  {
    std::cerr << tool << ": " << OneLine(error.error()) << " (" << error.argId() << ")" << std::endl;
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cerr << tool << ": " << OneLine(error.GetDescription()) << std::endl;
  }
  catch (const std::exception & error)
  {
    std::cerr << tool << ": " << OneLine(error.what()) << std::endl;
  }
  return EXIT_FAILURE;
}

/** "auto" (0), or a positive number of bytes with an optional unit: 4GiB, 512MiB, 2e9. */
inline itk::SizeValueType
ParseBudget(const std::string & text)
{
  if (text == "auto" || text.empty())
    return 0;
  std::size_t used = 0;
  double      value = 0;
  try
  {
    value = std::stod(text, &used);
  }
  catch (const std::exception &)
  {
    used = 0;
  }
  const std::string unit = text.substr(used);
  double            scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KiB")
    scale = 1024.0;
  else if (unit == "MiB")
    scale = 1024.0 * 1024.0;
  else if (unit == "GiB")
    scale = 1024.0 * 1024.0 * 1024.0;
  // 2^64 bytes and more (and infinity) do not fit the budget's 64-bit field: refused, not wrapped.
  if (used == 0 || scale == 0 || !(value * scale >= 1) || !(value * scale < 18446744073709551616.0))
  {
    throw UsageError("the GPU memory budget '" + text +
                     "' must be 'auto' or a positive size below 2^64 bytes such as 4GiB, 512MiB or 1e9");
  }
  return static_cast<itk::SizeValueType>(value * scale);
}

/** The budget a filter plans with for a requested one (0: automatic): the request, else 80% of
 * the free GPU memory, else 0 (no limit) without a GPU; \a description says which, for people. */
inline itk::SizeValueType
PlanningBudget(itk::SizeValueType requested, std::string & description)
{
  description = std::to_string(requested) + " bytes";
  if (requested != 0)
  {
    return requested;
  }
  std::string reason;
  if (!itk::CudaFFTConvolutionEngine::DeviceAvailable(&reason))
  {
    description = "none (no GPU: " + reason + ")";
    return 0;
  }
  const itk::SizeValueType budget = itk::CudaFFTConvolutionMemoryPolicy::Budget(0, nullptr, -1);
  description = std::to_string(budget) + " bytes (80% of the free GPU memory)";
  return budget;
}

/** float or double, else a UsageError. */
inline void
CheckPrecision(const std::string & precision)
{
  if (precision != "float" && precision != "double")
  {
    throw UsageError("unknown precision '" + precision + "': use float or double");
  }
}

inline itk::CudaFFTConvolutionImageFilterEnums::OutputRegion
ParseMode(const std::string & mode)
{
  using OutputRegion = itk::CudaFFTConvolutionImageFilterEnums::OutputRegion;
  if (mode == "same")
    return OutputRegion::SAME;
  if (mode == "valid")
    return OutputRegion::VALID;
  if (mode == "full")
    return OutputRegion::FULL;
  throw UsageError("unknown output region mode '" + mode + "': use same, valid or full");
}

inline itk::CudaFFTConvolutionImageFilterEnums::Boundary
ParseBoundary(const std::string & boundary)
{
  using Boundary = itk::CudaFFTConvolutionImageFilterEnums::Boundary;
  if (boundary == "zero-flux-neumann")
    return Boundary::ZERO_FLUX_NEUMANN;
  if (boundary == "constant")
    return Boundary::CONSTANT;
  if (boundary == "periodic")
    return Boundary::PERIODIC;
  throw UsageError("unknown boundary condition '" + boundary + "': use zero-flux-neumann, constant or periodic");
}

/** Applies --fft-backend to a filter: "" (not given) keeps the filter's default, the environment's
 * CUDAFFTCONVOLUTION_FFT_BACKEND (cuFFT when unset); auto, cufft or vkfft force it. Another name
 * is refused by the filters' one reading of backend names, with the choices. */
template <typename TFilter>
void
SetFFTBackend(TFilter * filter, const std::string & name)
{
  if (!name.empty())
  {
    filter->SetFFTBackend(name);
  }
}

/** The backend a filter's last update transformed with, for the return parameters and the
 * report: cufft or vkfft, "none" where it ran on the CPU. */
template <typename TFilter>
std::string
LastFFTBackendName(const TFilter * filter)
{
  using FFTBackend = itk::CudaFFTConvolutionImageFilterEnums::FFTBackend;
  const FFTBackend used = filter->GetLastFFTBackend();
  return used == FFTBackend::AUTO ? "none" : itk::CudaFFTConvolutionImageFilterEnums::FFTBackendName(used);
}

/** Throws a UsageError unless \a name is empty (not given) or a backend name. */
inline void
CheckFFTBackend(const std::string & name)
{
  try
  {
    if (!name.empty())
    {
      itk::CudaFFTConvolutionImageFilterEnums::FFTBackendFromName(name);
    }
  }
  catch (const std::invalid_argument & error)
  {
    throw UsageError(error.what());
  }
}

/** The boundary condition by name, with \a constant for "constant" (the filters copy it). */
template <typename TImage>
std::unique_ptr<itk::ImageBoundaryCondition<TImage>>
MakeBoundary(const std::string & boundary, double constant)
{
  using Boundary = itk::CudaFFTConvolutionImageFilterEnums::Boundary;
  switch (ParseBoundary(boundary))
  {
    case Boundary::PERIODIC:
      return std::make_unique<itk::PeriodicBoundaryCondition<TImage>>();
    case Boundary::CONSTANT: {
      auto condition = std::make_unique<itk::ConstantBoundaryCondition<TImage>>();
      condition->SetConstant(static_cast<typename TImage::PixelType>(constant));
      return condition;
    }
    case Boundary::ZERO_FLUX_NEUMANN:
      break;
  }
  return std::make_unique<itk::ZeroFluxNeumannBoundaryCondition<TImage>>();
}

/** Writes \a fileName through a temporary name in the same folder, which \a write(name) fills,
 * and renames it: a failure leaves no partial output file. */
template <typename TWrite>
void
WriteFileAtomically(const std::string & fileName, TWrite && write)
{
  const std::string folder = itksys::SystemTools::GetFilenamePath(fileName);
  const std::string partial = (folder.empty() ? std::string() : folder + "/") + ".partial-" + std::to_string(getpid()) +
                              "-" + itksys::SystemTools::GetFilenameName(fileName);
  try
  {
    write(partial);
  }
  catch (...)
  {
    std::remove(partial.c_str());
    throw;
  }
  if (std::rename(partial.c_str(), fileName.c_str()) != 0)
  {
    std::remove(partial.c_str());
    throw UsageError("cannot write the output file '" + fileName + "'");
  }
}

/** Writes an image file atomically (see WriteFileAtomically), compressed. */
template <typename TImage>
void
WriteAtomically(const TImage * image, const std::string & fileName)
{
  WriteFileAtomically(fileName, [image](const std::string & partial) {
    auto writer = itk::ImageFileWriter<TImage>::New();
    writer->SetInput(image);
    writer->SetFileName(partial);
    writer->UseCompressionOn();
    writer->Update();
  });
}

/** The arguments Slicer passes to every CLI module; construct after the tool's own options
 * and before its positionals (TCLAP lists them in that order in --help). */
struct SlicerArguments
{
  explicit SlicerArguments(TCLAP::CmdLine & cmd)
    : returnParameterFile("",
                          "returnparameterfile",
                          "file to write output parameters to (Slicer)",
                          false,
                          "",
                          "file",
                          cmd)
    , processInformation("", "processinformationaddress", "ignored (Slicer)", false, "", "address", cmd)
    , xml("", "xml", "print the Slicer module description and exit", cmd)
  {}

  TCLAP::ValueArg<std::string> returnParameterFile;
  TCLAP::ValueArg<std::string> processInformation;
  TCLAP::SwitchArg             xml;
};

/** One progress line as Slicer reads it from stdout; \a fraction in [0, 1]. */
inline void
PrintProgress(double fraction)
{
  std::cout << "<filter-progress>" << fraction << "</filter-progress>" << std::endl;
}

/** Prints a progress line for every ProgressEvent of \a filter. */
inline void
PrintProgressEvents(itk::ProcessObject * filter)
{
  auto printer = itk::CStyleCommand::New();
  printer->SetCallback([](itk::Object * caller, const itk::EventObject &, void *) {
    PrintProgress(static_cast<const itk::ProcessObject *>(caller)->GetProgress());
  });
  filter->AddObserver(itk::ProgressEvent(), printer);
}

/** Slicer's return parameters: "name = value" lines written to --returnparameterfile. */
class ReturnParameters
{
public:
  template <typename TValue>
  void
  Add(const std::string & name, const TValue & value)
  {
    m_Lines << name << " = " << value << "\n";
  }

  /** Writes the lines to \a fileName; nothing when it is empty (the option was not given). */
  void
  Write(const std::string & fileName) const
  {
    if (!fileName.empty())
    {
      std::ofstream(fileName) << m_Lines.str();
    }
  }

private:
  std::ostringstream m_Lines;
};
} // namespace CudaFFTConvolutionCLI

#endif
