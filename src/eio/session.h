#pragma once
// One Engine.IO session: its transport (polling or WebSocket), its write buffer, its heartbeat
// and the polling→WebSocket upgrade.
//
// Shard-confined. Owned by its shard's SessionTable (shared_ptr, so that timer and transport
// callbacks can keep it alive until they return); others hold its id.
//
// Upgrade, as a table (events on the probe WebSocket while polling carries the session):
//   state      event            action                                   next
//   none       ws opened        keep it as probe, arm upgrade_timeout    probing
//   probing    "2probe"         send "3probe", answer pending GET "6",   probed
//                               re-check every 100 ms
//   probing    anything else    close probe                              none
//   probed     "5"              switch to the WebSocket, flush buffer    upgraded
//   probed     anything else    close probe                              none
//   probing/probed  timeout     close probe                              none
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "eio/connection.h"
#include "eio/deadline_queue.h"
#include "eio/server.h"
#include "net/ws_connection.h"

namespace iogate::eio {

class Session;

class SessionTable {
 public:
  SessionTable(Server& server, std::size_t shard);

  std::shared_ptr<Session> find(const std::string& sid) const;
  void add(std::shared_ptr<Session> session);
  void erase(const std::string& sid);
  std::size_t size() const noexcept { return sessions_.size(); }
  Server& server() noexcept { return server_; }
  std::size_t shard() const noexcept { return shard_; }
  void close_all(std::string_view reason);

  // The shard's heartbeat deadlines, one queue per delay.
  DeadlineQueue& next_ping() noexcept { return next_ping_; }          // v4: ping_interval
  DeadlineQueue& pong_wait() noexcept { return pong_wait_; }          // v4 pong, polling close: ping_timeout
  DeadlineQueue& v3_ping_wait() noexcept { return v3_ping_wait_; }    // v3: interval + timeout

 private:
  Server& server_;
  std::size_t shard_;
  DeadlineQueue next_ping_;
  DeadlineQueue pong_wait_;
  DeadlineQueue v3_ping_wait_;
  // Keyed by a view of each session's own id.
  std::unordered_map<std::string_view, std::shared_ptr<Session>> sessions_;
};

class Session final : public Connection, public std::enable_shared_from_this<Session> {
 public:
  enum class Transport : std::uint8_t { polling, websocket };

  Session(SessionTable& table, std::string sid, Revision revision, Transport transport,
          Handshake handshake, bool supports_binary);
  ~Session();

  // Connection
  const std::string& id() const noexcept override { return sid_; }
  const std::shared_ptr<const Handshake>& handshake() const noexcept override { return handshake_; }
  Revision revision() const noexcept override { return revision_; }
  std::size_t shard() const noexcept override { return table_.shard(); }
  boost::asio::io_context& context() noexcept override;
  void send(const SharedPacket& packet) override;
  bool writable() const noexcept override;
  void close() override;

  Transport transport() const noexcept { return transport_; }
  bool upgrading() const noexcept { return upgrade_state_ != UpgradeState::none; }
  bool upgraded() const noexcept { return transport_ == Transport::websocket && upgraded_; }

  // Starts the session: sends the open packet and calls the server's connection factory.
  void open(const std::shared_ptr<net::HttpConnection>& handshake_request, const net::HttpRequest& request,
            const std::shared_ptr<net::WsConnection>& websocket);

  void on_poll(const std::shared_ptr<net::HttpConnection>& connection, const net::HttpRequest& request);
  void on_data(const std::shared_ptr<net::HttpConnection>& connection, const net::HttpRequest& request);
  void on_upgrade_websocket(const std::shared_ptr<net::WsConnection>& websocket);

  // Ends the session at once for `reason` (errors, timeouts); the pending poll gets "1".
  void fail(std::string_view reason);

 private:
  enum class UpgradeState : std::uint8_t { none, probing, probed };
  class WsTransport;
  class ProbeTransport;
  // The session's one heartbeat deadline (next ping, pong wait, v3 ping wait or a polling
  // close waiting for its last poll), in one of the table's queues.
  class Heartbeat final : public DeadlineQueue::Entry {
   public:
    explicit Heartbeat(Session& session) : session_(session) {}
    void on_expired() override;

   private:
    Session& session_;
  };
  // Only while a probe WebSocket is being upgraded to.
  struct UpgradeTimers {
    explicit UpgradeTimers(boost::asio::io_context& context) : timeout(context), noop(context) {}
    boost::asio::steady_timer timeout;
    boost::asio::steady_timer noop;
  };

  void on_packet(const PacketView& packet);
  void on_ws_message(bool binary, std::string_view payload);
  void on_probe_message(bool binary, std::string_view payload);
  void on_probe_closed();
  void finish_upgrade();
  void abort_upgrade();
  void check_upgrade_noop();

  void schedule_ping();
  void on_heartbeat_timer();
  void reset_v3_timeout();

  void schedule_poll_flush();
  void flush_poll();
  void answer_poll(const std::vector<SharedPacket>& packets);
  void send_on_websocket(const SharedPacket& packet);
  void finish(std::string_view reason);
  void add_headers(const net::HttpRequest& request, net::NameValueList& headers) const;

  SessionTable& table_;
  std::string sid_;
  Revision revision_;
  Transport transport_;
  std::shared_ptr<const Handshake> handshake_;
  bool supports_binary_;  // v3 polling: binary payloads allowed (no b64 in the query)
  bool upgraded_ = false;
  bool closing_ = false;  // flushing before a server-side close
  bool closed_ = false;
  bool awaiting_pong_ = false;
  bool poll_flush_scheduled_ = false;
  UpgradeState upgrade_state_ = UpgradeState::none;

  std::unique_ptr<ConnectionHandler> handler_;
  std::vector<SharedPacket> write_buffer_;
  std::shared_ptr<net::HttpConnection> pending_poll_;
  net::NameValueList pending_poll_headers_;  // CORS headers for the pending poll's answer
  std::shared_ptr<net::WsConnection> websocket_;
  std::unique_ptr<WsTransport> ws_transport_;
  std::shared_ptr<net::WsConnection> probe_;
  std::unique_ptr<ProbeTransport> probe_transport_;
  Heartbeat heartbeat_{*this};
  std::unique_ptr<UpgradeTimers> upgrade_timers_;
  std::size_t buffered_bytes_ = 0;         // in write_buffer_
};

}  // namespace iogate::eio
