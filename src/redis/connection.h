#pragma once
// One Redis link driven by hiredis' async API on one shard's io_context: hiredis formats commands,
// buffers and parses replies; Asio tells it when the socket is readable or writable. No thread of
// its own, no locks: every call, and every callback, happens on the io_context's thread.
//
// Lifetime and ownership (hiredis 0.14):
// - A Connection owns at most one redisAsyncContext at a time, wrapped in a private Link. hiredis
//   frees the context itself when the link fails (read/write error, EOF, failed connect) or when
//   we call redisAsyncFree; the ev.cleanup hook is the one signal that it is going away, and it
//   always comes before the free, inside the same call. The Link keeps itself alive until that
//   hook, so hiredis' ev.data never dangles, and the hook unhooks every ev.* pointer so hiredis
//   cannot call back into the Link afterwards.
// - hiredis owns and closes the socket. Asio waits on a dup() of it, so the descriptor Asio
//   closes is never the one hiredis closes.
// - Reconnecting happens in a handler posted from the cleanup hook, after hiredis has finished
//   freeing: a new context is never created while the old one is mid-free.
// - Every command's `done` is called exactly once while the Connection lives: with the reply,
//   or with an io_error Reply when the link drops (hiredis runs pending callbacks with a NULL
//   reply while freeing) or when there is no link. `done` is never called from inside command().
// - Destroying the Connection frees the context at once; callbacks still pending are dropped
//   without being called, and on_state is not called. It may be destroyed from inside one of its
//   own callbacks (hiredis then defers the free until that callback returns).
// - hiredis resolves host names with a blocking getaddrinfo when connecting; use addresses or
//   names the resolver answers at once.
//
// A Connection is either a command connection or a subscriber connection, fixed by the first
// command() or subscribe*() call. hiredis 0.14 predates SSUBSCRIBE and would abort on its
// `smessage` pushes, so subscriber connections parse their replies themselves (hiredis' reader,
// our dispatch) once the connect handshake is done; command connections use hiredis' callbacks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

struct redisAsyncContext;
struct redisReply;

namespace iogate::redis {

struct Endpoint {
  enum class Kind { tcp, unix_socket };
  Kind kind = Kind::tcp;
  std::string host;  // tcp
  std::uint16_t port = 6379;
  std::string path;  // unix_socket
  std::string user;  // empty: AUTH <password> (the default user)
  std::string password;  // empty: no AUTH
  int db = 0;  // SELECT when not 0
};

// redis://[user:password@]host[:port][/db]   (host may be [v6]; port defaults to 6379)
// unix://[user:password@]/path/to/sock[?db=N]
// User and password are percent-decoded. Returns nullopt and a reason in `error` for anything else.
std::optional<Endpoint> parse_url(std::string_view url, std::string* error = nullptr);

// An owned copy of a redisReply (RESP2). io_error means no reply came: no link, or it dropped.
struct Reply {
  enum class Type { nil, string, status, integer, array, error, io_error };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status, error and io_error text
  std::vector<Reply> elements;

  bool is_error() const noexcept { return type == Type::error || type == Type::io_error; }
  static Reply make_io_error(std::string message);
};

class Connection {
 public:
  using Done = std::function<void(Reply)>;
  // pattern is empty for SUBSCRIBE and SSUBSCRIBE; the views live for the call only.
  using MessageHandler =
      std::function<void(std::string_view pattern, std::string_view channel, std::string_view payload)>;
  using StateHandler = std::function<void(bool connected)>;

  Connection(boost::asio::io_context& io, Endpoint endpoint);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Called with true when a link is up (AUTH/SELECT done), false when an up link drops.
  void on_state(StateHandler handler) { on_state_ = std::move(handler); }

  // Starts connecting; from then on the Connection keeps a link up, reconnecting with backoff
  // (100 ms doubling to 1 s, jittered). A refused handshake (wrong password, bad db) is retried
  // the same way; last_error() says why.
  void connect();

  // Binary-safe; replies arrive in the order commands were issued. On a subscriber connection
  // `done` gets an error.
  void command(std::vector<std::string> args, Done done);

  // Put the connection in subscriber mode (false on a command connection). The subscription is
  // sent now if the link is up and again after every reconnect. Subscribing again replaces the
  // handler.
  bool subscribe(std::string channel, MessageHandler on_message);
  bool psubscribe(std::string pattern, MessageHandler on_message);
  bool ssubscribe(std::string channel, MessageHandler on_message);
  // Drop a subscription (and its handler); sent now if the link is up, and not renewed later.
  void unsubscribe(std::string_view channel);
  void punsubscribe(std::string_view pattern);
  void sunsubscribe(std::string_view channel);

  bool connected() const noexcept { return connected_; }
  const Endpoint& endpoint() const noexcept { return endpoint_; }
  // Why the last connect attempt or link failed (empty if none did).
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  struct Link;
  enum class Mode { undecided, commands, subscriber };
  enum class SubKind { channel, pattern, shard };

  void open_link();
  void schedule_reconnect();
  void link_lost(const std::shared_ptr<Link>& link);
  void handshake_done(Link& link);
  using Handlers = std::map<std::string, std::shared_ptr<MessageHandler>, std::less<>>;
  Handlers& handlers_of(SubKind kind);
  bool add_subscription(SubKind kind, std::string name, MessageHandler handler);
  void remove_subscription(SubKind kind, std::string_view name);
  void send_subscription(Link& link, SubKind kind, const std::vector<std::string>& names, bool subscribe = true);
  void read_subscriber(const std::shared_ptr<Link>& link);
  void dispatch_push(const redisReply* reply);

  static void hook_add_read(void* data);
  static void hook_del_read(void* data);
  static void hook_add_write(void* data);
  static void hook_del_write(void* data);
  static void hook_cleanup(void* data);
  static void arm_read(const std::shared_ptr<Link>& link);
  static void arm_write(const std::shared_ptr<Link>& link);
  static void on_command_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_handshake_reply(redisAsyncContext* ac, void* reply, void* privdata);

  boost::asio::io_context& io_;
  Endpoint endpoint_;
  StateHandler on_state_;
  Mode mode_ = Mode::undecided;
  bool started_ = false;
  bool connected_ = false;
  std::string last_error_;
  std::shared_ptr<Link> link_;
  boost::asio::steady_timer reconnect_timer_;
  std::chrono::milliseconds backoff_;
  std::minstd_rand jitter_;
  // shared_ptr: a handler that re-subscribes (replacing itself) stays alive while it runs.
  Handlers channels_;
  Handlers patterns_;
  Handlers shard_channels_;
  // Handlers posted to the io_context and pending command callbacks hold weak copies, so that
  // nothing touches a destroyed Connection.
  std::shared_ptr<Connection*> self_;
};

}  // namespace iogate::redis
