// `eleven keys`: POST /keys, POST /keys/{id}/revoke and GET /keys/{id} through Boost.Beast,
// one request on one connection. Exit codes: 0 done; 1 the server refused or could not be
// reached (the reason on stderr); 2 a bad command line.
#include "cli/keys_command.h"

#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/key_options.h"
#include "wire/access.h"

namespace eleven::cli {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;

struct KeysArgs {
  std::string url = "http://127.0.0.1:7080";
  KeyArgs key;
  std::string role;
  uint64_t merchant = 0;
  uint64_t storefront = 0;
  uint64_t courier = 0;
  uint64_t id = 0;
};

struct Reply {
  int status = 0;
  std::string body;
};

// "http://HOST:PORT" (a trailing slash allowed) into host and port.
bool ParseUrl(const std::string& url, std::string* host, std::string* port) {
  constexpr std::string_view kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return false;
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return false;
  *host = rest.substr(0, colon);
  *port = rest.substr(colon + 1);
  return host->find('/') == std::string::npos && port->find_first_not_of("0123456789") == std::string::npos;
}

Status Call(const KeysArgs& args, const std::string& secret, http::verb verb, const std::string& target,
            const std::string& body, Reply* reply) {
  std::string host, port;
  if (!ParseUrl(args.url, &host, &port)) {
    return Status::InvalidArgument("--url must be http://HOST:PORT (got " + args.url + ")");
  }
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  boost::asio::ip::tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return Status::Unavailable("cannot resolve " + args.url + ": " + ec.message());
  stream.expires_after(kRequestTimeout);
  stream.connect(endpoints, ec);
  if (ec) return Status::Unavailable("cannot reach " + args.url + ": " + ec.message());
  http::request<http::string_body> request(verb, target, 11);
  request.set(http::field::host, host);
  if (!secret.empty()) request.set(http::field::authorization, "Bearer " + secret);
  if (verb == http::verb::post) request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(stream, buffer, response, ec);
  if (ec) return Status::Unavailable(args.url + target + ": " + ec.message());
  reply->status = response.result_int();
  reply->body = response.body();
  return Status::Ok();
}

// A JSON reply's field as text ("" when absent).
std::string Field(const std::string& body, std::string_view name) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return "";
  simdjson::dom::element value;
  if (doc[name].get(value) != simdjson::SUCCESS) return "";
  if (value.is_string()) return std::string(value.get_string().value());
  return simdjson::to_string(value);
}

// The reason for a refusal, on stderr; the exit code.
int Refused(const std::string& what, const Reply& reply) {
  std::string why = Field(reply.body, "message");
  if (why.empty()) why = reply.body;
  const char* hint = reply.status == 401   ? " (give an active key with --key or --key-file)"
                     : reply.status == 403 ? " (keys are managed with an operator key)"
                                           : "";
  std::fprintf(stderr, "eleven keys: %s: HTTP %d %s: %s%s\n", what.c_str(), reply.status,
               Field(reply.body, "error").c_str(), why.c_str(), hint);
  return kExitRefused;
}

// The operator key the command acts with, or an exit code (*exit_code set) when it is bad.
bool OperatorKey(const KeysArgs& args, std::string* secret, int* exit_code) {
  const Status s = ResolveKey(args.key, secret);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven keys: %s\n", s.message().c_str());
    *exit_code = kExitUsage;
    return false;
  }
  return true;
}

int Create(const KeysArgs& args) {
  std::string secret;
  int code = 0;
  if (!OperatorKey(args, &secret, &code)) return code;
  wire::Role role = wire::Role::kNone;
  if (!wire::RoleFromName(args.role.data(), args.role.size(), &role)) {
    std::fprintf(stderr, "eleven keys create: --role must be operator, storefront, merchant, courier or viewer\n");
    return kExitUsage;
  }
  const int scopes = (args.merchant != 0) + (args.storefront != 0) + (args.courier != 0);
  const char* scope_name = role == wire::Role::kMerchant     ? "merchant"
                           : role == wire::Role::kStorefront ? "storefront"
                           : role == wire::Role::kCourier    ? "courier"
                                                             : nullptr;
  const uint64_t scope = role == wire::Role::kMerchant     ? args.merchant
                         : role == wire::Role::kStorefront ? args.storefront
                         : role == wire::Role::kCourier    ? args.courier
                                                           : 0;
  if (scope_name != nullptr && (scopes != 1 || scope == 0)) {
    std::fprintf(stderr, "eleven keys create: a %s key takes --%s ID (and no other scope)\n", args.role.c_str(),
                 scope_name);
    return kExitUsage;
  }
  if (scope_name == nullptr && scopes != 0) {
    std::fprintf(stderr, "eleven keys create: a %s key takes no --merchant, --storefront or --courier\n",
                 args.role.c_str());
    return kExitUsage;
  }
  std::string body = "{\"role\":\"" + args.role + "\"";
  if (scope_name != nullptr) body += ",\"" + std::string(scope_name) + "_id\":" + std::to_string(scope);
  body += "}";
  Reply reply;
  const Status s = Call(args, secret, http::verb::post, "/keys", body, &reply);
  if (!s.ok()) {
    std::fprintf(stderr, "eleven keys create: %s\n", s.ToString().c_str());
    return kExitRefused;
  }
  if (reply.status != 200) return Refused("create", reply);
  const std::string made = Field(reply.body, "secret");
  const std::string id = Field(reply.body, "id");
  if (made.empty() || id.empty()) {
    std::fprintf(stderr, "eleven keys create: the reply holds no secret: %s\n", reply.body.c_str());
    return kExitRefused;
  }
  std::printf("key %s (%s%s%s) created; its secret (shown once, only its SHA-256 is kept):\n%s\n", id.c_str(),
              args.role.c_str(), scope_name != nullptr ? " " : "",
              scope_name != nullptr ? std::to_string(scope).c_str() : "", made.c_str());
  return 0;
}

int ById(const KeysArgs& args, bool revoke) {
  std::string secret;
  int code = 0;
  if (!OperatorKey(args, &secret, &code)) return code;
  const std::string target = "/keys/" + std::to_string(args.id) + (revoke ? "/revoke" : "");
  Reply reply;
  const Status s = Call(args, secret, revoke ? http::verb::post : http::verb::get, target, revoke ? "{}" : "", &reply);
  const char* what = revoke ? "revoke" : "show";
  if (!s.ok()) {
    std::fprintf(stderr, "eleven keys %s: %s\n", what, s.ToString().c_str());
    return kExitRefused;
  }
  if (reply.status != 200) return Refused(std::string(what) + " key " + std::to_string(args.id), reply);
  if (revoke) {
    std::printf("key %llu revoked%s\n", (unsigned long long)args.id,
                reply.body.find("\"replayed\":true") != std::string::npos ? " (it was already)" : "");
  } else {
    std::printf("%s\n", reply.body.c_str());
  }
  return 0;
}

void AddCommon(CLI::App& command, KeysArgs* args) {
  command.add_option("--url", args->url, "the server's HTTP address")->capture_default_str();
  AddKeyOptions(command, &args->key, "an operator key");
}

}  // namespace

void AddKeysCommand(CLI::App& app) {
  auto args = std::make_shared<KeysArgs>();
  CLI::App* keys = app.add_subcommand("keys", "Create, revoke and show API keys of a running server (operator key)");
  keys->require_subcommand(1);
  CLI::App* create = keys->add_subcommand("create", "Create a key; prints its id and its secret, once");
  AddCommon(*create, args.get());
  create->add_option("--role", args->role, "operator, storefront, merchant, courier or viewer")->required();
  create->add_option("--merchant", args->merchant, "a merchant key's merchant id");
  create->add_option("--storefront", args->storefront, "a storefront key's storefront id (1 .. 2^32-1)");
  create->add_option("--courier", args->courier, "a courier key's courier id");
  create->callback([args] { std::exit(Create(*args)); });
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key: refused from now on");
  AddCommon(*revoke, args.get());
  revoke->add_option("id", args->id, "the key id")->required();
  revoke->callback([args] { std::exit(ById(*args, /*revoke=*/true)); });
  CLI::App* show = keys->add_subcommand("show", "Show a key (role, scope, state, who created it; never its secret)");
  AddCommon(*show, args.get());
  show->add_option("id", args->id, "the key id")->required();
  show->callback([args] { std::exit(ById(*args, /*revoke=*/false)); });
}

}  // namespace eleven::cli
