#include "app/live/system_stats.h"

#include <fstream>
#include <sstream>
#include <string>

namespace iogate::app {

double SystemStats::cpu_percent() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (!stat || cpu != "cpu") {
    return 0.0;
  }
  std::uint64_t idle_all = idle + iowait;
  std::uint64_t total = user + nice + system + idle_all + irq + softirq + steal;
  std::uint64_t busy = total - idle_all;
  std::uint64_t total_delta = total - last_total_;
  std::uint64_t busy_delta = busy - last_busy_;
  last_total_ = total;
  last_busy_ = busy;
  return total_delta == 0 ? 0.0 : 100.0 * static_cast<double>(busy_delta) / static_cast<double>(total_delta);
}

double SystemStats::memory_percent() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  std::uint64_t total = 0;
  std::uint64_t available = 0;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string name;
    std::uint64_t value = 0;
    fields >> name >> value;
    if (name == "MemTotal:") {
      total = value;
    } else if (name == "MemAvailable:") {
      available = value;
    }
  }
  return total == 0 ? 0.0 : 100.0 * static_cast<double>(total - available) / static_cast<double>(total);
}

}  // namespace iogate::app
