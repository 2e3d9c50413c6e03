#pragma once
// A real redis-server for tests: a child process on its own unix socket (and, when asked, a
// 127.0.0.1 port), killed when the object goes; pausable (SIGSTOP) and restartable with the same
// socket and port, when it comes back empty. Plus the bounded loop runner the Redis tests share:
// the test thread runs the io_context in short slices with a deadline, so nothing waits forever.
// A missing redis-server fails the tests rather than skipping them: CI has it.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

extern char** environ;

namespace iogate::test_support {

// Runs the loop in slices until `done()` or the deadline; true if done.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline std::uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  // `port` 0: the unix socket only. `extra`: more redis-server arguments.
  RedisServer(std::string dir, std::uint16_t port = 0, std::vector<std::string> extra = {})
      : dir_(std::move(dir)), socket_(dir_ + "/r.sock"), port_(port), extra_(std::move(extra)) {}
  ~RedisServer() { kill_now(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  const std::string& socket_path() const { return socket_; }
  std::uint16_t port() const { return port_; }

  // Empty on success, else why it failed.
  std::string start() {
    using namespace std::chrono_literals;
    if (::access(kBinary, X_OK) != 0) return std::string(kBinary) + " not found: install redis-server";
    std::vector<std::string> args = {kBinary, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--unixsocket", socket_, "--unixsocketperm", "700", "--save", "",
                                     "--appendonly", "no", "--dir", dir_, "--daemonize", "no",
                                     "--logfile", dir_ + "/redis.log"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, kBinary, nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return "posix_spawn failed";
    }
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "redis-server exited at start; see " + dir_ + "/redis.log";
      }
      if (accepts()) return {};
      std::this_thread::sleep_for(10ms);
    }
    return "redis-server did not accept connections within 5 s";
  }

  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // a paused server dies as well
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  bool accepts() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
  }

  std::string dir_;
  std::string socket_;
  std::uint16_t port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

}  // namespace iogate::test_support
