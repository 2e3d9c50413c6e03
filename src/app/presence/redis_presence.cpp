#include "app/presence/redis_presence.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "app/presence/user_ids.h"
#include "core/random_id.h"

namespace iogate::app {

namespace asio = boost::asio;
using redis::Reply;

namespace {

// Shared by every script. ARGV[1] is always the key prefix.
constexpr std::string_view kPrelude = R"lua(
local prefix = ARGV[1]
local nodes_key = prefix .. ':nodes'
local epoch_key = prefix .. ':epoch'
local recovering_key = prefix .. ':recovering'
local function user_key(nsp, user) return prefix .. ':presence:' .. nsp .. ':user:' .. user end
local function users_key(nsp) return prefix .. ':presence:' .. nsp .. ':users' end
local function count_key(nsp) return prefix .. ':presence:' .. nsp .. ':connections' end
local function names_key(nsp) return prefix .. ':presence:' .. nsp .. ':names' end
local function offline_key(nsp, user) return prefix .. ':presence:' .. nsp .. ':offline:' .. user end
local function sockets_key(node) return prefix .. ':node:' .. node .. ':sockets' end
local function guide_set(nsp, guide_user)
  return 'socket:connections:' .. string.gsub(nsp, '^/', '') .. ':' .. guide_user
end

-- The epoch of this Redis's presence state: `proposal` when there was none (Redis lost its state,
-- or never had one), which opens a recovery window of `window` ms.
local function current_epoch(proposal, window)
  if redis.call('SET', epoch_key, proposal, 'NX') then
    redis.call('SET', recovering_key, '1', 'PX', window)
    return proposal
  end
  return redis.call('GET', epoch_key)
end

-- Records a connection unless it is recorded; true when it brought its user online.
local function record(nsp, user, guide_user, sid, node, since, username)
  if redis.call('HSETNX', user_key(nsp, user), sid, since .. ' ' .. node) == 0 then return false end
  redis.call('HSET', sockets_key(node), sid, since .. '\n' .. nsp .. '\n' .. user .. '\n' .. guide_user)
  redis.call('SADD', nodes_key, node)
  redis.call('INCR', count_key(nsp))
  redis.call('SADD', guide_set(nsp, guide_user), sid)
  redis.call('SET', 'socket:user:' .. sid,
             '{"userId":' .. user .. ',"namespace":' .. cjson.encode((string.gsub(nsp, '^/', ''))) .. '}')
  redis.call('HSET', names_key(nsp), user, username)
  return redis.call('SADD', users_key(nsp), user) == 1
end

-- Forgets a connection everywhere. When it was its user's last, returns {username} (false when
-- none is stored) and, in a recovery window and unless the connection is being `replaced`, leaves
-- the user's offline tombstone; else false.
local function forget(nsp, user, guide_user, sid, replaced)
  local key = user_key(nsp, user)
  local value = redis.call('HGET', key, sid)
  if not value then return false end
  redis.call('HDEL', key, sid)
  redis.call('HDEL', sockets_key(string.match(value, '^%d+ (.*)$')), sid)
  redis.call('DECR', count_key(nsp))
  redis.call('SREM', guide_set(nsp, guide_user), sid)
  redis.call('DEL', 'socket:user:' .. sid)
  if redis.call('EXISTS', key) == 1 then return false end
  redis.call('SREM', users_key(nsp), user)
  local username = redis.call('HGET', names_key(nsp), user)
  redis.call('HDEL', names_key(nsp), user)
  if not replaced then
    local window = redis.call('PTTL', recovering_key)
    if window > 0 then redis.call('SET', offline_key(nsp, user), '1', 'PX', window) end
  end
  return {username}
end
)lua";

// ARGV: prefix, nsp, user, guide user, socket id, node, now (ms), limit (0: none), evict (1|0),
// username. Returns {'first'|'added'|'refused', evicted socket id or ''}.
constexpr std::string_view kAdd = R"lua(
local nsp, user, guide_user = ARGV[2], ARGV[3], ARGV[4]
local limit = tonumber(ARGV[8])
local count = redis.call('HLEN', user_key(nsp, user))
local evicted = ''
if limit > 0 and count >= limit then
  if ARGV[9] ~= '1' then return {'refused', ''} end
  local fields = redis.call('HGETALL', user_key(nsp, user))
  local oldest_since
  for i = 1, #fields, 2 do
    local since = tonumber(string.match(fields[i + 1], '^(%d+)'))
    if evicted == '' or since < oldest_since or (since == oldest_since and fields[i] < evicted) then
      evicted, oldest_since = fields[i], since
    end
  end
  forget(nsp, user, guide_user, evicted, true)
end
record(nsp, user, guide_user, ARGV[5], ARGV[6], ARGV[7], ARGV[10])
-- Decided before the eviction: a replaced connection does not make the user new again.
if count == 0 then return {'first', evicted} end
return {'added', evicted}
)lua";

// ARGV: prefix, nsp, user, guide user, socket id. Returns 1 when it was the user's last.
constexpr std::string_view kRemove = R"lua(
if forget(ARGV[2], ARGV[3], ARGV[4], ARGV[5], false) then return 1 end
return 0
)lua";

// ARGV: prefix, node, epoch proposal, recovery window (ms).
// Returns {epoch, socket id, "<since>\n<nsp>\n<user>\n<guide user>", ...}: this node's records.
constexpr std::string_view kSnapshot = R"lua(
local records = redis.call('HGETALL', sockets_key(ARGV[2]))
table.insert(records, 1, current_epoch(ARGV[3], ARGV[4]))
return records
)lua";

// ARGV: prefix, node, then per connection: nsp, user, guide user, socket id, since (ms), username,
// 'new' or 'restore' (its user was announced online and Redis lost the record).
// Returns {nsp, user, ...}: the users to announce online: brought online by a new connection, or
// by a restored one when they were announced offline meanwhile (their tombstone).
constexpr std::string_view kRegister = R"lua(
local online = {}
for i = 3, #ARGV, 7 do
  local nsp, user = ARGV[i], ARGV[i + 1]
  if record(nsp, user, ARGV[i + 2], ARGV[i + 3], ARGV[2], ARGV[i + 4], ARGV[i + 5])
      and (ARGV[i + 6] == 'new' or redis.call('EXISTS', offline_key(nsp, user)) == 1) then
    table.insert(online, nsp)
    table.insert(online, user)
  end
end
return online
)lua";

// ARGV: prefix, then per record: nsp, user, guide user, socket id.
// Returns {nsp, user, username or nil, ...}: the users it left with no connection.
constexpr std::string_view kForget = R"lua(
local gone = {}
for i = 2, #ARGV, 4 do
  local last = forget(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], false)
  if last then
    table.insert(gone, ARGV[i])
    table.insert(gone, ARGV[i + 1])
    table.insert(gone, last[1])
  end
end
return gone
)lua";

// ARGV: prefix, node, heartbeat ttl (ms), sweep (1|0), budget, epoch proposal, recovery window (ms).
// Renews this node's heartbeat; when sweeping, forgets at most `budget` records of nodes whose
// heartbeat has expired. Returns {more (1|0), nsp, user, username or nil, ...}: whether records of
// stopped nodes remain, then the users it left with no connection.
constexpr std::string_view kHeartbeat = R"lua(
current_epoch(ARGV[6], ARGV[7])
redis.call('SET', prefix .. ':node:' .. ARGV[2], '1', 'PX', ARGV[3])
redis.call('SADD', nodes_key, ARGV[2])
local result = {0}
if ARGV[4] ~= '1' then return result end
local budget = tonumber(ARGV[5])
for _, node in ipairs(redis.call('SMEMBERS', nodes_key)) do
  if redis.call('EXISTS', prefix .. ':node:' .. node) == 0 then
    if budget <= 0 then
      result[1] = 1
      break
    end
    local fields = redis.call('HRANDFIELD', sockets_key(node), budget, 'WITHVALUES')
    for i = 1, #fields, 2 do
      local nsp, user, guide_user = string.match(fields[i + 1], '^%d+\n([^\n]*)\n([^\n]*)\n(.*)$')
      local last = forget(nsp, user, guide_user, fields[i], false)
      if last then
        table.insert(result, nsp)
        table.insert(result, user)
        table.insert(result, last[1])
      end
      redis.call('HDEL', sockets_key(node), fields[i])
    end
    budget = budget - #fields / 2
    if redis.call('EXISTS', sockets_key(node)) == 0 then
      redis.call('SREM', nodes_key, node)
    else
      result[1] = 1
    end
  end
end
return result
)lua";

struct Scripts {
  Script add, remove, snapshot, record, forget, heartbeat;
};

const Scripts& scripts() {
  auto with_prelude = [](std::string_view body) { return Script(std::string(kPrelude) + std::string(body)); };
  static const Scripts all{with_prelude(kAdd),      with_prelude(kRemove), with_prelude(kSnapshot),
                           with_prelude(kRegister), with_prelude(kForget), with_prelude(kHeartbeat)};
  return all;
}

// Records per reconcile script: big enough to be few, small enough not to stall Redis.
constexpr std::size_t kReconcileChunk = 500;
// Sweep rounds per heartbeat; what remains waits for the next one.
constexpr int kMaxSweepRounds = 20;

std::int64_t to_millis(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::int64_t number_prefix(std::string_view text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string guide_user(const std::string& user) { return user_key(id_from_presence(user)); }

// Any answer other than the script's own result or Redis being away is a bug: say so.
void log_unexpected(std::string_view what, const Reply& reply) {
  if (reply.type != Reply::Type::io_error) {
    spdlog::error("event=presence-script-failed script={} error=\"{}\"", what, reply.str);
  }
}

// {nsp, user, nsp, user, ...} from element `from` on; with `named`, {nsp, user, username or nil, ...}.
std::vector<PresenceUser> users_in(const Reply& reply, std::size_t from, bool named = false) {
  std::vector<PresenceUser> users;
  const std::size_t stride = named ? 3 : 2;
  for (std::size_t i = from; i + stride - 1 < reply.elements.size(); i += stride) {
    PresenceUser user{reply.elements[i].str, reply.elements[i + 1].str, std::nullopt};
    if (named && reply.elements[i + 2].type == Reply::Type::string) {
      user.username = reply.elements[i + 2].str;
    }
    users.push_back(std::move(user));
  }
  return users;
}

}  // namespace

// Lives on the home loop; `link` and `options` never change and are read from any thread.
struct RedisPresence::Core : std::enable_shared_from_this<Core> {
  Core(RedisLink& redis_link, RedisPresenceOptions presence_options)
      : link(redis_link), options(std::move(presence_options)), heartbeat_timer(redis_link.home()) {
    if (options.node_id.empty()) {
      options.node_id = core::random_id(12);
    }
  }

  void start() {
    link.on_state([weak = weak_from_this()](bool up) {
      if (auto core = weak.lock(); core && up) {
        core->link_up();
      }
    });
    asio::dispatch(link.home(), [weak = weak_from_this()] {
      if (auto core = weak.lock()) {
        core->schedule_heartbeat();
      }
    });
  }

  void link_up() {
    sweep_after = std::chrono::steady_clock::now() + options.heartbeat_ttl;
    heartbeat(false, 1);  // before anything the resync records
    if (resync_needed) {
      resync_needed();
    }
  }

  void schedule_heartbeat() {
    heartbeat_timer.expires_after(options.heartbeat_interval);
    heartbeat_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto core = weak.lock();
      if (ec || !core) {
        return;
      }
      if (core->link.connected()) {
        core->heartbeat(std::chrono::steady_clock::now() >= core->sweep_after, 1);
      }
      core->schedule_heartbeat();
    });
  }

  void heartbeat(bool sweep, int round) {
    link.eval(scripts().heartbeat, {},
              {options.prefix, options.node_id, std::to_string(options.heartbeat_ttl.count()), sweep ? "1" : "0",
               std::to_string(options.sweep_budget), core::random_id(16),
               std::to_string(options.recovery_window.count())},
              [weak = weak_from_this(), round](Reply reply) {
                auto core = weak.lock();
                if (!core) {
                  return;
                }
                if (reply.type != Reply::Type::array || reply.elements.empty()) {
                  log_unexpected("heartbeat", reply);
                  return;
                }
                auto gone = users_in(reply, 1, true);
                if (!gone.empty()) {
                  spdlog::info("event=presence-sweep users={}", gone.size());
                  if (core->users_gone) {
                    core->users_gone(std::move(gone));
                  }
                }
                if (reply.elements[0].integer == 1 && round < kMaxSweepRounds) {
                  core->heartbeat(true, round + 1);
                }
              });
  }

  RedisLink& link;
  RedisPresenceOptions options;
  asio::steady_timer heartbeat_timer;
  std::chrono::steady_clock::time_point sweep_after;
  // The epoch this node's records were last all in Redis (a reconcile found or made each one).
  std::string records_epoch;
  std::function<void(std::vector<PresenceUser>)> users_gone;
  std::function<void()> resync_needed;
};

RedisPresence::RedisPresence(RedisLink& link, RedisPresenceOptions options)
    : core_(std::make_shared<Core>(link, std::move(options))) {
  core_->start();
}

RedisPresence::~RedisPresence() = default;

const std::string& RedisPresence::node_id() const noexcept { return core_->options.node_id; }

void RedisPresence::on_users_gone(std::function<void(std::vector<PresenceUser>)> handler) {
  core_->users_gone = std::move(handler);
}

void RedisPresence::on_resync_needed(std::function<void()> handler) { core_->resync_needed = std::move(handler); }

void RedisPresence::add(const std::string& nsp, const std::string& user, const std::string& username,
                        const std::string& socket_id, std::size_t limit, bool evict_oldest,
                        std::function<void(Added)> done) {
  const auto& options = core_->options;
  core_->link.eval(scripts().add, {},
                   {options.prefix, nsp, user, guide_user(user), socket_id, options.node_id,
                    std::to_string(to_millis(std::chrono::system_clock::now())), std::to_string(limit),
                    evict_oldest ? "1" : "0", username},
                   [done = std::move(done)](Reply reply) {
                     Added added;
                     if (reply.type != Reply::Type::array || reply.elements.size() != 2) {
                       log_unexpected("add", reply);
                       added.result = AddResult::unrecorded;
                     } else {
                       const auto& outcome = reply.elements[0].str;
                       added.result = outcome == "first"     ? AddResult::first_connection
                                      : outcome == "refused" ? AddResult::refused
                                                             : AddResult::added;
                       if (!reply.elements[1].str.empty()) {
                         added.evicted = reply.elements[1].str;
                       }
                     }
                     done(std::move(added));
                   });
}

void RedisPresence::remove(const std::string& nsp, const std::string& user, const std::string& socket_id,
                           std::function<void(bool last)> done) {
  core_->link.eval(scripts().remove, {}, {core_->options.prefix, nsp, user, guide_user(user), socket_id},
                   [done = std::move(done)](Reply reply) {
                     if (reply.type != Reply::Type::integer) {
                       log_unexpected("remove", reply);
                     }
                     done(reply.type == Reply::Type::integer && reply.integer == 1);
                   });
}

void RedisPresence::connections(const std::string& nsp, const std::string& user,
                                std::function<void(std::optional<std::vector<Connection>>)> done) {
  core_->link.command({"HGETALL", core_->options.prefix + ":presence:" + nsp + ":user:" + user},
                      [done = std::move(done)](Reply reply) {
                        if (reply.type != Reply::Type::array) {
                          done(std::nullopt);
                          return;
                        }
                        std::vector<Connection> found;
                        for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
                          std::chrono::system_clock::time_point since(
                              std::chrono::milliseconds(number_prefix(reply.elements[i + 1].str)));
                          found.push_back(Connection{reply.elements[i].str, since});
                        }
                        std::sort(found.begin(), found.end(), [](const Connection& a, const Connection& b) {
                          return std::tie(a.since, a.socket_id) < std::tie(b.since, b.socket_id);
                        });
                        done(std::move(found));
                      });
}

void RedisPresence::is_online(const std::string& nsp, const std::string& user,
                              std::function<void(std::optional<bool>)> done) {
  core_->link.command({"EXISTS", core_->options.prefix + ":presence:" + nsp + ":user:" + user},
                      [done = std::move(done)](Reply reply) {
                        done(reply.type == Reply::Type::integer ? std::optional<bool>(reply.integer == 1)
                                                                : std::nullopt);
                      });
}

void RedisPresence::online_users(const std::string& nsp,
                                 std::function<void(std::optional<std::vector<std::string>>)> done) {
  core_->link.command({"SMEMBERS", core_->options.prefix + ":presence:" + nsp + ":users"},
                      [done = std::move(done)](Reply reply) {
                        if (reply.type != Reply::Type::array) {
                          done(std::nullopt);
                          return;
                        }
                        std::vector<std::string> users;
                        for (auto& element : reply.elements) {
                          users.push_back(std::move(element.str));
                        }
                        std::sort(users.begin(), users.end());
                        done(std::move(users));
                      });
}

void RedisPresence::connection_count(const std::string& nsp, std::function<void(std::optional<std::size_t>)> done) {
  core_->link.command({"GET", core_->options.prefix + ":presence:" + nsp + ":connections"},
                      [done = std::move(done)](Reply reply) {
                        if (reply.type == Reply::Type::nil) {
                          done(0);
                        } else if (reply.type == Reply::Type::string) {
                          done(static_cast<std::size_t>(std::max<std::int64_t>(number_prefix(reply.str), 0)));
                        } else {
                          done(std::nullopt);
                        }
                      });
}

void RedisPresence::reconcile(std::vector<LiveConnection> live, std::chrono::system_clock::time_point cutoff,
                              std::function<void(PresenceChanges)> done) {
  const auto& options = core_->options;
  core_->link.eval(
      scripts().snapshot, {},
      {options.prefix, options.node_id, core::random_id(16), std::to_string(options.recovery_window.count())},
      [weak = std::weak_ptr(core_), live = std::move(live), cutoff_ms = to_millis(cutoff),
       done = std::move(done)](Reply reply) mutable {
        auto core = weak.lock();
        if (!core || reply.type != Reply::Type::array || reply.elements.empty() ||
            reply.elements[0].type != Reply::Type::string) {
          if (core) {
            log_unexpected("snapshot", reply);
          }
          done({});
          return;
        }
        std::string epoch = reply.elements[0].str;
        // Redis lost this node's records (it came back empty) when its epoch is not theirs.
        const bool state_lost = !core->records_epoch.empty() && epoch != core->records_epoch;
        // What Redis files under this node: socket id -> {since, nsp, user, guide user}.
        std::map<std::string, std::vector<std::string>> recorded;
        for (std::size_t i = 1; i + 1 < reply.elements.size(); i += 2) {
          std::vector<std::string> fields;
          std::string_view rest = reply.elements[i + 1].str;
          for (int field = 0; field < 3; ++field) {
            auto end = rest.find('\n');
            fields.emplace_back(rest.substr(0, end));
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
          }
          fields.emplace_back(rest);
          recorded.emplace(reply.elements[i].str, std::move(fields));
        }

        struct Progress {
          PresenceChanges changes;
          std::size_t waiting = 0;
          bool failed = false;
          std::string epoch;
          std::weak_ptr<Core> core;
          std::function<void(PresenceChanges)> done;
        };
        auto progress = std::make_shared<Progress>();

        // Recorded first, forgotten after, so that a user with a stale record and a live one does
        // not flap (the link keeps the order).
        std::vector<std::vector<std::string>> register_chunks;
        std::vector<std::vector<std::string>> register_sockets;  // per chunk: its socket ids
        std::set<std::string> live_ids;
        std::size_t restored = 0;
        for (const auto& connection : live) {
          live_ids.insert(connection.socket_id);
          if (recorded.contains(connection.socket_id)) {
            progress->changes.settled.push_back(connection.socket_id);
            continue;
          }
          if (register_chunks.empty() || register_sockets.back().size() >= kReconcileChunk) {
            register_chunks.push_back({core->options.prefix, core->options.node_id});
            register_sockets.emplace_back();
          }
          const bool restore = state_lost && connection.announced;
          restored += restore ? 1 : 0;
          register_chunks.back().insert(register_chunks.back().end(),
                                        {connection.nsp, connection.user, guide_user(connection.user),
                                         connection.socket_id, std::to_string(to_millis(connection.since)),
                                         connection.username, restore ? "restore" : "new"});
          register_sockets.back().push_back(connection.socket_id);
        }
        if (state_lost) {
          spdlog::info("event=presence-state-lost epoch={} restored={} note=\"Redis came back without this node's "
                       "records: connections whose users were announced come back silently\"",
                       epoch, restored);
        }
        std::vector<std::vector<std::string>> forget_chunks;
        for (const auto& [socket_id, fields] : recorded) {
          if (live_ids.contains(socket_id) || number_prefix(fields[0]) >= cutoff_ms) {
            continue;
          }
          if (forget_chunks.empty() || forget_chunks.back().size() >= 1 + 4 * kReconcileChunk) {
            forget_chunks.push_back({core->options.prefix});
          }
          forget_chunks.back().insert(forget_chunks.back().end(), {fields[1], fields[2], fields[3], socket_id});
        }

        progress->waiting = register_chunks.size() + forget_chunks.size();
        progress->epoch = std::move(epoch);
        progress->core = weak;
        progress->done = std::move(done);
        // Every reply comes on the home loop: no lock.
        auto finish = [](Progress& state) {
          if (auto owner = state.core.lock(); owner && !state.failed) {
            owner->records_epoch = state.epoch;
          }
          state.done(std::move(state.changes));
        };
        if (progress->waiting == 0) {
          finish(*progress);
          return;
        }
        auto answered = [progress, finish](Reply answer, const char* what, auto&& use) {
          if (answer.type == Reply::Type::array) {
            use(answer);
          } else {
            progress->failed = true;
            log_unexpected(what, answer);
          }
          if (--progress->waiting == 0) {
            finish(*progress);
          }
        };
        for (std::size_t chunk = 0; chunk < register_chunks.size(); ++chunk) {
          core->link.eval(scripts().record, {}, std::move(register_chunks[chunk]),
                          [progress, answered, sockets = std::move(register_sockets[chunk])](Reply answer) mutable {
                            answered(std::move(answer), "register", [&](const Reply& users) {
                              auto& changes = progress->changes;
                              for (auto& user : users_in(users, 0)) {
                                changes.online.push_back(std::move(user));
                              }
                              changes.settled.insert(changes.settled.end(), sockets.begin(), sockets.end());
                            });
                          });
        }
        for (auto& args : forget_chunks) {
          core->link.eval(scripts().forget, {}, std::move(args), [progress, answered](Reply answer) {
            answered(std::move(answer), "forget", [&](const Reply& users) {
              for (auto& user : users_in(users, 0, true)) {
                progress->changes.offline.push_back(std::move(user));
              }
            });
          });
        }
      });
}

}  // namespace iogate::app
