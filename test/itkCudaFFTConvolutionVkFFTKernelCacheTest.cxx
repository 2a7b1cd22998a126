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

// The VkFFT plugin's kernel cache on disk, alone (no GPU, no VkFFT): where it lives and how the
// environment turns it off, code stored and loaded back byte for byte, a key whose text differs
// finding nothing, and damaged files (cut short, extended, another key under the same name)
// ignored rather than handed to VkFFT. The GPU side (a second process loading what the first
// compiled, with equal results) is python/tests/test_fft_backends.py.

#include "itkCudaFFTConvolutionVkFFTKernelCache.h"

#include "CudaFFTConvolutionTestUtilities.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

namespace
{
namespace Cache = CudaFFTConvolutionVkFFTKernelCache;
using CudaFFTConvolutionTest::Expect;

std::vector<std::string>
FilesIn(const std::string & directory)
{
  std::vector<std::string> files;
  const std::string        list = directory + "/listing.txt";
  const std::string        command = "ls " + directory + " > " + list + " 2>/dev/null";
  if (std::system(command.c_str()) == 0)
  {
    std::ifstream in(list);
    for (std::string name; std::getline(in, name);)
    {
      if (name != "listing.txt")
      {
        files.push_back(name);
      }
    }
  }
  std::remove(list.c_str());
  return files;
}

std::string
ReadAll(const std::string & path)
{
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void
WriteAll(const std::string & path, const std::string & bytes)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void
CheckDirectory()
{
  setenv("CUDAFFTCONVOLUTION_KERNEL_CACHE", "/some/where", 1);
  Expect(Cache::Directory() == "/some/where", "the variable names the folder");
  for (const char * off : { "0", "off", "" })
  {
    setenv("CUDAFFTCONVOLUTION_KERNEL_CACHE", off, 1);
    Expect(Cache::Directory().empty(), std::string("the variable set to '") + off + "' turns the cache off");
  }
  unsetenv("CUDAFFTCONVOLUTION_KERNEL_CACHE");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  Expect(Cache::Directory() == "/xdg/CudaFFTConvolution/vkfft-kernels", "XDG_CACHE_HOME when set");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/user", 1);
  Expect(Cache::Directory() == "/home/user/.cache/CudaFFTConvolution/vkfft-kernels", "else under HOME");
  unsetenv("HOME");
  Expect(Cache::Directory().empty(), "no folder without a home");
}

void
CheckStoreAndLoad(const std::string & directory)
{
  const std::string key = "vkfft 10226 nvrtc 13.0 device NVIDIA H100 sm_90 dim 3 n256 n768 n768";
  std::string       code(100000, '\0');
  for (size_t i = 0; i < code.size(); ++i)
  {
    code[i] = static_cast<char>((i * 7919) % 251); // NUL bytes included: the code is binary
  }
  std::vector<char> loaded;
  Expect(!Cache::Load(directory, key, loaded) && loaded.empty(), "nothing before it is stored");
  Cache::Store(directory + "/made/on/demand", key, code.data(), code.size());
  Expect(Cache::Load(directory + "/made/on/demand", key, loaded) && std::string(loaded.begin(), loaded.end()) == code,
         "stored in a new folder and loaded back byte for byte");
  Cache::Store(directory, key, code.data(), code.size());
  const auto files = FilesIn(directory);
  Expect(files.size() == 2, "one file for the key beside the folder made (no temporary left)");
  Expect(!Cache::Load(directory, key + " ", loaded) && loaded.empty(), "a key that differs finds nothing");
  Cache::Store("", key, code.data(), code.size());
  Expect(!Cache::Load("", key, loaded), "an empty folder (off) neither stores nor loads");

  std::string file;
  for (const auto & name : files)
  {
    if (name.find(".vkfft") != std::string::npos)
    {
      file = directory + "/" + name;
    }
  }
  const std::string whole = ReadAll(file);
  WriteAll(file, whole.substr(0, whole.size() - 10));
  Expect(!Cache::Load(directory, key, loaded) && loaded.empty(), "a file cut short is ignored");
  WriteAll(file, whole + "x");
  Expect(!Cache::Load(directory, key, loaded), "a file with bytes beyond the code is ignored");
  std::string otherKey = whole;
  otherKey[otherKey.find("H100")] = 'X';
  WriteAll(file, otherKey);
  Expect(!Cache::Load(directory, key, loaded), "another key's code under this key's name is ignored");
  WriteAll(file, whole);
  Expect(Cache::Load(directory, key, loaded) && loaded.size() == code.size(), "the intact file loads again");
}
} // namespace

int
itkCudaFFTConvolutionVkFFTKernelCacheTest(int, char *[])
{
  char folder[] = "/tmp/cudafft-kernel-cache-XXXXXX";
  if (mkdtemp(folder) == nullptr)
  {
    std::cerr << "cannot make a temporary folder" << std::endl;
    return EXIT_FAILURE;
  }
  CheckDirectory();
  CheckStoreAndLoad(folder);
  const std::string cleanup = std::string("rm -rf ") + folder;
  std::system(cleanup.c_str());
  std::cout << (CudaFFTConvolutionTest::Failures() == 0 ? "all checks passed" : "FAILED") << std::endl;
  return CudaFFTConvolutionTest::Failures() == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
