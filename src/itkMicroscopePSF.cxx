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
// The models are written from the papers cited in itkMicroscopePSF.h.
#include "itkMicroscopePSF.h"

#include <math.h> // j0: POSIX's (and MSVC's _j0) is some 40 times faster than std::cyl_bessel_j

#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace itk
{
namespace
{
using Complex = std::complex<double>;
constexpr double Pi = 3.14159265358979323846;
constexpr int    PointsPerPanel = 8;

/** Nodes and weights of the n-point Gauss-Legendre rule on [-1, 1] (Newton on P_n). */
void
GaussLegendre(int n, std::vector<double> & nodes, std::vector<double> & weights)
{
  nodes.assign(n, 0);
  weights.assign(n, 0);
  for (int i = 0; i < (n + 1) / 2; ++i)
  {
    double x = std::cos(Pi * (i + 0.75) / (n + 0.5));
    double derivative = 1;
    for (int step = 0; step < 100; ++step)
    {
      double p0 = 1, p1 = x; // P_0, P_1, then the recurrence up to P_n
      for (int j = 2; j <= n; ++j)
      {
        const double p2 = ((2 * j - 1) * x * p1 - (j - 1) * p0) / j;
        p0 = p1;
        p1 = p2;
      }
      derivative = n * (x * p1 - p0) / (x * x - 1);
      const double dx = p1 / derivative;
      x -= dx;
      if (std::abs(dx) < 1e-16)
        break;
    }
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = weights[n - 1 - i] = 2 / ((1 - x * x) * derivative * derivative);
  }
}

/** Calls body(i) for i in [0, count) on the machine's cores (each i on one thread). */
template <typename TBody>
void
ForEachInParallel(std::size_t count, const TBody & body)
{
  const std::size_t        threads = std::min<std::size_t>(count, std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<std::size_t> next{ 0 };
  const auto               work = [&] {
    for (std::size_t i = next++; i < count; i = next++)
      body(i);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (auto & thread : pool)
    thread.join();
}

/** Composite Gauss-Legendre over the pupil [0, 1]. */
struct PupilQuadrature
{
  std::vector<double> rho;
  std::vector<double> weight; // includes the rho of rho d rho
};

/** Where the sample's rays turn evanescent, sqrt(n_s^2 - NA^2 rho^2) has a square-root branch
 * point: its phase (and, beyond, its decay) changes fastest there. On each side the pupil radius
 * is written as rho = c -+ L u^2 (c the critical point, u in [0, 1]), in which that square root
 * is linear, and the panels are uniform in u; a critical point just beyond the pupil's edge gets
 * the same towards the edge. Elsewhere rho is the variable itself. \a panels: per unit of the variable, for each
 * segment. */
PupilQuadrature
MakeQuadrature(double critical, std::size_t panels)
{
  std::vector<double> x, w;
  GaussLegendre(PointsPerPanel, x, w);
  PupilQuadrature quadrature;
  const auto      add = [&](const auto & rhoOf, const auto & jacobian) {
    const double h = 1.0 / panels;
    for (std::size_t p = 0; p < panels; ++p)
      for (int i = 0; i < PointsPerPanel; ++i)
      {
        const double u = h * (p + 0.5 * (x[i] + 1)), rho = rhoOf(u);
        quadrature.rho.push_back(rho);
        quadrature.weight.push_back(0.5 * h * w[i] * jacobian(u) * rho);
      }
  };
  if (critical >= 1 && critical < 1.2) // just outside the pupil: still steep at its edge
  {
    add([](double u) { return 1 - (1 - u) * (1 - u); }, [](double u) { return 2 * (1 - u); });
    return quadrature;
  }
  if (!(critical > 0 && critical < 1))
  {
    add([](double u) { return u; }, [](double) { return 1.0; });
    return quadrature;
  }
  const double below = critical, above = 1 - critical;
  add([=](double u) { return critical - below * (1 - u) * (1 - u); }, [=](double u) { return 2 * below * (1 - u); });
  add([=](double u) { return critical + above * u * u; }, [=](double u) { return 2 * above * u; });
  return quadrature;
}

double
BesselJ0(double x)
{
#if defined(_WIN32)
  return ::_j0(x);
#else
  return ::j0(x);
#endif
}

double
DesignOr(double design, double actual)
{
  return design > 0 ? design : actual;
}

/** sqrt(n^2 - a^2), imaginary (decaying) beyond the critical angle. */
Complex
AxialIndex(double n, double a)
{
  return std::sqrt(Complex(n * n - a * a, 0));
}

/** The pupil phase W(rho, z) of the model (complex where rays are evanescent). */
Complex
PupilPhase(const MicroscopePSF::Parameters & p, double rho, double z)
{
  const double k = 2 * Pi / p.wavelength;
  const double a = p.numericalAperture * rho;
  if (p.model == MicroscopePSF::Model::BornWolf)
  {
    return -k * z * a * a / (2 * p.immersionIndex);
  }
  const double  ni0 = DesignOr(p.immersionDesignIndex, p.immersionIndex);
  const double  ng0 = DesignOr(p.coverslipDesignIndex, p.coverslipIndex);
  const double  tg0 = DesignOr(p.coverslipDesignThickness, p.coverslipThickness);
  const Complex si = AxialIndex(p.immersionIndex, a);
  const Complex sg = AxialIndex(p.coverslipIndex, a);
  // t_i s_i - t_i* s_i*, with t_i = t_i* + z - z_p, written so that matched indices cancel exactly.
  const Complex immersion = (z - p.particleDepth) * si + p.workingDistance * (si - AxialIndex(ni0, a));
  const Complex coverslip = (p.coverslipThickness - tg0) * sg + tg0 * (sg - AxialIndex(ng0, a));
  return k * (p.particleDepth * AxialIndex(p.sampleIndex, a) + immersion + coverslip);
}

/** The axial positions of the planes: (i - size/2) * spacing, or the single plane z = 0 in 2D. */
std::vector<double>
PlanePositions(const MicroscopePSF::Parameters & p)
{
  if (p.dimension == 2)
    return { 0.0 };
  std::vector<double> z(p.size[2]);
  for (std::uint64_t i = 0; i < p.size[2]; ++i)
    z[i] = (static_cast<double>(i) - static_cast<double>(p.size[2] / 2)) * p.spacing[2];
  return z;
}

/** Panels enough for every plane: about a third of a cycle of J0 and of the phase per panel on
 * average (J0 oscillates evenly in rho; the substitution near a critical point packs up to twice
 * that into a panel). */
std::size_t
PanelCount(const MicroscopePSF::Parameters & p, double maximumRadius, const std::vector<double> & planes)
{
  const double lateral = 2 * Pi / p.wavelength * p.numericalAperture * maximumRadius;
  double       phaseVariation = 0;
  const int    samples = 512;
  for (double z : planes)
  {
    double total = 0;
    for (int s = 0; s < samples; ++s)
    {
      total += std::abs(PupilPhase(p, (s + 1.0) / samples, z) - PupilPhase(p, static_cast<double>(s) / samples, z));
    }
    phaseVariation = std::max(phaseVariation, total);
  }
  return static_cast<std::size_t>(std::ceil(1.5 * (lateral + phaseVariation) / Pi)) + 4;
}

/** The distinct lateral distances of the grid's voxels from the axis, and for each voxel offset
 * (|dx|, |dy|) the index of its distance. */
struct Radii
{
  std::vector<double>      values;
  std::vector<std::size_t> indexOfOffset; // [|dy| * columns + |dx|]
  std::size_t              columns{ 0 };
};

Radii
MakeRadii(const MicroscopePSF::Parameters & p)
{
  const std::uint64_t cx = p.size[0] / 2, cy = p.size[1] / 2;
  const std::size_t   columns = std::max(cx, p.size[0] - 1 - cx) + 1;
  const std::size_t   rows = std::max(cy, p.size[1] - 1 - cy) + 1;
  std::vector<double> squared(columns * rows);
  for (std::size_t j = 0; j < rows; ++j)
    for (std::size_t i = 0; i < columns; ++i)
      squared[j * columns + i] = std::pow(i * p.spacing[0], 2) + std::pow(j * p.spacing[1], 2);
  Radii radii;
  radii.columns = columns;
  std::vector<double> sorted = squared;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  radii.indexOfOffset.resize(squared.size());
  for (std::size_t o = 0; o < squared.size(); ++o)
    radii.indexOfOffset[o] = std::lower_bound(sorted.begin(), sorted.end(), squared[o]) - sorted.begin();
  radii.values.resize(sorted.size());
  std::transform(sorted.begin(), sorted.end(), radii.values.begin(), [](double s) { return std::sqrt(s); });
  return radii;
}

/** Widefield intensity per (plane, radius): |sum_q J0(k NA r rho_q) exp(i W(rho_q, z)) w_q|^2. */
std::vector<double>
RadialProfiles(const MicroscopePSF::Parameters & p,
               const std::vector<double> &       radii,
               const std::vector<double> &       planes)
{
  // No sample layer (Born-Wolf, or the particle on the coverslip): no critical point (0).
  const double critical =
    p.model == MicroscopePSF::Model::GibsonLanni && p.particleDepth > 0 ? p.sampleIndex / p.numericalAperture : 0.0;
  const PupilQuadrature q = MakeQuadrature(critical, PanelCount(p, radii.back(), planes));
  const std::size_t     nodes = q.rho.size();
  // The pupil function of every plane (real and imaginary parts apart, for the inner loop); J0
  // does not depend on the plane, so each radius computes its row of J0 once for all planes.
  std::vector<double> pupilReal(planes.size() * nodes), pupilImaginary(planes.size() * nodes);
  for (std::size_t z = 0; z < planes.size(); ++z)
    for (std::size_t n = 0; n < nodes; ++n)
    {
      const Complex value = std::exp(Complex(0, 1) * PupilPhase(p, q.rho[n], planes[z])) * q.weight[n];
      pupilReal[z * nodes + n] = value.real();
      pupilImaginary[z * nodes + n] = value.imag();
    }
  const double        lateral = 2 * Pi / p.wavelength * p.numericalAperture;
  std::vector<double> profiles(planes.size() * radii.size());
  ForEachInParallel(radii.size(), [&](std::size_t r) {
    std::vector<double> j0(nodes);
    for (std::size_t n = 0; n < nodes; ++n)
      j0[n] = BesselJ0(lateral * radii[r] * q.rho[n]);
    for (std::size_t z = 0; z < planes.size(); ++z)
    {
      const double * re = &pupilReal[z * nodes];
      const double * im = &pupilImaginary[z * nodes];
      double         sumReal = 0, sumImaginary = 0;
      for (std::size_t n = 0; n < nodes; ++n)
      {
        sumReal += j0[n] * re[n];
        sumImaginary += j0[n] * im[n];
      }
      profiles[z * radii.size() + r] = sumReal * sumReal + sumImaginary * sumImaginary;
    }
  });
  return profiles;
}

std::string
Describe(const char * what, double value)
{
  std::ostringstream text;
  text << what << " (" << value << ")";
  return text.str();
}
} // namespace

std::string
MicroscopePSF::Check(const Parameters & p)
{
  if (p.model != Model::BornWolf && p.model != Model::GibsonLanni)
    return "unknown PSF model";
  if (p.dimension != 2 && p.dimension != 3)
    return "a PSF has 2 or 3 dimensions, not " + std::to_string(p.dimension);
  double voxels = 1;
  for (unsigned int a = 0; a < p.dimension; ++a)
  {
    if (p.size[a] == 0)
      return "the PSF size must be at least 1 along each axis";
    if (!(p.spacing[a] > 0) || !std::isfinite(p.spacing[a]))
      return Describe("the voxel size must be positive and finite", p.spacing[a]);
    voxels *= static_cast<double>(p.size[a]);
  }
  if (voxels > 1e10)
    return "the PSF is too large (more than 10^10 voxels)";
  const auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  if (!positive(p.wavelength))
    return Describe("the wavelength must be positive", p.wavelength);
  if (!positive(p.numericalAperture))
    return Describe("the numerical aperture must be positive", p.numericalAperture);
  if (!positive(p.immersionIndex))
    return Describe("the immersion refractive index must be positive", p.immersionIndex);
  if (p.numericalAperture > p.immersionIndex)
    return "the numerical aperture (" + std::to_string(p.numericalAperture) +
           ") cannot exceed the immersion refractive index (" + std::to_string(p.immersionIndex) + ")";
  if (p.model == Model::BornWolf)
    return "";
  if (!positive(p.sampleIndex) || !positive(p.coverslipIndex))
    return "the sample and coverslip refractive indices must be positive";
  if (!(p.immersionDesignIndex >= 0) || !(p.coverslipDesignIndex >= 0) || !(p.coverslipDesignThickness >= 0))
    return "design values must be positive (0: the actual value)";
  const double smallest = std::min({ DesignOr(p.immersionDesignIndex, p.immersionIndex),
                                     p.coverslipIndex,
                                     DesignOr(p.coverslipDesignIndex, p.coverslipIndex) });
  if (p.numericalAperture > smallest)
    return "the numerical aperture (" + std::to_string(p.numericalAperture) +
           ") cannot exceed the coverslip's or the design immersion refractive index";
  if (!(p.coverslipThickness >= 0) || !(p.workingDistance >= 0) || !std::isfinite(p.coverslipThickness) ||
      !std::isfinite(p.workingDistance) || !std::isfinite(p.coverslipDesignThickness))
    return "thicknesses must be non-negative and finite";
  if (!(p.particleDepth >= 0) || !std::isfinite(p.particleDepth))
    return Describe("the particle depth must be non-negative", p.particleDepth);
  return "";
}

std::uint64_t
MicroscopePSF::NumberOfVoxels(const Parameters & p)
{
  if (!Check(p).empty())
    return 0;
  std::uint64_t voxels = 1;
  for (unsigned int a = 0; a < p.dimension; ++a)
    voxels *= p.size[a];
  return voxels;
}

void
MicroscopePSF::Compute(const Parameters & p, double * output)
{
  const std::string problem = Check(p);
  if (!problem.empty())
    throw std::invalid_argument(problem);
  const std::vector<double> planes = PlanePositions(p);
  const Radii               radii = MakeRadii(p);
  const std::vector<double> profiles = RadialProfiles(p, radii.values, planes);
  const std::int64_t        cx = p.size[0] / 2, cy = p.size[1] / 2;
  double *                  voxel = output;
  for (std::size_t z = 0; z < planes.size(); ++z)
  {
    const double * profile = &profiles[z * radii.values.size()];
    for (std::int64_t y = 0; y < static_cast<std::int64_t>(p.size[1]); ++y)
    {
      const std::size_t row = static_cast<std::size_t>(std::abs(y - cy)) * radii.columns;
      for (std::int64_t x = 0; x < static_cast<std::int64_t>(p.size[0]); ++x)
      {
        const double intensity = profile[radii.indexOfOffset[row + std::abs(x - cx)]];
        *voxel++ = p.confocal ? intensity * intensity : intensity;
      }
    }
  }
  const double total = std::accumulate(output, voxel, 0.0);
  if (!(total > 0))
    throw std::invalid_argument("the PSF vanishes on this grid");
  std::transform(output, voxel, output, [total](double v) { return v / total; });
}

std::vector<double>
MicroscopePSF::Compute(const Parameters & p)
{
  const std::string problem = Check(p);
  if (!problem.empty())
    throw std::invalid_argument(problem);
  std::vector<double> psf(NumberOfVoxels(p));
  Compute(p, psf.data());
  return psf;
}

const char *
MicroscopePSF::ModelName(Model model)
{
  return model == Model::BornWolf ? "born-wolf" : "gibson-lanni";
}

std::ostream &
operator<<(std::ostream & out, MicroscopePSF::Model model)
{
  return out << MicroscopePSF::ModelName(model);
}

MicroscopePSF::Model
MicroscopePSF::ParseModel(const std::string & name)
{
  if (name == "born-wolf")
    return Model::BornWolf;
  if (name == "gibson-lanni")
    return Model::GibsonLanni;
  throw std::invalid_argument("unknown PSF model '" + name + "': use born-wolf or gibson-lanni");
}
} // namespace itk
