#include "app/redis/redis_link.h"

#include <array>
#include <deque>
#include <iterator>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

namespace iogate::app {

namespace asio = boost::asio;

namespace {

std::string sha1_hex(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

// Home loop only. Commands wait in `pending` in the order they were sent, which is the order
// their replies come in; one timer watches the oldest unanswered one.
struct RedisLink::Core : std::enable_shared_from_this<Core> {
  struct Pending {
    Done done;  // empty once answered
    std::chrono::steady_clock::time_point deadline;
  };

  Core(asio::io_context& home, redis::Endpoint endpoint, std::chrono::milliseconds timeout)
      : connection(home, std::move(endpoint)), command_timeout(timeout), timer(home) {}

  void send(std::vector<std::string> args, Done done) {
    auto deadline = std::chrono::steady_clock::now() + command_timeout;
    auto entry = std::make_shared<Pending>(Pending{std::move(done), deadline});
    pending.push_back(entry);
    arm_timer();
    // The reply may come after the Core is gone (a failure posted by the connection): weak.
    connection.command(std::move(args), [weak = weak_from_this(), entry](redis::Reply reply) {
      auto core = weak.lock();
      if (!core || !entry->done) {
        return;
      }
      auto answer = std::move(entry->done);
      entry->done = nullptr;
      core->drop_answered();
      answer(std::move(reply));
    });
  }

  void drop_answered() {
    while (!pending.empty() && !pending.front()->done) {
      pending.pop_front();
    }
  }

  void arm_timer() {
    drop_answered();
    if (timer_armed || pending.empty()) {
      return;
    }
    timer_armed = true;
    timer.expires_at(pending.front()->deadline);
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto core = weak.lock();
      if (!core) {
        return;
      }
      core->timer_armed = false;
      if (!ec) {
        core->expire();
      }
    });
  }

  // Fails the commands whose time is up; deadlines grow along the queue.
  void expire() {
    auto now = std::chrono::steady_clock::now();
    while (!pending.empty() && (!pending.front()->done || pending.front()->deadline <= now)) {
      auto entry = std::move(pending.front());
      pending.pop_front();
      if (entry->done) {
        auto done = std::move(entry->done);
        entry->done = nullptr;
        done(redis::Reply::make_io_error("no reply from Redis within " + std::to_string(command_timeout.count()) +
                                         " ms"));
      }
    }
    arm_timer();
  }

  redis::Connection connection;
  std::chrono::milliseconds command_timeout;
  asio::steady_timer timer;
  bool timer_armed = false;
  std::deque<std::shared_ptr<Pending>> pending;
  std::vector<std::function<void(bool)>> state_handlers;
  std::atomic<bool> connected{false};
};

RedisLink::RedisLink(asio::io_context& home, redis::Endpoint endpoint, std::chrono::milliseconds command_timeout)
    : home_(home), core_(std::make_shared<Core>(home, std::move(endpoint), command_timeout)) {
  core_->connection.on_state([weak = std::weak_ptr(core_)](bool up) {
    auto core = weak.lock();
    if (!core) {
      return;
    }
    core->connected.store(up, std::memory_order_relaxed);
    if (up) {
      spdlog::info("event=app-redis-up");
    } else {
      // The choice while Redis is away (see RedisPresence and RedisRateLimiter): fail open.
      spdlog::warn("event=app-redis-down error=\"{}\" note=\"connections are accepted unrecorded and every event "
                   "passes the rate limit until Redis is back\"",
                   core->connection.last_error());
    }
    for (const auto& handler : core->state_handlers) {
      handler(up);
    }
  });
}

RedisLink::~RedisLink() = default;

void RedisLink::on_state(std::function<void(bool)> handler) { core_->state_handlers.push_back(std::move(handler)); }

void RedisLink::start() {
  asio::dispatch(home_, [weak = std::weak_ptr(core_)] {
    if (auto core = weak.lock()) {
      core->connection.connect();
    }
  });
}

bool RedisLink::connected() const noexcept { return core_->connected.load(std::memory_order_relaxed); }

void RedisLink::command(std::vector<std::string> args, Done done) {
  asio::dispatch(home_, [weak = std::weak_ptr(core_), args = std::move(args), done = std::move(done)]() mutable {
    if (auto core = weak.lock()) {
      core->send(std::move(args), std::move(done));
    }
  });
}

void RedisLink::eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args, Done done) {
  std::vector<std::string> command{"EVALSHA", script.sha1(), std::to_string(keys.size())};
  command.reserve(command.size() + keys.size() + args.size());
  std::move(keys.begin(), keys.end(), std::back_inserter(command));
  std::move(args.begin(), args.end(), std::back_inserter(command));
  asio::dispatch(home_, [weak = std::weak_ptr(core_), &script, command = std::move(command),
                         done = std::move(done)]() mutable {
    auto core = weak.lock();
    if (!core) {
      return;
    }
    auto retry = command;
    core->send(std::move(command), [weak, &script, retry = std::move(retry), done = std::move(done)](
                                       redis::Reply reply) mutable {
      auto again = weak.lock();
      if (!again || reply.type != redis::Reply::Type::error || !reply.str.starts_with("NOSCRIPT")) {
        done(std::move(reply));
        return;
      }
      // Not in this Redis's script cache yet: EVAL runs it and caches it for the next EVALSHA.
      retry[0] = "EVAL";
      retry[1] = script.source();
      again->send(std::move(retry), std::move(done));
    });
  });
}

}  // namespace iogate::app
