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
#ifndef itkCudaFFTConvolutionVkFFTKernelCache_h
#define itkCudaFFTConvolutionVkFFTKernelCache_h

// The VkFFT plugin's kernel cache on disk: the code NVRTC compiled for a plan, kept under a key
// that names everything the code depends on, so that a later process (a Slicer tool run, a new
// Python session) loads it instead of compiling again. Files only: it knows nothing of VkFFT.

#include <string>
#include <vector>

namespace CudaFFTConvolutionVkFFTKernelCache
{
/** The cache's folder: CUDAFFTCONVOLUTION_KERNEL_CACHE when set ("0", "off" or an empty value turn
 * the cache off), else $XDG_CACHE_HOME/CudaFFTConvolution/vkfft-kernels, else
 * $HOME/.cache/CudaFFTConvolution/vkfft-kernels; "" when off or no home is known. */
std::string
Directory();

/** The code stored under key (its exact text is checked, not only its hash), or false when there
 * is none, it cannot be read, or it is damaged. */
bool
Load(const std::string & directory, const std::string & key, std::vector<char> & code);

/** Stores code under key (a temporary file renamed into place: readers never see half a file).
 * Failing to write is not an error: the next process compiles again. */
void
Store(const std::string & directory, const std::string & key, const void * code, size_t bytes);
} // namespace CudaFFTConvolutionVkFFTKernelCache

#endif
