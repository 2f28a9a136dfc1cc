#!/usr/bin/env bash
# The festival report in a real browser: builds reports from fixture summaries with
# eleven_report_tool, opens each in headless Chromium with name resolution disabled (so the
# page can only work if it is truly self-contained), and checks from the rendered DOM that
#   - the page finished drawing (body data-report-state="complete"),
#   - ECharts' 'finished' event fired for every chart, and that is the number of charts the
#     fixture must produce, each named one holding an <svg>,
#   - no script error was recorded (html data-js-errors absent) and nothing was fetched
#     besides the page itself (body data-resources-fetched="0"; the template has no src/href),
#   - sections whose figures are missing say "not measured in this run" and the others do not,
#   - a section shows given figures as text (the promotions' net sales, coupon costs, ...).
# Fails (never skips) when Chromium or ECharts is missing, saying what to install.
#
# Usage: report_browser_test.sh TOOL SOURCE_DIR WORK_DIR
#   TOOL        eleven_report_tool
#   SOURCE_DIR  the source tree (fixtures in tests/report/, pages in web/)
#   WORK_DIR    where reports, DOM dumps and the screenshot go
set -euo pipefail

readonly kChromiumTimeoutS=180
readonly kVirtualTimeBudgetMs=5000
readonly kAllSections="traffic gmv latency drops fulfilment buyers rejections payments promotions"

fail() {
  echo "report_browser_test: FAIL: $*" >&2
  exit 1
}

[ $# -eq 3 ] || fail "usage: report_browser_test.sh TOOL SOURCE_DIR WORK_DIR"
tool=$1
source_dir=$2
work_dir=$3
chromium_bin=${ELEVEN_CHROMIUM:-chromium}

command -v "$chromium_bin" >/dev/null 2>&1 ||
  fail "headless Chromium ('$chromium_bin') is not installed; the report's browser test needs it." \
       "Install it with scripts/deps (it adds the Debian package chromium) or: apt-get install -y chromium"
export ELEVEN_WEB_DIR="$source_dir/web"
[ -f "$ELEVEN_WEB_DIR/node_modules/echarts/dist/echarts.min.js" ] ||
  fail "Apache ECharts is not installed in $ELEVEN_WEB_DIR/node_modules: run scripts/deps or: npm ci --prefix web"
[ -x "$tool" ] || fail "eleven_report_tool not found at $tool"
mkdir -p "$work_dir"
if grep -q -i -E '<(script|img|iframe|link)[^>]* (src|href)=' "$ELEVEN_WEB_DIR/report/template.html"; then
  fail "web/report/template.html refers to an outside resource; the report must be self-contained"
fi

# Fresh Chromium profiles, one per run, all under one directory removed at exit.
profiles_dir=$(mktemp -d "${TMPDIR:-/tmp}/eleven-report-chromium.XXXXXX")
trap 'rm -rf "$profiles_dir"' EXIT

# Chromium with a fresh profile, no network services, and no name resolution at all.
run_chromium() {
  local profile
  profile=$(mktemp -d "$profiles_dir/profile.XXXXXX")
  timeout "$kChromiumTimeoutS" "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND" \
    --virtual-time-budget="$kVirtualTimeBudgetMs" "$@"
}

# attribute NAME TAG: the value of NAME in TAG (an opening tag), or empty.
attribute() {
  printf '%s' "$2" | grep -o " $1=\"[^\"]*\"" | head -n 1 | sed -e 's/^[^"]*"//' -e 's/"$//' || true
}

# open_report NAME SUMMARY: builds NAME.html and starts Chromium dumping its DOM in the
# background (Chromium takes seconds to start here, so the reports are opened side by side).
pids=()
open_report() {
  local name=$1 summary=$2
  local html="$work_dir/$name.html" dom="$work_dir/$name.dom.html" log="$work_dir/$name.chromium.log"
  rm -f "$dom" "$work_dir/$name.failed"
  "$tool" "$summary" "$html" >/dev/null || fail "$name: eleven_report_tool failed on $summary"
  { run_chromium --dump-dom "file://$html" >"$dom" 2>"$log" || touch "$work_dir/$name.failed"; } &
  pids+=($!)
}

# check_report NAME EXPECTED_CHARTS "CHART IDS" "NOT MEASURED SECTIONS"
check_report() {
  local name=$1 expected=$2 chart_ids=$3 missing_sections=$4
  local dom="$work_dir/$name.dom.html" log="$work_dir/$name.chromium.log"
  [ ! -e "$work_dir/$name.failed" ] || fail "$name: chromium failed or timed out (see $log)"

  local html_tag body_tag
  html_tag=$(head -c 65536 "$dom" | tr '\n' ' ' | grep -o '<html[^>]*>' | head -n 1 || true)
  body_tag=$(grep -o '<body[^>]*>' "$dom" | head -n 1 || true)
  [ -n "$body_tag" ] || fail "$name: no <body> in the DOM dump $dom"
  local errors state rendered built
  errors=$(attribute data-js-errors "$html_tag")
  [ -z "$errors" ] || fail "$name: $errors script error(s): $(attribute data-js-error "$html_tag")"
  state=$(attribute data-report-state "$body_tag")
  rendered=$(attribute data-charts-rendered "$body_tag")
  built=$(attribute data-charts-expected "$body_tag")
  [ "$state" = complete ] ||
    fail "$name: report state is '$state', not 'complete' ($rendered of $built charts finished)"
  [ "$built" = "$expected" ] || fail "$name: the page built $built charts, the fixture needs $expected"
  [ "$rendered" = "$expected" ] || fail "$name: $rendered charts finished rendering, expected $expected"
  local fetched
  fetched=$(attribute data-resources-fetched "$body_tag")
  [ "$fetched" = 0 ] || fail "$name: the page fetched $fetched outside resource(s); it must be self-contained"

  local id
  for id in $chart_ids; do
    grep -q -E "data-chart=\"$id\" data-rendered=\"true\"[^>]*><div[^>]*><svg" "$dom" ||
      fail "$name: chart '$id' did not render an <svg>"
  done
  local not_measured='<p class="not-measured">not measured in this run</p>'
  local section
  for section in $kAllSections; do
    if [[ " $missing_sections " == *" $section "* ]]; then
      grep -q -E "id=\"section-$section\" data-measured=\"false\"><h2>[^<]*</h2>(<p class=\"lede\">[^<]*</p>)?<div class=\"section-body\">$not_measured" "$dom" ||
        fail "$name: section '$section' should say \"not measured in this run\""
    else
      grep -q "id=\"section-$section\" data-measured=\"true\"" "$dom" ||
        fail "$name: section '$section' should be measured"
    fi
  done
  echo "report_browser_test: $name: $rendered charts rendered, not measured: ${missing_sections:-none}"
}

# check_section_shows NAME SECTION TEXT...: each TEXT (HTML as the DOM dump writes it) is in
# SECTION's element, from its opening tag to its </section>.
check_section_shows() {
  local name=$1 section=$2
  shift 2
  local html text
  html=$(grep -o "id=\"section-$section\".*" "$work_dir/$name.dom.html" | sed -e 's#</section>.*##' || true)
  [ -n "$html" ] || fail "$name: no section '$section' in the DOM dump"
  for text in "$@"; do
    grep -q -F -- "$text" <<<"$html" || fail "$name: section '$section' does not show: $text"
  done
  echo "report_browser_test: $name: section '$section' shows $# expected figure(s)"
}

readonly kFullCharts="orders_per_s orders_per_s_surge gmv latency_timeline latency_totals drops parcels
  couriers warehouses city_tier region country rejected payment_mix instalments
  sales_waterfall coupon_lines coupon_discounts presale"
readonly kPartialCharts="orders_per_s orders_per_s_surge gmv latency_timeline latency_totals drops
  city_tier region country rejected"

printf '{"eleven_version": "0.1.0", "scenario": {"name": "empty"}, "payments": {}, "drops": []}\n' \
  >"$work_dir/empty_summary.json"
# The engine's sales figures without the promotions that explain the discounts: the
# promotions section draws gross to net and says coupons and pre-sale were not measured.
printf '%s\n' '{"eleven_version": "0.1.0", "scenario": {"name": "sales only"}, "promotions": {},' \
  '"sales": {"gross_fen": 1250000, "discounts_fen": 50000, "refunds_fen": 20000, "net_fen": 1180000,' \
  '"orders": 40, "units": 52}}' >"$work_dir/sales_only_summary.json"
open_report full "$source_dir/tests/report/sample_summary.json"
open_report partial "$source_dir/tests/report/sample_summary_partial.json"
open_report empty "$work_dir/empty_summary.json"
open_report sales_only "$work_dir/sales_only_summary.json"
# A picture of the full report, for people.
screenshot="$work_dir/sample_report.png"
rm -f "$screenshot"
{ run_chromium --hide-scrollbars --window-size=1280,8200 --screenshot="$screenshot" \
    "file://$work_dir/full.html" >"$work_dir/screenshot.chromium.log" 2>&1 || true; } &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done

check_report full 19 "$kFullCharts" ""
# The fixture's sales and promotions (tests/report/make_sample_summaries.mjs): net = gross -
# discounts - refunds; the coupons' cost by who funds it; the pre-sale's conversion and forfeits.
check_section_shows full promotions \
  '<dt>gross</dt><dd>¥1,295,309,524.02</dd>' '<dt>discounts</dt><dd>¥17,329,550.94</dd>' \
  '<dt>refunds</dt><dd>¥16,139,815.96</dd>' '<dt>net</dt><dd>¥1,261,840,157.12</dd>' \
  '<dt>coupons paid for by the platform</dt><dd>¥232,500.00</dd>' \
  '<dt>coupons paid for by shops</dt><dd>¥15,223,310.94</dd>' \
  '<dt>pre-sale conversion</dt><dd>85.0%</dd>' '<dt>pre-sale units forfeited</dt><dd>18,000</dd>' \
  '<td>live room: 55 cars in 1 s</td><td>shop</td><td>¥4,995 off</td>' \
  '<td>shop coupons</td><td>shop</td><td>¥20 off from ¥200</td>' \
  'the axis starts at ¥1,220,000,000' '>−¥1,873,740</text>' '>¥1,261,840,157</text>'
check_report partial 10 "$kPartialCharts" "fulfilment payments promotions"
check_report empty 0 "" "$kAllSections"
check_report sales_only 1 "sales_waterfall" "traffic gmv latency drops fulfilment buyers rejections payments"
check_section_shows sales_only promotions '<dt>net</dt><dd>¥11,800.00</dd>' \
  '>¥12,500</text>' '>−¥500</text>' '>−¥200</text>' '>¥11,800</text>' \
  '<p class="not-measured">coupons: not measured in this run</p>' \
  '<p class="not-measured">pre-sale: not measured in this run</p>'
[ -s "$screenshot" ] || fail "chromium wrote no screenshot to $screenshot (see $work_dir/screenshot.chromium.log)"
echo "report_browser_test: ok; sample report $work_dir/full.html, screenshot $screenshot"
