#pragma once
// What the load generator measures: latency distributions, its own CPU time, and the server
// process's CPU time and RSS read from /proc/<pid> at the edges of each measured window.
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "connection.h"

namespace loadgen {

// Microsecond latencies in log-linear buckets: exact below 128 µs, then 64 buckets per power
// of two (≤ 1.6% error), so tens of millions of deliveries fit in a few KiB.
class LatencyHistogram {
 public:
  void add(std::uint64_t us) {
    ++counts_[bucket(us)];
    ++count_;
    max_ = us > max_ ? us : max_;
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }

  // The value at quantile q (0..1): the middle of the bucket holding it.
  std::uint64_t quantile(double q) const {
    if (count_ == 0) {
      return 0;
    }
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        return std::min(middle(i), max_);
      }
    }
    return max_;
  }

  boost::json::object to_json() const {
    return {{"count", count_}, {"p50", quantile(0.50)}, {"p99", quantile(0.99)}, {"max", max_}};
  }

 private:
  static constexpr unsigned kLinearBits = 7;  // exact below 2^7
  static constexpr unsigned kSubBits = 6;     // 2^6 buckets per power of two above

  static std::size_t bucket(std::uint64_t us) {
    if (us < (1u << kLinearBits)) {
      return us;
    }
    unsigned top = 63 - static_cast<unsigned>(std::countl_zero(us));
    unsigned shift = top - kSubBits;
    return (1u << kLinearBits) + (top - kLinearBits) * (1u << kSubBits) + ((us >> shift) - (1u << kSubBits));
  }

  static std::uint64_t middle(std::size_t index) {
    if (index < (1u << kLinearBits)) {
      return index;
    }
    std::size_t above = index - (1u << kLinearBits);
    unsigned top = static_cast<unsigned>(above >> kSubBits) + kLinearBits;
    unsigned shift = top - kSubBits;
    std::uint64_t low = ((above & ((1u << kSubBits) - 1)) + (1u << kSubBits)) << shift;
    return low + (std::uint64_t{1} << shift) / 2;
  }

  std::array<std::uint64_t, (1u << kLinearBits) + (64 - kLinearBits) * (1u << kSubBits)> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

struct CpuTime {
  double user_s = 0;
  double system_s = 0;
  double total() const noexcept { return user_s + system_s; }
};

inline CpuTime own_cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

// A process's CPU time and VmRSS. utime/stime come from /proc/<pid>/stat in clock ticks
// (10 ms); the total also from the threads' /proc/<pid>/task/*/schedstat in nanoseconds, which
// keeps short windows exact (a thread that exits takes its time with it, though).
struct ProcessSample {
  CpuTime cpu;
  std::optional<double> cpu_precise_s;
  std::uint64_t rss_kib = 0;
};

inline std::optional<ProcessSample> sample_process(pid_t pid) {
  const std::string folder = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(folder + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  std::size_t name_end = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (name_end == std::string::npos) {
    return std::nullopt;
  }
  // After "pid (comm)": state is field 3, utime 14 and stime 15.
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  ProcessSample sample;
  static const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number == 14) {
      sample.cpu.user_s = std::stod(field) / ticks_per_second;
    } else if (number == 15) {
      sample.cpu.system_s = std::stod(field) / ticks_per_second;
    }
  }
  std::error_code error;
  std::uint64_t on_cpu_ns = 0;
  bool any_thread = false;
  for (const auto& task : std::filesystem::directory_iterator(folder + "/task", error)) {
    std::ifstream schedstat(task.path() / "schedstat");
    std::uint64_t thread_ns = 0;
    if (schedstat >> thread_ns) {
      on_cpu_ns += thread_ns;
      any_thread = true;
    }
  }
  if (any_thread) {
    sample.cpu_precise_s = static_cast<double>(on_cpu_ns) / 1e9;
  }
  std::ifstream status(folder + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) {
      sample.rss_kib = std::stoull(line.substr(6));
    }
  }
  return sample;
}

// Server CPU seconds between two samples: the nanosecond total unless the tick counters grew
// by clearly more (two ticks), which means a thread exited in between.
inline double cpu_between(const ProcessSample& start, const ProcessSample& end) {
  double ticks = end.cpu.total() - start.cpu.total();
  if (!start.cpu_precise_s || !end.cpu_precise_s) {
    return ticks;
  }
  double precise = *end.cpu_precise_s - *start.cpu_precise_s;
  return ticks - precise > 2.0 / static_cast<double>(::sysconf(_SC_CLK_TCK)) ? ticks : precise;
}

// A process besides the server whose CPU a window also measures (the cluster scenario's second
// node and redis-server), reported under "processes"."<name>".
struct WatchedProcess {
  std::string name;
  pid_t pid = 0;
};

// A measured stretch of wall time: the server's CPU and RSS and the load generator's own CPU
// over it, and the CPU of the other watched processes. Without a server pid only the load
// generator's side is reported.
class Window {
 public:
  explicit Window(std::optional<pid_t> server_pid, const std::vector<WatchedProcess>& others = {})
      : server_pid_(server_pid), start_(Clock::now()), own_start_(own_cpu_time()) {
    if (server_pid_) {
      server_start_ = sample_process(*server_pid_);
    }
    for (const auto& other : others) {
      others_.emplace_back(other, sample_process(other.pid));
    }
  }

  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Ends the window; `work` (deliveries, acks, connections) turns CPU seconds into µs per unit.
  boost::json::object finish(std::uint64_t work) const {
    double wall = elapsed_s();
    CpuTime own = own_cpu_time();
    double own_cpu = own.total() - own_start_.total();
    boost::json::object result{{"wall_s", wall},
                               {"work", work},
                               {"work_per_s", wall > 0 ? static_cast<double>(work) / wall : 0.0},
                               {"loadgen_cpu_s", own_cpu},
                               {"loadgen_cpu_percent", wall > 0 ? 100 * own_cpu / wall : 0.0}};
    if (server_pid_ && server_start_) {
      if (auto end = sample_process(*server_pid_)) {
        double cpu = cpu_between(*server_start_, *end);
        result["server_cpu_s"] = cpu;
        result["server_cpu_user_ticks_s"] = end->cpu.user_s - server_start_->cpu.user_s;
        result["server_cpu_system_ticks_s"] = end->cpu.system_s - server_start_->cpu.system_s;
        result["server_cpu_percent"] = wall > 0 ? 100 * cpu / wall : 0.0;
        result["server_cpu_us_per_work"] = work > 0 ? 1e6 * cpu / static_cast<double>(work) : 0.0;
        result["server_rss_kib_before"] = server_start_->rss_kib;
        result["server_rss_kib_after"] = end->rss_kib;
      }
    }
    if (!others_.empty()) {
      boost::json::object processes;
      for (const auto& [other, start] : others_) {
        auto end = sample_process(other.pid);
        if (!start || !end) {
          continue;
        }
        double cpu = cpu_between(*start, *end);
        processes[other.name] = {{"pid", other.pid},
                                 {"cpu_s", cpu},
                                 {"cpu_percent", wall > 0 ? 100 * cpu / wall : 0.0},
                                 {"cpu_us_per_work", work > 0 ? 1e6 * cpu / static_cast<double>(work) : 0.0},
                                 {"rss_kib_after", end->rss_kib}};
      }
      result["processes"] = std::move(processes);
    }
    return result;
  }

 private:
  std::optional<pid_t> server_pid_;
  Clock::time_point start_;
  CpuTime own_start_;
  std::optional<ProcessSample> server_start_;
  std::vector<std::pair<WatchedProcess, std::optional<ProcessSample>>> others_;
};

}  // namespace loadgen
