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
#ifndef CudaDeconvolutionPSF_h
#define CudaDeconvolutionPSF_h

// The deconvolution tool's computed PSF (--psf-model and its optics): a PSF from the acquisition's
// parameters when no PSF file is given, through itk::MicroscopePSFImageSource.

#include "CudaFFTConvolutionCLISupport.h"
#include "CudaFFTConvolutionImageFiles.h"

#include "itkMicroscopePSFImageSource.h"

#include <sstream>
#include <string>
#include <vector>

namespace CudaFFTConvolutionCLI
{
struct PSFOptions
{
  std::string         model; // "" (or "file", as Slicer passes it): the PSF comes from a file
  double              numericalAperture{ 1.4 };
  double              wavelength{ 0.52 };
  double              immersionIndex{ 1.515 };
  double              sampleIndex{ 0 }; // 0: the immersion index
  double              particleDepth{ 0 };
  double              coverslipIndex{ 1.515 };
  double              coverslipThickness{ 170 };
  double              workingDistance{ 150 };
  bool                confocal{ false };
  std::vector<double> size;    // x, y(, z); empty: 33 per axis, at most the input's size
  std::vector<double> spacing; // x, y(, z); empty: the input's spacing
  std::string         outputFile;

  bool
  Computed() const
  {
    return !model.empty();
  }
};

/** "1,2.5,3" as numbers; a clear error naming the flag otherwise. */
inline std::vector<double>
ParseList(const std::string & text, const char * flag)
{
  std::vector<double> values;
  std::istringstream  items(text);
  for (std::string item; std::getline(items, item, ',');)
  {
    std::size_t used = 0;
    double      value = 0;
    try
    {
      value = std::stod(item, &used);
    }
    catch (const std::exception &)
    {
      used = 0;
    }
    if (used == 0 || used != item.size())
      throw UsageError(std::string(flag) + " takes numbers separated by commas, not '" + text + "'");
    values.push_back(value);
  }
  return values;
}

/** The dimension of the input file, which must be 2 or 3. */
inline unsigned int
InputDimension(const std::string & inputFile)
{
  const unsigned int dimension = FileDimension(inputFile, "input");
  if (dimension != 2 && dimension != 3)
    throw UsageError("the input has " + std::to_string(dimension) + " dimensions; 2 or 3 are supported");
  return dimension;
}

/** The options, registered on the command line (construct with the tool's other options). */
struct PSFArguments
{
  explicit PSFArguments(TCLAP::CmdLine & cmd)
    : model("",
            "psf-model",
            "compute the PSF instead of reading one: born-wolf or gibson-lanni (file: read it, the default)",
            false,
            "",
            "model",
            cmd)
    , na("", "na", "numerical aperture (default 1.4)", false, 1.4, "value", cmd)
    , wavelength("", "wavelength", "emission wavelength in micrometres (default 0.52)", false, 0.52, "um", cmd)
    , immersionIndex("", "immersion-index", "immersion refractive index (default 1.515, oil)", false, 1.515, "n", cmd)
    , sampleIndex("",
                  "sample-index",
                  "sample refractive index, gibson-lanni (default: the immersion's)",
                  false,
                  0,
                  "n",
                  cmd)
    , particleDepth("",
                    "particle-depth",
                    "depth below the coverslip in micrometres, gibson-lanni (default 0)",
                    false,
                    0,
                    "um",
                    cmd)
    , coverslipIndex("",
                     "coverslip-index",
                     "coverslip refractive index, gibson-lanni (default 1.515)",
                     false,
                     1.515,
                     "n",
                     cmd)
    , coverslipThickness("",
                         "coverslip-thickness",
                         "coverslip thickness in micrometres, gibson-lanni (default 170)",
                         false,
                         170,
                         "um",
                         cmd)
    , workingDistance("",
                      "working-distance",
                      "immersion thickness by design in micrometres, gibson-lanni (default 150)",
                      false,
                      150,
                      "um",
                      cmd)
    , confocal("", "confocal", "confocal PSF: the widefield PSF squared", cmd)
    , size("",
           "psf-size",
           "PSF voxels x,y(,z) (default 33 per axis, at most the input's size)",
           false,
           "",
           "x,y,z",
           cmd)
    , spacing("",
              "psf-spacing",
              "PSF voxel size x,y(,z) in micrometres (default: the input's spacing)",
              false,
              "",
              "x,y,z",
              cmd)
    , output("", "psf-output", "also write the computed PSF to this file", false, "", "file", cmd)
  {}

  PSFOptions
  Options() const
  {
    PSFOptions options;
    options.model = model.getValue() == "file" ? std::string() : model.getValue();
    options.numericalAperture = na.getValue();
    options.wavelength = wavelength.getValue();
    options.immersionIndex = immersionIndex.getValue();
    options.sampleIndex = sampleIndex.getValue();
    options.particleDepth = particleDepth.getValue();
    options.coverslipIndex = coverslipIndex.getValue();
    options.coverslipThickness = coverslipThickness.getValue();
    options.workingDistance = workingDistance.getValue();
    options.confocal = confocal.getValue();
    options.size = size.getValue().empty() ? std::vector<double>{} : ParseList(size.getValue(), "--psf-size");
    options.spacing =
      spacing.getValue().empty() ? std::vector<double>{} : ParseList(spacing.getValue(), "--psf-spacing");
    options.outputFile = output.getValue();
    return options;
  }

  TCLAP::ValueArg<std::string> model;
  TCLAP::ValueArg<double>      na;
  TCLAP::ValueArg<double>      wavelength;
  TCLAP::ValueArg<double>      immersionIndex;
  TCLAP::ValueArg<double>      sampleIndex;
  TCLAP::ValueArg<double>      particleDepth;
  TCLAP::ValueArg<double>      coverslipIndex;
  TCLAP::ValueArg<double>      coverslipThickness;
  TCLAP::ValueArg<double>      workingDistance;
  TCLAP::SwitchArg             confocal;
  TCLAP::ValueArg<std::string> size;
  TCLAP::ValueArg<std::string> spacing;
  TCLAP::ValueArg<std::string> output;
};

/** Refuses, before any file is read, a model or a list that no PSF could honour. */
inline void
CheckPSFOptions(const PSFOptions & options)
{
  if (!options.Computed())
  {
    if (!options.outputFile.empty())
      throw UsageError("--psf-output writes a computed PSF: give --psf-model");
    return;
  }
  try
  {
    itk::MicroscopePSF::ParseModel(options.model);
  }
  catch (const std::invalid_argument & error)
  {
    throw UsageError(std::string("--psf-model: ") + error.what());
  }
  for (double n : options.size)
  {
    if (!(n >= 1) || n != static_cast<double>(static_cast<long long>(n)))
      throw UsageError("--psf-size takes positive whole numbers of voxels");
  }
}

/** The PSF source for an input image: its spacing and dimension unless the options give them. */
template <typename TImage>
typename itk::MicroscopePSFImageSource<TImage>::Pointer
MakePSFSource(const PSFOptions & options, const TImage * input)
{
  constexpr unsigned int dimension = TImage::ImageDimension;
  const auto             length = [](const std::vector<double> & list) { return list.size(); };
  if (!options.size.empty() && length(options.size) != dimension)
    throw UsageError("--psf-size needs " + std::to_string(dimension) + " values for this " + std::to_string(dimension) +
                     "D input");
  if (!options.spacing.empty() && length(options.spacing) != dimension)
    throw UsageError("--psf-spacing needs " + std::to_string(dimension) + " values for this " +
                     std::to_string(dimension) + "D input");
  using Source = itk::MicroscopePSFImageSource<TImage>;
  auto                         source = Source::New();
  typename Source::SizeType    size;
  typename Source::SpacingType spacing;
  for (unsigned int a = 0; a < dimension; ++a)
  {
    const auto inputSize = input->GetLargestPossibleRegion().GetSize()[a];
    size[a] = options.size.empty() ? std::min<itk::SizeValueType>(33, inputSize)
                                   : static_cast<itk::SizeValueType>(options.size[a]);
    spacing[a] = options.spacing.empty() ? input->GetSpacing()[a] : options.spacing[a];
  }
  source->SetModel(itk::MicroscopePSF::ParseModel(options.model));
  source->SetConfocal(options.confocal);
  source->SetSize(size);
  source->SetSpacing(spacing);
  source->SetNumericalAperture(options.numericalAperture);
  source->SetWavelength(options.wavelength);
  source->SetImmersionRefractiveIndex(options.immersionIndex);
  source->SetSampleRefractiveIndex(options.sampleIndex > 0 ? options.sampleIndex : options.immersionIndex);
  source->SetParticleDepth(options.particleDepth);
  source->SetCoverslipRefractiveIndex(options.coverslipIndex);
  source->SetCoverslipThickness(options.coverslipThickness);
  source->SetWorkingDistance(options.workingDistance);
  const std::string problem = itk::MicroscopePSF::Check(source->GetPSFParameters());
  if (!problem.empty())
    throw UsageError("--psf-model " + options.model + ": " + problem);
  return source;
}

/** The computed PSF for \a input (written to --psf-output when given). */
template <typename TImage>
typename TImage::Pointer
ComputePSF(const PSFOptions & options, const TImage * input)
{
  auto source = MakePSFSource<TImage>(options, input);
  source->Update();
  typename TImage::Pointer psf = source->GetOutput();
  psf->DisconnectPipeline();
  if (!options.outputFile.empty())
    WriteAtomically<TImage>(psf, options.outputFile);
  return psf;
}
} // namespace CudaFFTConvolutionCLI

#endif
