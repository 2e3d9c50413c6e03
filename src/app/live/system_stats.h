#pragma once
// The host's CPU and memory use, read from /proc (Linux).
#include <cstdint>
#include <optional>

namespace iogate::app {

class SystemStats {
 public:
  // CPU busy share since the previous call (0-100; the first call measures since boot).
  double cpu_percent();
  // Memory in use: (MemTotal - MemAvailable) / MemTotal, 0-100.
  static double memory_percent();

 private:
  std::uint64_t last_busy_ = 0;
  std::uint64_t last_total_ = 0;
};

}  // namespace iogate::app
