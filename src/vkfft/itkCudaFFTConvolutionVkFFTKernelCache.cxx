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

#include "itkCudaFFTConvolutionVkFFTKernelCache.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace CudaFFTConvolutionVkFFTKernelCache
{
namespace
{
// A file: this magic line, the key's length and the code's length (decimal, one line), the key,
// then the code. A file of another layout or length is ignored.
constexpr const char * Magic = "CudaFFTConvolution VkFFT kernels 1\n";

/** FNV-1a: a file name from the key (collisions are caught by the key stored inside). */
std::string
FileName(const std::string & key)
{
  std::uint64_t hash = 14695981039346656037ull;
  for (const unsigned char c : key)
  {
    hash = (hash ^ c) * 1099511628211ull;
  }
  char name[32];
  std::snprintf(name, sizeof(name), "%016llx.vkfft", static_cast<unsigned long long>(hash));
  return name;
}

/** mkdir -p; true when the folder exists afterwards. */
bool
MakeDirectories(const std::string & path)
{
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1))
  {
    const std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
    {
      return false;
    }
    if (slash == std::string::npos)
    {
      break;
    }
  }
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

/** Reads exactly bytes, or false. */
bool
ReadExactly(std::FILE * file, void * into, size_t bytes)
{
  return bytes == 0 || std::fread(into, 1, bytes, file) == bytes;
}
} // namespace

std::string
Directory()
{
  const char * chosen = std::getenv("CUDAFFTCONVOLUTION_KERNEL_CACHE");
  if (chosen != nullptr)
  {
    const std::string value(chosen);
    return value == "0" || value == "off" || value == "OFF" ? std::string() : value;
  }
  const char * xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/')
  {
    return std::string(xdg) + "/CudaFFTConvolution/vkfft-kernels";
  }
  const char * home = std::getenv("HOME");
  return home != nullptr && home[0] == '/' ? std::string(home) + "/.cache/CudaFFTConvolution/vkfft-kernels"
                                           : std::string();
}

bool
Load(const std::string & directory, const std::string & key, std::vector<char> & code)
{
  code.clear();
  if (directory.empty())
  {
    return false;
  }
  std::FILE * file = std::fopen((directory + "/" + FileName(key)).c_str(), "rb");
  if (file == nullptr)
  {
    return false;
  }
  const size_t       magicBytes = std::strlen(Magic);
  std::vector<char>  magic(magicBytes);
  unsigned long long keyBytes = 0, codeBytes = 0;
  bool ok = ReadExactly(file, magic.data(), magicBytes) && std::memcmp(magic.data(), Magic, magicBytes) == 0 &&
            std::fscanf(file, "%llu %llu", &keyBytes, &codeBytes) == 2 && std::fgetc(file) == '\n' &&
            keyBytes == key.size() && codeBytes > 0 && codeBytes < (1ull << 31);
  std::string stored;
  if (ok)
  {
    stored.resize(keyBytes);
    code.resize(codeBytes);
    ok = ReadExactly(file, &stored[0], keyBytes) && stored == key && ReadExactly(file, code.data(), codeBytes) &&
         std::fgetc(file) == EOF;
  }
  std::fclose(file);
  if (!ok)
  {
    code.clear();
  }
  return ok;
}

void
Store(const std::string & directory, const std::string & key, const void * code, size_t bytes)
{
  if (directory.empty() || code == nullptr || bytes == 0 || !MakeDirectories(directory))
  {
    return;
  }
  const std::string path = directory + "/" + FileName(key);
  const std::string temporary = path + ".tmp" + std::to_string(static_cast<long long>(getpid()));
  std::FILE *       file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr)
  {
    return;
  }
  const bool written =
    std::fputs(Magic, file) >= 0 &&
    std::fprintf(
      file, "%llu %llu\n", static_cast<unsigned long long>(key.size()), static_cast<unsigned long long>(bytes)) > 0 &&
    std::fwrite(key.data(), 1, key.size(), file) == key.size() && std::fwrite(code, 1, bytes, file) == bytes;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0)
  {
    std::remove(temporary.c_str());
  }
}
} // namespace CudaFFTConvolutionVkFFTKernelCache
