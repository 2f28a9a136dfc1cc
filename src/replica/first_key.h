// A data directory's first operator key (docs/access.md, "Keys"). `eleven format` (and
// `format --adopt`) records one as the directory's next log entry: a create_key of role
// operator issued by the local operator (issuer 0), applied through a Replica and durable
// before AddOperatorKey returns, so a server on the directory can be reached with its secret
// from its first start. Only the secret's SHA-256 is given here; the caller makes the secret
// and shows it once.
//
// A free function; opens and closes the directory's Replica (so it holds the directory's
// lock meanwhile, and fails Busy while a server has it).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"
#include "replica/replica.h"
#include "wire/access.h"

namespace eleven::replica {

// Opens the formatted directory `dir` with `options` (its recorded shape), submits
// create_key(operator, `secret_sha256`) at log time `now_us` (the replica keeps log time
// monotonic), waits until it is durable and closes. *key_id receives the new key's id.
// FailedPrecondition naming the code if the engine refuses it (keys_full, key_exists).
[[nodiscard]] Status AddOperatorKey(Env* env, const std::string& dir, const ReplicaOptions& options,
                                    std::span<const uint8_t, wire::kSecretHashSize> secret_sha256,
                                    uint64_t now_us, uint64_t* key_id);

}  // namespace eleven::replica
