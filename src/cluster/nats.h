// The NATS pieces eleven uses, wrapped: a connection to a set of nats-server nodes with a
// JetStream context, and nats.c statuses as eleven Statuses. nats.c (libnats-dev) does all
// of the protocol; nothing here speaks NATS itself.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace eleven::cluster {

// `what` failed: nats.c's status text, the JetStream error code if any, and the last error
// nats.c recorded on this thread. Unavailable for connection and timeout errors, else
// IOError (and FailedPrecondition for a JetStream refusal).
[[nodiscard]] Status NatsError(natsStatus status, std::string_view what,
                               jsErrCode js_code = jsErrCode(0));

struct NatsOptions {
  std::string urls;             // "nats://127.0.0.1:4222,nats://127.0.0.1:4223,..."
  std::string name = "eleven";  // the connection's name (nats-server's monitoring shows it)
  int64_t timeout_ms = 2000;    // connect and JetStream API requests
};

// One connection (reconnecting for ever across the given nodes) and its JetStream context.
class NatsConnection {
 public:
  [[nodiscard]] static Status Connect(const NatsOptions& options,
                                      std::unique_ptr<NatsConnection>* out);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  natsConnection* nc() const { return nc_; }
  jsCtx* js() const { return js_; }
  int64_t timeout_ms() const { return timeout_ms_; }

 private:
  NatsConnection() = default;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  int64_t timeout_ms_ = 2000;
};

}  // namespace eleven::cluster
