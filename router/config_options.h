// The option descriptor table behind RouterConfig (see router/config.h).
//
// One OptionSpec per flag: its name, the RouterConfig field it sets, its kind,
// bounds and help line. Parsing (flags, env, file), --help and --print-config
// all walk this table, so a flag exists in every source as soon as it has a
// row here. Internal to the config code; other parts use router/config.h.
//
// Threads: the table is immutable after first use (a function-local static).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "radix/result.h"
#include "router/config.h"

namespace radixmesh::router::config_detail {

using FieldRef = std::variant<std::string RouterConfig::*, int RouterConfig::*,
                              int64_t RouterConfig::*, double RouterConfig::*,
                              std::vector<std::string> RouterConfig::*, bool RouterConfig::*>;

struct OptionSpec {
  OptionSpec(std::string_view name_, std::string_view section_, std::string_view value_,
             std::string_view help_, FieldRef field_, double min_ = 0, double max_ = 0,
             bool command_line_only_ = false, std::string_view default_note_ = {},
             std::string_view alias_ = {})
      : name(name_),
        section(section_),
        value(value_),
        help(help_),
        field(field_),
        min(min_),
        max(max_),
        command_line_only(command_line_only_),
        default_note(default_note_),
        alias(alias_) {}

  std::string_view name;     // flag name without the leading "--"
  std::string_view section;  // heading in --help
  std::string_view value;    // placeholder in --help ("N", "URL"); empty for switches
  std::string_view help;     // one line
  FieldRef field;
  double min = 0;                  // numeric bounds (inclusive)
  double max = 0;                  // min == max == 0: unbounded
  bool command_line_only = false;  // --help, --version, --print-config, --config
  std::string_view default_note;   // shown instead of the default value when set
  std::string_view alias;          // accepted as a file key too ("workers" for "worker")
};

const std::vector<OptionSpec>& option_table();

// Looks a name up as a flag or file key: "admin-port", "admin_port" and an
// alias all find the same row. Returns nullptr when unknown.
const OptionSpec* find_option(std::string_view name);

// "RADIXMESH_ADMIN_PORT" for "admin-port".
std::string env_name(const OptionSpec& spec);

bool is_list(const OptionSpec& spec);
bool is_switch(const OptionSpec& spec);

// Sets the field from text (flag or env). Lists: append one item when
// append_item, else split on commas and replace. Range-checks numbers.
Status set_from_text(RouterConfig& c, const OptionSpec& spec, std::string_view text,
                     bool append_item);
// Sets the field from a config-file value (number, string, bool or array).
Status set_from_json(RouterConfig& c, const OptionSpec& spec, const nlohmann::json& v);

nlohmann::json get_json(const RouterConfig& c, const OptionSpec& spec);
// The value as --help shows it ("" for an empty string, "a, b" for lists).
std::string get_text(const RouterConfig& c, const OptionSpec& spec);

}  // namespace radixmesh::router::config_detail
