// An in-process network of Membership state machines with a simulated clock
// and a fault-injecting message layer (delay, drop, partition, kill), for the
// SWIM tests. Deterministic: one seed, no threads, no sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "mesh/membership.h"

namespace radixmesh::mesh::testing {

class MembershipSim {
 public:
  struct Event {
    uint64_t at;
    NodeId observer, subject;
    MemberState state;
  };

  explicit MembershipSim(int n, MembershipConfig cfg = {}, uint64_t seed = 7) : cfg_(cfg) {
    for (int i = 0; i < n; ++i) {
      NodeId id = "n";
      id += std::to_string(i);
      add_node(id, seed + i, 1000);
    }
  }

  void add_node(const NodeId& id, uint64_t seed, uint64_t incarnation) {
    auto node = std::make_unique<Node>();
    node->sender.sim = this;
    node->sender.from = id;
    node->m =
        std::make_unique<Membership>(cfg_, id, id + ":7946", incarnation, node->sender, seed,
                                     [this, id](const MemberInfo& m, std::optional<MemberState>) {
                                       events.push_back(Event{now, id, m.id, m.state});
                                     });
    nodes_[id] = std::move(node);
  }

  // Simulates a completed handshake between a and b (what the transport does).
  void connect(const NodeId& a, const NodeId& b) {
    auto& A = *nodes_.at(a);
    auto& B = *nodes_.at(b);
    A.m->on_connected(b, b + ":7946", B.m->incarnation(), now);
    B.m->on_connected(a, a + ":7946", A.m->incarnation(), now);
  }

  // Delay of a one-way message, or nullopt to drop it.
  std::function<std::optional<uint64_t>(const NodeId& from, const NodeId& to)> link =
      [](const NodeId&, const NodeId&) { return std::optional<uint64_t>(5); };

  void partition(std::set<NodeId> side_a) {
    link = [side_a](const NodeId& f, const NodeId& t) -> std::optional<uint64_t> {
      if (side_a.count(f) != side_a.count(t)) return std::nullopt;
      return 5;
    };
  }
  void heal() {
    link = [](const NodeId&, const NodeId&) { return std::optional<uint64_t>(5); };
  }
  void kill(const NodeId& id) { nodes_.at(id)->down = true; }
  void remove(const NodeId& id) { nodes_.erase(id); }

  Membership& node(const NodeId& id) { return *nodes_.at(id)->m; }

  void run_for(uint64_t ms, uint64_t step = 10) {
    const uint64_t end = now + ms;
    while (now < end) {
      now += step;
      deliver();
      for (auto& [id, n] : nodes_)
        if (!n->down) n->m->tick(now);
    }
  }
  // Runs until pred() holds or max_ms passes; returns the time taken or nullopt.
  std::optional<uint64_t> run_until(const std::function<bool()>& pred, uint64_t max_ms) {
    const uint64_t start = now;
    while (now - start < max_ms) {
      run_for(10);
      if (pred()) return now - start;
    }
    return std::nullopt;
  }

  // State of `subject` as `observer` sees it (nullopt: unknown).
  std::optional<MemberState> view(const NodeId& observer, const NodeId& subject) {
    const MemberInfo* m = nodes_.at(observer)->m->find(subject);
    if (!m) return std::nullopt;
    return m->state;
  }
  bool all_see(const std::vector<NodeId>& observers, const NodeId& subject, MemberState s) {
    for (const auto& o : observers)
      if (o != subject && view(o, subject) != s) return false;
    return true;
  }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, n] : nodes_) out.push_back(id);
    return out;
  }
  int count_events(const NodeId& subject, MemberState s) const {
    int c = 0;
    for (const auto& e : events)
      if (e.subject == subject && e.state == s) ++c;
    return c;
  }
  // Injects a frame as if `from` had sent it to `to` right now.
  void inject(const NodeId& from, const NodeId& to, FrameType t, std::string payload) {
    nodes_.at(to)->m->on_frame(from, t, payload, now);
  }

  uint64_t now = 0;
  std::vector<Event> events;
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;

 private:
  struct Sender : PeerSender {
    MembershipSim* sim = nullptr;
    NodeId from;
    bool send(const NodeId& to, FrameType type, std::string payload) override {
      return sim->enqueue(from, to, type, std::move(payload));
    }
  };
  struct Node {
    Sender sender;
    std::unique_ptr<Membership> m;
    bool down = false;
  };
  struct Msg {
    uint64_t at, order;
    NodeId from, to;
    FrameType type;
    std::string payload;
    bool operator>(const Msg& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  bool enqueue(const NodeId& from, const NodeId& to, FrameType type, std::string payload) {
    ++messages_sent;
    bytes_sent += 16 + payload.size();  // frame header + payload
    auto d = link(from, to);
    if (!d) return true;  // lost on the way: the sender cannot tell
    queue_.push(Msg{now + *d, order_++, from, to, type, std::move(payload)});
    return true;
  }
  void deliver() {
    while (!queue_.empty() && queue_.top().at <= now) {
      Msg m = queue_.top();
      queue_.pop();
      auto f = nodes_.find(m.from);
      auto t = nodes_.find(m.to);
      if (t == nodes_.end() || t->second->down) continue;
      if (f != nodes_.end() && f->second->down) continue;
      t->second->m->on_frame(m.from, m.type, m.payload, now);
    }
  }

  MembershipConfig cfg_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::priority_queue<Msg, std::vector<Msg>, std::greater<Msg>> queue_;
  uint64_t order_ = 0;
};

}  // namespace radixmesh::mesh::testing
