// Writes the browser test's fixtures (docs/festival-summary.md), deterministic:
//   sample_summary.json          every section, shaped like a default festival run
//   sample_summary_partial.json  the same run before payments, sales, promotions and fulfilment joined
// Run: node tests/report/make_sample_summaries.mjs tests/report
// The fixtures are committed; this script only documents (and can redo) how they were made.
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';

const out_dir = process.argv[2] || '.';
const kDayS = 86400;
const kSurgeEndS = 600;
const kSeedPeak = 545000;
const kScale = 0.001;

// A small linear congruential generator, so the fixture is the same on every machine.
let state = 12345;
function Random() {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 4294967296;
}

// Placement rate: a sharp surge just after midnight, a second wave at 01:00 (the pre-sale
// balance window), a day-long tail, and a smaller evening bump.
function RatePerS(t_s) {
  const surge = 735000 * Math.exp(-Math.pow((t_s - 12) / 0.9, 2)) +
                90000 * Math.exp(-Math.pow((t_s - 40) / 20, 2)) + 6000 * Math.exp(-t_s / 120);
  const wave = 900 * Math.exp(-Math.pow((t_s - 3600) / 900, 2));
  const tail = 18 + 22 * Math.exp(-t_s / 14400) + 14 * Math.exp(-Math.pow((t_s - 75600) / 5400, 2));
  return surge + wave + tail;
}

function BucketEnds() {
  const ends = [];
  for (let t = 1; t <= kSurgeEndS; ++t) ends.push(t);
  for (let t = kSurgeEndS + 60; t <= kDayS; t += 60) ends.push(t);
  return ends;
}

const kAverageOrderFen = 17850;
const timeline = [];
const latency_timeline = [];
let placed = 0, accepted = 0, gmv = 0, gmv_net = 0, dispatched = 0, previous_s = 0;
for (const t_s of BucketEnds()) {
  const width_s = t_s - previous_s;
  const rate = RatePerS(t_s - width_s / 2) * (0.97 + 0.06 * Random());
  const orders = Math.round(rate * width_s);
  const ok = Math.round(orders * (t_s < 60 ? 0.955 : 0.985));
  placed += orders;
  accepted += ok;
  gmv += ok * Math.round(kAverageOrderFen * (0.9 + 0.2 * Random()));
  gmv_net = Math.round(gmv * 0.86 * (1 - Math.exp(-t_s / 1800)));
  // Warehouses start at 00:10; dispatch is capacity-bound at about 4.2 parcels/s.
  if (t_s > 600) dispatched = Math.min(Math.round(accepted * 0.9), dispatched + Math.round(4.2 * width_s * (0.9 + 0.2 * Random())));
  timeline.push({t_s, orders_per_s: Math.round(orders / width_s), accepted, gmv_fen: gmv, gmv_net_fen: gmv_net,
                 parcels_dispatched: dispatched});
  if (t_s % 60 === 0 || t_s <= 60) {
    const load = Math.min(1, rate / kSeedPeak);
    latency_timeline.push({t_s, p50_us: Math.round(620 + 900 * load + 40 * Random()),
                           p99_us: Math.round(1250 + 2600 * load + 120 * Random()),
                           p999_us: Math.round(1900 + 4100 * load + 300 * Random())});
  }
  previous_s = t_s;
}

function Share(total, weights) {
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map(w => Math.round(total * w / sum));
}

const paid = Math.round(accepted * 0.91);
const tiers = ['1', '2', '3', '4', '5'];
const tier_orders = Share(accepted, [0.19, 0.24, 0.27, 0.21, 0.09]);
const provinces = ['Guangdong', 'Zhejiang', 'Jiangsu', 'Shandong', 'Henan', 'Sichuan', 'Hebei', 'Hubei', 'Fujian', 'Hunan',
                   'Anhui', 'Shanghai', 'Beijing', 'Shaanxi', 'Liaoning', 'Jiangxi', 'Chongqing', 'Yunnan', 'Guangxi',
                   'Shanxi', 'Tianjin', 'Guizhou', 'Heilongjiang', 'Jilin', 'Inner Mongolia', 'Xinjiang', 'Gansu',
                   'Hainan', 'Ningxia', 'Qinghai', 'Tibet'];
const region_orders = Share(accepted, provinces.map((_, i) => 1 / (i + 3)));
const countries = ['CN', 'JP', 'US', 'KR', 'AU', 'DE', 'FR', 'NZ', 'IT', 'GB', 'NL', 'TH', 'CA', 'ES', 'CH', 'SE'];
const country_gmv = Share(gmv, countries.map((c, i) => c === 'CN' ? 24 : 1 / (i + 1)));
const couriers = ['ZTO', 'YTO', 'STO', 'Yunda', 'SF Express', 'Best Express', 'EMS', 'Cainiao Direct'];
const warehouses = ['Hangzhou', 'Shanghai', 'Guangzhou', 'Wuhan', 'Chengdu', 'Tianjin', 'Xi\'an', 'Shenyang', 'Jinhua', 'Kunming',
                    'Zhengzhou', 'Xiamen'];
const milestones = [];
for (const n of [10000, 50000, 100000, 200000, 300000]) {
  const point = timeline.find(p => p.parcels_dispatched >= n);
  if (point) milestones.push({n, at_s: point.t_s});
}
const peak = timeline.reduce((best, p) => p.orders_per_s > best.orders_per_s ? p : best);
const refunds_fen = Math.round(gmv * 0.011);

// Coupons in the style of scenarios/default.toml's [coupons] at this fixture's 200,000 buyers:
// two platform coupons, a live room per drop (5% of the drop's price off), 400 shops' coupons
// together. A buyer claims each coupon once, first come, first served, so the popular lines run
// out; a few claims meet a live room that is not open or a coupon whose day has ended. Live
// rooms are the drop merchants' coupons, so the shops fund them.
// [name, funded_by, kind, amount_fen, threshold_fen, coupons, count, claims, redeemed share]
const kCouponLines = [
  ['¥50 off from ¥300', 'platform', 'threshold', 5000, 30000, 1, 4000, 61200, 0.93],
  ['¥5 off', 'platform', 'fixed', 500, 0, 1, 10000, 138400, 0.93],
  ['live room: 55 cars in 1 s', 'shop', 'fixed', 499500, 0, 1, 27, 1200, 0.96],
  ['live room: 10,000 65-inch TVs in 20 s', 'shop', 'fixed', 14995, 0, 1, 5000, 8400, 0.9],
  ['live room: 90,000 laptops in 5 min', 'shop', 'fixed', 27495, 0, 1, 45000, 52100, 0.9],
  ['live room: kiwi fruit in 30 min', 'shop', 'fixed', 349, 0, 1, 75000, 68900, 0.9],
  ['live room: live rice cooker (no seed figure)', 'shop', 'fixed', 1495, 0, 1, 20000, 19060, 0.9],
  ['shop coupons', 'shop', 'threshold', 2000, 20000, 400, 160000, 171300, 0.88],
];
const by_coupon = kCouponLines.map(([name, funded_by, kind, amount_fen, threshold_fen, coupons, count, claims, share]) => {
  const refused = Math.round(claims * 0.012);
  const claimed = Math.min(count, claims - refused);
  const redeemed = Math.round(claimed * share);
  // Held by orders still unpaid at 24:00: only coupons good until then (a live room closes
  // with its drop, long after its orders were paid or expired).
  const held = name.startsWith('live room') ? 0 : Math.round(claimed * 0.001);
  return {name, funded_by, kind, amount_fen, threshold_fen, coupons, count, claims, claimed,
          exhausted: claims - refused - claimed, held, redeemed, discount_fen: redeemed * amount_fen};
});
const LinesSum = (key, funded_by) =>
    by_coupon.filter(l => !funded_by || l.funded_by === funded_by).reduce((a, l) => a + l[key], 0);
const claims_refused = LinesSum('claims') - LinesSum('claimed') - LinesSum('exhausted');
const coupons_named = Math.round((LinesSum('redeemed') + LinesSum('held')) / 0.93);
const coupons = {
  claims: LinesSum('claims'), claims_granted: LinesSum('claimed'), claims_exhausted: LinesSum('exhausted'),
  claims_refused_by_code: {coupon_drop_not_open: Math.round(claims_refused * 0.7),
                           coupon_ended: claims_refused - Math.round(claims_refused * 0.7)},
  orders_with_coupons: Math.round(coupons_named / 1.12), coupons_named,
  redeemed: LinesSum('redeemed'), held: LinesSum('held'),
  platform_discount_fen: LinesSum('discount_fen', 'platform'), shop_discount_fen: LinesSum('discount_fen', 'shop'),
  discount_fen: LinesSum('discount_fen'), by_coupon,
};

// Pre-sale as in [presale]: 1% of the 20,000 SKUs, 30% of their 3,000 units each; 40% of the
// buyers paid a deposit (1 or 2 units, about ¥18.37 a unit, counting twice at the balance), 15%
// of them never paid the balance. The balance window closed at 01:00, so none is pending.
const kDepositFen = 1837;
const deposited_units = 120000;
const converted = 102000;
const forfeited = deposited_units - converted;
const presale = {
  presales: 200, quota: 200 * 900, deposits_sent: 81250, deposits: 80000,
  deposits_refused_by_code: {deposit_exists: 870, deposit_window_closed: 380},
  deposit_fen: deposited_units * kDepositFen, deposited_units, converted, conversion_share: converted / deposited_units,
  pending: 0, forfeited, forfeited_fen: forfeited * kDepositFen, inflation_fen: converted * kDepositFen,
  balances_paid: 68000, balances_refused_by_code: {balance_window_closed: 412},
};

// The engine's sales of paid orders: what they paid (net of discounts, less refunds) is the
// totals' net GMV; gross adds the discounts and refunds back.
const discounts_fen = coupons.discount_fen + presale.inflation_fen;
const sales = {gross_fen: gmv_net + discounts_fen + refunds_fen, discounts_fen, refunds_fen, net_fen: gmv_net,
               orders: paid, units: Math.round(paid * 1.42)};

const summary = {
  eleven_version: '0.1.0',
  scenario: {name: 'default', seed: 1, scale: kScale, merchants: 2000, overseas_merchants: 300, countries: 78, skus: 20000,
             buyers: 200000, simulated_seconds: kDayS, wall_seconds: 95.2, durability: 'durable',
             data_dir: '/tmp/eleven-festival.Xq3f9a'},
  seed_figures: {peak_orders_per_s: kSeedPeak, parcels_by_0801: 100000000, parcels_target_scaled: 100000000 * kScale,
                 parcels_target_at_s: 28860, tier34_new_user_share: 0.70},
  totals: {orders_placed: placed, orders_accepted: accepted, orders_rejected: placed - accepted, orders_paid: paid,
           orders_expired: Math.round(accepted * 0.07), orders_cancelled: Math.round(accepted * 0.02),
           retries: Math.round(placed * 0.004), gmv_gross_fen: gmv, gmv_net_fen: gmv_net,
           refunds_fen, peak_orders_per_s: peak.orders_per_s, peak_at_s: peak.t_s - 0.5,
           engine_orders_per_s: 1482000,
           rejected_by_code: Object.fromEntries(
               [['insufficient_stock', 0.71], ['buyer_limit', 0.18], ['drop_not_open', 0.06], ['drop_sold_out', 0.04],
                ['sku_not_found', 0.01]].map(([code, share]) => [code, Math.round((placed - accepted) * share)])),
           latency_us: {p50: 910, p99: 2480, p999: 4350, max: 11800}},
  timeline,
  latency_timeline,
  drops: [
    {name: '55 cars in 1 s', sku: 'car-model-3', quota: 55, seed_seconds: 1, opened_at_s: 0, sold_out_after_s: 0.34, sold: 55},
    {name: '10,000 65-inch TVs in 20 s', sku: 'tv-65', quota: 10000, seed_seconds: 20, opened_at_s: 0,
     sold_out_after_s: 6.8, sold: 10000},
    {name: '90,000 laptops in 5 min', sku: 'laptop-14', quota: 90000, seed_seconds: 300, opened_at_s: 0,
     sold_out_after_s: 41.5, sold: 90000},
    {name: 'kiwi fruit in 30 min', sku: 'kiwi-box', quota: 150000, seed_seconds: 1800, opened_at_s: 3600,
     sold_out_after_s: 1214, sold: 150000},
    {name: 'live rice cooker (no seed figure)', sku: 'rice-cooker', quota: 40000, opened_at_s: 7200,
     sold_out_after_s: null, sold: 38122},
  ],
  payments: {wallet: Math.round(paid * 0.71), card: Math.round(paid * 0.11),
             instalments: {'3': Math.round(paid * 0.07), '6': Math.round(paid * 0.05), '12': Math.round(paid * 0.035),
                           '24': Math.round(paid * 0.025)},
             instalment_fee_merchant_fen: Math.round(gmv * 0.0042), instalment_fee_buyer_fen: Math.round(gmv * 0.0007)},
  sales,
  promotions: {coupons, presale},
  fulfilment: {parcels: paid, dispatched, backlog: paid - dispatched,
               by_courier: Share(dispatched, [0.21, 0.18, 0.16, 0.15, 0.1, 0.08, 0.07, 0.05]).map((n, i) => ({name: couriers[i], parcels: n})),
               by_warehouse: Share(dispatched, warehouses.map((_, i) => 1 / (i + 2))).map((n, i) => ({name: warehouses[i], parcels: n})),
               milestones},
  breakdowns: {
    city_tier: tiers.map((key, i) => ({key, orders: tier_orders[i], gmv_fen: Math.round(gmv * tier_orders[i] / accepted * (1.25 - 0.1 * i)),
                                         buyers: Math.round(200000 * [0.17, 0.23, 0.28, 0.22, 0.10][i]),
                                         new_buyers: Math.round(31000 * [0.09, 0.15, 0.38, 0.32, 0.06][i])})),
    region: provinces.map((key, i) => ({key, orders: region_orders[i], gmv_fen: region_orders[i] * kAverageOrderFen})),
    country: countries.map((key, i) => ({key, orders: Math.round(country_gmv[i] / kAverageOrderFen), gmv_fen: country_gmv[i]})),
  },
};

writeFileSync(join(out_dir, 'sample_summary.json'), JSON.stringify(summary) + '\n');
const partial = structuredClone(summary);
delete partial.payments;
delete partial.fulfilment;
delete partial.sales;
delete partial.promotions;
for (const point of partial.timeline) delete point.parcels_dispatched;
partial.scenario.name = 'default (before payments and fulfilment)';
writeFileSync(join(out_dir, 'sample_summary_partial.json'), JSON.stringify(partial) + '\n');
console.log('points', timeline.length, 'placed', placed, 'accepted', accepted, 'gmv', gmv, 'dispatched', dispatched, 'peak', peak);
