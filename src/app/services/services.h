#pragma once
// What the business back end asks of the real-time layer (the guide's SocketService,
// NotificationService, RealtimeDataService, event listener and batch service), on the
// Socket.IO API. Thread-safe: the HTTP API calls it from any shard.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "app/gateway/gateway.h"

namespace iogate::app {

struct EmitTarget {
  std::string nsp = "/admin";
  bool addressed = false;  // rooms or users were given: an empty selection then reaches nobody
  std::vector<std::string> rooms;
  std::vector<boost::json::value> users;  // user ids: their rooms user:<id>
  std::vector<std::string> except;        // rooms
  bool is_volatile = false;
};

struct Notification {
  std::string title;
  std::string message;
  std::string type;  // info, success, warning, error
  boost::json::value data;  // null: none
};

struct BatchMessage {
  std::string nsp = "/admin";
  std::optional<boost::json::value> user_id;
  std::optional<std::string> room_id;
  std::string event;
  boost::json::value data;
};

class Services {
 public:
  Services(Gateway& gateway, std::size_t batch_size);

  void emit(const EmitTarget& target, const std::string& event, const boost::json::value& data);

  void notify_all(const std::string& nsp, const Notification& notification);
  void notify_users(const std::string& nsp, const std::vector<boost::json::value>& user_ids,
                    const Notification& notification);
  void notify_room(const std::string& nsp, const std::string& room_id, const Notification& notification);

  // data:update {type, data, timestamp} to the users given, or to everyone.
  void data_update(const std::string& nsp, const std::string& type, const boost::json::value& data,
                   const std::vector<boost::json::value>& target_users);
  // stats:online-users {total, users, timestamp}: to every node's clients, or to this node's
  // (a periodic push that every node makes for its own clients). Sent once the presence store
  // answers; skipped when it does not.
  enum class Reach { cluster, this_node };
  void push_online_users(const std::string& nsp, Reach reach = Reach::cluster);

  // Closes every connection of the user in `nsp` (every shard, every node).
  void disconnect_user(const std::string& nsp, const boost::json::value& user_id);

  // The guide's business events, with exactly its listener's effects. Returns an error text
  // when the payload lacks what the event needs.
  std::optional<std::string> business_event(const std::string& nsp, const std::string& name,
                                            const boost::json::object& payload);

  // The batch queue: sent at `batch_size` messages or by flush() (the binary calls it every
  // batch interval).
  void enqueue(std::vector<BatchMessage> messages);
  std::size_t flush();

  Gateway& gateway() noexcept { return gateway_; }

 private:
  void send(const BatchMessage& message);

  Gateway& gateway_;
  std::size_t batch_size_;
  std::mutex batch_mutex_;
  std::mutex flush_mutex_;  // one flush at a time, so batches go out in order
  std::vector<BatchMessage> batch_;
};

}  // namespace iogate::app
