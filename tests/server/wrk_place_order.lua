-- wrk script: one POST /orders per request, each with its own idempotency key and buyer.
--   wrk -t2 -c64 -d10s -s tests/server/wrk_place_order.lua http://127.0.0.1:7080 -- RUN KEY
-- RUN (0..999, default 0) keeps the keys of one run apart from another's on the same server:
-- a key seen before is answered from the order it placed, which is cheaper than placing one.
-- KEY is a storefront's (or an operator's) API key secret, sent as Authorization: Bearer KEY
-- (docs/access.md); without it the request is anonymous (a loopback trial server only).
-- Needs merchant 1 and SKU 777 with enough stock (bench/http/run creates them).
local threads = {}
function setup(thread)
  thread:set("base", (#threads + 1) * 1000000000000)
  table.insert(threads, thread)
end
local counter = 0
local headers = {["Content-Type"] = "application/json"}
function init(args)
  counter = (tonumber(args[1]) or 0) * 1000000000
  if args[2] ~= nil and args[2] ~= "" then headers["Authorization"] = "Bearer " .. args[2] end
end
function request()
  counter = counter + 1
  local key = base + counter
  local body = string.format('{"idempotency_key":%d,"merchant_id":1,"buyer_id":%d,"region":11,"city_tier":2,"lines":[{"sku_id":777,"quantity":1}]}', key, key % 10000000 + 1)
  return wrk.format("POST", "/orders", headers, body)
end
