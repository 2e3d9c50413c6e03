#include "sio/broadcast_operator.h"

#include "sio/caller_shard.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/string.hpp>

#include "net/shard_pool.h"
#include "sio/namespace.h"
#include "sio/server.h"

namespace iogate::sio {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

constexpr std::chrono::milliseconds kDefaultAckTimeout{5'000};


void append_unique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) {
    list.push_back(std::move(value));
  }
}

// Gathers a broadcast's acks on one shard: every AckSink call is posted there, so the state
// needs no lock however many shards and nodes answer.
class AckGathering : public std::enable_shared_from_this<AckGathering> {
 public:
  AckGathering(asio::io_context& context, BroadcastOperator::AckCollector done)
      : context_(context), timer_(context), done_(std::move(done)) {}

  void start(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) {
        self->finish("operation has timed out");
      }
    });
  }

  std::shared_ptr<AckSink> sink() {
    auto sink = std::make_shared<AckSink>();
    std::weak_ptr<AckGathering> weak = shared_from_this();
    sink->expect_servers = [weak](std::size_t servers) {
      if (auto self = weak.lock()) {
        asio::post(self->context_, [self, servers] {
          self->servers_ = servers;
          self->check();
        });
      }
    };
    sink->client_count = [weak](std::size_t clients) {
      if (auto self = weak.lock()) {
        asio::post(self->context_, [self, clients] {
          ++self->counts_received_;
          self->expected_acks_ += clients;
          self->check();
        });
      }
    };
    sink->ack = [weak](Payload reply) {
      if (auto self = weak.lock()) {
        asio::post(self->context_, [self, reply = std::move(reply)]() mutable {
          self->replies_.push_back(std::move(reply));
          self->check();
        });
      }
    };
    return sink;
  }

 private:
  void check() {
    if (servers_ && counts_received_ == *servers_ && replies_.size() >= expected_acks_) {
      finish(std::nullopt);
    }
  }

  void finish(std::optional<std::string> error) {
    if (finished_) {
      return;
    }
    finished_ = true;
    timer_.cancel();
    done_(std::move(error), std::move(replies_));
  }

  asio::io_context& context_;
  asio::steady_timer timer_;
  BroadcastOperator::AckCollector done_;
  std::optional<std::size_t> servers_;
  std::size_t counts_received_ = 0;
  std::size_t expected_acks_ = 0;
  std::vector<Payload> replies_;
  bool finished_ = false;
};

}  // namespace

BroadcastOperator BroadcastOperator::to(std::string room) const {
  auto next = *this;
  append_unique(next.options_.rooms, std::move(room));
  return next;
}

BroadcastOperator BroadcastOperator::to(const std::vector<std::string>& rooms) const {
  auto next = *this;
  for (const auto& room : rooms) {
    append_unique(next.options_.rooms, room);
  }
  return next;
}

BroadcastOperator BroadcastOperator::except(std::string room) const {
  auto next = *this;
  append_unique(next.options_.except, std::move(room));
  return next;
}

BroadcastOperator BroadcastOperator::except(const std::vector<std::string>& rooms) const {
  auto next = *this;
  for (const auto& room : rooms) {
    append_unique(next.options_.except, room);
  }
  return next;
}

BroadcastOperator BroadcastOperator::local() const {
  auto next = *this;
  next.options_.flags.local = true;
  return next;
}

BroadcastOperator BroadcastOperator::volatile_() const {
  auto next = *this;
  next.options_.flags.is_volatile = true;
  return next;
}

BroadcastOperator BroadcastOperator::compress(bool enabled) const {
  auto next = *this;
  next.options_.flags.compress = enabled;
  return next;
}

BroadcastOperator BroadcastOperator::timeout(std::chrono::milliseconds value) const {
  auto next = *this;
  next.options_.flags.timeout = value;
  return next;
}

void BroadcastOperator::emit(std::string_view event, Payload payload) const {
  auto packet = make_event_packet(nsp_->name(), event, std::move(payload));
  if (options_.flags.local) {
    static_cast<LocalSockets&>(*nsp_).broadcast(packet, options_);
  } else {
    nsp_->adapter().broadcast(packet, options_);
  }
}

void BroadcastOperator::emit_with_ack(std::string_view event, Payload payload, AckCollector done) const {
  auto packet = make_event_packet(nsp_->name(), event, std::move(payload));
  auto& pool = nsp_->server().pool();
  std::size_t shard = pool.current() == net::ShardPool::npos ? 0 : pool.current();
  auto gathering = std::make_shared<AckGathering>(pool.context(shard), std::move(done));
  gathering->start(options_.flags.timeout.value_or(kDefaultAckTimeout));
  auto sink = gathering->sink();
  if (options_.flags.local) {
    sink->expect_servers(1);
    static_cast<LocalSockets&>(*nsp_).broadcast_with_ack(packet, options_, std::move(sink));
  } else {
    nsp_->adapter().broadcast_with_ack(packet, options_, std::move(sink));
  }
}

void BroadcastOperator::fetch_sockets(FetchCallback done) const {
  if (options_.flags.local) {
    static_cast<LocalSockets&>(*nsp_).fetch_sockets(options_, [done = std::move(done)](std::vector<SocketInfo> sockets) {
      done(std::nullopt, std::move(sockets));
    });
  } else {
    nsp_->adapter().fetch_sockets(options_, on_caller_shard(nsp_->server().pool(), std::move(done)));
  }
}

void BroadcastOperator::sockets_join(std::vector<std::string> rooms) const {
  if (options_.flags.local) {
    static_cast<LocalSockets&>(*nsp_).add_sockets(options_, std::move(rooms));
  } else {
    nsp_->adapter().add_sockets(options_, std::move(rooms));
  }
}

void BroadcastOperator::sockets_leave(std::vector<std::string> rooms) const {
  if (options_.flags.local) {
    static_cast<LocalSockets&>(*nsp_).del_sockets(options_, std::move(rooms));
  } else {
    nsp_->adapter().del_sockets(options_, std::move(rooms));
  }
}

void BroadcastOperator::disconnect_sockets(bool close) const {
  if (options_.flags.local) {
    static_cast<LocalSockets&>(*nsp_).disconnect_sockets(options_, close);
  } else {
    nsp_->adapter().disconnect_sockets(options_, close);
  }
}

}  // namespace iogate::sio
