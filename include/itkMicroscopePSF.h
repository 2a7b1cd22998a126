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
#ifndef itkMicroscopePSF_h
#define itkMicroscopePSF_h

#include "CudaFFTConvolutionExport.h"

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace itk
{
/** \class MicroscopePSF
 * \brief Widefield and confocal point spread functions from the acquisition's parameters: pure
 * C++, no ITK, no CUDA. The one implementation behind MicroscopePSFImageSource, the
 * deconvolution tool's --psf-model and the C ABI's cfc_psf_compute (Python's cudafftconvolution.psf).
 *
 * Scalar diffraction: the intensity at lateral distance r and axial position z is
 *   h(r, z) = | integral_0^1 J0(k NA r rho) exp(i W(rho, z)) rho d rho |^2,    k = 2 pi / wavelength,
 * with rho the normalised pupil radius and W the phase of the pupil:
 * - BornWolf (Born and Wolf, Principles of Optics, 8.8): defocus in the Fresnel (paraxial)
 *   approximation of the Kirchhoff integral, W = -k z NA^2 rho^2 / (2 n_immersion). In focus it is
 *   the Airy pattern (2 J1(v) / v)^2, v = k NA r, first zero at 0.61 wavelength / NA. Symmetric in z.
 * - GibsonLanni (Gibson and Lanni, J. Opt. Soc. Am. A 8(10):1601, 1991; in the form of Li, Xue and
 *   Blu, J. Opt. Soc. Am. A 34(6):1029, 2017): W = k times the optical path difference between the
 *   actual and the design conditions of sample, immersion layer and coverslip,
 *     OPD = z_p sqrt(n_s^2 - a^2) + t_i sqrt(n_i^2 - a^2) - t_i* sqrt(n_i*^2 - a^2)
 *         + t_g sqrt(n_g^2 - a^2) - t_g* sqrt(n_g*^2 - a^2),          a = NA rho,
 *   z_p the particle's depth below the coverslip, t_i = t_i* + z - z_p the immersion thickness.
 *   z is the focus position relative to the nominal focus on the particle (the stage displacement
 *   that would focus on it without index mismatch; positive: the objective moves away from the
 *   coverslip). With mismatched indices the intensity peak moves away from z = 0 (focal shift)
 *   and the PSF loses its axial symmetry, as in the instrument. Where n_s < NA, the rays beyond
 *   the critical angle are evanescent in the sample: sqrt(n_s^2 - a^2) is imaginary and they decay
 *   as exp(-k z_p |sqrt(n_s^2 - a^2)|). With matched indices and z_p = 0, W = k z sqrt(n_i^2 - a^2):
 *   the exact defocus of which BornWolf is the paraxial approximation (equal in focus).
 * The integral is evaluated by composite Gauss-Legendre quadrature over the pupil, with enough
 * panels for the oscillations of J0 and of the phase (numerically exact, not an approximation).
 *
 * Confocal: the square of the widefield intensity (an infinitely small pinhole, excitation and
 * emission at the same wavelength).
 *
 * Grid: size[0] x size[1] (x size[2]) voxels, x fastest; voxel i of an axis lies at
 * (i - size / 2) * spacing from the focus (integer division: the centre voxel for odd sizes, and
 * ITK's kernel centre floor(K/2) for even sizes). Intensities are sampled at the voxel centres
 * and normalised to sum 1. A 2D PSF is the plane z = 0. Lengths (wavelength, spacing, thicknesses,
 * depth) share one unit, micrometres for the default thicknesses.
 * \ingroup CudaFFTConvolution
 */
class CudaFFTConvolution_EXPORT MicroscopePSF
{
public:
  enum class Model : std::uint8_t
  {
    BornWolf = 0,
    GibsonLanni = 1
  };

  struct Parameters
  {
    Model         model{ Model::GibsonLanni };
    bool          confocal{ false };
    unsigned int  dimension{ 3 };
    std::uint64_t size[3]{ 1, 1, 1 };
    double        spacing[3]{ 0.1, 0.1, 0.2 }; // lateral x, y and axial voxel size
    double        numericalAperture{ 1.4 };
    double        wavelength{ 0.53 }; // emission, in vacuum
    double        immersionIndex{ 1.515 };
    double        sampleIndex{ 1.515 };          // Gibson-Lanni
    double        particleDepth{ 0 };            // Gibson-Lanni: below the coverslip
    double        immersionDesignIndex{ 0 };     // Gibson-Lanni; 0: the immersion index
    double        coverslipIndex{ 1.515 };       // Gibson-Lanni
    double        coverslipDesignIndex{ 0 };     // Gibson-Lanni; 0: the coverslip index
    double        coverslipThickness{ 170 };     // Gibson-Lanni
    double        coverslipDesignThickness{ 0 }; // Gibson-Lanni; 0: the coverslip thickness
    double        workingDistance{ 150 };        // Gibson-Lanni: immersion thickness by design
  };

#if !defined(ITK_WRAPPING_PARSER) // Parameters is not wrapped: Python uses MicroscopePSFImageSource
  /** "" when \a parameters describe a PSF that can be computed, else what is wrong with them. */
  static std::string
  Check(const Parameters & parameters);

  /** Writes the PSF (the product of the sizes of the first dimension axes, x fastest) into
   * \a output. Throws std::invalid_argument with Check's message for bad parameters. */
  static void
  Compute(const Parameters & parameters, double * output);

  static std::vector<double>
  Compute(const Parameters & parameters);

  /** The number of voxels of the PSF \a parameters describe (0 if Check finds fault). */
  static std::uint64_t
  NumberOfVoxels(const Parameters & parameters);
#endif

  /** "born-wolf" / "gibson-lanni"; ParseModel throws std::invalid_argument for other names. */
  static const char *
  ModelName(Model model);
  static Model
  ParseModel(const std::string & name);
};

/** Prints the model's name (born-wolf, gibson-lanni). */
extern CudaFFTConvolution_EXPORT std::ostream &
                                 operator<<(std::ostream & out, MicroscopePSF::Model model);
} // namespace itk

#endif
