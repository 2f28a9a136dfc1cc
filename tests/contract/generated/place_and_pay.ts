// A client generated from docs/openapi.yaml by @hey-api/openapi-ts (its functions are the
// document's operationIds) places and pays an order against a running `eleven serve`.
// generated_client.mjs generates the client next to this file, type-checks both with tsc
// and runs the result with ELEVEN_URL and ELEVEN_KEY set.
import { client } from "./gen/client.gen";
import { createMerchant, createSku, getOrder, payOrder, placeOrder } from "./gen/sdk.gen";

async function main(): Promise<void> {
  client.setConfig({
    baseUrl: process.env.ELEVEN_URL,
    headers: { Authorization: `Bearer ${process.env.ELEVEN_KEY}` },
  });
  const merchant = await createMerchant({ body: { merchant_id: 1, country: "CN", overseas: false } });
  if (merchant.response.status !== 200) throw new Error(`createMerchant: ${merchant.response.status}`);
  const sku = await createSku({ body: { sku_id: 10, merchant_id: 1, price_fen: 500, stock: 100 } });
  if (sku.response.status !== 200) throw new Error(`createSku: ${sku.response.status}`);

  const placed = await placeOrder({
    body: { idempotency_key: 7001, merchant_id: 1, buyer_id: 42, region: 11, city_tier: 3,
            lines: [{ sku_id: 10, quantity: 2 }] },
  });
  if (!placed.data) throw new Error(`placeOrder: ${placed.response.status} ${JSON.stringify(placed.error)}`);
  const orderId = placed.data.id;
  const paid = await payOrder({ path: { order_id: orderId }, body: { amount_fen: 1000, payment_method: "card" } });
  if (!paid.data) throw new Error(`payOrder: ${paid.response.status} ${JSON.stringify(paid.error)}`);
  const order = await getOrder({ path: { order_id: orderId } });
  if (!order.data) throw new Error(`getOrder: ${order.response.status}`);
  // A retry with the same idempotency key answers the first result.
  const again = await placeOrder({
    body: { idempotency_key: 7001, merchant_id: 1, buyer_id: 42, region: 11, city_tier: 3,
            lines: [{ sku_id: 10, quantity: 2 }] },
  });
  console.log(JSON.stringify({ order_id: orderId, placed: placed.data.state, paid: paid.data.state,
                               state: order.data.state, replayed: again.data?.replayed === true,
                               replayed_id: again.data?.id }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
