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

// The computed PSFs against independent values: the in-focus plane against the Airy pattern's
// closed form (2 J1(v) / v)^2 and its first zero at 0.61 wavelength / NA; the energy of every
// plane (Parseval: constant through focus when the grid holds the defocused spot); the symmetries
// of the models; Gibson-Lanni equal to Born-Wolf in focus with matched indices, and close to it at
// low NA (where Born-Wolf's paraxial defocus holds); the focal shift towards the objective when
// focusing into a sample of lower index; confocal = widefield squared; the grid and bad input.

#include "itkMicroscopePSFImageSource.h"
#include "itkTestingMacros.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace
{
using Image3 = itk::Image<double, 3>;
using Image2 = itk::Image<float, 2>;
using Source3 = itk::MicroscopePSFImageSource<Image3>;
using Source2 = itk::MicroscopePSFImageSource<Image2>;
using Model = itk::MicroscopePSF::Model;
constexpr double Pi = 3.14159265358979323846;

template <typename TSource>
typename TSource::OutputImageType::Pointer
Compute(TSource * source)
{
  source->Update();
  typename TSource::OutputImageType::Pointer image = source->GetOutput();
  image->DisconnectPipeline();
  return image;
}

double
Voxel(const Image3 * image, long x, long y, long z)
{
  return image->GetPixel({ { x, y, z } });
}

double
PlaneSum(const Image3 * image, long z)
{
  const auto size = image->GetLargestPossibleRegion().GetSize();
  double     sum = 0;
  for (long y = 0; y < static_cast<long>(size[1]); ++y)
    for (long x = 0; x < static_cast<long>(size[0]); ++x)
      sum += Voxel(image, x, y, z);
  return sum;
}

double
Maximum(const Image3 * image)
{
  const auto * buffer = image->GetBufferPointer();
  return *std::max_element(buffer, buffer + image->GetBufferedRegion().GetNumberOfPixels());
}

Source3::Pointer
BornWolf(double na, double wavelength, double n, double lateral, double axial, unsigned long xy, unsigned long z)
{
  auto source = Source3::New();
  source->SetModel(Model::BornWolf);
  source->SetNumericalAperture(na);
  source->SetWavelength(wavelength);
  source->SetImmersionRefractiveIndex(n);
  source->SetSize({ { xy, xy, z } });
  Source3::SpacingType spacing;
  spacing[0] = spacing[1] = lateral;
  spacing[2] = axial;
  source->SetSpacing(spacing);
  return source;
}

/** The in-focus plane is the Airy pattern, normalised to its peak: (2 J1(v) / v)^2, v = k NA r. */
int
TestAiry()
{
  const double na = 1.2, wavelength = 0.5, dx = 0.04;
  auto         source = BornWolf(na, wavelength, 1.33, dx, 0.2, 65, 17);
  ITK_EXERCISE_BASIC_OBJECT_METHODS(source, MicroscopePSFImageSource, ImageSource);
  const auto   psf = Compute(source.GetPointer());
  const double peak = Voxel(psf, 32, 32, 8);
  double       error = 0;
  for (long y = 0; y < 65; ++y)
    for (long x = 0; x < 65; ++x)
    {
      const double v = 2 * Pi / wavelength * na * std::hypot((x - 32) * dx, (y - 32) * dx);
      const double airy = v == 0 ? 1 : std::pow(2 * std::cyl_bessel_j(1.0, v) / v, 2);
      error = std::max(error, std::abs(Voxel(psf, x, y, 8) / peak - airy));
    }
  std::cout << "Airy: largest deviation " << error << " of the peak" << std::endl;
  ITK_TEST_EXPECT_TRUE(error < 1e-9);
  ITK_TEST_EXPECT_TRUE(peak == Maximum(psf));

  // The first dark ring at 0.61 wavelength / NA: a 2D PSF with ten voxels to it.
  auto source2 = Source2::New();
  source2->SetModel(Model::BornWolf);
  source2->SetNumericalAperture(na);
  source2->SetWavelength(wavelength);
  source2->SetImmersionRefractiveIndex(1.33);
  source2->SetSize({ { 41, 41 } });
  Source2::SpacingType spacing;
  spacing.Fill(0.061 * wavelength / na);
  source2->SetSpacing(spacing);
  const auto plane = Compute(source2.GetPointer());
  const auto at = [&plane](long x) { return static_cast<double>(plane->GetPixel({ { 20 + x, 20 } })); };
  std::cout << "first zero: " << at(10) / at(0) << " of the peak; neighbours " << at(9) / at(0) << ", "
            << at(11) / at(0) << std::endl;
  ITK_TEST_EXPECT_TRUE(at(10) / at(0) < 1e-6);
  ITK_TEST_EXPECT_TRUE(at(9) > at(10) && at(11) > at(10) && at(9) > 1e-3 * at(0));
  return EXIT_SUCCESS;
}

/** Each plane carries the same energy (sampled above Nyquist, lambda / (4 NA), with room for the
 * defocused spot): the sums of the planes agree. */
int
TestEnergyPerPlane()
{
  const auto   psf = Compute(BornWolf(0.5, 0.5, 1.0, 0.2, 0.4, 129, 11).GetPointer());
  const double focus = PlaneSum(psf, 5);
  double       deviation = 0;
  for (long z = 0; z < 11; ++z)
    deviation = std::max(deviation, std::abs(PlaneSum(psf, z) / focus - 1));
  std::cout << "energy per plane: largest relative deviation " << deviation << std::endl;
  ITK_TEST_EXPECT_TRUE(deviation < 1e-3);
  ITK_TEST_EXPECT_TRUE(std::abs(focus * 11 - 1) < 1e-3); // and the whole sums to 1
  return EXIT_SUCCESS;
}

/** x <-> y, x <-> -x; z <-> -z where the pupil phase is even in z (Born-Wolf; Gibson-Lanni with
 * matched indices and the particle on the coverslip), and not otherwise. */
double
AxialDeviation(const Image3 * psf, double & lateral)
{
  const auto size = psf->GetLargestPossibleRegion().GetSize();
  const long n = size[0], nz = size[2], c = n / 2;
  double     axial = 0;
  lateral = 0;
  for (long z = 0; z < nz; ++z)
    for (long y = 0; y < n; ++y)
      for (long x = 0; x < n; ++x)
      {
        const double v = Voxel(psf, x, y, z);
        lateral = std::max({ lateral, std::abs(v - Voxel(psf, y, x, z)), std::abs(v - Voxel(psf, 2 * c - x, y, z)) });
        axial = std::max(axial, std::abs(v - Voxel(psf, x, y, nz - 1 - z)));
      }
  lateral /= Maximum(psf);
  return axial / Maximum(psf);
}

Source3::Pointer
GibsonLanni(double na, double immersion, double sample, double depth)
{
  auto source = BornWolf(na, 0.52, immersion, 0.1, 0.25, 33, 21);
  source->SetModel(Model::GibsonLanni);
  source->SetSampleRefractiveIndex(sample);
  source->SetParticleDepth(depth);
  source->SetCoverslipRefractiveIndex(1.52);
  return source;
}

int
TestSymmetry()
{
  double lateral = 0;
  ITK_TEST_EXPECT_TRUE(AxialDeviation(Compute(BornWolf(1.4, 0.52, 1.515, 0.1, 0.25, 33, 21).GetPointer()), lateral) <
                       1e-12);
  ITK_TEST_EXPECT_TRUE(lateral < 1e-12);
  ITK_TEST_EXPECT_TRUE(AxialDeviation(Compute(GibsonLanni(1.4, 1.515, 1.515, 0).GetPointer()), lateral) < 1e-12);
  ITK_TEST_EXPECT_TRUE(lateral < 1e-12);
  const double mismatched = AxialDeviation(Compute(GibsonLanni(1.4, 1.515, 1.33, 10).GetPointer()), lateral);
  std::cout << "Gibson-Lanni, water sample 10 um deep under oil: axial asymmetry " << mismatched << " of the peak"
            << std::endl;
  ITK_TEST_EXPECT_TRUE(mismatched > 0.05);
  ITK_TEST_EXPECT_TRUE(lateral < 1e-12);
  return EXIT_SUCCESS;
}

/** Gibson-Lanni with matched indices and the particle on the coverslip has the exact defocus of
 * which Born-Wolf is the paraxial form: equal in focus at any NA, close at a low NA. */
int
TestGibsonLanniReducesToBornWolf()
{
  for (double na : { 0.3, 1.2 })
  {
    auto         gl = GibsonLanni(na, 1.33, 1.33, 0);
    auto         bw = BornWolf(na, 0.52, 1.33, 0.1, 0.25, 33, 21);
    const auto   g = Compute(gl.GetPointer()), b = Compute(bw.GetPointer());
    const double gFocus = Voxel(g, 16, 16, 10), bFocus = Voxel(b, 16, 16, 10);
    double       inFocus = 0, whole = 0;
    for (long z = 0; z < 21; ++z)
      for (long y = 0; y < 33; ++y)
        for (long x = 0; x < 33; ++x)
        {
          const double difference = std::abs(Voxel(g, x, y, z) - Voxel(b, x, y, z)) / Maximum(b);
          whole = std::max(whole, difference);
          if (z == 10)
            inFocus = std::max(inFocus, std::abs(Voxel(g, x, y, z) / gFocus - Voxel(b, x, y, z) / bFocus));
        }
    std::cout << "NA " << na << ": Gibson-Lanni vs Born-Wolf in focus " << inFocus << ", whole " << whole << std::endl;
    ITK_TEST_EXPECT_TRUE(inFocus < 1e-12);
    if (na < 0.5)
      ITK_TEST_EXPECT_TRUE(whole < 0.015);
  }
  return EXIT_SUCCESS;
}

/** Oil objective into water: the intensity peak lies towards the objective's side of the nominal
 * focus (z < 0 here), by about z_p (n_i / n_s - 1) in the paraxial limit, more at high NA. */
int
TestFocalShift()
{
  auto source = GibsonLanni(1.4, 1.515, 1.33, 10);
  source->SetSize({ { 17, 17, 81 } });
  Source3::SpacingType spacing;
  spacing[0] = spacing[1] = 0.1;
  spacing[2] = 0.1;
  source->SetSpacing(spacing);
  const auto psf = Compute(source.GetPointer());
  long       best = 0;
  for (long z = 0; z < 81; ++z)
    best = Voxel(psf, 8, 8, z) > Voxel(psf, 8, 8, best) ? z : best;
  const double peak = (best - 40) * 0.1, paraxial = -10 * (1.515 / 1.33 - 1);
  std::cout << "focal shift " << peak << " (paraxial " << paraxial << ")" << std::endl;
  ITK_TEST_EXPECT_TRUE(peak <= paraxial && peak > 2.5 * paraxial);
  return EXIT_SUCCESS;
}

int
TestConfocalAndGrid()
{
  auto       widefield = BornWolf(1.0, 0.5, 1.33, 0.1, 0.3, 16, 8); // even sizes: the focus at size / 2
  const auto w = Compute(widefield.GetPointer());
  ITK_TEST_EXPECT_EQUAL(Voxel(w, 8, 8, 4), Maximum(w));
  widefield->ConfocalOn();
  ITK_TEST_EXPECT_TRUE(widefield->GetConfocal());
  const auto   c = Compute(widefield.GetPointer());
  const double squares =
    std::inner_product(w->GetBufferPointer(), w->GetBufferPointer() + 16 * 16 * 8, w->GetBufferPointer(), 0.0);
  double error = 0, sum = 0;
  for (std::size_t i = 0; i < 16 * 16 * 8; ++i)
  {
    error = std::max(
      error, std::abs(c->GetBufferPointer()[i] - w->GetBufferPointer()[i] * w->GetBufferPointer()[i] / squares));
    sum += c->GetBufferPointer()[i];
  }
  ITK_TEST_EXPECT_TRUE(error < 1e-15 && std::abs(sum - 1) < 1e-12);
  ITK_TEST_EXPECT_EQUAL(c->GetSpacing()[2], 0.3);
  ITK_TEST_EXPECT_TRUE(std::abs(c->GetOrigin()[0] + 0.8) < 1e-12 && std::abs(c->GetOrigin()[2] + 1.2) < 1e-12);
  ITK_TEST_EXPECT_EQUAL(c->GetLargestPossibleRegion().GetSize()[2], 8u);
  return EXIT_SUCCESS;
}

int
TestBadInput()
{
  auto source = BornWolf(1.4, 0.5, 1.33, 0.1, 0.2, 9, 5); // NA above the immersion index
  ITK_TRY_EXPECT_EXCEPTION(source->Update());
  source->SetNumericalAperture(1.2);
  source->SetWavelength(0);
  ITK_TRY_EXPECT_EXCEPTION(source->Update());
  source->SetWavelength(0.5);
  source->SetSize({ { 9, 0, 5 } });
  ITK_TRY_EXPECT_EXCEPTION(source->Update());
  source->SetSize({ { 9, 9, 5 } });
  source->SetModel(Model::GibsonLanni);
  source->SetParticleDepth(-1);
  ITK_TRY_EXPECT_EXCEPTION(source->Update());
  source->SetParticleDepth(1);
  ITK_TRY_EXPECT_NO_EXCEPTION(source->Update());
  return EXIT_SUCCESS;
}
} // namespace

int
itkMicroscopePSFImageSourceTest(int, char *[])
{
  for (auto test : { TestAiry,
                     TestEnergyPerPlane,
                     TestSymmetry,
                     TestGibsonLanniReducesToBornWolf,
                     TestFocalShift,
                     TestConfocalAndGrid,
                     TestBadInput })
  {
    if (test() != EXIT_SUCCESS)
      return EXIT_FAILURE;
  }
  std::cout << "Test finished." << std::endl;
  return EXIT_SUCCESS;
}
