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

// CudaDeconvolution: deconvolves an image file with a PSF file on the GPU (or the CPU, through
// ITK's own deconvolution filters). Also a 3D Slicer CLI module, in the shape of
// CudaFFTConvolution: --xml, Slicer-shaped arguments, one <filter-progress> line per iteration.
//   CudaDeconvolution [options] input psf output
//   CudaDeconvolution --psf-model gibson-lanni --na 1.4 ... [options] input output  (a computed PSF)
//   CudaDeconvolution --estimate [options] input [psf]      (the GPU memory plan, then exit)
// Image files: any format ITK reads, TIFF stacks and OME-TIFF included (CudaFFTConvolutionImageFiles.h).

#include "CudaDeconvolutionPSF.h"
#include "CudaDeconvolutionXML.h"
#include "CudaFFTConvolutionCLISupport.h"
#include "CudaFFTConvolutionImageFiles.h"

#include "itkCudaFFTConvolutionFilterSupport.h"
#include "itkCudaInverseDeconvolutionImageFilter.h"
#include "itkCudaLandweberDeconvolutionImageFilter.h"
#include "itkCudaProjectedLandweberDeconvolutionImageFilter.h"
#include "itkCudaRichardsonLucyDeconvolutionImageFilter.h"
#include "itkCudaTikhonovDeconvolutionImageFilter.h"
#include "itkCudaWienerDeconvolutionImageFilter.h"
#include "itkImageFileReader.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <type_traits>
#include <vector>

namespace
{
using namespace CudaFFTConvolutionCLI;
using Planner = itk::CudaDeconvolutionPlanner;
using Algorithm = Planner::Algorithm;
using Edges = itk::CudaDeconvolutionImageFilterEnums::Edges;
using ComputeDevice = itk::CudaFFTConvolutionImageFilterEnums::ComputeDevice;

struct Options
{
  std::string        algorithm{ "richardson-lucy" };
  int                iterations{ static_cast<int>(Planner::DefaultIterations) };
  std::string        edges{ "boundary" };
  std::string        boundary{ "zero-flux-neumann" };
  double             constant{ 0 };
  bool               normalize{ false };
  std::string        mode{ "same" };
  bool               accelerate{ false };
  double             background{ 0 };
  double             totalVariation{ 0 };
  double             tolerance{ 0 };
  std::string        divergenceFile;
  double             alpha{ 0.1 };
  double             regularization{ 0 };
  double             noiseVariance{ 0 };
  double             threshold{ 1e-4 };
  std::string        precision{ "float" };
  itk::SizeValueType budget{ 0 }; // 0: automatic
  double             haloEnergyFraction{ itk::CudaDeconvolutionPlanner::DefaultHaloEnergyFraction };
  bool               cpu{ false };
  std::string        spacing;               // --spacing "sx,sy[,sz]", "" for the file's
  std::string        outputType{ "float" }; // ParseOutputType
  std::string        fftBackend{};          // "": the environment's (cuFFT when unset)
};

/** What a run reports back (printed, and Slicer's return parameters). */
struct Report
{
  std::string         device;
  double              seconds{ 0 };
  itk::SizeValueType  tiles{ 0 };
  unsigned int        iterations{ 0 }; // done (by the last tile); 0 for the direct methods
  std::vector<double> divergence;      // entry i: after i iterations
  itk::SizeValueType  greatestPrimeFactor{ 0 };
  std::string         fftBackend{ "none" }; // cufft or vkfft on the GPU
};

Algorithm
ParseAlgorithm(const std::string & name)
{
  const std::pair<const char *, Algorithm> algorithms[] = { { "richardson-lucy", Algorithm::RichardsonLucy },
                                                            { "landweber", Algorithm::Landweber },
                                                            { "projected-landweber", Algorithm::ProjectedLandweber },
                                                            { "inverse", Algorithm::Inverse },
                                                            { "tikhonov", Algorithm::Tikhonov },
                                                            { "wiener", Algorithm::Wiener } };
  for (const auto & algorithm : algorithms)
  {
    if (name == algorithm.first)
      return algorithm.second;
  }
  throw UsageError("unknown algorithm '" + name +
                   "': use richardson-lucy, landweber, projected-landweber, inverse, tikhonov or wiener");
}

Edges
ParseEdges(const std::string & edges)
{
  if (edges == "boundary")
    return Edges::BoundaryCondition;
  if (edges == "non-circulant")
    return Edges::NonCirculant;
  throw UsageError("unknown edges '" + edges + "': use boundary or non-circulant");
}

/** SAME or VALID: a deconvolution cannot invent the voxels FULL would add. */
itk::CudaFFTConvolutionImageFilterEnums::OutputRegion
ParseDeconvolutionMode(const std::string & mode)
{
  if (mode != "same" && mode != "valid")
  {
    throw UsageError("unknown output region mode '" + mode + "': use same or valid");
  }
  return ParseMode(mode);
}

/** The options given that only Richardson-Lucy on the GPU has, by their flags. */
std::vector<std::string>
RichardsonLucyGPUFlags(const Options & options)
{
  std::vector<std::string> flags;
  if (options.accelerate)
    flags.emplace_back("--accelerate");
  if (options.background != 0)
    flags.emplace_back("--background");
  if (options.totalVariation != 0)
    flags.emplace_back("--totalVariation");
  if (options.tolerance != 0)
    flags.emplace_back("--tolerance");
  if (!options.divergenceFile.empty())
    flags.emplace_back("--divergenceFile");
  return flags;
}

/** The first option given that ITK's CPU filters lack, or "". */
std::string
GPUOnlyFlag(const Options & options)
{
  if (ParseEdges(options.edges) == Edges::NonCirculant)
    return "--edges non-circulant";
  const auto flags = RichardsonLucyGPUFlags(options);
  return flags.empty() ? std::string() : flags.front();
}

void
RequireNonNegative(double value, const char * flag)
{
  if (!(value >= 0)) // NaN too
  {
    throw UsageError(std::string(flag) + " must not be negative (it is " + std::to_string(value) + ")");
  }
}

/** Refuses, before any file is read, what no run could honour. Options of other algorithms are
 * ignored (Slicer passes every parameter); Richardson-Lucy's GPU options are refused with other
 * algorithms, since ignoring them would hide that they did nothing. */
void
CheckOptions(const Options & options)
{
  const Algorithm algorithm = ParseAlgorithm(options.algorithm);
  ParseEdges(options.edges);
  ParseBoundary(options.boundary);
  ParseDeconvolutionMode(options.mode);
  CheckPrecision(options.precision);
  ParseOutputType(options.outputType);
  CheckFFTBackend(options.fftBackend);
  if (options.iterations < 0 || options.iterations > static_cast<int>(Planner::MaximumIterations))
    throw UsageError("--iterations must be between 0 (the initial estimate) and " +
                     std::to_string(Planner::MaximumIterations));
  if (!(options.alpha > 0))
    throw UsageError("--alpha must be positive");
  RequireNonNegative(options.background, "--background");
  RequireNonNegative(options.totalVariation, "--totalVariation");
  RequireNonNegative(options.tolerance, "--tolerance");
  if (!(options.haloEnergyFraction >= 0 && options.haloEnergyFraction < 1))
  {
    throw UsageError("--haloEnergyFraction must be in [0, 1)");
  }
  RequireNonNegative(options.regularization, "--regularization");
  RequireNonNegative(options.noiseVariance, "--noiseVariance");
  RequireNonNegative(options.threshold, "--threshold");
  const auto flags = RichardsonLucyGPUFlags(options);
  if (algorithm != Algorithm::RichardsonLucy && !flags.empty())
  {
    throw UsageError(flags.front() + " applies to richardson-lucy only, not " + options.algorithm);
  }
}

/** A GPU-only option without a GPU is an error here, naming the flag, not after reading files. */
void
CheckDeviceCanRun(const Options & options)
{
  const std::string flag = GPUOnlyFlag(options);
  if (flag.empty())
  {
    return;
  }
  const std::string needs = flag + " needs an NVIDIA GPU (ITK's CPU deconvolution filters lack it), but ";
  if (options.cpu)
  {
    throw UsageError(needs + "--cpu was given");
  }
  std::string reason;
  if (!itk::CudaFFTConvolutionEngine::DeviceAvailable(&reason))
  {
    throw UsageError(needs + reason);
  }
}

template <typename TImage, typename TPrecision>
using FilterBase = itk::CudaDeconvolutionImageFilterBase<TImage, TImage, TImage, TPrecision>;
template <typename TImage, typename TPrecision>
using IterativeFilter = itk::CudaIterativeDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>;

template <typename TFilter>
typename TFilter::Pointer
MakeIterative(const Options & options)
{
  auto filter = TFilter::New();
  filter->SetNumberOfIterations(static_cast<unsigned int>(options.iterations));
  return filter;
}

/** The filter of the algorithm, with that algorithm's parameters. */
template <typename TImage, typename TPrecision>
typename FilterBase<TImage, TPrecision>::Pointer
MakeAlgorithmFilter(const Options & options)
{
  switch (ParseAlgorithm(options.algorithm))
  {
    case Algorithm::RichardsonLucy: {
      auto filter =
        MakeIterative<itk::CudaRichardsonLucyDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(options);
      filter->SetAcceleration(options.accelerate);
      filter->SetBackground(options.background);
      filter->SetTotalVariation(options.totalVariation);
      filter->SetRelativeChangeTolerance(options.tolerance);
      filter->SetComputeDivergence(!options.divergenceFile.empty());
      return filter.GetPointer();
    }
    case Algorithm::Landweber: {
      auto filter =
        MakeIterative<itk::CudaLandweberDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(options);
      filter->SetAlpha(options.alpha);
      return filter.GetPointer();
    }
    case Algorithm::ProjectedLandweber: {
      auto filter =
        MakeIterative<itk::CudaProjectedLandweberDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>>(options);
      filter->SetAlpha(options.alpha);
      return filter.GetPointer();
    }
    case Algorithm::Inverse: {
      auto filter = itk::CudaInverseDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>::New();
      filter->SetKernelZeroMagnitudeThreshold(options.threshold);
      return filter.GetPointer();
    }
    case Algorithm::Tikhonov: {
      auto filter = itk::CudaTikhonovDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>::New();
      filter->SetKernelZeroMagnitudeThreshold(options.threshold);
      filter->SetRegularizationConstant(options.regularization);
      return filter.GetPointer();
    }
    case Algorithm::Wiener:
      break;
  }
  auto filter = itk::CudaWienerDeconvolutionImageFilter<TImage, TImage, TImage, TPrecision>::New();
  filter->SetKernelZeroMagnitudeThreshold(options.threshold);
  filter->SetNoiseVariance(options.noiseVariance);
  return filter.GetPointer();
}

/** The filter for \a options with its inputs set. */
template <typename TImage, typename TPrecision>
typename FilterBase<TImage, TPrecision>::Pointer
MakeFilter(const TImage * input, const TImage * psf, const Options & options)
{
  auto filter = MakeAlgorithmFilter<TImage, TPrecision>(options);
  filter->SetInput(input);
  filter->SetKernelImage(psf);
  filter->SetNormalize(options.normalize);
  filter->SetBoundaryCondition(MakeBoundary<TImage>(options.boundary, options.constant).get()); // copied
  filter->SetOutputRegion(ParseDeconvolutionMode(options.mode));
  filter->SetEdges(ParseEdges(options.edges));
  filter->SetGPUMemoryBudget(options.budget);
  filter->SetHaloEnergyFraction(options.haloEnergyFraction);
  filter->SetComputeDevice(options.cpu ? ComputeDevice::CPU : ComputeDevice::AUTOMATIC);
  SetFFTBackend(filter.GetPointer(), options.fftBackend);
  return filter;
}

/** One progress line per iteration done. The IterationEvent comes before each iteration, so it
 * counts those done so far: the first event (none done) prints nothing, and the end of the update
 * prints the last line (1). With GPU tiles every tile iterates in turn. */
template <typename TIterative>
void
PrintProgressPerIteration(TIterative * filter)
{
  auto printer = itk::CStyleCommand::New();
  printer->SetCallback([](itk::Object * caller, const itk::EventObject &, void *) {
    const auto * iterative = static_cast<const TIterative *>(caller);
    const double perTile = std::max(1u, iterative->GetNumberOfIterations());
    const double tiles = std::max<itk::SizeValueType>(1, iterative->GetNumberOfTiles());
    const double done = static_cast<double>(iterative->GetCurrentTile()) * perTile + iterative->GetIteration();
    if (done > 0)
    {
      PrintProgress(done / (perTile * tiles));
    }
  });
  filter->AddObserver(itk::IterationEvent(), printer);
}

/** "25x19x17": the first \a dimension values of a size. */
template <typename TSize>
std::string
SizeText(const TSize & size, unsigned int dimension)
{
  std::ostringstream text;
  for (unsigned int a = 0; a < dimension; ++a)
  {
    text << (a ? "x" : "") << size[a];
  }
  return text.str();
}

template <typename TImage>
std::string
SizeText(const TImage * image)
{
  return SizeText(image->GetLargestPossibleRegion().GetSize(), TImage::ImageDimension);
}

template <typename TImage>
void
PrintSummary(const TImage * input, const TImage * psf, const Options & options, const Report & report)
{
  const bool iterative = Planner::IsIterative(ParseAlgorithm(options.algorithm));
  std::cout << "deconvolved " << SizeText(input) << " with a " << SizeText(psf) << " PSF (" << options.algorithm;
  if (iterative)
  {
    std::cout << ", " << report.iterations << " iteration(s)" << (options.accelerate ? ", accelerated" : "");
  }
  std::cout << ", " << options.edges << " edges, " << options.boundary << (options.normalize ? ", normalized" : "")
            << ", " << options.mode << ", " << options.precision << ") on the " << report.device
            << (report.fftBackend != "none" ? " (" + report.fftBackend + ")" : std::string()) << " in "
            << report.seconds * 1e3 << " ms: " << report.tiles << " tile(s), greatest prime factor "
            << report.greatestPrimeFactor << std::endl;
}

/** Runs the deconvolution and returns its output, disconnected from the filter. */
template <typename TImage, typename TPrecision>
typename TImage::Pointer
Deconvolve(const TImage * input, const TImage * psf, const Options & options, Report & report)
{
  auto   filter = MakeFilter<TImage, TPrecision>(input, psf, options);
  auto * iterative = dynamic_cast<IterativeFilter<TImage, TPrecision> *>(filter.GetPointer());
  if (iterative != nullptr)
  {
    PrintProgressPerIteration(iterative);
  }
  const auto start = std::chrono::steady_clock::now();
  filter->Update();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintProgress(1);
  report.device = filter->GetLastComputeDevice() == ComputeDevice::GPU ? "GPU" : "CPU";
  report.tiles = filter->GetNumberOfTiles();
  report.greatestPrimeFactor = filter->GetSizeGreatestPrimeFactor();
  report.fftBackend = LastFFTBackendName(filter.GetPointer());
  if (iterative != nullptr)
  {
    report.iterations = iterative->GetIteration();
    report.divergence = iterative->GetDivergenceHistory();
  }
  PrintSummary(input, psf, options, report);
  typename TImage::Pointer output = filter->GetOutput();
  output->DisconnectPipeline();
  return output;
}

/** The I-divergence per iteration as CSV, full precision. */
void
WriteDivergence(const std::vector<double> & divergence, const std::string & fileName)
{
  WriteFileAtomically(fileName, [&divergence, &fileName](const std::string & partial) {
    std::ofstream csv(partial);
    csv << "iteration,divergence\n" << std::setprecision(std::numeric_limits<double>::max_digits10);
    for (std::size_t i = 0; i < divergence.size(); ++i)
    {
      csv << i << "," << divergence[i] << "\n";
    }
    csv.close();
    if (!csv)
    {
      throw UsageError("cannot write the divergence file '" + fileName + "'");
    }
  });
}

/** The PSF's pipeline source: the PSF file's reader, or the computed PSF's source (--psf-model),
 * whose size and spacing follow the input's information. */
template <typename TImage>
typename itk::ImageSource<TImage>::Pointer
MakePSFPipeline(itk::ImageFileReader<TImage> * input, const std::string & psfFile, const PSFOptions & psfOptions)
{
  if (psfOptions.Computed())
  {
    input->UpdateOutputInformation();
    return MakePSFSource<TImage>(psfOptions, input->GetOutput()).GetPointer();
  }
  auto psf = itk::ImageFileReader<TImage>::New();
  psf->SetFileName(psfFile);
  return psf.GetPointer();
}

/** Prints the GPU plan for the files' sizes (only their headers are read). */
template <typename TImage, typename TPrecision>
void
PrintEstimate(const std::string & inputFile,
              const std::string & psfFile,
              const Options &     options,
              const PSFOptions &  psfOptions)
{
  auto input = itk::ImageFileReader<TImage>::New();
  input->SetFileName(inputFile);
  auto                     psf = MakePSFPipeline<TImage>(input, psfFile, psfOptions);
  auto                     filter = MakeFilter<TImage, TPrecision>(input->GetOutput(), psf->GetOutput(), options);
  const auto               plan = filter->MakeGPUPlan(); // what EstimateGPUMemory reports
  const itk::SizeValueType bytes = plan.memory.Peak();
  std::string              budgetText;
  PlanningBudget(options.budget, budgetText);
  const auto &       m = plan.memory;
  const auto         tileSize = plan.tiles.empty() ? Planner::SizeArray{} : plan.tiles.front().output.size;
  const unsigned int dimension = TImage::ImageDimension;
  std::cout << "image " << SizeText(filter->GetInput()) << ", PSF " << SizeText(filter->GetKernelImage()) << ", "
            << options.algorithm << ", " << options.edges << " edges, " << options.mode << ", " << options.precision
            << "\nbudget: " << budgetText << "\nestimate: " << bytes << " bytes (" << bytes / 1048576.0
            << " MiB)\ntiles: " << plan.tiles.size() << " of output size " << SizeText(tileSize, dimension)
            << ", FFT size " << SizeText(plan.gridSize, dimension) << "\nbuffers: FFT " << m.fftBuffer
            << ", transfer function " << m.transferFunction << ", estimate " << m.estimate << ", data " << m.data
            << ", data spectrum " << m.dataSpectrum << ", weights " << m.weights << ", acceleration " << m.acceleration
            << ", regularization " << m.regularization << ", cuFFT work area " << m.workArea << ", cuFFT plans "
            << m.planData << ", maps " << m.axisMaps << ", PSF " << m.kernelUpload << std::endl;
}

template <typename TImage, typename TPrecision>
Report
Run(const std::string & inputFile,
    const std::string & psfFile,
    const std::string & outputFile,
    const Options &     options,
    const PSFOptions &  psfOptions)
{
  const auto           spacing = ParseSpacing(options.spacing, TImage::ImageDimension);
  ImageFileInformation information;
  auto                 input = ReadImageFile<TImage>(inputFile, spacing, information);
  auto                 psf = psfOptions.Computed() ? ComputePSF<TImage>(psfOptions, input.GetPointer())
                                                   : ReadKernelFile<TImage>(psfFile, input.GetPointer());
  const auto           outputType = ParseOutputType(options.outputType, information.componentType);
  Report               report;
  auto                 output = Deconvolve<TImage, TPrecision>(input, psf, options, report);
  if (options.divergenceFile.empty())
  {
    WriteImageFile<TImage>(output, outputFile, outputType, information.unit);
    return report;
  }
  WriteDivergence(report.divergence, options.divergenceFile);
  try
  {
    WriteImageFile<TImage>(output, outputFile, outputType, information.unit);
  }
  catch (...)
  {
    std::remove(options.divergenceFile.c_str()); // a failed run leaves neither file
    throw;
  }
  return report;
}

/** Calls \a body(dimension, precision) with a std::integral_constant for the dimension (2 or 3)
 * and a value of the internal precision's type (float or double). */
template <typename TBody>
auto
WithTypes(unsigned int dimension, const std::string & precision, TBody && body)
{
  using Two = std::integral_constant<unsigned int, 2>;
  using Three = std::integral_constant<unsigned int, 3>;
  if (dimension == 2)
    return precision == "double" ? body(Two{}, double{}) : body(Two{}, float{});
  return precision == "double" ? body(Three{}, double{}) : body(Three{}, float{});
}

/** The folder a file is to be written in must exist: found out before a long deconvolution. */
void
CheckOutputFolder(const std::string & fileName)
{
  const std::string folder = itksys::SystemTools::GetFilenamePath(fileName);
  if (!folder.empty() && !itksys::SystemTools::FileIsDirectory(folder))
  {
    throw UsageError("the folder of the output file '" + fileName + "' does not exist");
  }
}

/** The input, PSF ("" when computed) and output file (none with --estimate) of the positionals:
 * a PSF file or --psf-model, not both and not neither. */
std::vector<std::string>
FilesOf(std::vector<std::string> paths, bool estimate, const PSFOptions & psf)
{
  const std::size_t withPSFFile = estimate ? 2 : 3;
  if (psf.Computed() && paths.size() == withPSFFile)
    throw UsageError("give either a PSF file or --psf-model " + psf.model + ", not both");
  if (psf.Computed() && paths.size() != withPSFFile - 1)
    throw UsageError(estimate ? "--estimate with --psf-model takes an input file"
                              : "with --psf-model give an input and an output file");
  if (!psf.Computed() && paths.size() != withPSFFile)
    throw UsageError(
      std::string(estimate ? "--estimate takes an input and a PSF file" : "give an input, a PSF and an output file") +
      " (or --psf-model born-wolf|gibson-lanni and the optics instead of a PSF file)");
  if (psf.Computed())
    paths.insert(paths.begin() + 1, std::string());
  return paths;
}

/** Deconvolves (or, with --estimate, plans) the files named on the command line. */
int
DeconvolveFiles(const std::vector<std::string> & positionals,
                bool                             estimate,
                const Options &                  options,
                const PSFOptions &               psfOptions,
                const std::string &              returnParameterFile)
{
  const std::vector<std::string> paths = FilesOf(positionals, estimate, psfOptions);
  if (!estimate)
  {
    CheckDeviceCanRun(options);
    CheckOutputFolder(paths[2]);
    if (!options.divergenceFile.empty())
      CheckOutputFolder(options.divergenceFile);
    if (!psfOptions.outputFile.empty())
      CheckOutputFolder(psfOptions.outputFile);
  }
  const unsigned int dimension =
    psfOptions.Computed() ? InputDimension(paths[0]) : ImageAndKernelDimension(paths[0], paths[1], "PSF");
  if (estimate)
  {
    WithTypes(dimension, options.precision, [&](auto d, auto precision) {
      PrintEstimate<itk::Image<float, decltype(d)::value>, decltype(precision)>(
        paths[0], paths[1], options, psfOptions);
    });
    return EXIT_SUCCESS;
  }
  const Report     report = WithTypes(dimension, options.precision, [&](auto d, auto precision) {
    return Run<itk::Image<float, decltype(d)::value>, decltype(precision)>(
      paths[0], paths[1], paths[2], options, psfOptions);
  });
  ReturnParameters parameters;
  parameters.Add("computeDevice", report.device);
  parameters.Add("elapsedSeconds", report.seconds);
  parameters.Add("iterationsDone", report.iterations);
  parameters.Add("fftBackend", report.fftBackend);
  parameters.Write(returnParameterFile);
  return EXIT_SUCCESS;
}

int
Main(int argc, char * argv[])
{
  TCLAP::CmdLine cmd("Deconvolves an image with a PSF by FFT on an NVIDIA GPU (cuFFT), or on the CPU through ITK's "
                     "deconvolution filters where no GPU is present. Also a 3D Slicer CLI module (--xml).",
                     ' ',
                     "1.0.0");
  const Options  defaults;
  TCLAP::ValueArg<std::string> algorithm(
    "",
    "algorithm",
    "richardson-lucy (default), landweber, projected-landweber, inverse, tikhonov or wiener",
    false,
    defaults.algorithm,
    "name",
    cmd);
  TCLAP::ValueArg<int> iterations(
    "", "iterations", "iterations of the iterative algorithms (default 10)", false, defaults.iterations, "count", cmd);
  TCLAP::ValueArg<std::string> edges("",
                                     "edges",
                                     "boundary (default: as ITK) or non-circulant (GPU, Richardson-Lucy)",
                                     false,
                                     defaults.edges,
                                     "edges",
                                     cmd);
  TCLAP::ValueArg<std::string> boundary(
    "", "boundary", "zero-flux-neumann (default), constant or periodic", false, defaults.boundary, "condition", cmd);
  TCLAP::ValueArg<double> constant(
    "", "constant", "value outside the image for the constant boundary condition", false, 0, "value", cmd);
  TCLAP::SwitchArg             normalize("", "normalize", "divide the PSF by its sum", cmd);
  TCLAP::ValueArg<std::string> mode(
    "", "mode", "output region: same (default) or valid", false, defaults.mode, "mode", cmd);
  TCLAP::SwitchArg        accelerate("", "accelerate", "Biggs-Andrews acceleration (GPU, Richardson-Lucy)", cmd);
  TCLAP::ValueArg<double> background(
    "", "background", "background added to the blurred estimate (GPU, Richardson-Lucy)", false, 0, "value", cmd);
  TCLAP::ValueArg<double> totalVariation(
    "", "totalVariation", "total-variation weight, 0 is off (GPU, Richardson-Lucy)", false, 0, "weight", cmd);
  TCLAP::ValueArg<double> tolerance(
    "", "tolerance", "stop below this relative change, 0 is off (GPU, Richardson-Lucy)", false, 0, "fraction", cmd);
  TCLAP::ValueArg<std::string> divergenceFile(
    "", "divergenceFile", "write the I-divergence per iteration as CSV (GPU, Richardson-Lucy)", false, "", "file", cmd);
  TCLAP::ValueArg<double> alpha("", "alpha", "Landweber step (default 0.1)", false, defaults.alpha, "step", cmd);
  TCLAP::ValueArg<double> regularization(
    "", "regularization", "Tikhonov regularization constant", false, 0, "value", cmd);
  TCLAP::ValueArg<double>      noiseVariance("", "noiseVariance", "Wiener noise variance", false, 0, "value", cmd);
  TCLAP::ValueArg<double>      threshold("",
                                    "threshold",
                                    "PSF zero magnitude of the direct methods (default 1e-4)",
                                    false,
                                    defaults.threshold,
                                    "value",
                                    cmd);
  TCLAP::ValueArg<std::string> precision(
    "", "precision", "internal precision: float (default) or double", false, defaults.precision, "precision", cmd);
  TCLAP::ValueArg<std::string> budget(
    "", "gpuMemoryBudget", "auto (80% of the free GPU memory) or a size such as 4GiB", false, "auto", "size", cmd);
  TCLAP::ValueArg<double> haloEnergyFraction(
    "",
    "haloEnergyFraction",
    "tiles read a halo holding all but this fraction of the PSF's energy (default 0.01; 0: twice the PSF size)",
    false,
    defaults.haloEnergyFraction,
    "fraction",
    cmd);
  TCLAP::SwitchArg cpu("", "cpu", "run on the CPU (ITK's deconvolution filters) even where a GPU is present", cmd);
  TCLAP::ValueArg<std::string> spacing(
    "", "spacing", "voxel spacing of the input, sx,sy[,sz], instead of the file's", false, "", "sx,sy,sz", cmd);
  TCLAP::ValueArg<std::string> outputType(
    "",
    "output-type",
    "voxel type of the output file: float (default), input (the input's), double, uint8, int8, uint16, int16, uint32 "
    "or int32 (integers rounded and clamped)",
    false,
    defaults.outputType,
    "type",
    cmd);
  TCLAP::ValueArg<std::string> fftBackend("",
                                          "fft-backend",
                                          "the GPU's FFT library: auto, cufft or vkfft (default: the environment's "
                                          "CUDAFFTCONVOLUTION_FFT_BACKEND, cufft when unset)",
                                          false,
                                          "",
                                          "backend",
                                          cmd);
  TCLAP::SwitchArg estimate("", "estimate", "print the GPU memory plan and tiles for input and PSF, then exit", cmd);
  PSFArguments     psf(cmd);
  SlicerArguments  slicer(cmd);
  TCLAP::UnlabeledMultiArg<std::string> files(
    "files", "input image, PSF image (unless --psf-model) and output image", false, "input [psf] output", cmd);
  cmd.parse(argc, argv);

  Options options;
  options.algorithm = algorithm.getValue();
  options.iterations = iterations.getValue();
  options.edges = edges.getValue();
  options.boundary = boundary.getValue();
  options.constant = constant.getValue();
  options.normalize = normalize.getValue();
  options.mode = mode.getValue();
  options.accelerate = accelerate.getValue();
  options.background = background.getValue();
  options.totalVariation = totalVariation.getValue();
  options.tolerance = tolerance.getValue();
  options.divergenceFile = divergenceFile.getValue();
  options.alpha = alpha.getValue();
  options.regularization = regularization.getValue();
  options.noiseVariance = noiseVariance.getValue();
  options.threshold = threshold.getValue();
  options.precision = precision.getValue();
  options.budget = ParseBudget(budget.getValue());
  options.haloEnergyFraction = haloEnergyFraction.getValue();
  options.cpu = cpu.getValue();
  options.spacing = spacing.getValue();
  options.outputType = outputType.getValue();
  options.fftBackend = fftBackend.getValue();
  CheckOptions(options);
  const PSFOptions psfOptions = psf.Options();
  CheckPSFOptions(psfOptions);
  return DeconvolveFiles(
    files.getValue(), estimate.getValue(), options, psfOptions, slicer.returnParameterFile.getValue());
}
} // namespace

int
main(int argc, char * argv[])
{
  if (PrintXMLIfAsked(argc, argv, CudaDeconvolutionXML))
  {
    return EXIT_SUCCESS;
  }
  return RunReportingErrors("CudaDeconvolution", [&] { return Main(argc, argv); });
}
