#include "tools/sim_worker/sim_responses.h"

#include <cstdio>
#include <cstring>

namespace radixmesh::tools::sim {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void append_usage(std::string& out, const Usage& u) {
  out += "{\"prompt_tokens\":" + std::to_string(u.prompt_tokens) +
         ",\"completion_tokens\":" + std::to_string(u.completion_tokens) +
         ",\"total_tokens\":" + std::to_string(u.prompt_tokens + u.completion_tokens) +
         ",\"prompt_tokens_details\":{\"cached_tokens\":" + std::to_string(u.cached_tokens) + "}}";
}

void append_head(std::string& out, const ResponseMeta& m, const char* object) {
  out += "{\"id\":";
  append_json_string(out, m.id);
  out += ",\"object\":\"";
  out += object;
  out += "\",\"created\":" + std::to_string(m.created) + ",\"model\":";
  append_json_string(out, m.model);
  out += ",\"system_fingerprint\":";
  append_json_string(out, m.worker_id);
}

void append_generate_meta(std::string& out, const ResponseMeta& m, const Usage& u,
                          const char* finish_reason) {
  out += ",\"meta_info\":{\"id\":";
  append_json_string(out, m.id);
  out += ",\"prompt_tokens\":" + std::to_string(u.prompt_tokens) +
         ",\"completion_tokens\":" + std::to_string(u.completion_tokens) +
         ",\"cached_tokens\":" + std::to_string(u.cached_tokens) + ",\"finish_reason\":";
  if (finish_reason) {
    out += "{\"type\":\"";
    out += finish_reason;
    out += "\"}";
  } else {
    out += "null";
  }
  out += ",\"worker_id\":";
  append_json_string(out, m.worker_id);
  out += "}";
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string_view token_text(uint64_t seed, uint64_t request_no, uint64_t index) {
  static constexpr std::string_view kWords[16] = {" the", " cat", " sat", " map", " run", " big",
                                                  " red", " sun", " dog", " key", " log", " net",
                                                  " row", " sky", " top", " web"};
  return kWords[mix(seed ^ mix(request_no) ^ (index * 0x2545f4914f6cdd1dull)) & 15];
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  std::string out = "{\"error\":{\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, type);
  out += ",\"param\":null,\"code\":";
  append_json_string(out, code);
  out += "}}";
  return out;
}

std::string completion_body(const ResponseMeta& m, std::string_view text, const Usage& u,
                            const char* finish_reason, std::string_view extra_member) {
  std::string out;
  out.reserve(text.size() + 512 + extra_member.size());
  auto close = [&] {
    if (!extra_member.empty()) {
      out += ",";
      out += extra_member;
    }
    out += "}";
  };
  if (m.endpoint == Endpoint::kGenerate) {
    out += "{\"text\":";
    append_json_string(out, text);
    append_generate_meta(out, m, u, finish_reason);
    close();
    return out;
  }
  const bool chat = m.endpoint == Endpoint::kChat;
  append_head(out, m, chat ? "chat.completion" : "text_completion");
  out += ",\"choices\":[{\"index\":0,";
  if (chat) {
    out += "\"message\":{\"role\":\"assistant\",\"content\":";
    append_json_string(out, text);
    out += "},";
  } else {
    out += "\"text\":";
    append_json_string(out, text);
    out += ",";
  }
  out += "\"logprobs\":null,\"finish_reason\":";
  append_json_string(out, finish_reason);
  out += "}],\"usage\":";
  append_usage(out, u);
  close();
  return out;
}

std::string stream_chunk(const ResponseMeta& m, std::string_view text, std::string_view cumulative,
                         bool first, const char* finish_reason, const Usage& u) {
  std::string out;
  out.reserve(256 + cumulative.size());
  if (m.endpoint == Endpoint::kGenerate) {
    out += "{\"text\":";
    append_json_string(out, cumulative);
    append_generate_meta(out, m, u, finish_reason);
    out += "}";
    return out;
  }
  const bool chat = m.endpoint == Endpoint::kChat;
  append_head(out, m, chat ? "chat.completion.chunk" : "text_completion");
  out += ",\"choices\":[{\"index\":0,";
  if (chat) {
    out += first ? "\"delta\":{\"role\":\"assistant\",\"content\":" : "\"delta\":{\"content\":";
    append_json_string(out, text);
    out += "},";
  } else {
    out += "\"text\":";
    append_json_string(out, text);
    out += ",";
  }
  out += "\"logprobs\":null,\"finish_reason\":";
  if (finish_reason) {
    append_json_string(out, finish_reason);
  } else {
    out += "null";
  }
  out += "}]}";
  return out;
}

std::string usage_chunk(const ResponseMeta& m, const Usage& u) {
  if (m.endpoint == Endpoint::kGenerate) return {};
  std::string out;
  append_head(out, m, m.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion");
  out += ",\"choices\":[],\"usage\":";
  append_usage(out, u);
  out += "}";
  return out;
}

std::string models_body(const std::vector<std::string>& models, int64_t created) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  bool sep = false;
  for (const std::string& name : models) {
    if (sep) out += ",";
    out += "{\"id\":";
    append_json_string(out, name);
    out += ",\"object\":\"model\",\"created\":" + std::to_string(created) +
           ",\"owned_by\":\"radixmesh-sim\"}";
    sep = true;
  }
  out += "]}";
  return out;
}

std::string embeddings_body(std::string_view model, uint64_t inputs, uint32_t dim,
                            uint64_t prompt_tokens, uint64_t seed, bool base64) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (uint64_t i = 0; i < inputs; ++i) {
    if (i) out += ",";
    out += "{\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
    std::string raw;  // little-endian float32 bytes, for base64
    out += base64 ? "\"" : "[";
    for (uint32_t d = 0; d < dim; ++d) {
      const double v = static_cast<double>(mix(seed + i * 131 + d) % 20001) / 10000.0 - 1.0;
      if (base64) {
        const float f = static_cast<float>(v);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        for (int b = 0; b < 4; ++b) raw.push_back(static_cast<char>((bits >> (8 * b)) & 0xff));
        continue;
      }
      if (d) out += ",";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", v);
      out += buf;
    }
    if (base64) {
      for (size_t k = 0; k < raw.size(); k += 3) {
        uint32_t n = static_cast<uint8_t>(raw[k]) << 16;
        if (k + 1 < raw.size()) n |= static_cast<uint8_t>(raw[k + 1]) << 8;
        if (k + 2 < raw.size()) n |= static_cast<uint8_t>(raw[k + 2]);
        out.push_back(kB64[(n >> 18) & 63]);
        out.push_back(kB64[(n >> 12) & 63]);
        out.push_back(k + 1 < raw.size() ? kB64[(n >> 6) & 63] : '=');
        out.push_back(k + 2 < raw.size() ? kB64[n & 63] : '=');
      }
    }
    out += base64 ? "\"}" : "]}";
  }
  out += "],\"model\":";
  append_json_string(out, model);
  out += ",\"usage\":{\"prompt_tokens\":" + std::to_string(prompt_tokens) +
         ",\"total_tokens\":" + std::to_string(prompt_tokens) + "}}";
  return out;
}

}  // namespace radixmesh::tools::sim
