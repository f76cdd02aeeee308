// PeerSender / SyncHandler: the seam between the wire layer (transport,
// membership, MeshNode) and the sync engine (deltas, anchors, snapshots, load).
//
// Ownership: MeshNode owns both sides. The wire layer implements PeerSender and
// hands it to the sync engine; the sync engine implements SyncHandler and the
// wire layer calls it.
//
// Threads: every method of both interfaces is called on the mesh io thread
// only (the thread that runs MeshNode's io_context). Implementations need no
// locking between these calls; data shared with router threads (the tree
// catalog, the load board) carries its own synchronisation.
//
// Invariants:
//  1. PeerSender::send never blocks and never throws; it either enqueues the
//     whole frame for that peer or returns false (queue full, peer unknown or
//     not yet authenticated). A false return is not an error: the caller keeps
//     its data and retries on a later tick, or marks the peer for a snapshot.
//  2. on_peer_up is called once a peer is authenticated and alive; on_peer_down
//     once it is dead or has left. Up/down alternate for a given peer.
//  3. on_frame receives only sync frames (FrameType values 32..63) from
//     authenticated peers; the payload view is valid for the call only.
//  4. tick is called once per gossip interval with a monotonic time in ms.
//  5. flush is called between ticks, at most once per push window, after
//     something asked the node for one (MeshNode::request_flush: the delta
//     journal's first change of a window, or the router's LoadChangeSignal
//     on an in-flight +1), or by a follow-up timer
//     (MeshNode::arm_follow_up_flush). It returns true to be called again one
//     window later without a new request (the engine alone: local load
//     non-zero); the router's hook returns false: its +1s ask for their own
//     window and, while load is in flight, it arms a follow-up flush that
//     carries the -1s (router/load_change_signal.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mesh/frame_type.h"

namespace radixmesh::mesh {

// Stable node id (--node-id), unique within a mesh.
using NodeId = std::string;

// What the sync engine may do to the network: enqueue one frame for one peer.
class PeerSender {
 public:
  virtual ~PeerSender() = default;
  // Returns false when that peer's bounded send queue is full or the peer is
  // not connected (see invariant 1). Never blocks.
  virtual bool send(const NodeId& to, FrameType type, std::string payload) = 0;
};

// What the wire layer tells the sync engine (called on the mesh io thread).
class SyncHandler {
 public:
  virtual ~SyncHandler() = default;
  virtual void on_peer_up(const NodeId& peer) = 0;    // authenticated and alive
  virtual void on_peer_down(const NodeId& peer) = 0;  // dead or left
  virtual void on_frame(const NodeId& from, FrameType type, std::string_view payload) = 0;
  virtual void tick(uint64_t now_ms) = 0;  // every gossip interval
  // Push what changed since the last tick or flush (see invariant 5).
  virtual bool flush(uint64_t /*now_ms*/) { return false; }
};

}  // namespace radixmesh::mesh
