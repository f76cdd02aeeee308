#include "tools/sim_worker/pd_plan.h"

#include "tools/sim_worker/sim_responses.h"

namespace radixmesh::tools::sim {
namespace {

PdPlan refuse(std::string msg) {
  PdPlan p;
  p.error = std::move(msg);
  return p;
}

PdPlan plan_sglang(const SimOptions& o, const SimRequest& r) {
  const PdFields& f = r.pd;
  PdPlan p;
  if (o.role == PdRole::kPrefill) {
    if (!f.bootstrap_room)
      return refuse("this is an SGLang prefill worker: the request needs a 'bootstrap_room'");
    p.step = PdStep::kPrefill;
    p.key = std::to_string(*f.bootstrap_room);
    return p;
  }
  if (!f.has_bootstrap() && o.pd_local_prefill) return p;
  if (f.bootstrap_host.empty() || !f.bootstrap_port || !f.bootstrap_room)
    return refuse(
        "this is an SGLang decode worker: the request needs 'bootstrap_host', "
        "'bootstrap_port' and 'bootstrap_room' of its prefill worker");
  p.step = PdStep::kDecodeRemote;
  p.key = std::to_string(*f.bootstrap_room);
  p.host = f.bootstrap_host;
  p.port = static_cast<uint16_t>(*f.bootstrap_port);
  return p;
}

PdPlan plan_vllm(const SimOptions& o, const SimRequest& r) {
  const PdFields& f = r.pd;
  PdPlan p;
  if (o.role == PdRole::kPrefill) {
    if (!f.has_kv_params || !f.do_remote_decode)
      return refuse(
          "this is a vLLM prefill worker: the request needs 'kv_transfer_params' with "
          "'do_remote_decode': true");
    if (r.stream)
      return refuse("a prefill with 'do_remote_decode' answers in one body: set 'stream': false");
    p.step = PdStep::kPrefill;
    return p;
  }
  if (!(f.has_kv_params && f.do_remote_prefill) && o.pd_local_prefill) return p;
  if (!f.has_kv_params || !f.do_remote_prefill)
    return refuse(
        "this is a vLLM decode worker: the request needs the 'kv_transfer_params' of its "
        "prefill worker's response ('do_remote_prefill': true)");
  if (f.remote_engine_id.empty() || f.remote_host.empty() || !f.remote_port ||
      f.remote_block_ids.empty())
    return refuse(
        "'kv_transfer_params' needs 'remote_engine_id', 'remote_host', 'remote_port' and "
        "'remote_block_ids' from a prefill worker's response");
  p.step = PdStep::kDecodeRemote;
  p.key = vllm_room_key(f.remote_block_ids.front(), f.remote_block_ids.size());
  p.host = f.remote_host;
  p.port = static_cast<uint16_t>(*f.remote_port);
  p.engine_id = f.remote_engine_id;
  return p;
}

}  // namespace

PdPlan plan_pd(const SimOptions& o, const SimRequest& r) {
  if (o.role == PdRole::kNone) return {};
  return o.pd_protocol == PdProtocol::kSglang ? plan_sglang(o, r) : plan_vllm(o, r);
}

std::string vllm_room_key(uint64_t first_block, uint64_t blocks) {
  std::string key = "b";
  key += std::to_string(first_block);
  key += '-';
  key += std::to_string(blocks);
  return key;
}

std::string vllm_kv_transfer_params(const SimOptions& o, uint64_t first_block, uint64_t blocks) {
  std::string out =
      "\"kv_transfer_params\":{\"do_remote_prefill\":true,\"do_remote_decode\":false,";
  out += "\"remote_block_ids\":[";
  for (uint64_t i = 0; i < blocks; ++i) {
    if (i > 0) out += ',';
    out += std::to_string(first_block + i);
  }
  out += "],\"remote_engine_id\":";
  append_json_string(out, o.id);
  out += ",\"remote_host\":";
  append_json_string(out, o.advertise_host);
  out += ",\"remote_port\":" + std::to_string(o.bootstrap_port) + ",\"tp_size\":1}";
  return out;
}

}  // namespace radixmesh::tools::sim
