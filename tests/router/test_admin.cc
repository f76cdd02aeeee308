// Admin API without sockets: query parsing, tree views (top, dump) over a
// real PrefixTree, and AdminApi dispatch over a real registry and catalog:
// authentication, 404/405, worker add/drain/remove, unknown models.
#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/admin_api.h"
#include "router/admin_http.h"
#include "router/admin_trees.h"

using namespace radixmesh;
using namespace radixmesh::router;

namespace {

radix::Hlc at(uint64_t ms) {
  return radix::Hlc::from_parts(ms, 0);
}

size_t count_nodes(const nlohmann::json& node) {
  size_t n = 1;
  for (const auto& c : node["children"]) n += count_nodes(c);
  return n;
}

// A registry + catalog + directory wired like the composition root does it.
struct Fixture {
  RouterConfig config;
  radix::WorkerDirectory directory{64};
  radix::MemoryBroker broker{64 << 20};
  radix::TreeCatalog trees{radix::PrefixTree::Options{}, 8, &broker, nullptr};
  WorkerRegistry registry{WorkerRegistry::Options{16, {}},
                          [this](const std::string& url) { return directory.intern(url); }};
  MetricsRegistry metrics;
  std::unique_ptr<AdminApi> api;

  explicit Fixture(std::string token = "") {
    config.node_id = "node-a";
    registry.set_on_removed(
        [this](const std::shared_ptr<Worker>& w) { trees.remove_worker_everywhere(w->id()); });
    AdminContext ctx;
    ctx.config = &config;
    ctx.version = "1.2.3";
    ctx.registry = &registry;
    ctx.trees = &trees;
    ctx.directory = &directory;
    ctx.broker = &broker;
    ctx.metrics = &metrics;
    api = std::make_unique<AdminApi>(std::move(ctx), std::move(token));
  }

  // As radixmesh-ctl sends it: application/json, Host 127.0.0.1:9000.
  AdminResponse call(std::string method, std::string target, std::string body = "",
                     std::string auth = "") {
    AdminRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.authorization = std::move(auth);
    r.content_type = "application/json";
    r.host = "127.0.0.1:9000";
    return api->handle(r);
  }
  AdminResponse call(AdminRequest r) { return api->handle(r); }
  nlohmann::json json(const AdminResponse& r) { return nlohmann::json::parse(r.body); }
};

}  // namespace

TEST_CASE("admin: targets are split and percent-decoded; bad escapes refused") {
  auto t = parse_target("/admin/workers?url=http%3A%2F%2F127.0.0.1%3A7001&n=5&x");
  REQUIRE(t.ok());
  CHECK(t->path == "/admin/workers");
  CHECK(t->get("url") == "http://127.0.0.1:7001");
  CHECK(t->get("x") == "");
  CHECK_FALSE(t->get("y").has_value());
  CHECK(query_size(*t, "n", 1, 1, 10).value() == 5);
  CHECK_FALSE(query_size(*t, "n", 1, 6, 10).ok());
  CHECK(query_size(*t, "missing", 7, 1, 10).value() == 7);
  CHECK_FALSE(parse_target("/a?b=%zz").ok());
  CHECK_FALSE(parse_target("/a?b=%4").ok());
  bool ok = false;
  CHECK(url_decode(url_encode("a b/c?d=é"), &ok) == "a b/c?d=é");
  CHECK(ok);
}

TEST_CASE("admin: tree top ranks the prefix shared by most continuations first") {
  radix::PrefixTree tree(radix::PrefixTree::Options{.model = "m"}, nullptr);
  // Shared prefix 11,12,13 then four different continuations, two workers.
  std::vector<std::vector<radix::BlockHash>> chains = {
      {11, 12, 13, 21}, {11, 12, 13, 22, 23}, {11, 12, 13, 24}, {11, 12, 13, 25}};
  for (size_t i = 0; i < chains.size(); ++i) {
    tree.insert(chains[i], static_cast<radix::WorkerId>(i % 2), at(1000 + i));
  }
  tree.insert(std::vector<radix::BlockHash>{91, 92}, 1, at(5000));  // unrelated, newest
  radix::WorkerDirectory dir;
  REQUIRE(dir.intern("http://127.0.0.1:1").ok());
  REQUIRE(dir.intern("http://127.0.0.1:2").ok());
  auto top = tree_top_json(tree, dir, 3, 1000, 6000);
  REQUIRE(top["prefixes"].size() == 3);
  auto first = top["prefixes"][0];
  CHECK(first["leaves_below"] == 4);
  CHECK(first["depth"] == 3);
  CHECK(first["prefix"] == hex64(13));
  CHECK(first["tenants"] == 2);
  CHECK(first["last_access_ms"] == 1003);
  CHECK(first["age_ms"] == 6000 - 1003);
  // Leaves come next, newest first: the unrelated chain beats the branches.
  CHECK(top["prefixes"][1]["prefix"] == hex64(92));
  CHECK(top["prefixes"][1]["workers"] == nlohmann::json::array({"http://127.0.0.1:2"}));
  CHECK_FALSE(top["truncated"].get<bool>());
}

TEST_CASE("admin: tree dump nests every node once and stops at max_nodes") {
  radix::PrefixTree tree(radix::PrefixTree::Options{.model = "m"}, nullptr);
  for (radix::BlockHash tail = 100; tail < 120; ++tail) {
    tree.insert(std::vector<radix::BlockHash>{1, 2, tail, tail + 1000}, 0, at(tail));
  }
  radix::WorkerDirectory dir;
  auto full = tree_dump_json(tree, dir, 10000);
  CHECK_FALSE(full["truncated"].get<bool>());
  size_t counted = 0;
  for (const auto& c : full["root"]["children"]) counted += count_nodes(c);
  CHECK(counted == tree.stats().nodes);
  CHECK(full["nodes"] == tree.stats().nodes);
  auto top_node = full["root"]["children"][0];
  CHECK(top_node["first"] == hex64(1));
  CHECK(top_node["children"].size() == 20);

  auto cut = tree_dump_json(tree, dir, 5);
  CHECK(cut["truncated"].get<bool>());
  CHECK(cut["nodes"] == 5);
  CHECK(cut["root"]["children"][0]["children_omitted"] == 16);
}

TEST_CASE("admin: bearer token is required on every endpoint when configured") {
  Fixture f("s3cret");
  for (const char* path : {"/metrics", "/admin/status", "/admin/workers", "/admin/nothing"}) {
    CAPTURE(path);
    auto r = f.call("GET", path);
    CHECK(r.status == 401);
    CHECK(r.www_authenticate);
    CHECK(f.json(r)["error"]["type"] == "authentication_error");
  }
  CHECK(f.call("GET", "/admin/status", "", "Bearer s3cre").status == 401);
  CHECK(f.call("GET", "/admin/status", "", "Bearer s3cret2").status == 401);
  CHECK(f.call("GET", "/admin/status", "", "Basic s3cret").status == 401);
  auto ok = f.call("GET", "/admin/status", "", "Bearer s3cret");
  CHECK(ok.status == 200);
  CHECK(f.json(ok)["node_id"] == "node-a");
  CHECK(f.json(ok)["version"] == "1.2.3");
}

TEST_CASE("admin: the auth scheme is case-insensitive (RFC 9110 section 11.1)") {
  Fixture f("s3cret");
  for (const char* h : {"bearer s3cret", "BEARER s3cret", "BeArEr s3cret", "Bearer   s3cret"}) {
    CAPTURE(h);
    CHECK(f.call("GET", "/admin/status", "", h).status == 200);
  }
  for (const char* h : {"Bearers3cret", "Bearer", "Bearer ", "bearerx s3cret", "bearer S3CRET"}) {
    CAPTURE(h);
    CHECK(f.call("GET", "/admin/status", "", h).status == 401);
  }
}

TEST_CASE("admin: loopback Host values and JSON media types are recognised") {
  for (const char* h :
       {"127.0.0.1", "127.0.0.1:9000", "127.1.2.3:1", "localhost", "LOCALHOST:9000",
        "localhost.:9000", "api.localhost", "[::1]", "[::1]:9000", "[::ffff:127.0.0.1]:9000"}) {
    CAPTURE(h);
    CHECK(is_loopback_host_header(h));
  }
  for (const char* h : {"", "evil.example", "evil.example:9000", "localhost.evil.example",
                        "evillocalhost", "10.0.0.1:9000", "0.0.0.0", "[::]:9000", "[::2]", "::1",
                        "[::1", "[::1]x", "127.0.0.1.nip.io", "[::ffff:10.0.0.1]"}) {
    CAPTURE(h);
    CHECK_FALSE(is_loopback_host_header(h));
  }
  CHECK(is_json_media_type("application/json"));
  CHECK(is_json_media_type("Application/JSON; charset=utf-8"));
  CHECK(is_json_media_type(" application/json "));
  CHECK_FALSE(is_json_media_type(""));
  CHECK_FALSE(is_json_media_type("text/plain"));
  CHECK_FALSE(is_json_media_type("application/x-www-form-urlencoded"));
  CHECK_FALSE(is_json_media_type("application/jsonx"));
}

TEST_CASE("admin: no token: Origin 403, foreign Host 421, non-JSON mutation 415") {
  Fixture f;
  const std::string body = R"({"url": "http://127.0.0.1:7001"})";
  // The cross-site request of issue 17: text/plain, an Origin, a rebinding Host.
  AdminRequest evil;
  evil.method = "POST";
  evil.target = "/admin/workers";
  evil.body = body;
  evil.content_type = "text/plain";
  evil.origin = "http://evil.example";
  evil.host = "evil.example:9000";
  CHECK(f.call(evil).status == 403);
  evil.origin.clear();
  auto misdirected = f.call(evil);
  CHECK(misdirected.status == 421);
  CHECK(f.json(misdirected)["error"]["code"] == "host_not_allowed");
  evil.host = "127.0.0.1:9000";
  auto wrong_type = f.call(evil);
  CHECK(wrong_type.status == 415);
  CHECK(f.json(wrong_type)["error"]["code"] == "unsupported_media_type");
  evil.content_type.clear();
  CHECK(f.call(evil).status == 415);
  CHECK(f.registry.size() == 0);  // nothing above added the worker
  // Reads are refused cross-site too (a rebinding page could read them).
  AdminRequest read;
  read.method = "GET";
  read.target = "/admin/status";
  read.host = "evil.example";
  CHECK(f.call(read).status == 421);
  read.host = "";  // HTTP/1.0 without Host: not a browser
  CHECK(f.call(read).status == 200);
  read.origin = "null";  // a sandboxed page
  CHECK(f.call(read).status == 403);
  // What ctl sends passes: JSON POST, DELETE without a body.
  CHECK(f.call("POST", "/admin/workers", body).status == 201);
  AdminRequest del;
  del.method = "DELETE";
  del.target = "/admin/workers?url=http%3A%2F%2F127.0.0.1%3A7001";
  del.host = "localhost:9000";
  CHECK(f.call(del).status == 200);
}

TEST_CASE("admin: with a token, Origin and Host are not checked; the media type still is") {
  Fixture f("s3cret");
  AdminRequest r;
  r.method = "POST";
  r.target = "/admin/workers";
  r.body = R"({"url": "http://127.0.0.1:7001"})";
  r.authorization = "Bearer s3cret";
  r.host = "router-0.radixmesh.svc:9000";
  r.origin = "https://grafana.example";
  r.content_type = "text/plain";
  CHECK(f.call(r).status == 415);
  r.content_type = "application/json";
  CHECK(f.call(r).status == 201);
  r.authorization.clear();
  CHECK(f.call(r).status == 401);  // authentication first
}

TEST_CASE("admin: unknown paths are 404, wrong methods 405 with Allow") {
  Fixture f;
  auto nf = f.call("GET", "/admin/nope");
  CHECK(nf.status == 404);
  CHECK(f.json(nf)["error"]["code"] == "not_found");
  auto na = f.call("PUT", "/admin/workers");
  CHECK(na.status == 405);
  CHECK(na.allow == "GET, POST, DELETE");
  CHECK(f.call("GET", "/admin/route/explain").status == 405);
  // No routing engine in this process: explain says so instead of crashing.
  CHECK(f.call("POST", "/admin/route/explain", "{}").status == 503);
  CHECK(f.call("GET", "/metrics").content_type.find("version=0.0.4") != std::string::npos);
}

TEST_CASE("admin: workers are added, drained, undrained and removed") {
  Fixture f;
  auto add = f.call("POST", "/admin/workers", R"({"url": "http://127.0.0.1:7001"})");
  CHECK(add.status == 201);
  CHECK(f.json(add)["added"] == true);
  CHECK(f.call("POST", "/admin/workers", R"({"url": "http://127.0.0.1:7001/"})").status == 200);
  CHECK(f.call("POST", "/admin/workers", R"({"url": "ftp://x"})").status == 400);
  CHECK(f.call("POST", "/admin/workers", "not json").status == 400);
  auto list = f.json(f.call("GET", "/admin/workers"))["workers"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["url"] == "http://127.0.0.1:7001");
  CHECK(list[0]["draining"] == false);
  CHECK(list[0]["models_known"] == false);

  auto wid = f.registry.find("http://127.0.0.1:7001")->id();
  auto tree = f.trees.get_or_create("m").value();
  tree->insert(std::vector<radix::BlockHash>{5, 6, 7}, wid, at(10));
  CHECK(f.json(f.call("GET", "/admin/workers"))["workers"][0]["tree_blocks"] == 3);

  auto drained = f.call("POST", "/admin/workers/drain", R"({"url": "http://127.0.0.1:7001"})");
  CHECK(drained.status == 200);
  CHECK(f.json(drained)["draining"] == true);
  CHECK(f.registry.find("http://127.0.0.1:7001")->draining());
  auto undrained =
      f.call("POST", "/admin/workers/drain", R"({"url": "http://127.0.0.1:7001", "drain": false})");
  CHECK(f.json(undrained)["draining"] == false);
  CHECK(f.call("POST", "/admin/workers/drain", R"({"url": "http://127.0.0.1:9"})").status == 404);

  auto removed = f.call("DELETE", "/admin/workers?url=http%3A%2F%2F127.0.0.1%3A7001");
  CHECK(removed.status == 200);
  CHECK(f.registry.size() == 0);
  CHECK(tree->worker_blocks(wid) == 0);  // erased from the tree at once
  CHECK(f.call("DELETE", "/admin/workers?url=http://127.0.0.1:7001").status == 404);
  CHECK(f.call("DELETE", "/admin/workers").status == 400);
}

TEST_CASE("admin: trees, top, dump and snapshot need a known model") {
  Fixture f;
  CHECK(f.call("GET", "/admin/trees/dump").status == 400);         // no tree yet
  REQUIRE(f.directory.intern("http://127.0.0.1:1").value() == 0);  // tenants need a URL
  auto a = f.trees.get_or_create("alpha").value();
  a->insert(std::vector<radix::BlockHash>{1, 2}, 0, at(1));
  // A single model is the default.
  CHECK(f.call("GET", "/admin/trees/dump").status == 200);
  f.trees.get_or_create("beta").value()->insert(std::vector<radix::BlockHash>{3}, 0, at(2));
  CHECK(f.call("GET", "/admin/trees/dump").status == 400);  // which one?
  auto trees = f.json(f.call("GET", "/admin/trees"))["trees"];
  REQUIRE(trees.size() == 2);
  CHECK(trees[0]["model"] == "alpha");
  CHECK(trees[0]["blocks"] == 2);
  CHECK(f.json(f.call("GET", "/admin/trees/top?n=5"))["trees"].size() == 2);
  for (const char* p : {"/admin/trees?model=zeta", "/admin/trees/top?model=zeta",
                        "/admin/trees/dump?model=zeta", "/admin/snapshot?model=zeta"}) {
    CAPTURE(p);
    auto r = f.call("GET", p);
    CHECK(r.status == 404);
    CHECK(f.json(r)["error"]["code"] == "model_not_found");
  }
  auto snap = f.call("GET", "/admin/snapshot?model=alpha");
  CHECK(snap.status == 200);
  CHECK(snap.content_type == "application/octet-stream");
  CHECK(snap.body.substr(0, 4) == "RMSN");
  CHECK(f.call("GET", "/admin/trees/top?model=alpha&n=100000").status == 400);
  auto mem = f.json(f.call("GET", "/admin/memory"));
  CHECK(mem["budget_bytes"] == 64 << 20);
  CHECK(mem["tier"] == "normal");
}
