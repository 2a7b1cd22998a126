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
/* The C ABI of CudaFFTConvolution's planner and GPU engine, without ITK: what a binding (the
 * Python package's ctypes layer, or any language with a C FFI) loads from
 * libcudafftconvolution.so. Opaque handles, status codes with a per-thread message, plain C
 * types; no C++ exception crosses it. Arrays are contiguous with x fastest (a C-ordered NumPy
 * array's last axis is x). A CUDA stream passes as void * (a cudaStream_t; NULL is the legacy
 * default stream). */
#ifndef cudafftconvolution_h
#define cudafftconvolution_h

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define CFC_API __declspec(dllexport)
#else
#  define CFC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C"
{
#endif

/** Bumped when a struct or signature below changes (3: the FFT backend fields; 4: the energy halo;
 * 5: computed PSFs, cfc_psf). */
#define CFC_ABI_VERSION 5

  typedef enum cfc_status
  {
    CFC_OK = 0,
    CFC_ERROR_INVALID_ARGUMENT = 1, /* a bad problem or buffer: nothing ran */
    CFC_ERROR_BUDGET = 2,           /* no tiling fits the memory budget the caller set */
    CFC_ERROR_OUT_OF_MEMORY = 3,    /* a device (or host) allocation failed */
    CFC_ERROR_CUDA = 4,             /* a CUDA or cuFFT call failed */
    CFC_ERROR_NO_DEVICE = 5,        /* no usable CUDA device (or not the one asked for) */
    CFC_ERROR_INTERNAL = 6
  } cfc_status;

  enum cfc_mode
  {
    CFC_MODE_SAME = 0,
    CFC_MODE_VALID = 1,
    CFC_MODE_FULL = 2
  };

  enum cfc_boundary
  {
    CFC_BOUNDARY_ZERO_FLUX_NEUMANN = 0,
    CFC_BOUNDARY_CONSTANT = 1,
    CFC_BOUNDARY_PERIODIC = 2
  };

  /** The FFT library under the engine (ABI version 3): the field fft_backend of cfc_problem and
   * cfc_deconvolution asks for one, that of the info structs says which one a run used. DEFAULT
   * (0, what a zeroed struct holds) is the environment's CUDAFFTCONVOLUTION_FFT_BACKEND (cufft,
   * vkfft or auto), cuFFT when it is unset; AUTO: VkFFT where it plans the size, else cuFFT. VkFFT
   * falls back to cuFFT (one warning on stderr) where its plugin cannot be loaded. In an info,
   * CFC_FFT_BACKEND_CUFFT or CFC_FFT_BACKEND_VKFFT after a run, DEFAULT for a plan that did not
   * run. The names "auto", "cufft" and "vkfft" are the same on every face of the module. */
  enum cfc_fft_backend
  {
    CFC_FFT_BACKEND_DEFAULT = 0,
    CFC_FFT_BACKEND_AUTO = 1,
    CFC_FFT_BACKEND_CUFFT = 2,
    CFC_FFT_BACKEND_VKFFT = 3
  };

  /** One convolution problem. Per axis: image size N, kernel size K, centre c = floor(K/2);
   * y[n] = sum_j k[j] x[n - j + c]. Axes beyond dimension have size 1. Sizes are checked before
   * any arithmetic: the product over the axes of 2 (N + K) must be below 2^55, so that no voxel
   * or byte count of a plan overflows 64 bits (larger sizes, e.g. negative values wrapped to
   * uint64, are CFC_ERROR_INVALID_ARGUMENT). */
  typedef struct cfc_problem
  {
    uint32_t dimension;       /* 1, 2 or 3 */
    uint64_t image_size[3];   /* x, y, z */
    uint64_t kernel_size[3];  /* x, y, z */
    int32_t  mode;            /* cfc_mode */
    int32_t  boundary;        /* cfc_boundary */
    uint32_t element_size;    /* 4 (float) or 8 (double): the input, kernel and output type */
    uint64_t memory_budget;   /* device bytes the engine may hold; 0: 80% of what is free */
    int32_t  device_resident; /* 1: input, output (and the kernel if so flagged) are device memory */
    int32_t  fft_backend;     /* cfc_fft_backend (ABI version 3) */
  } cfc_problem;

  /** What a plan holds. The output region's index is relative to the image's first voxel
   * (SAME 0, VALID K-1-c, FULL -c per axis). */
  typedef struct cfc_plan_info
  {
    int64_t  output_index[3];
    uint64_t output_size[3];
    uint64_t fft_size[3];
    uint64_t tiles;
    uint64_t peak_device_bytes; /* device memory the run holds at most, beyond the caller's arrays */
    uint64_t memory_budget;     /* the budget planned with (0: no limit) */
    int32_t  fft_backend;       /* cfc_fft_backend the run used (ABI version 3) */
  } cfc_plan_info;

  typedef struct cfc_engine cfc_engine;

  /** The message of the calling thread's last failed call ("" when none). */
  CFC_API const char *
  cfc_last_error(void);

  CFC_API int
  cfc_abi_version(void);

  /** 1 when a usable CUDA device is present (device: an ordinal, -1 for the current one), else 0
   * with the reason in reason (when not NULL, truncated to capacity).
   * Every function taking a device refuses one below -1 (CFC_ERROR_INVALID_ARGUMENT) and, on a
   * machine with GPUs, an ordinal it lacks (CFC_ERROR_NO_DEVICE, with the number of devices). */
  CFC_API int
  cfc_device_available(int device, char * reason, size_t capacity);

  CFC_API cfc_status
  cfc_device_memory(int device, uint64_t * free_bytes, uint64_t * total_bytes);

  /** Plans a problem without running it: the output region, tiles and device memory. With a
   * device present the FFT work areas (of the problem's fft_backend) are exact, otherwise (a
   * machine without GPUs) modelled.
   * A budget of 0 plans with 80% of the device's free memory (no limit without a device). */
  CFC_API cfc_status
  cfc_plan(const cfc_problem * problem, int device, cfc_plan_info * info);

  /** An engine for a device (-1: the calling thread's current device when it first runs). It
   * keeps the cuFFT plans, the kernel spectrum and its buffers between runs; one caller at a time. */
  CFC_API cfc_status
  cfc_engine_create(int device, cfc_engine ** engine);

  /** Waits for the engine's work, frees everything it holds and the handle (NULL is ignored). */
  CFC_API void
  cfc_engine_destroy(cfc_engine * engine);

  /** Waits for the engine's work and frees its device and page-locked memory; it stays usable. */
  CFC_API cfc_status
  cfc_engine_release(cfc_engine * engine);

  /** Device bytes the engine holds now. */
  CFC_API cfc_status
  cfc_engine_allocated_bytes(const cfc_engine * engine, uint64_t * bytes);

  /** 1 when the engine's last run reused its cached kernel spectrum. */
  CFC_API int
  cfc_engine_reused_spectrum(const cfc_engine * engine);

  /** Convolves. Host problems (device_resident 0): input, output and kernel are host memory; the
   * call returns when the output is written. Device-resident problems: input and output are
   * device memory of the engine's device, the kernel is device memory when kernel_on_device is 1
   * (host memory otherwise); the work is enqueued on stream and the call returns without waiting
   * for it. The output buffer holds info's output region (compact). kernel_identity: non-zero
   * promises that calls giving the same identity give the same kernel values, so the cached
   * spectrum is reused without comparing them; 0 compares host values and always transforms a
   * device kernel. constant is the value of a constant boundary. info (may be NULL) receives the
   * plan that ran. */
  CFC_API cfc_status
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
               cfc_plan_info *     info);

  /* ---- deconvolution (ABI version 2; 4: the energy halo) ------------------------------------------------------ */

  enum cfc_algorithm
  {
    CFC_RICHARDSON_LUCY = 0,
    CFC_LANDWEBER = 1,
    CFC_PROJECTED_LANDWEBER = 2,
    CFC_INVERSE = 3,
    CFC_TIKHONOV = 4,
    CFC_WIENER = 5
  };

  enum cfc_edges
  {
    CFC_EDGES_BOUNDARY_CONDITION = 0, /* ITK's padding, circulant on the padded grid (ITK parity) */
    CFC_EDGES_NON_CIRCULANT = 1       /* Bertero-Boccacci: full object grid, weighted by 1/(H^T 1) */
  };

  /** One deconvolution problem; cfc_deconvolution_defaults fills the defaults: ITK's settings, but 10
   * iterations (ITK's filters default to 1; every other face of this module to 10). */
  typedef struct cfc_deconvolution
  {
    uint32_t dimension;
    uint64_t image_size[3];
    uint64_t kernel_size[3];
    int32_t  mode;      /* CFC_MODE_SAME or CFC_MODE_VALID */
    int32_t  boundary;  /* cfc_boundary (CFC_EDGES_BOUNDARY_CONDITION) */
    int32_t  algorithm; /* cfc_algorithm */
    int32_t  edges;     /* cfc_edges */
    uint32_t element_size;
    uint64_t memory_budget;         /* 0: 80% of what is free */
    int32_t  device_resident;       /* 1: input and output are device memory */
    uint32_t greatest_prime_factor; /* grid sizes' largest prime factor (ITK's FFTW: 13) */
    uint64_t halo[3];               /* per side when tiled; 0: the default; at most 2^40 */
    uint32_t iterations;
    int32_t  accelerate; /* Richardson-Lucy: Biggs-Andrews */
    int32_t  normalize;
    int32_t  compute_divergence;
    double   constant; /* a constant boundary's value */
    double   alpha;    /* Landweber */
    double   division_threshold;
    double   kernel_zero_magnitude_threshold;
    double   regularization_constant; /* Tikhonov */
    double   noise_variance;          /* Wiener */
    double   weight_threshold;        /* non-circulant */
    double   background;
    double   total_variation; /* Richardson-Lucy-TV lambda; 0: off */
    double   relative_change_tolerance;
    double   divergence_tolerance;
    int32_t  fft_backend; /* cfc_fft_backend (ABI version 3) */
    /* ABI 4: where halo[a] is 0, the halo comes from the kernel's marginal energy on axis a (all but
       this fraction of it, and the iterations' spread; a kernel given to the planning call); 0 or no
       kernel: twice the kernel size. In [0, 1). */
    double halo_energy_fraction;
  } cfc_deconvolution;

  typedef struct cfc_deconvolution_info
  {
    int64_t  output_index[3];
    uint64_t output_size[3];
    uint64_t grid_size[3];
    uint64_t tiles;
    uint64_t peak_device_bytes;
    uint64_t memory_budget;
    uint32_t iterations;  /* iterations the last tile ran */
    int32_t  fft_backend; /* cfc_fft_backend the run used (ABI version 3) */
    uint64_t halo[3];     /* ABI 4: the halo per side of the tiles (when tiled) */
  } cfc_deconvolution_info;

  /** Called before each iteration of a tile; returning 0 ends that tile's iterations. divergence
   * and relative_change describe the previous iteration (NaN when not measured). */
  typedef int (*cfc_iteration_callback)(void *   user,
                                        uint32_t iteration,
                                        uint64_t tile,
                                        uint64_t tiles,
                                        double   divergence,
                                        double   relative_change);

  CFC_API void
  cfc_deconvolution_defaults(cfc_deconvolution * problem);

  CFC_API cfc_status
  cfc_deconvolution_plan(const cfc_deconvolution * problem, int device, cfc_deconvolution_info * info);

  /** The plan cfc_deconvolve makes for this kernel (host memory, element_size values; NULL: as
   * cfc_deconvolution_plan), its halo from the kernel's energy (ABI 4). */
  CFC_API cfc_status
  cfc_deconvolution_plan_kernel(const cfc_deconvolution * problem,
                                const void *              kernel,
                                int                       device,
                                cfc_deconvolution_info *  info);

  /** Deconvolves. The kernel is device memory when kernel_on_device is 1. Host problems return
   * when the output is written; device-resident ones when it is enqueued on stream (they wait
   * every iteration when a callback or a tolerance is given). */
  CFC_API cfc_status
  cfc_deconvolve(cfc_engine *              engine,
                 const cfc_deconvolution * problem,
                 const void *              input,
                 void *                    output,
                 const void *              kernel,
                 int                       kernel_on_device,
                 cfc_iteration_callback    callback,
                 void *                    user,
                 void *                    stream,
                 cfc_deconvolution_info *  info);

  /* ---- computed point spread functions (ABI version 3; no GPU needed) ---------------------- */

  enum cfc_psf_model
  {
    CFC_PSF_BORN_WOLF = 0,   /* scalar, paraxial defocus (Born and Wolf) */
    CFC_PSF_GIBSON_LANNI = 1 /* optical path differences of sample, immersion and coverslip */
  };

  /** A widefield (or confocal: its square) PSF from the acquisition's parameters; the models, the
   * grid (voxel i at (i - size/2) * spacing) and the units are those of itk::MicroscopePSF
   * (include/itkMicroscopePSF.h). cfc_psf_defaults fills the defaults; design values of 0 mean
   * "the actual value". */
  typedef struct cfc_psf
  {
    int32_t  model;      /* cfc_psf_model */
    int32_t  confocal;   /* 1: the widefield intensity squared */
    uint32_t dimension;  /* 2 (the in-focus plane) or 3 */
    uint64_t size[3];    /* x, y, z */
    double   spacing[3]; /* x, y lateral; z axial */
    double   numerical_aperture;
    double   wavelength; /* emission, in vacuum, in the unit of the spacing */
    double   immersion_index;
    double   sample_index;   /* Gibson-Lanni, as below */
    double   particle_depth; /* below the coverslip */
    double   immersion_design_index;
    double   coverslip_index;
    double   coverslip_design_index;
    double   coverslip_thickness;
    double   coverslip_design_thickness;
    double   working_distance; /* the immersion layer's thickness by design */
  } cfc_psf;

  CFC_API void
  cfc_psf_defaults(cfc_psf * psf);

  /** Writes the PSF, normalised to sum 1, into output (size[0] * size[1] (* size[2]) doubles, x
   * fastest). Bad parameters are CFC_ERROR_INVALID_ARGUMENT with the reason. */
  CFC_API cfc_status
  cfc_psf_compute(const cfc_psf * psf, double * output);

#ifdef __cplusplus
}
#endif

#endif
