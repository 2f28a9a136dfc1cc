#include "replica/first_key.h"

#include <cstring>

#include "base/assert.h"
#include "wire/fulfilment.h"

namespace eleven::replica {

Status AddOperatorKey(Env* env, const std::string& dir, const ReplicaOptions& options,
                      std::span<const uint8_t, wire::kSecretHashSize> secret_sha256, uint64_t now_us,
                      uint64_t* key_id) {
  ELEVEN_ASSERT(env != nullptr && key_id != nullptr);
  wire::CreateKey create{};
  create.operation = wire::kCreateKey;
  create.role = wire::Role::kOperator;
  create.scope_id = 0;
  std::memcpy(create.secret_sha256, secret_sha256.data(), secret_sha256.size());
  wire::Command command = wire::ToCommand(create);
  wire::SetIssuer(command, 0);  // the local operator
  ELEVEN_ASSERT(wire::IssuerOf(command) == 0 && wire::TrailerReservedZero(command));

  std::unique_ptr<Replica> replica;
  RecoveryReport report;
  ELEVEN_RETURN_IF_ERROR(Replica::Open(env, dir, options, &replica, &report));
  wire::Result result{};
  uint64_t op = 0;
  ELEVEN_RETURN_IF_ERROR(replica->Submit(std::span(&command, 1), now_us, std::span(&result, 1), &op));
  ELEVEN_RETURN_IF_ERROR(replica->WaitDurable(op));
  if (result.code != wire::Code::ok) {
    return Status::FailedPrecondition("the first operator key of " + dir + " was refused: " +
                                      std::string(wire::CodeName(result.code)));
  }
  ELEVEN_ASSERT(result.id > 0 && result.id <= UINT32_MAX);
  *key_id = result.id;
  return Status::Ok();
}

}  // namespace eleven::replica
