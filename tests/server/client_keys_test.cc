// The C++ client with API keys against a server that requires them (docs/access.md,
// docs/protocol.md "Authentication"): Connect authenticates and every frame carries the key
// id; a refused key fails Connect with a status naming unauthenticated; a key revoked while
// connected fails the next request the same way; a reconnect authenticates again; CreateKey
// makes a working key whose hash the server's own hashing agrees with; the first operator
// key AddOperatorKey records (what `eleven format` does) is op 1, issued by the local
// operator.
#include <gtest/gtest.h>

#include <string>

#include "client/client.h"
#include "client/keys.h"
#include "replica/first_key.h"
#include "server/api_keys.h"
#include "tests/server/test_util.h"
#include "wire/make.h"

namespace eleven::server::testing {
namespace {

// A config that accepts no anonymous request, and its data directory formatted with one
// operator key whose secret is returned.
std::string FormatWithOperatorKey(ServerConfig* config) {
  config->anonymous_operator = false;
  const Status formatted = FormatForConfig(*config);
  EXPECT_TRUE(formatted.ok()) << formatted.ToString();
  const std::string secret = client::NewKeySecret();
  replica::ReplicaOptions options;
  options.engine = config->engine;
  options.clock = ShapeOfConfig(*config).clock;
  uint64_t key_id = 0;
  const Status added =
      replica::AddOperatorKey(Env::Default(), config->data_dir, options, client::HashKeySecret(secret), 0, &key_id);
  EXPECT_TRUE(added.ok()) << added.ToString();
  EXPECT_EQ(key_id, 1u);
  return secret;
}

// The server's last applied op, asked over the protocol (the server is running).
uint64_t LastOp(client::Client* c) {
  protocol::DigestRecord digest{};
  const Status s = c->GetDigest(&digest);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return digest.op;
}

Status ConnectWith(uint16_t port, const std::string& key, std::unique_ptr<client::Client>* c) {
  client::ClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(port);
  options.key = key;
  options.request_timeout_ms = 10000;
  options.reconnect_attempts_max = 50;
  return client::Client::Connect(options, c);
}

TEST(ClientKeys, SecretsAndHashesAgreeWithTheServers) {
  for (int i = 0; i < 100; i++) {
    const std::string secret = client::NewKeySecret();
    ASSERT_TRUE(WellFormedSecret(secret)) << secret;
    ASSERT_TRUE(client::WellFormedKeySecret(secret)) << secret;
    const client::KeySecretHash mine = client::HashKeySecret(secret);
    const SecretHash theirs = HashSecret(secret);
    ASSERT_TRUE(std::equal(mine.begin(), mine.end(), theirs.begin()));
  }
  EXPECT_FALSE(client::WellFormedKeySecret("ek_short"));
  EXPECT_FALSE(client::WellFormedKeySecret(std::string("xk_") + std::string(43, 'a')));
  EXPECT_FALSE(client::WellFormedKeySecret(std::string("ek_") + std::string(42, 'a') + "="));
  EXPECT_TRUE(client::WellFormedKeySecret(std::string("ek_") + std::string(43, 'a')));
}

TEST(ClientKeys, ConnectAuthenticatesAndARefusedKeySaysUnauthenticated) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  const std::string operator_key = FormatWithOperatorKey(&config);
  auto server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->binary_port();

  std::unique_ptr<client::Client> c;
  ASSERT_TRUE(ConnectWith(port, operator_key, &c).ok());
  const protocol::AuthenticatedRecord me = c->authenticated();
  EXPECT_EQ(me.key_id, 1u);
  EXPECT_EQ(me.role, wire::Role::kOperator);
  std::vector<wire::Result> results;
  ASSERT_TRUE(c->SubmitSync(std::vector{wire::MakeCreateMerchant(7, "CN", 0)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  EXPECT_EQ(LastOp(c.get()), 2u);  // the format's key, then the merchant

  // A well-formed key the server does not know, and a malformed one: Connect fails, naming it.
  for (const std::string& bad : {client::NewKeySecret(), std::string("not a key")}) {
    std::unique_ptr<client::Client> refused;
    const Status s = ConnectWith(port, bad, &refused);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("unauthenticated"), std::string::npos) << s.ToString();
    EXPECT_EQ(refused, nullptr);
  }
  // No key: the connection opens, but the server answers the first frame unauthenticated.
  std::unique_ptr<client::Client> anonymous;
  ASSERT_TRUE(ConnectWith(port, "", &anonymous).ok());
  protocol::DigestRecord digest{};
  const Status s = anonymous->GetDigest(&digest);
  EXPECT_NE(s.message().find("unauthenticated"), std::string::npos) << s.ToString();
  EXPECT_EQ(LastOp(c.get()), 2u);  // nothing was applied for them
}

TEST(ClientKeys, CreatedKeysWorkRevokedKeysStopAndReconnectsAuthenticateAgain) {
  TempDataDir dir;
  ServerConfig config = TestConfig(dir.path());
  const std::string operator_key = FormatWithOperatorKey(&config);
  auto server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->binary_port();
  std::unique_ptr<client::Client> admin;
  ASSERT_TRUE(ConnectWith(port, operator_key, &admin).ok());
  std::vector<wire::Result> results;
  ASSERT_TRUE(admin->SubmitSync(std::vector{wire::MakeCreateMerchant(7, "CN", 0)}, &results).ok());

  wire::Code code = wire::Code::ok;
  uint64_t merchant_key_id = 0;
  std::string merchant_key;
  ASSERT_TRUE(admin->CreateKey(wire::Role::kMerchant, 7, &code, &merchant_key_id, &merchant_key).ok());
  ASSERT_EQ(code, wire::Code::ok);
  EXPECT_EQ(merchant_key_id, 2u);
  EXPECT_TRUE(client::WellFormedKeySecret(merchant_key));
  // A refused create_key gives its code and no secret.
  std::string none;
  uint64_t none_id = 0;
  ASSERT_TRUE(admin->CreateKey(wire::Role::kMerchant, 8, &code, &none_id, &none).ok());
  EXPECT_EQ(code, wire::Code::merchant_not_found);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none_id, 0u);
  wire::KeyRecord record{};
  ASSERT_TRUE(admin->GetKey(merchant_key_id, &code, &record).ok());
  EXPECT_EQ(code, wire::Code::ok);
  EXPECT_EQ(record.role, wire::Role::kMerchant);
  EXPECT_EQ(record.scope_id, 7u);
  EXPECT_EQ(record.created_by, 1u);

  std::unique_ptr<client::Client> merchant;
  ASSERT_TRUE(ConnectWith(port, merchant_key, &merchant).ok());
  EXPECT_EQ(merchant->authenticated().key_id, merchant_key_id);
  EXPECT_EQ(merchant->authenticated().scope_id, 7u);
  ASSERT_TRUE(merchant->SubmitSync(std::vector{wire::MakeCreateSku(70, 7, 990, 10, 2)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::ok);
  // Its role shows in the results: another merchant's SKU is forbidden, keys are operators'.
  ASSERT_TRUE(merchant->SubmitSync(std::vector{wire::MakeCreateSku(71, 8, 990, 10, 2)}, &results).ok());
  EXPECT_EQ(results[0].code, wire::Code::forbidden);
  ASSERT_TRUE(merchant->CreateKey(wire::Role::kViewer, 0, &code, &none_id, &none).ok());
  EXPECT_EQ(code, wire::Code::forbidden);

  // A restart breaks both connections: each client reconnects and authenticates again.
  server.reset();
  config.listen = "127.0.0.1:" + std::to_string(port);
  auto pending = merchant->Submit(std::vector{wire::MakeRestock(70, 5)});
  server = StartServer(config);
  ASSERT_NE(server, nullptr);
  const client::SubmitOutcome outcome = pending.get();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
  EXPECT_EQ(outcome.results[0].code, wire::Code::ok);
  EXPECT_GE(merchant->stats().reconnects, 1u);

  // Revoked while connected: the next request fails unauthenticated, and so does a new Connect.
  ASSERT_TRUE(admin->RevokeKey(merchant_key_id, &code).ok());
  EXPECT_EQ(code, wire::Code::ok);
  const uint64_t op_revoked = LastOp(admin.get());
  const Status after = merchant->SubmitSync(std::vector{wire::MakeRestock(70, 5)}, &results);
  EXPECT_NE(after.message().find("unauthenticated"), std::string::npos) << after.ToString();
  std::unique_ptr<client::Client> again;
  const Status reconnect = ConnectWith(port, merchant_key, &again);
  EXPECT_NE(reconnect.message().find("unauthenticated"), std::string::npos) << reconnect.ToString();
  EXPECT_EQ(LastOp(admin.get()), op_revoked);  // nothing of the revoked key's was logged
}

}  // namespace
}  // namespace eleven::server::testing
