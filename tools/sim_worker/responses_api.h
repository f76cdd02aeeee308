// Bodies of the OpenAI Responses API (/v1/responses) for the simulated
// worker: the whole response object, and the streamed events
// (response.created, response.output_text.delta, response.completed), each
// framed as "event: <type>\ndata: <json>\n\n" with a sequence number.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tools/sim_worker/sim_responses.h"

namespace radixmesh::tools::sim {

// The response object; `completed` false gives the in-progress shape with no
// output and no usage (as in response.created).
std::string responses_object(const ResponseMeta& m, std::string_view text, const Usage& u,
                             bool completed);

// Whole SSE events.
std::string responses_created_event(const ResponseMeta& m, uint64_t seq);
std::string responses_delta_event(const ResponseMeta& m, uint64_t seq, std::string_view delta);
std::string responses_completed_event(const ResponseMeta& m, uint64_t seq, std::string_view text,
                                      const Usage& u);

}  // namespace radixmesh::tools::sim
