#pragma once
// Spreads a benchmark's client sockets over loopback source addresses.
//
// With every connection going from 127.0.0.1 to one server port, the kernel's search for a free
// ephemeral port grows with the connections already open: 19,000 connects cost 6 s of system
// time, most of it in that search. Binding each socket to one of 250 source addresses
// (127.0.0.2 … 127.0.0.251, all local without configuration) keeps every search short;
// IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), which knows the destination.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace bench {

// Returns false when the kernel refused (the socket then connects from the default address).
inline bool bind_loopback_source(int fd, std::size_t index) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl((127u << 24) | static_cast<unsigned>(2 + index % 250));
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0;
}

}  // namespace bench
