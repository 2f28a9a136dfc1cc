#include "cluster/nats.h"

#include <vector>

namespace eleven::cluster {

Status NatsError(natsStatus status, std::string_view what, jsErrCode js_code) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(status);
  if (js_code != 0) message += " (JetStream error " + std::to_string(int(js_code)) + ")";
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && std::string_view(last) != natsStatus_GetText(status)) {
    message += ": " + std::string(last);
  }
  switch (status) {
    case NATS_TIMEOUT:
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
      return Status::Unavailable(message);
    default:
      break;
  }
  if (js_code != 0) return Status::FailedPrecondition(message);
  return Status::IOError(message);
}

Status NatsConnection::Connect(const NatsOptions& options, std::unique_ptr<NatsConnection>* out) {
  std::unique_ptr<NatsConnection> c(new NatsConnection());
  c->timeout_ms_ = options.timeout_ms;
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return NatsError(s, "nats options");
  std::vector<std::string> urls;
  for (size_t at = 0; at <= options.urls.size();) {
    const size_t comma = std::min(options.urls.find(',', at), options.urls.size());
    if (comma > at) urls.push_back(options.urls.substr(at, comma - at));
    at = comma + 1;
  }
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  if (servers.empty()) {
    natsOptions_Destroy(opts);
    return Status::InvalidArgument("no NATS server URL given");
  }
  s = natsOptions_SetServers(opts, servers.data(), int(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.timeout_ms);
  // A node that goes away is reconnected to (another one, or it again) for ever: the node
  // decides what a long outage means (its lease, its acks), not the connection.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 50);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, false, nullptr, nullptr);
  if (s == NATS_OK) s = natsConnection_Connect(&c->nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return NatsError(s, "connecting to NATS at " + options.urls);
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.timeout_ms;
  s = natsConnection_JetStream(&c->js_, c->nc_, &js_options);
  if (s != NATS_OK) return NatsError(s, "JetStream context");
  *out = std::move(c);
  return Status::Ok();
}

NatsConnection::~NatsConnection() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

}  // namespace eleven::cluster
