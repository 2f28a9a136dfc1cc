// A storefront back end in miniature: connects to `eleven serve` with an operator key,
// creates a merchant, a SKU and a storefront key, then, as that storefront, places orders
// through the auto-batching Add() (many callers, one request per batch), pays one, and reads
// the stock back.
//
//   eleven format --data /tmp/shop --key-file /tmp/shop.key
//   eleven serve --data /tmp/shop &
//   place_orders 127.0.0.1:7011 "$(cat /tmp/shop.key)"      (or ELEVEN_KEY=... place_orders)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>

#include "client/client.h"
#include "wire/make.h"

using namespace eleven;

int main(int argc, char** argv) {
  client::ClientOptions options;
  options.address = argc > 1 ? argv[1] : "127.0.0.1:7011";
  options.key = argc > 2 ? argv[2] : (std::getenv("ELEVEN_KEY") != nullptr ? std::getenv("ELEVEN_KEY") : "");
  std::unique_ptr<client::Client> admin;
  if (Status s = client::Client::Connect(options, &admin); !s.ok()) {
    std::fprintf(stderr, "connect: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<wire::Result> results;
  const std::vector<wire::Command> catalog = {wire::MakeCreateMerchant(9001, "CN", 0),
                                              wire::MakeCreateSku(90010, 9001, 19900, 1000, 2)};
  if (Status s = admin->SubmitSync(catalog, &results); !s.ok()) {
    std::fprintf(stderr, "catalog: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("catalog: %s, %s\n", std::string(wire::CodeName(results[0].code)).c_str(),
              std::string(wire::CodeName(results[1].code)).c_str());
  // The storefront's own key: its orders are its own (only it and the merchant read them).
  wire::Code code = wire::Code::ok;
  uint64_t storefront_key_id = 0;
  client::ClientOptions storefront = options;
  if (Status s = admin->CreateKey(wire::Role::kStorefront, /*storefront id=*/1, &code, &storefront_key_id,
                                  &storefront.key);
      !s.ok() || code != wire::Code::ok) {
    std::fprintf(stderr, "storefront key: %s\n", s.ok() ? std::string(wire::CodeName(code)).c_str() : s.ToString().c_str());
    return 1;
  }
  std::printf("storefront key %llu created\n", static_cast<unsigned long long>(storefront_key_id));
  std::unique_ptr<client::Client> shop;
  if (Status s = client::Client::Connect(storefront, &shop); !s.ok()) {
    std::fprintf(stderr, "connect as the storefront: %s\n", s.ToString().c_str());
    return 1;
  }
  // 500 buyers order at once; the client sends them as one or a few batches.
  constexpr int kBuyers = 500;
  std::atomic<int> done{0}, accepted{0};
  std::promise<void> all;
  std::string first_refusal;  // written on the client's thread, read after `all`
  uint64_t first_order = 0;
  for (int b = 1; b <= kBuyers; b++) {
    // The key identifies the attempt: a resend after a broken connection keeps it.
    const wire::Command order = wire::MakePlaceOrder(/*key=*/900000 + b, 9001, /*buyer=*/b, 11, 3, {{90010, 1}});
    shop->Add(order, [&, b](const Status& s, const wire::Result& r) {
      if (s.ok() && r.code == wire::Code::ok) {
        accepted++;
        if (b == 1) first_order = r.id;
      } else if (first_refusal.empty()) {
        first_refusal = s.ok() ? std::string(wire::CodeName(r.code)) : s.ToString();
      }
      if (++done == kBuyers) all.set_value();
    });
  }
  all.get_future().wait();
  std::printf("orders: %d of %d accepted%s%s\n", accepted.load(), kBuyers,
              first_refusal.empty() ? "" : "; the first refusal: ", first_refusal.c_str());
  if (first_order != 0) {
    const Status s = shop->SubmitSync(std::vector{wire::MakePayOrder(first_order, 19900)}, &results);
    std::printf("pay order %llu: %s\n", static_cast<unsigned long long>(first_order),
                s.ok() ? std::string(wire::CodeName(results[0].code)).c_str() : s.ToString().c_str());
  }
  wire::SkuRecord sku;
  if (shop->GetSku(90010, &code, &sku).ok() && code == wire::Code::ok) {
    std::printf("sku 90010: available %u, reserved %u, sold %u\n", sku.available, sku.reserved, sku.sold);
  }
  return 0;
}
