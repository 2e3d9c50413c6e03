#include "redis/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace iogate::redis {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::chrono::milliseconds kFirstBackoff = 100ms;
// Capped low: a cluster must heal within a second or so of Redis coming back (as node-redis, 500 ms).
constexpr std::chrono::milliseconds kMaxBackoff = 1000ms;

bool parse_int(std::string_view text, long long min, long long max, long long& out) {
  if (text.empty()) return false;
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return false;
  out = value;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Passwords may need ':', '@' or '/', which only fit in a URL percent-encoded.
bool percent_decode(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = hex_value(text[i + 1]);
    int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::optional<Endpoint> fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

// "user:password" or ":password"; a bare word is ambiguous (user or password?) so it is refused.
bool parse_userinfo(std::string_view info, Endpoint& endpoint) {
  auto colon = info.find(':');
  if (colon == std::string_view::npos) return false;
  return percent_decode(info.substr(0, colon), endpoint.user) &&
         percent_decode(info.substr(colon + 1), endpoint.password) && !endpoint.password.empty();
}

Reply copy_reply(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      out.type = Reply::Type::nil;
      break;
  }
  return out;
}

std::string_view view(const redisReply* r) { return {r->str, r->len}; }

bool is_string(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

std::string context_error(const redisAsyncContext* ac) {
  return ac->c.err ? std::string(ac->c.errstr) : std::string();
}

}  // namespace

std::optional<Endpoint> parse_url(std::string_view url, std::string* error) {
  Endpoint endpoint;
  constexpr std::string_view kRedis = "redis://";
  constexpr std::string_view kUnix = "unix://";
  if (url.starts_with(kUnix)) {
    endpoint.kind = Endpoint::Kind::unix_socket;
    std::string_view rest = url.substr(kUnix.size());
    // Userinfo ends at the '@' before the path's leading '/'.
    if (!rest.starts_with('/')) {
      auto at = rest.find('@');
      if (at == std::string_view::npos || at + 1 >= rest.size() || rest[at + 1] != '/')
        return fail(error, "unix URL needs an absolute socket path");
      if (!parse_userinfo(rest.substr(0, at), endpoint))
        return fail(error, "credentials must be user:password or :password");
      rest = rest.substr(at + 1);
    }
    auto query = rest.find('?');
    if (query != std::string_view::npos) {
      std::string_view q = rest.substr(query + 1);
      long long db = 0;
      if (!q.starts_with("db=") || !parse_int(q.substr(3), 0, std::numeric_limits<int>::max(), db))
        return fail(error, "the only query parameter is db=<number>");
      endpoint.db = static_cast<int>(db);
      rest = rest.substr(0, query);
    }
    if (rest.size() < 2) return fail(error, "unix URL needs a socket path");
    endpoint.path = std::string(rest);
    return endpoint;
  }
  if (!url.starts_with(kRedis)) return fail(error, "scheme must be redis:// or unix://");
  std::string_view rest = url.substr(kRedis.size());
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash + 1);
    long long db = 0;
    if (!path.empty() && !parse_int(path, 0, std::numeric_limits<int>::max(), db))
      return fail(error, "database must be a non-negative number");
    endpoint.db = static_cast<int>(db);
  }
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    if (!parse_userinfo(authority.substr(0, at), endpoint))
      return fail(error, "credentials must be user:password or :password");
    authority = authority.substr(at + 1);
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(error, "unterminated [IPv6] host");
    endpoint.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail(error, "unexpected text after [IPv6] host");
      port_text = after.substr(1);
      if (port_text.empty()) return fail(error, "empty port");
    }
  } else {
    auto colon = authority.find(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail(error, "empty port");
    }
  }
  if (endpoint.host.empty()) return fail(error, "missing host");
  if (!port_text.empty()) {
    long long port = 0;
    if (!parse_int(port_text, 1, 65535, port)) return fail(error, "port must be 1..65535");
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  return endpoint;
}

Reply Reply::make_io_error(std::string message) {
  Reply reply;
  reply.type = Type::io_error;
  reply.str = std::move(message);
  return reply;
}

// One redisAsyncContext and the Asio waits on its socket. Lives at least as long as the context
// (keep_alive, dropped in hiredis' cleanup hook), and as long as any wait handler holds it.
struct Connection::Link {
  Link(asio::io_context& io, int fd) : socket(io, fd) {}

  Connection* owner = nullptr;  // null once the owner is gone or has been told the link died
  redisAsyncContext* ac = nullptr;  // null once hiredis has started freeing it
  asio::posix::stream_descriptor socket;  // a dup() of hiredis' fd, ours to close
  bool want_read = false;  // what hiredis asked for (addRead/delRead)
  bool want_write = false;
  bool reading = false;  // an async_wait is outstanding
  bool writing = false;
  bool dead = false;
  bool failed = false;  // a handshake reply was an error; the context is being freed
  bool ready = false;  // AUTH/SELECT/PING all answered
  bool own_reader = false;  // subscriber mode: replies parsed here, not by hiredis' callbacks
  int handshake_left = 0;
  std::shared_ptr<Link> keep_alive;
};

namespace {

struct PendingCommand {
  Connection::Done done;
  std::weak_ptr<Connection*> owner;
};

}  // namespace

Connection::Connection(asio::io_context& io, Endpoint endpoint)
    : io_(io),
      endpoint_(std::move(endpoint)),
      reconnect_timer_(io),
      backoff_(kFirstBackoff),
      jitter_(std::random_device{}()),
      self_(std::make_shared<Connection*>(this)) {}

Connection::~Connection() {
  self_.reset();
  if (link_) {
    link_->owner = nullptr;
    // Runs pending callbacks with NULL replies (dropped: self_ is gone) and the cleanup hook;
    // inside a hiredis callback the free is deferred until it returns, and the Link's
    // keep_alive carries it until then.
    if (link_->ac) redisAsyncFree(link_->ac);
    link_.reset();
  }
}

void Connection::connect() {
  if (started_) return;
  started_ = true;
  open_link();
}

void Connection::open_link() {
  redisAsyncContext* ac = endpoint_.kind == Endpoint::Kind::unix_socket
                              ? redisAsyncConnectUnix(endpoint_.path.c_str())
                              : redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (!ac) {
    last_error_ = "cannot allocate a hiredis context";
    schedule_reconnect();
    return;
  }
  if (ac->err) {
    last_error_ = ac->errstr ? ac->errstr : "connect failed";
    redisAsyncFree(ac);  // no hooks yet: only frees
    schedule_reconnect();
    return;
  }
  int fd = ::fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0);
  std::shared_ptr<Link> link;
  if (fd >= 0) {
    try {
      link = std::make_shared<Link>(io_, fd);
    } catch (const std::exception& e) {
      ::close(fd);  // the descriptor did not take ownership when registration failed
      last_error_ = e.what();
    }
  } else {
    last_error_ = "dup failed";
  }
  if (!link) {
    redisAsyncFree(ac);
    schedule_reconnect();
    return;
  }
  link->owner = this;
  link->ac = ac;
  link->keep_alive = link;
  ac->data = link.get();
  ac->ev.data = link.get();
  ac->ev.addRead = &Connection::hook_add_read;
  ac->ev.delRead = &Connection::hook_del_read;
  ac->ev.addWrite = &Connection::hook_add_write;
  ac->ev.delWrite = &Connection::hook_del_write;
  ac->ev.cleanup = &Connection::hook_cleanup;
  link_ = link;

  // The handshake always ends with PING: its answer is the proof the link works (hiredis 0.14's
  // onConnect is not reliable for unix sockets), and user commands queue up behind it.
  std::vector<std::vector<std::string>> handshake;
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty())
      handshake.push_back({"AUTH", endpoint_.password});
    else
      handshake.push_back({"AUTH", endpoint_.user, endpoint_.password});
  }
  if (endpoint_.db != 0) handshake.push_back({"SELECT", std::to_string(endpoint_.db)});
  handshake.push_back({"PING"});
  for (const auto& args : handshake) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAsyncCommandArgv(ac, &Connection::on_handshake_reply, link.get(), static_cast<int>(argv.size()),
                              argv.data(), lens.data()) == REDIS_OK)
      ++link->handshake_left;
  }
}

void Connection::schedule_reconnect() {
  // Equal jitter: half the backoff fixed, half random, so restarts of many shards spread out.
  auto base = backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  std::uniform_int_distribution<long long> spread(0, base.count() / 2);
  auto delay = std::chrono::milliseconds(base.count() - base.count() / 2 + spread(jitter_));
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([weak = std::weak_ptr<Connection*>(self_)](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    (*self)->open_link();
  });
}

// Called from hiredis' cleanup hook, while hiredis is still freeing the context.
void Connection::link_lost(const std::shared_ptr<Link>& link) {
  if (link_ != link) return;
  link_.reset();
  bool was_connected = connected_;
  connected_ = false;
  // Reconnect and report from a fresh stack: hiredis is not finished with the old context yet.
  asio::post(io_, [weak = std::weak_ptr<Connection*>(self_), was_connected] {
    auto self = weak.lock();
    if (!self) return;
    Connection* c = *self;
    c->schedule_reconnect();
    // A copy: the handler may destroy the Connection, and with it on_state_.
    StateHandler handler = was_connected ? c->on_state_ : nullptr;
    if (handler) handler(false);
  });
}

void Connection::handshake_done(Link& link) {
  link.ready = true;
  connected_ = true;
  backoff_ = kFirstBackoff;
  last_error_.clear();
  if (mode_ == Mode::subscriber) {
    // Nothing but this PING's answer was outstanding, so no reply hiredis would have to route
    // is in flight when we take over parsing.
    link.own_reader = true;
    auto names_of = [](const Handlers& m) {
      std::vector<std::string> names;
      for (const auto& [name, handler] : m) names.push_back(name);
      return names;
    };
    if (!channels_.empty()) send_subscription(link, SubKind::channel, names_of(channels_));
    if (!patterns_.empty()) send_subscription(link, SubKind::pattern, names_of(patterns_));
    for (const auto& [name, handler] : shard_channels_) send_subscription(link, SubKind::shard, {name});
  }
  // Last, and through a copy: the handler may destroy this Connection.
  if (StateHandler handler = on_state_) handler(true);
}

void Connection::command(std::vector<std::string> args, Done done) {
  auto fail_later = [&](std::string message) {
    asio::post(io_, [done = std::move(done), message = std::move(message)]() mutable {
      done(Reply::make_io_error(std::move(message)));
    });
  };
  if (mode_ == Mode::subscriber) return fail_later("command() on a subscriber connection");
  mode_ = Mode::commands;
  if (args.empty()) return fail_later("empty command");
  if (!link_ || link_->dead || !link_->ac) return fail_later("not connected" + (last_error_.empty() ? "" : ": " + last_error_));
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto pending = std::make_unique<PendingCommand>(PendingCommand{std::move(done), self_});
  if (redisAsyncCommandArgv(link_->ac, &Connection::on_command_reply, pending.get(), static_cast<int>(argv.size()),
                            argv.data(), lens.data()) != REDIS_OK) {
    // hiredis refuses new commands once the link is closing.
    done = std::move(pending->done);
    return fail_later("connection is closing");
  }
  pending.release();  // hiredis owns it now; on_command_reply deletes it
}

bool Connection::subscribe(std::string channel, MessageHandler on_message) {
  return add_subscription(SubKind::channel, std::move(channel), std::move(on_message));
}

bool Connection::psubscribe(std::string pattern, MessageHandler on_message) {
  return add_subscription(SubKind::pattern, std::move(pattern), std::move(on_message));
}

bool Connection::ssubscribe(std::string channel, MessageHandler on_message) {
  return add_subscription(SubKind::shard, std::move(channel), std::move(on_message));
}

Connection::Handlers& Connection::handlers_of(SubKind kind) {
  return kind == SubKind::channel ? channels_ : kind == SubKind::pattern ? patterns_ : shard_channels_;
}

void Connection::unsubscribe(std::string_view channel) { remove_subscription(SubKind::channel, channel); }
void Connection::punsubscribe(std::string_view pattern) { remove_subscription(SubKind::pattern, pattern); }
void Connection::sunsubscribe(std::string_view channel) { remove_subscription(SubKind::shard, channel); }

void Connection::remove_subscription(SubKind kind, std::string_view name) {
  auto& map = handlers_of(kind);
  auto it = map.find(name);
  if (it == map.end()) return;
  std::string removed = it->first;
  map.erase(it);
  if (link_ && link_->ready && !link_->dead && link_->own_reader) send_subscription(*link_, kind, {removed}, false);
}

bool Connection::add_subscription(SubKind kind, std::string name, MessageHandler handler) {
  if (mode_ == Mode::commands) return false;
  mode_ = Mode::subscriber;
  auto& map = handlers_of(kind);
  bool fresh = map.insert_or_assign(name, std::make_shared<MessageHandler>(std::move(handler))).second;
  if (fresh && link_ && link_->ready && !link_->dead) {
    // The first subscription on a link that is already up: no command was ever sent on it, so
    // only pushes and subscription replies can arrive from now on.
    link_->own_reader = true;
    send_subscription(*link_, kind, {std::move(name)});
  }
  return true;
}

void Connection::send_subscription(Link& link, SubKind kind, const std::vector<std::string>& names,
                                   bool subscribe) {
  if (!link.ac || (link.ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) return;
  // Appended to hiredis' output buffer without a callback: hiredis 0.14 cannot route SSUBSCRIBE
  // pushes, so no subscription is registered with it and read_subscriber() dispatches them.
  static constexpr std::string_view kSubscribe[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
  static constexpr std::string_view kUnsubscribe[] = {"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"};
  std::string_view command = (subscribe ? kSubscribe : kUnsubscribe)[static_cast<int>(kind)];
  std::vector<const char*> argv{command.data()};
  std::vector<std::size_t> lens{command.size()};
  for (const auto& n : names) {
    argv.push_back(n.data());
    lens.push_back(n.size());
  }
  if (redisAppendCommandArgv(&link.ac->c, static_cast<int>(argv.size()), argv.data(), lens.data()) == REDIS_OK)
    hook_add_write(&link);
}

void Connection::read_subscriber(const std::shared_ptr<Link>& link) {
  redisContext* c = &link->ac->c;
  if (redisBufferRead(c) == REDIS_ERR) {
    redisAsyncFree(link->ac);  // not inside a hiredis callback: frees now, cleanup hook reports it
    return;
  }
  std::weak_ptr<Connection*> alive = self_;
  for (;;) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) == REDIS_ERR) {
      redisAsyncFree(link->ac);
      return;
    }
    if (!raw) break;
    auto* reply = static_cast<redisReply*>(raw);
    dispatch_push(reply);
    freeReplyObject(reply);  // the reply does not belong to the context, so this is safe even now
    // A handler may have destroyed this Connection (and with it the context).
    if (alive.expired() || link->dead) return;
  }
}

void Connection::dispatch_push(const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    last_error_.assign(reply->str, reply->len);  // e.g. SSUBSCRIBE on a server before 7.0
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  redisReply** e = reply->element;
  for (std::size_t i = 0; i < reply->elements; ++i)
    if (!is_string(e[i]) && !(i == 2 && e[i]->type == REDIS_REPLY_INTEGER)) return;
  std::string_view kind = view(e[0]);
  std::shared_ptr<MessageHandler> handler;
  std::string_view pattern, channel, payload;
  auto find = [&](const Handlers& m, std::string_view name) {
    auto it = m.find(name);
    if (it != m.end()) handler = it->second;
  };
  if (kind == "message" && reply->elements == 3 && is_string(e[2])) {
    channel = view(e[1]);
    payload = view(e[2]);
    find(channels_, channel);
  } else if (kind == "pmessage" && reply->elements == 4 && is_string(e[3])) {
    pattern = view(e[1]);
    channel = view(e[2]);
    payload = view(e[3]);
    find(patterns_, pattern);
  } else if (kind == "smessage" && reply->elements == 3 && is_string(e[2])) {
    channel = view(e[1]);
    payload = view(e[2]);
    find(shard_channels_, channel);
  }
  // Subscription confirmations need nothing. The shared_ptr copy keeps the handler alive even
  // if it replaces itself by subscribing again.
  if (handler && *handler) (*handler)(pattern, channel, payload);
}

void Connection::hook_add_read(void* data) {
  auto* link = static_cast<Link*>(data);
  link->want_read = true;
  if (!link->dead) arm_read(link->keep_alive);
}

void Connection::hook_del_read(void* data) { static_cast<Link*>(data)->want_read = false; }

void Connection::hook_add_write(void* data) {
  auto* link = static_cast<Link*>(data);
  link->want_write = true;
  if (!link->dead) arm_write(link->keep_alive);
}

void Connection::hook_del_write(void* data) { static_cast<Link*>(data)->want_write = false; }

// hiredis is about to free the context (and close its fd). Called once or twice (0.14 calls it
// from both its disconnect and free paths), always before the free and in the same call.
void Connection::hook_cleanup(void* data) {
  auto* link = static_cast<Link*>(data);
  std::shared_ptr<Link> hold = std::move(link->keep_alive);  // lives to the end of this function
  link->dead = true;
  if (redisAsyncContext* ac = link->ac) {
    link->ac = nullptr;
    // From here hiredis must not call into the Link: it may be gone after this hook returns.
    ac->ev.addRead = nullptr;
    ac->ev.delRead = nullptr;
    ac->ev.addWrite = nullptr;
    ac->ev.delWrite = nullptr;
    ac->ev.cleanup = nullptr;
    ac->ev.data = nullptr;
    ac->data = nullptr;
    if (link->owner && ac->c.err) link->owner->last_error_ = context_error(ac);
  }
  boost::system::error_code ignored;
  link->socket.close(ignored);  // our dup only; outstanding waits complete with operation_aborted
  if (Connection* owner = std::exchange(link->owner, nullptr)) owner->link_lost(hold);
}

void Connection::arm_read(const std::shared_ptr<Link>& link) {
  if (link->reading || link->dead) return;
  link->reading = true;
  link->socket.async_wait(asio::posix::stream_descriptor::wait_read, [link](const boost::system::error_code& ec) {
    link->reading = false;
    if (ec || link->dead || !link->want_read) return;
    if (link->own_reader) {
      if (link->owner) link->owner->read_subscriber(link);
    } else {
      redisAsyncHandleRead(link->ac);  // may free the context: only `link` is touched after
    }
    // hiredis re-adds reading after every read, which re-arms through the hook; Asio's re-arm
    // re-checks readiness, so bytes left in the socket are not missed.
    if (!link->dead && link->want_read) arm_read(link);
  });
}

void Connection::arm_write(const std::shared_ptr<Link>& link) {
  if (link->writing || link->dead) return;
  link->writing = true;
  link->socket.async_wait(asio::posix::stream_descriptor::wait_write, [link](const boost::system::error_code& ec) {
    link->writing = false;
    if (ec || link->dead || !link->want_write) return;
    redisAsyncHandleWrite(link->ac);  // completes a pending connect, then flushes; may free
    if (!link->dead && link->want_write) arm_write(link);
  });
}

void Connection::on_command_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<PendingCommand> pending(static_cast<PendingCommand*>(privdata));
  if (pending->owner.expired()) return;  // the Connection is being destroyed
  if (!reply) {
    std::string why = context_error(ac);
    pending->done(Reply::make_io_error(why.empty() ? "connection lost" : "connection lost: " + why));
    return;
  }
  pending->done(copy_reply(static_cast<redisReply*>(reply)));
}

void Connection::on_handshake_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  if (!reply) return;  // the link is dropping; the cleanup hook reports it
  auto* link = static_cast<Link*>(privdata);  // alive: the context is, and keep_alive holds it
  Connection* self = link->owner;
  if (!self || link->failed) return;
  auto* r = static_cast<redisReply*>(reply);
  if (r->type == REDIS_REPLY_ERROR) {
    link->failed = true;
    self->last_error_.assign(r->str, r->len);
    redisAsyncFree(ac);  // deferred by hiredis until this callback returns; then reconnect
    return;
  }
  if (--link->handshake_left == 0) self->handshake_done(*link);
}

}  // namespace iogate::redis
