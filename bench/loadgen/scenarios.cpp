#include "scenarios.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <system_error>
#include <vector>

#include <boost/json/array.hpp>

#include "measure.h"

namespace loadgen {
namespace {

namespace json = boost::json;

constexpr std::size_t kErrorsListed = 20;
// The longest the loop sleeps, so that deadlines and stall checks are looked at often enough.
constexpr std::chrono::milliseconds kMaxPollWait{50};

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

// A delivered message's payload as every scenario sends it: {"seq":S,"t":T,"pad":"…"}, T the
// send time in µs. The pad makes the delivered frame the size the floor uses.
void append_payload(std::string& out, std::uint64_t seq, std::string_view pad) {
  out.append("{\"seq\":");
  append_number(out, seq);
  out.append(",\"t\":");
  append_number(out, now_us());
  out.append(",\"pad\":\"").append(pad).append("\"}");
}

// Reads seq and t from `["msg",{"seq":S,"t":T,…}]` (the servers keep the key order).
bool parse_delivery(std::string_view args, std::uint64_t& seq, std::uint64_t& sent_us) {
  constexpr std::string_view kPrefix = R"(["msg",{"seq":)";
  constexpr std::string_view kTimeField = R"(,"t":)";
  if (!args.starts_with(kPrefix)) {
    return false;
  }
  const char* end = args.data() + args.size();
  auto after_seq = std::from_chars(args.data() + kPrefix.size(), end, seq);
  if (after_seq.ec != std::errc{} ||
      !std::string_view(after_seq.ptr, static_cast<std::size_t>(end - after_seq.ptr)).starts_with(kTimeField)) {
    return false;
  }
  return std::from_chars(after_seq.ptr + kTimeField.size(), end, sent_us).ec == std::errc{};
}

// What a scenario's steps share: the loop, the run's deadline and the errors.
class Run {
 public:
  explicit Run(const Options& run_options) : options(run_options), deadline(Clock::now() + run_options.timeout) {}

  void error(std::string text) {
    ++error_count;
    if (errors.size() < kErrorsListed) {
      errors.emplace_back(std::move(text));
    }
  }

  // Runs the loop until done() holds; `tick` (optional) does timed work and returns when it
  // next wants to run. False, with an error, when the run's deadline passes first.
  bool run_until(std::string_view what, const std::function<bool()>& done,
                 const std::function<Clock::time_point()>& tick = {}) {
    for (;;) {
      if (done()) {
        return true;
      }
      auto now = Clock::now();
      if (now >= deadline) {
        error("timed out " + std::string(what) + " (--timeout-ms)");
        return false;
      }
      auto wake = std::min(deadline, now + kMaxPollWait);
      if (tick) {
        wake = std::min(wake, tick());
        if (done()) {
          return true;
        }
      }
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now());
      loop.poll(std::max(wait, std::chrono::milliseconds(0)));
    }
  }

  // Keeps the connections served (pings) for `duration`.
  void pause(std::chrono::milliseconds duration) {
    auto until = Clock::now() + duration;
    run_until("pausing", [until] { return Clock::now() >= until; });
  }

  json::object report(std::string_view scenario, json::object params, json::object setup, json::array phases) const {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    CpuTime cpu = own_cpu_time();
    json::object server{{"host", options.server.host}, {"port", options.server.port}};
    if (options.server_pid) {
      server["pid"] = *options.server_pid;
    }
    json::array error_list;
    for (const auto& text : errors) {
      error_list.emplace_back(text);
    }
    return {{"scenario", scenario},
            {"server", std::move(server)},
            {"params", std::move(params)},
            {"setup", std::move(setup)},
            {"phases", std::move(phases)},
            {"loadgen",
             {{"cpu_user_s", cpu.user_s}, {"cpu_system_s", cpu.system_s}, {"max_rss_kib", usage.ru_maxrss}}},
            {"errors", std::move(error_list)},
            {"error_count", error_count},
            {"ok", error_count == 0}};
  }

  const Options& options;
  Clock::time_point deadline;
  Loop loop;
  std::vector<std::string> errors;
  std::size_t error_count = 0;
};

// What a fleet's owner hears once its connections are up.
class FleetEvents {
 public:
  virtual void on_event(Connection& connection, std::string_view args) = 0;
  virtual void on_ack(Connection& connection, std::uint64_t id, std::string_view args) = 0;
  virtual void on_lost(Connection& connection, std::string_view reason) = 0;

 protected:
  ~FleetEvents() = default;
};

// WebSocket connections to "/", opened with at most Options::batch handshakes in flight.
class Fleet final : public ConnectionEvents {
 public:
  Fleet(Run& run, FleetEvents& owner) : run_(run), owner_(owner) {}

  // Opens `count` more; false when one failed or the deadline passed.
  bool open(std::size_t count) {
    target_ = connections_.size() + count;
    while (connections_.size() < target_ && in_flight_ < run_.options.batch && !failed_) {
      start_one();
    }
    return run_.run_until("connecting", [this] { return failed_ || connected_ == target_; }) && !failed_;
  }

  // Which server connection `index` opens to (default: Options::server).
  void route(std::function<const ServerAddress&(std::uint32_t index)> route) { route_ = std::move(route); }

  std::size_t size() const noexcept { return connections_.size(); }
  Connection& at(std::size_t index) { return *connections_[index]; }
  const LatencyHistogram& handshake_latency() const noexcept { return handshake_us_; }

  void close_all() {
    for (auto& connection : connections_) {
      connection->close();
    }
  }

  void on_connected(Connection& connection) override {
    handshake_us_.add(now_us() - started_us_[connection.index()]);
    was_connected_[connection.index()] = true;
    ++connected_;
    --in_flight_;
    if (connections_.size() < target_ && !failed_) {
      start_one();
    }
  }
  void on_event(Connection& connection, std::string_view args) override { owner_.on_event(connection, args); }
  void on_ack(Connection& connection, std::uint64_t id, std::string_view args) override {
    owner_.on_ack(connection, id, args);
  }
  void on_failed(Connection& connection, std::string_view reason) override {
    if (was_connected_[connection.index()]) {
      owner_.on_lost(connection, reason);
      return;
    }
    failed_ = true;
    run_.error("connection " + std::to_string(connection.index()) + " failed to connect: " + std::string(reason));
  }

 private:
  void start_one() {
    auto index = static_cast<std::uint32_t>(connections_.size());
    connections_.push_back(std::make_unique<Connection>(run_.loop, *this, index));
    started_us_.push_back(now_us());
    was_connected_.push_back(false);
    ++in_flight_;
    connections_.back()->start(route_ ? route_(index) : run_.options.server);
  }

  Run& run_;
  FleetEvents& owner_;
  std::function<const ServerAddress&(std::uint32_t)> route_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::uint64_t> started_us_;
  std::vector<bool> was_connected_;
  LatencyHistogram handshake_us_;
  std::size_t target_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t connected_ = 0;
  bool failed_ = false;
};

json::object connect_report(const Window& window, const Fleet& fleet) {
  json::object report = window.finish(fleet.size());
  report["connections"] = fleet.size();
  report["handshake_latency_us"] = fleet.handshake_latency().to_json();
  return report;
}

// An owner that expects nothing after connecting: any event or loss is an error.
class QuietOwner final : public FleetEvents {
 public:
  explicit QuietOwner(Run& run) : run_(run) {}
  void on_event(Connection& connection, std::string_view args) override {
    run_.error("unexpected event on connection " + std::to_string(connection.index()) + ": " +
               std::string(args.substr(0, 80)));
  }
  void on_ack(Connection& connection, std::uint64_t, std::string_view) override {
    run_.error("unexpected ack on connection " + std::to_string(connection.index()));
  }
  void on_lost(Connection& connection, std::string_view reason) override {
    run_.error("connection " + std::to_string(connection.index()) + " lost: " + std::string(reason));
  }

 private:
  Run& run_;
};

// Standard input as a readiness source: done once it reaches end of file.
class StdinWatcher final : public Pollable {
 public:
  explicit StdinWatcher(Loop& loop) : loop_(loop) {
    try {
      loop_.watch(STDIN_FILENO, *this, false);
      watching_ = true;
    } catch (const std::system_error&) {
      closed_ = true;  // a regular file or /dev/null: nothing to wait for
    }
  }
  ~StdinWatcher() {
    if (watching_) {
      loop_.unwatch(STDIN_FILENO);
    }
  }
  StdinWatcher(const StdinWatcher&) = delete;
  StdinWatcher& operator=(const StdinWatcher&) = delete;
  bool closed() const noexcept { return closed_; }
  void on_ready(std::uint32_t) override {
    char discard[256];
    if (::read(STDIN_FILENO, discard, sizeof discard) <= 0) {
      closed_ = true;
    }
  }

 private:
  Loop& loop_;
  bool watching_ = false;
  bool closed_ = false;
};

// --- broadcasts (fanout, rooms) ------------------------------------------------------------------

struct BroadcastPhase {
  std::string name;
  std::size_t broadcasts = 0;
  std::size_t inflight = 1;  // closed loop: broadcasts outstanding (all recipients not yet reached)
  double rate = 0;           // > 0: open loop at this many offered deliveries/s
  // The request's leading arguments (event name and rooms, as JSON) and who must receive it.
  std::function<const std::vector<std::uint32_t>&(std::uint64_t n, std::string& head)> target;
};

// Subscribers are connections 0..N-1, the publisher is connection N. A broadcast is
// `broadcast(rooms, {"seq","t","pad"}, ack)`; each subscriber checks that sequence numbers only
// grow (a repeat is a duplicate), and the bench checks each subscriber received exactly what
// it was sent.
class BroadcastBench final : public FleetEvents {
 public:
  explicit BroadcastBench(Run& run)
      : run_(run), fleet_(run, *this), pad_(run.options.pad_bytes, 'x'), watched_(watched_processes(run.options)) {}

  // Cluster: subscriber i connects to the second node (Options::port2) when on_second(i); the
  // publisher always to the first. Call before setup().
  void split(const std::function<bool(std::uint32_t)>& on_second) {
    second_address_ = run_.options.server;
    second_address_.port = run_.options.port2;
    on_second_ = on_second;
    fleet_.route([this](std::uint32_t index) -> const ServerAddress& {
      return index < node_of_.size() && node_of_[index] != 0 ? second_address_ : run_.options.server;
    });
  }

  bool setup(std::size_t subscribers, const std::function<std::vector<std::string>(std::uint32_t)>& rooms_of,
             json::object& report) {
    subscribers_ = subscribers;
    last_seq_.assign(subscribers, 0);
    expected_.assign(subscribers, 0);
    received_.assign(subscribers, 0);
    node_of_.assign(subscribers, 0);
    if (on_second_) {
      for (std::uint32_t i = 0; i < subscribers; ++i) {
        node_of_[i] = on_second_(i) ? 1 : 0;
      }
    }
    Window connecting(run_.options.server_pid, watched_);
    bool connected = fleet_.open(subscribers + 1);
    report["connect"] = connect_report(connecting, fleet_);
    if (!connected) {
      return false;
    }
    Window joining(run_.options.server_pid, watched_);
    std::size_t joins = 0;
    std::string request;
    for (std::uint32_t i = 0; i < subscribers; ++i) {
      for (const auto& room : rooms_of(i)) {
        request.assign(R"(["join",")").append(room).append("\"]");
        fleet_.at(i).emit(request, true);
        ++joins;
      }
    }
    pending_joins_ = joins;
    bool joined = run_.run_until("joining rooms", [this] { return pending_joins_ == 0 || broken_; });
    report["join"] = joining.finish(joins);
    return joined && !broken_;
  }

  // Runs one phase to its end: every broadcast delivered, or no progress for Options::drain.
  json::object run_phase(const BroadcastPhase& phase) {
    phase_ = &phase;
    base_seq_ = next_seq_;
    sent_ = completed_ = deliveries_ = duplicates_ = late_ = excess_ = acks_ = 0;
    in_flight_ = 0;
    remaining_.assign(phase.broadcasts, 0);
    std::fill(expected_.begin(), expected_.end(), 0);
    std::fill(received_.begin(), received_.end(), 0);
    latency_ = LatencyHistogram{};
    node_latency_ = {};
    node_deliveries_ = {};
    stalled_ = false;
    last_progress_ = Clock::now();
    bool closed_loop = phase.rate <= 0;

    Window window(run_.options.server_pid, watched_);
    auto done = [&] { return completed_ == phase.broadcasts || broken_ || stalled(); };
    if (closed_loop) {
      while (sent_ < phase.broadcasts && in_flight_ < phase.inflight) {
        publish();
      }
      run_.run_until(phase.name, done);
      // The publisher's acks may trail the last delivery.
      run_.run_until(phase.name + " acks", [&] { return acks_ == sent_ || broken_ || stalled(); });
    } else {
      next_due_ = Clock::now();
      run_.run_until(phase.name, done, [&] { return publish_due(); });
    }
    json::object result = window.finish(deliveries_);
    next_seq_ = base_seq_ + sent_;

    std::uint64_t lost = 0;
    for (std::size_t i = 0; i < subscribers_; ++i) {
      lost += expected_[i] > received_[i] ? expected_[i] - received_[i] : 0;
      excess_ += received_[i] > expected_[i] ? received_[i] - expected_[i] : 0;
    }
    result["name"] = phase.name;
    result["broadcasts"] = sent_;
    result["inflight"] = closed_loop ? phase.inflight : 0;
    result["offered_deliveries_per_s"] = phase.rate;
    result["deliveries"] = deliveries_;
    result["frame_bytes"] = frame_bytes_;
    result["latency_us"] = latency_.to_json();
    result["lost"] = lost;
    result["duplicates"] = duplicates_;
    result["misdelivered"] = excess_;
    result["late"] = late_;
    result["acks_missing"] = closed_loop ? sent_ - acks_ : 0;
    if (on_second_) {
      add_cluster_figures(result);
    }
    if (stalled_) {
      run_.error(phase.name + ": no progress for " + std::to_string(run_.options.drain.count()) + " ms");
    }
    if (lost != 0 || duplicates_ != 0 || excess_ != 0 || (closed_loop && acks_ != sent_)) {
      run_.error(phase.name + ": " + std::to_string(lost) + " lost, " + std::to_string(duplicates_) + " duplicated, " +
                 std::to_string(excess_) + " misdelivered, " + std::to_string(closed_loop ? sent_ - acks_ : 0) +
                 " acks missing");
    }
    return result;
  }

  void close() { fleet_.close_all(); }

  void on_event(Connection& connection, std::string_view args) override {
    std::uint32_t index = connection.index();
    std::uint64_t seq = 0;
    std::uint64_t sent_us = 0;
    if (index >= subscribers_ || !parse_delivery(args, seq, sent_us)) {
      run_.error("unexpected event on connection " + std::to_string(index) + ": " + std::string(args.substr(0, 80)));
      return;
    }
    // Sequence numbers start at 1, so 0 means "nothing yet".
    if (seq <= last_seq_[index]) {
      ++duplicates_;
      return;
    }
    last_seq_[index] = seq;
    if (seq < base_seq_ || seq >= base_seq_ + sent_) {
      ++late_;  // a broadcast of an earlier phase that had stopped waiting for it
      return;
    }
    std::uint64_t now = now_us();
    latency_.add(now > sent_us ? now - sent_us : 0);
    node_latency_[node_of_[index]].add(now > sent_us ? now - sent_us : 0);
    ++node_deliveries_[node_of_[index]];
    frame_bytes_ = 2 + args.size() + (args.size() + 2 < 126 ? 2 : 4);
    ++received_[index];
    ++deliveries_;
    last_progress_ = Clock::now();
    auto& remaining = remaining_[seq - base_seq_];
    if (remaining > 0 && --remaining == 0) {
      complete();
    }
  }

  void on_ack(Connection& connection, std::uint64_t, std::string_view) override {
    if (connection.index() == subscribers_) {
      ++acks_;
    } else if (pending_joins_ > 0) {
      --pending_joins_;
    } else {
      run_.error("unexpected ack on connection " + std::to_string(connection.index()));
    }
  }

  void on_lost(Connection& connection, std::string_view reason) override {
    broken_ = true;
    run_.error("connection " + std::to_string(connection.index()) + " lost: " + std::string(reason));
  }

 private:
  // The cluster's figures: deliveries and latency per node, and the CPU of node A (the server),
  // node B and redis-server, each and summed, per delivery and per broadcast.
  void add_cluster_figures(json::object& result) const {
    std::uint64_t on_b = 0;
    for (auto node : node_of_) {
      on_b += node;
    }
    result["nodes"] = {
        {"a", {{"subscribers", subscribers_ - on_b}, {"deliveries", node_deliveries_[0]},
               {"latency_us", node_latency_[0].to_json()}}},
        {"b", {{"subscribers", on_b}, {"deliveries", node_deliveries_[1]}, {"latency_us", node_latency_[1].to_json()}}}};
    const auto* processes = result.if_contains("processes") ? result.at("processes").if_object() : nullptr;
    auto cpu_of = [&](std::string_view name) -> std::optional<double> {
      if (name == "node_a") {
        if (const auto* cpu = result.if_contains("server_cpu_s")) {
          return cpu->to_number<double>();
        }
        return std::nullopt;
      }
      if (processes != nullptr) {
        if (const auto* process = processes->if_contains(name)) {
          return process->at("cpu_s").to_number<double>();
        }
      }
      return std::nullopt;
    };
    auto a = cpu_of("node_a");
    auto b = cpu_of("node_b");
    auto redis = cpu_of("redis");
    json::object cpu_s;
    if (a) cpu_s["node_a"] = *a;
    if (b) cpu_s["node_b"] = *b;
    if (redis) cpu_s["redis"] = *redis;
    if (a && b) cpu_s["nodes"] = *a + *b;
    if (a && b && redis) cpu_s["total"] = *a + *b + *redis;
    auto per = [&](std::uint64_t work) {
      json::object out;
      for (const auto& [name, value] : cpu_s) {
        out[name] = work > 0 ? 1e6 * value.to_number<double>() / static_cast<double>(work) : 0.0;
      }
      return out;
    };
    result["cluster_cpu_s"] = cpu_s;
    result["cluster_cpu_us_per_delivery"] = per(deliveries_);
    result["cluster_cpu_us_per_broadcast"] = per(sent_);
  }

  bool stalled() {
    if (!stalled_ && Clock::now() - last_progress_ > run_.options.drain) {
      stalled_ = true;
    }
    return stalled_;
  }

  std::size_t publish() {
    std::uint64_t n = sent_++;
    ++in_flight_;
    const auto& recipients = phase_->target(n, head_);
    remaining_[n] = static_cast<std::uint32_t>(recipients.size());
    for (auto subscriber : recipients) {
      ++expected_[subscriber];
    }
    request_.assign("[").append(head_).append(",");
    append_payload(request_, base_seq_ + n, pad_);
    request_.append("]");
    fleet_.at(subscribers_).emit(request_, phase_->rate <= 0);
    last_progress_ = Clock::now();
    if (recipients.empty()) {
      complete();
    }
    return recipients.size();
  }

  // Open loop: sends every broadcast that is due; returns when the next one is.
  Clock::time_point publish_due() {
    auto now = Clock::now();
    while (sent_ < phase_->broadcasts && next_due_ <= now) {
      std::size_t recipients = publish();
      next_due_ += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(std::max<std::size_t>(recipients, 1)) / phase_->rate));
    }
    return sent_ < phase_->broadcasts ? next_due_ : Clock::time_point::max();
  }

  void complete() {
    ++completed_;
    --in_flight_;
    if (phase_->rate <= 0 && sent_ < phase_->broadcasts) {
      publish();
    }
  }

  Run& run_;
  Fleet fleet_;
  std::string pad_;
  std::size_t subscribers_ = 0;
  std::size_t pending_joins_ = 0;
  bool broken_ = false;

  const BroadcastPhase* phase_ = nullptr;
  std::uint64_t next_seq_ = 1;
  std::uint64_t base_seq_ = 1;
  std::uint64_t sent_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t deliveries_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t excess_ = 0;
  std::uint64_t acks_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t frame_bytes_ = 0;
  bool stalled_ = false;
  Clock::time_point last_progress_;
  Clock::time_point next_due_;
  std::vector<std::uint32_t> remaining_;  // per broadcast of the phase: recipients not reached yet
  std::vector<std::uint64_t> last_seq_;   // per subscriber
  std::vector<std::uint64_t> expected_;   // per subscriber, this phase
  std::vector<std::uint64_t> received_;   // per subscriber, this phase
  std::vector<std::uint8_t> node_of_;     // per subscriber: 0 the first node (Options::server), 1 the second
  std::function<bool(std::uint32_t)> on_second_;
  ServerAddress second_address_;
  std::vector<WatchedProcess> watched_;
  LatencyHistogram latency_;
  std::array<LatencyHistogram, 2> node_latency_;
  std::array<std::uint64_t, 2> node_deliveries_{};
  std::string head_;
  std::string request_;
};

std::size_t default_warmup(const Options& options) {
  return options.warmup.value_or(std::min<std::size_t>(options.broadcasts / 10, 100));
}

json::object common_params(const Options& options) {
  return {{"batch", options.batch},
          {"timeout_ms", options.timeout.count()},
          {"drain_ms", options.drain.count()},
          {"pad_bytes", options.pad_bytes}};
}

}  // namespace

std::vector<WatchedProcess> watched_processes(const Options& options) {
  std::vector<WatchedProcess> watched;
  if (options.server2_pid) {
    watched.push_back({"node_b", *options.server2_pid});
  }
  if (options.redis_pid) {
    watched.push_back({"redis", *options.redis_pid});
  }
  return watched;
}

json::object run_idle(const Options& options) {
  Run run(options);
  QuietOwner owner(run);
  Fleet fleet(run, owner);
  json::object params = common_params(options);
  params["conns"] = options.conns;
  params["settle_ms"] = options.settle.count();

  std::optional<ProcessSample> before;
  if (options.server_pid) {
    before = sample_process(*options.server_pid);
  }
  Window connecting(options.server_pid);
  bool connected = fleet.open(options.conns);
  json::object setup{{"connect", connect_report(connecting, fleet)}};
  json::array phases;
  if (connected) {
    run.pause(options.settle);
    json::object idle{{"name", "idle"}, {"connections", fleet.size()}};
    if (before) {
      if (auto after = sample_process(*options.server_pid)) {
        idle["server_rss_kib_before"] = before->rss_kib;
        idle["server_rss_kib_after"] = after->rss_kib;
        idle["server_rss_bytes_per_connection"] =
            1024.0 * (static_cast<double>(after->rss_kib) - static_cast<double>(before->rss_kib)) /
            static_cast<double>(std::max<std::size_t>(fleet.size(), 1));
      }
    }
    phases.push_back(std::move(idle));
    std::fputs("READY\n", stderr);
    std::fflush(stderr);
    if (options.wait_stdin) {
      StdinWatcher standard_input(run.loop);
      run.run_until("waiting for standard input to close", [&] { return standard_input.closed(); });
    } else {
      run.pause(options.hold);
    }
  }
  fleet.close_all();
  return run.report("idle", std::move(params), std::move(setup), std::move(phases));
}

namespace {

// Polling sessions: handshake and namespace CONNECT over HTTP, then optionally the upgrade to
// WebSocket (probe, upgrade) that browsers do.
class PollingConnector final : public ConnectionEvents {
 public:
  PollingConnector(Run& run, bool upgrade) : run_(run), upgrade_(upgrade) {}

  bool open(std::size_t count) {
    target_ = count;
    upgrades_.resize(count);
    while (handshakes_.size() < target_ && in_flight_ < run_.options.batch && !failed_) {
      start_one();
    }
    return run_.run_until("connecting", [this] { return failed_ || connected_ == target_; }) && !failed_;
  }

  std::size_t size() const noexcept { return handshakes_.size(); }
  const LatencyHistogram& handshake_latency() const noexcept { return handshake_us_; }

  void close_all() {
    for (auto& handshake : handshakes_) {
      handshake->close();
    }
    for (auto& upgrade : upgrades_) {
      if (upgrade) {
        upgrade->close();
      }
    }
  }

  void on_connected(Connection& connection) override { done(connection.index()); }
  void on_event(Connection&, std::string_view) override {}
  void on_ack(Connection&, std::uint64_t, std::string_view) override {}
  void on_failed(Connection& connection, std::string_view reason) override {
    fail(connection.index(), "upgrade: " + std::string(reason));
  }

 private:
  void start_one() {
    auto index = static_cast<std::uint32_t>(handshakes_.size());
    handshakes_.push_back(std::make_unique<PollingHandshake>(
        run_.loop, [this, index](std::string_view error) { on_handshake(index, error); }));
    started_us_.push_back(now_us());
    ++in_flight_;
    handshakes_.back()->start(run_.options.server);
  }

  void on_handshake(std::uint32_t index, std::string_view error) {
    if (!error.empty()) {
      fail(index, "polling: " + std::string(error));
    } else if (upgrade_) {
      upgrades_[index] = std::make_unique<Connection>(run_.loop, *this, index);
      upgrades_[index]->start_upgrade(run_.options.server, handshakes_[index]->sid());
    } else {
      done(index);
    }
  }

  void done(std::uint32_t index) {
    handshake_us_.add(now_us() - started_us_[index]);
    ++connected_;
    --in_flight_;
    if (handshakes_.size() < target_ && !failed_) {
      start_one();
    }
  }

  void fail(std::uint32_t index, const std::string& reason) {
    failed_ = true;
    run_.error("session " + std::to_string(index) + " failed to connect: " + reason);
  }

  Run& run_;
  bool upgrade_;
  std::vector<std::unique_ptr<PollingHandshake>> handshakes_;
  std::vector<std::unique_ptr<Connection>> upgrades_;
  std::vector<std::uint64_t> started_us_;
  LatencyHistogram handshake_us_;
  std::size_t target_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t connected_ = 0;
  bool failed_ = false;
};

}  // namespace

json::object run_connect(const Options& options) {
  Run run(options);
  json::object params = common_params(options);
  params["conns"] = options.conns;
  params["transport"] = options.polling ? (options.upgrade ? "polling+upgrade" : "polling") : "websocket";
  json::array phases;
  Window window(options.server_pid);
  if (options.polling) {
    PollingConnector sessions(run, options.upgrade);
    sessions.open(options.conns);
    json::object phase = window.finish(sessions.size());
    phase["name"] = "connect";
    phase["connections"] = sessions.size();
    phase["handshake_latency_us"] = sessions.handshake_latency().to_json();
    phases.push_back(std::move(phase));
    sessions.close_all();
  } else {
    QuietOwner owner(run);
    Fleet fleet(run, owner);
    fleet.open(options.conns);
    json::object phase = connect_report(window, fleet);
    phase["name"] = "connect";
    phases.push_back(std::move(phase));
    fleet.close_all();
  }
  return run.report("connect", std::move(params), {}, std::move(phases));
}

json::object run_fanout(const Options& options) {
  Run run(options);
  BroadcastBench bench(run);
  json::object params = common_params(options);
  params["subs"] = options.subs;
  params["inflight"] = options.inflight;
  params["broadcasts"] = options.broadcasts;
  params["rate"] = options.rate;
  params["warmup"] = default_warmup(options);
  const bool cluster = options.port2 != 0;
  if (cluster) {
    // Spread evenly: subscriber i is on the second node when floor((i+1)·split) > floor(i·split).
    double share = std::clamp(options.split, 0.0, 1.0);
    auto on_second = [share](std::uint32_t i) {
      return std::floor((i + 1) * share) > std::floor(i * share);
    };
    std::size_t on_b = 0;
    for (std::uint32_t i = 0; i < options.subs; ++i) {
      on_b += on_second(i) ? 1 : 0;
    }
    params["nodes"] = 2;
    params["port2"] = options.port2;
    params["split"] = share;
    params["subs_on_a"] = options.subs - on_b;
    params["subs_on_b"] = on_b;
    bench.split(on_second);
  }

  std::vector<std::uint32_t> everyone(options.subs);
  std::iota(everyone.begin(), everyone.end(), 0u);
  auto to_bench = [&everyone](std::uint64_t, std::string& head) -> const std::vector<std::uint32_t>& {
    head = R"("broadcast","bench")";
    return everyone;
  };
  json::object setup;
  json::array phases;
  if (bench.setup(options.subs, [](std::uint32_t) { return std::vector<std::string>{"bench"}; }, setup)) {
    if (std::size_t warmup = default_warmup(options); warmup > 0) {
      bench.run_phase({"warmup", warmup, options.inflight, options.rate, to_bench});
    }
    phases.push_back(bench.run_phase({"fanout", options.broadcasts, options.inflight, options.rate, to_bench}));
  }
  bench.close();
  return run.report(cluster ? "cluster_fanout" : "fanout", std::move(params), std::move(setup), std::move(phases));
}

json::object run_rooms(const Options& options) {
  Run run(options);
  BroadcastBench bench(run);
  const std::size_t rooms = std::max<std::size_t>(options.rooms, 1);
  const std::size_t size = std::max<std::size_t>(options.room_size, 1);
  const std::size_t per_broadcast = std::min<std::size_t>(4, rooms);  // rooms named by one multi-room broadcast
  json::object params = common_params(options);
  params["rooms"] = rooms;
  params["size"] = size;
  params["rooms_per_multi_broadcast"] = per_broadcast;
  params["inflight"] = options.inflight;
  params["broadcasts"] = options.broadcasts;
  params["warmup"] = default_warmup(options);

  // Subscriber i is in room "r<i / size>"; the first member of each room is also in "muted".
  auto room_name = [](std::size_t room) { return "r" + std::to_string(room); };
  auto rooms_of = [&](std::uint32_t i) {
    std::vector<std::string> names{room_name(i / size)};
    if (i % size == 0) {
      names.emplace_back("muted");
    }
    return names;
  };
  std::vector<std::uint32_t> recipients;
  auto add_room = [&](std::size_t room, bool skip_muted) {
    for (std::size_t i = room * size; i < (room + 1) * size; ++i) {
      if (!skip_muted || i % size != 0) {
        recipients.push_back(static_cast<std::uint32_t>(i));
      }
    }
  };
  auto single = [&](std::uint64_t n, std::string& head) -> const std::vector<std::uint32_t>& {
    std::size_t room = n % rooms;
    head = R"("broadcast",")" + room_name(room) + "\"";
    recipients.clear();
    add_room(room, false);
    return recipients;
  };
  auto multi = [&](bool except_muted) {
    return [&, except_muted](std::uint64_t n, std::string& head) -> const std::vector<std::uint32_t>& {
      head = except_muted ? R"("broadcast_except",[)" : R"("broadcast",[)";
      recipients.clear();
      for (std::size_t k = 0; k < per_broadcast; ++k) {
        std::size_t room = (n * per_broadcast + k) % rooms;
        head.append(k == 0 ? "\"" : ",\"").append(room_name(room)).append("\"");
        add_room(room, except_muted);
      }
      head.append("]");
      if (except_muted) {
        head.append(R"(,"muted")");
      }
      return recipients;
    };
  };

  json::object setup;
  json::array phases;
  if (bench.setup(rooms * size, rooms_of, setup)) {
    if (std::size_t warmup = default_warmup(options); warmup > 0) {
      bench.run_phase({"warmup", warmup, options.inflight, 0, single});
    }
    phases.push_back(bench.run_phase({"one_room", options.broadcasts, options.inflight, 0, single}));
    phases.push_back(bench.run_phase({"multi_room", options.broadcasts, options.inflight, 0, multi(false)}));
    phases.push_back(bench.run_phase({"multi_room_except", options.broadcasts, options.inflight, 0, multi(true)}));
  }
  bench.close();
  return run.report("rooms", std::move(params), std::move(setup), std::move(phases));
}

namespace {

// Each connection keeps one echo(payload, ack) outstanding until `messages` round trips are done.
class EchoBench final : public FleetEvents {
 public:
  explicit EchoBench(Run& run) : run_(run), fleet_(run, *this), pad_(run.options.pad_bytes, 'x') {}

  bool connect(json::object& setup) {
    Window connecting(run_.options.server_pid);
    bool connected = fleet_.open(run_.options.conns);
    setup["connect"] = connect_report(connecting, fleet_);
    pending_.assign(fleet_.size(), Pending{});
    return connected;
  }

  json::object run_phase(std::string name, std::uint64_t messages) {
    target_ = messages;
    sent_ = completed_ = mismatched_ = 0;
    latency_ = LatencyHistogram{};
    last_progress_ = Clock::now();
    stalled_ = false;
    Window window(run_.options.server_pid);
    for (std::size_t i = 0; i < fleet_.size() && sent_ < target_; ++i) {
      send(fleet_.at(i));
    }
    run_.run_until(name, [this] {
      if (Clock::now() - last_progress_ > run_.options.drain) {
        stalled_ = true;
      }
      return completed_ == target_ || broken_ || stalled_;
    });
    json::object result = window.finish(completed_);
    result["name"] = name;
    result["round_trips"] = completed_;
    result["latency_us"] = latency_.to_json();
    result["lost"] = sent_ - completed_;
    result["mismatched"] = mismatched_;
    if (sent_ != completed_ || mismatched_ != 0) {
      run_.error(name + ": " + std::to_string(sent_ - completed_) + " acks missing, " + std::to_string(mismatched_) +
                 " acks with the wrong payload");
    }
    return result;
  }

  void close() { fleet_.close_all(); }

  void on_event(Connection& connection, std::string_view args) override {
    run_.error("unexpected event on connection " + std::to_string(connection.index()) + ": " +
               std::string(args.substr(0, 80)));
  }

  void on_ack(Connection& connection, std::uint64_t id, std::string_view args) override {
    Pending& pending = pending_[connection.index()];
    if (id != pending.ack_id) {
      ++mismatched_;
      return;
    }
    constexpr std::string_view kPrefix = R"([{"seq":)";
    std::uint64_t seq = 0;
    if (!args.starts_with(kPrefix) ||
        std::from_chars(args.data() + kPrefix.size(), args.data() + args.size(), seq).ec != std::errc{} ||
        seq != pending.seq) {
      ++mismatched_;
    }
    latency_.add(now_us() - pending.sent_us);
    ++completed_;
    last_progress_ = Clock::now();
    pending.ack_id = 0;
    if (sent_ < target_) {
      send(connection);
    }
  }

  void on_lost(Connection& connection, std::string_view reason) override {
    broken_ = true;
    run_.error("connection " + std::to_string(connection.index()) + " lost: " + std::string(reason));
  }

 private:
  struct Pending {
    std::uint64_t ack_id = 0;
    std::uint64_t seq = 0;
    std::uint64_t sent_us = 0;
  };

  void send(Connection& connection) {
    Pending& pending = pending_[connection.index()];
    pending.seq = ++next_seq_;
    pending.sent_us = now_us();
    request_.assign(R"(["echo",)");
    append_payload(request_, pending.seq, pad_);
    request_.append("]");
    pending.ack_id = connection.emit(request_, true);
    ++sent_;
  }

  Run& run_;
  Fleet fleet_;
  std::string pad_;
  std::vector<Pending> pending_;
  std::string request_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t target_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t mismatched_ = 0;
  bool broken_ = false;
  bool stalled_ = false;
  Clock::time_point last_progress_;
  LatencyHistogram latency_;
};

}  // namespace

json::object run_echo(const Options& options) {
  Run run(options);
  EchoBench bench(run);
  json::object params = common_params(options);
  params["conns"] = options.conns;
  params["messages"] = options.messages;
  json::object setup;
  json::array phases;
  if (bench.connect(setup)) {
    bench.run_phase("warmup", options.conns);  // one round trip per connection, not reported
    phases.push_back(bench.run_phase("echo", options.messages));
  }
  bench.close();
  return run.report("echo", std::move(params), std::move(setup), std::move(phases));
}

}  // namespace loadgen
