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
#include "itkCudaFFTConvolutionHostWorkers.h"

#include <algorithm>

namespace itk
{
CudaFFTConvolutionHostWorkers::CudaFFTConvolutionHostWorkers(unsigned int threads)
{
  for (unsigned int i = 1; i < std::max(1u, threads); ++i)
  {
    m_Threads.emplace_back([this, i] { Work(i); });
  }
}

CudaFFTConvolutionHostWorkers::~CudaFFTConvolutionHostWorkers()
{
  {
    std::lock_guard<std::mutex> lock(m_Mutex);
    m_Stop = true;
  }
  m_Wake.notify_all();
  for (auto & thread : m_Threads)
  {
    thread.join();
  }
}

void
CudaFFTConvolutionHostWorkers::ParallelFor(std::uint64_t count, std::uint64_t grain, const RangeJob & job)
{
  const std::uint64_t parts = std::min<std::uint64_t>(NumberOfThreads(), count / std::max<std::uint64_t>(1, grain));
  if (parts < 2)
  {
    if (count > 0)
    {
      job(0, count);
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(m_Mutex);
    m_Job = &job;
    m_Count = count;
    m_Parts = static_cast<unsigned int>(parts);
    m_Pending = m_Parts - 1;
    ++m_Generation;
  }
  m_Wake.notify_all();
  RunPart(0);
  std::unique_lock<std::mutex> lock(m_Mutex);
  m_Done.wait(lock, [this] { return m_Pending == 0; });
  m_Job = nullptr;
}

void
CudaFFTConvolutionHostWorkers::RunPart(unsigned int part)
{
  const std::uint64_t begin = m_Count * part / m_Parts;
  const std::uint64_t end = m_Count * (part + 1) / m_Parts;
  if (begin < end)
  {
    (*m_Job)(begin, end);
  }
}

void
CudaFFTConvolutionHostWorkers::Work(unsigned int part)
{
  std::uint64_t seen = 0;
  for (;;)
  {
    {
      std::unique_lock<std::mutex> lock(m_Mutex);
      m_Wake.wait(lock, [&] { return m_Stop || (m_Generation != seen && part < m_Parts); });
      if (m_Stop)
      {
        return;
      }
      seen = m_Generation;
    }
    RunPart(part);
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(m_Mutex);
      last = --m_Pending == 0;
    }
    if (last)
    {
      m_Done.notify_one();
    }
  }
}
} // namespace itk
