// bench_floor: the physical floor the servers are compared with — what the kernel alone costs
// to move the benchmark's frames over loopback TCP, with no protocol work at all.
//
//   bench_floor send   --conns N --rounds R          each round: one send() of a pre-framed
//                                                    80-byte WebSocket frame to each of N sockets
//   bench_floor writev --conns N --rounds R --batch K  K frames per writev() per socket
//   bench_floor echo   --conns N --messages M        recv()+send() per message over N sockets
//
// The floor process plays the server; a forked child plays the clients (connects, reads, and
// in echo mode sends). Rounds are closed loop like the fan-out scenario: the next round (or
// batch of K) goes out when the child has read every frame of the previous one. The report
// (JSON on stdout) gives each side's utime+stime per frame delivered; the server side is the
// floor to hold a server's CPU per delivery against.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "common/loopback_source.h"

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

double cpu_seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

struct Cpu {
  double user_s = 0;
  double system_s = 0;
};

Cpu own_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return {cpu_seconds(usage.ru_utime), cpu_seconds(usage.ru_stime)};
}

Cpu since(const Cpu& start) {
  Cpu now = own_cpu();
  return {now.user_s - start.user_s, now.system_s - start.system_s};
}

void set_no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as WebSocket servers do
}

void write_all(int fd, const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      die("write");
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

char read_byte(int fd) {
  char byte = 0;
  for (;;) {
    ssize_t got = ::read(fd, &byte, 1);
    if (got == 1) {
      return byte;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    die("read from the other process");
  }
}

// Sends all of `size` bytes on a non-blocking socket, waiting for room when the buffer is full.
void send_fully(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent > 0) {
      data += sent;
      size -= static_cast<std::size_t>(sent);
    } else if (sent < 0 && errno == EAGAIN) {
      pollfd writable{fd, POLLOUT, 0};
      ::poll(&writable, 1, 1000);
    } else if (!(sent < 0 && errno == EINTR)) {
      die("send");
    }
  }
}

// Usually one call; after a partial write the rest goes from a copy of the remaining entries.
void writev_fully(int fd, const std::vector<iovec>& frames) {
  std::size_t total = 0;
  for (const auto& frame : frames) {
    total += frame.iov_len;
  }
  ssize_t first = ::writev(fd, frames.data(), static_cast<int>(frames.size()));
  if (first >= 0 && static_cast<std::size_t>(first) == total) {
    return;
  }
  if (first < 0 && errno != EAGAIN && errno != EINTR) {
    die("writev");
  }
  std::vector<iovec> rest = frames;
  iovec* next = rest.data();
  std::size_t left = rest.size();
  auto skip = [&](std::size_t sent) {
    while (left > 0 && sent >= next->iov_len) {
      sent -= next->iov_len;
      ++next;
      --left;
    }
    if (left > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + sent;
      next->iov_len -= sent;
    }
  };
  skip(first > 0 ? static_cast<std::size_t>(first) : 0);
  while (left > 0) {
    ssize_t sent = ::writev(fd, next, static_cast<int>(left));
    if (sent < 0) {
      if (errno == EAGAIN) {
        pollfd writable{fd, POLLOUT, 0};
        ::poll(&writable, 1, 1000);
        continue;
      }
      if (errno == EINTR) {
        continue;
      }
      die("writev");
    }
    skip(static_cast<std::size_t>(sent));
  }
}

// A server→client WebSocket text frame of `size` bytes in all: header, then a Socket.IO event.
std::string make_frame(std::size_t size) {
  std::size_t header = size - 2 < 126 ? 2 : 4;
  std::string payload = R"(42["msg",{"seq":1,"t":1,"pad":")";
  payload.append(size - header - payload.size() - 3, 'x').append("\"}]");
  std::string frame{'\x81'};
  if (header == 2) {
    frame.push_back(static_cast<char>(payload.size()));
  } else {
    frame.push_back(126);
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  return frame + payload;
}

struct Config {
  std::string mode;
  std::size_t conns = 200;
  std::size_t rounds = 1000;  // frames per socket (send, writev)
  std::size_t batch = 8;      // writev: frames per call
  std::size_t messages = 100'000;
  std::size_t frame_bytes = 80;
};

// --- the client side (child process) ------------------------------------------------------------

// Reads from every socket; reports each completed round (or batch) with one byte on `control`.
void receive_rounds(const Config& config, const std::vector<int>& sockets, int control) {
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : sockets) {
    epoll_event event{EPOLLIN, {.fd = fd}};
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  }
  const std::size_t frames_per_ack = config.mode == "writev" ? config.batch : 1;
  const std::uint64_t bytes_per_ack = frames_per_ack * config.frame_bytes * sockets.size();
  const std::uint64_t total = config.rounds * config.frame_bytes * sockets.size();
  std::uint64_t received = 0;
  std::uint64_t next_ack = bytes_per_ack;
  std::array<epoll_event, 1024> ready;
  std::array<char, 256 * 1024> buffer;
  while (received < total) {
    int count = ::epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()), 1000);
    for (int i = 0; i < count; ++i) {
      ssize_t got = ::recv(ready[static_cast<std::size_t>(i)].data.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (got > 0) {
        received += static_cast<std::uint64_t>(got);
      } else if (got == 0) {
        die("server side closed early");
      }
    }
    while (received >= next_ack && next_ack <= total) {
      write_all(control, "A", 1);
      next_ack += bytes_per_ack;
    }
  }
  ::close(epoll_fd);
}

// Keeps one frame outstanding per socket until `messages` echoes came back.
void send_echoes(const Config& config, const std::vector<int>& sockets) {
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::size_t> pending_bytes(sockets.size(), 0);
  const std::string frame = make_frame(config.frame_bytes);
  std::size_t sent = 0;
  std::size_t echoed = 0;
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    epoll_event event{EPOLLIN, {.u64 = i}};
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, sockets[i], &event);
    if (sent < config.messages) {
      send_fully(sockets[i], frame.data(), frame.size());
      pending_bytes[i] = frame.size();
      ++sent;
    }
  }
  std::array<epoll_event, 1024> ready;
  std::array<char, 64 * 1024> buffer;
  while (echoed < config.messages) {
    int count = ::epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()), 1000);
    for (int i = 0; i < count; ++i) {
      std::size_t index = ready[static_cast<std::size_t>(i)].data.u64;
      ssize_t got = ::recv(sockets[index], buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (got == 0) {
        die("server side closed early");
      }
      if (got < 0) {
        continue;
      }
      pending_bytes[index] -= std::min(pending_bytes[index], static_cast<std::size_t>(got));
      if (pending_bytes[index] == 0) {
        ++echoed;
        if (sent < config.messages) {
          send_fully(sockets[index], frame.data(), frame.size());
          pending_bytes[index] = frame.size();
          ++sent;
        }
      }
    }
  }
  ::close(epoll_fd);
}

int run_client(const Config& config, std::uint16_t port, int control) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> sockets;
  for (std::size_t i = 0; i < config.conns; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      bench::bind_loopback_source(fd, i);
    }
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
      die("client connect");
    }
    set_no_delay(fd);
    sockets.push_back(fd);
  }
  write_all(control, "R", 1);
  Cpu start = own_cpu();
  if (config.mode == "echo") {
    send_echoes(config, sockets);
  } else {
    receive_rounds(config, sockets, control);
  }
  Cpu used = since(start);
  char line[128];
  int length = std::snprintf(line, sizeof line, "%.6f %.6f\n", used.user_s, used.system_s);
  write_all(control, line, static_cast<std::size_t>(length));
  for (int fd : sockets) {
    ::close(fd);
  }
  return 0;
}

// --- the server side (this process) -------------------------------------------------------------

// Sends the rounds; returns the number of frames delivered.
std::uint64_t send_rounds(const Config& config, const std::vector<int>& sockets, int control) {
  const std::string frame = make_frame(config.frame_bytes);
  const std::size_t per_call = config.mode == "writev" ? config.batch : 1;
  std::vector<iovec> frames(per_call, iovec{const_cast<char*>(frame.data()), frame.size()});
  for (std::size_t round = 0; round < config.rounds; round += per_call) {
    for (int fd : sockets) {
      if (per_call == 1) {
        send_fully(fd, frame.data(), frame.size());
      } else {
        writev_fully(fd, frames);
      }
    }
    if (read_byte(control) != 'A') {
      throw std::runtime_error("unexpected byte from the client process");
    }
  }
  return config.rounds * sockets.size();
}

// Echoes whatever arrives until the client reports that it is done; returns the echoes.
std::uint64_t echo_until_done(const Config& config, const std::vector<int>& sockets, int control) {
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : sockets) {
    epoll_event event{EPOLLIN, {.fd = fd}};
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  }
  epoll_event control_event{EPOLLIN, {.fd = control}};
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, control, &control_event);
  std::array<epoll_event, 1024> ready;
  std::array<char, 64 * 1024> buffer;
  std::uint64_t bytes = 0;
  bool done = false;
  while (!done) {
    int count = ::epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()), 1000);
    for (int i = 0; i < count; ++i) {
      int fd = ready[static_cast<std::size_t>(i)].data.fd;
      if (fd == control) {
        done = true;
        continue;
      }
      ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (got > 0) {
        send_fully(fd, buffer.data(), static_cast<std::size_t>(got));
        bytes += static_cast<std::uint64_t>(got);
      }
    }
  }
  ::close(epoll_fd);
  return bytes / config.frame_bytes;
}

json::object side_report(const Cpu& cpu, std::uint64_t frames) {
  double total = cpu.user_s + cpu.system_s;
  return {{"cpu_user_s", cpu.user_s},
          {"cpu_system_s", cpu.system_s},
          {"cpu_s", total},
          {"cpu_us_per_frame", frames > 0 ? 1e6 * total / static_cast<double>(frames) : 0.0}};
}

json::object run(const Config& config) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0 ||
      ::listen(listener, SOMAXCONN) < 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    die("listen");
  }
  int control_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control_pair) < 0) {
    die("socketpair");
  }
  std::fflush(stdout);
  pid_t child = ::fork();
  if (child < 0) {
    die("fork");
  }
  if (child == 0) {
    ::close(listener);
    ::close(control_pair[0]);
    int status = 1;
    try {
      status = run_client(config, ntohs(address.sin_port), control_pair[1]);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "bench_floor client: %s\n", error.what());
    }
    std::_Exit(status);
  }
  ::close(control_pair[1]);
  int control = control_pair[0];

  std::vector<int> sockets;
  for (std::size_t i = 0; i < config.conns; ++i) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      die("accept");
    }
    set_no_delay(fd);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    sockets.push_back(fd);
  }
  ::close(listener);
  if (read_byte(control) != 'R') {
    throw std::runtime_error("client process not ready");
  }

  Cpu start = own_cpu();
  auto wall_start = Clock::now();
  std::uint64_t frames = config.mode == "echo" ? echo_until_done(config, sockets, control)
                                               : send_rounds(config, sockets, control);
  double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();
  Cpu server = since(start);

  std::string line;
  for (char byte = read_byte(control); byte != '\n'; byte = read_byte(control)) {
    if (byte != 'A') {  // round acks may precede the report
      line.push_back(byte);
    }
  }
  Cpu client;
  std::sscanf(line.c_str(), "%lf %lf", &client.user_s, &client.system_s);
  int status = 0;
  ::waitpid(child, &status, 0);
  for (int fd : sockets) {
    ::close(fd);
  }
  ::close(control);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("client process failed");
  }
  return {{"mode", config.mode},
          {"conns", config.conns},
          {"frame_bytes", config.frame_bytes},
          {"frames_per_call", config.mode == "writev" ? config.batch : 1},
          {"frames", frames},
          {"wall_s", wall},
          {"frames_per_s", wall > 0 ? static_cast<double>(frames) / wall : 0.0},
          {"server", side_report(server, frames)},
          {"client", side_report(client, frames)}};
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App cli{"the physical floor: loopback TCP cost of the benchmark's frames, no protocol"};
  cli.require_subcommand(1);
  auto* send = cli.add_subcommand("send", "one send() per frame per socket, one round in flight");
  auto* writev = cli.add_subcommand("writev", "--batch frames per writev() per socket, one batch in flight");
  auto* echo = cli.add_subcommand("echo", "recv()+send() per message, one message in flight per socket");
  for (auto* mode : {send, writev, echo}) {
    mode->add_option("--conns", config.conns, "sockets")->check(CLI::Range(1, 1'000'000));
    mode->add_option("--frame-bytes", config.frame_bytes, "bytes per frame, header included")
        ->check(CLI::Range(40, 60'000));
  }
  for (auto* mode : {send, writev}) {
    mode->add_option("--rounds", config.rounds, "frames per socket")->check(CLI::PositiveNumber);
  }
  writev->add_option("--batch", config.batch, "frames per writev()")->check(CLI::Range(1, 1024));
  echo->add_option("--messages", config.messages, "echoes in all")->check(CLI::PositiveNumber);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return cli.exit(error) == 0 ? 0 : 2;
  }
  config.mode = cli.get_subcommands().front()->get_name();
  if (config.mode == "writev") {
    config.rounds = (config.rounds + config.batch - 1) / config.batch * config.batch;  // whole batches
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  try {
    std::puts(json::serialize(run(config)).c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_floor: %s\n", error.what());
    return 1;
  }
  return 0;
}
