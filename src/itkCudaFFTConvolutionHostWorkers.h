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
#ifndef itkCudaFFTConvolutionHostWorkers_h
#define itkCudaFFTConvolutionHostWorkers_h

// Internal to the engine: a small pool of host threads for the copies between pageable image
// buffers and page-locked staging (one thread cannot reach the PCIe rate with memcpy).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace itk
{
class CudaFFTConvolutionHostWorkers
{
public:
  using RangeJob = std::function<void(std::uint64_t, std::uint64_t)>;

  /** \a threads in all, the calling thread included (at least 1). */
  explicit CudaFFTConvolutionHostWorkers(unsigned int threads);
  ~CudaFFTConvolutionHostWorkers();
  CudaFFTConvolutionHostWorkers(const CudaFFTConvolutionHostWorkers &) = delete;
  CudaFFTConvolutionHostWorkers &
  operator=(const CudaFFTConvolutionHostWorkers &) = delete;

  unsigned int
  NumberOfThreads() const
  {
    return static_cast<unsigned int>(m_Threads.size()) + 1;
  }

  /** Runs job(begin, end) over [0, count) split into parts of at least \a grain, on the
   * workers and the calling thread; returns when all parts are done. One caller at a time. */
  void
  ParallelFor(std::uint64_t count, std::uint64_t grain, const RangeJob & job);

private:
  void
  RunPart(unsigned int part, unsigned int parts);
  void
  Work(unsigned int part);

  std::vector<std::thread> m_Threads;
  std::mutex               m_Mutex;
  std::condition_variable  m_Wake;
  const RangeJob *         m_Job{ nullptr };
  std::uint64_t            m_Count{ 0 };
  /** A job's generation (high bits) and number of parts (low 8 bits), read at once by the
   * workers so that a slow one never pairs one job's number with another's parts. */
  std::atomic<std::uint64_t> m_Ticket{ 0 };
  std::atomic<unsigned int>  m_Pending{ 0 };
  std::atomic<bool>          m_Stop{ false };
};
} // namespace itk

#endif
