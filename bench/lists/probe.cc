// list_probe: GETs one HTTP path at a fixed rate over a kept-alive connection and reports the
// latency of each reply (from sending the request to reading the whole reply), the statuses,
// and the items per page. bench/lists/run drives it beside `eleven bench` to measure a list
// page while the server takes orders (docs/benchmarks.md, "Lists under load").
//
//   list_probe --port 7080 --path '/merchants/31338/orders?limit=100' --key-file F --rate 20 --seconds 25
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

int main(int argc, char** argv) {
  CLI::App app{"GET one path at a fixed rate and report reply latency"};
  std::string host = "127.0.0.1";
  uint16_t port = 7080;
  std::string path = "/merchants/31338/orders?limit=100";
  std::string key_file;
  double rate = 20;
  double seconds = 25;
  app.add_option("--host", host);
  app.add_option("--port", port);
  app.add_option("--path", path);
  app.add_option("--key-file", key_file, "a file holding the API key's secret (ek_...)");
  app.add_option("--rate", rate, "requests per second")->check(CLI::Range(0.1, 10000.0));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.1, 3600.0));
  CLI11_PARSE(app, argc, argv);
  std::string secret;
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    std::getline(in, secret);
  }
  boost::asio::io_context io;
  tcp::socket socket(io);
  boost::asio::connect(socket, tcp::resolver(io).resolve(host, std::to_string(port)));
  socket.set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  std::vector<double> latencies_ms;
  std::map<unsigned, uint64_t> statuses;
  uint64_t items = 0;
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto start = std::chrono::steady_clock::now();
  auto due = start;
  while (std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds)) {
    std::this_thread::sleep_until(due);
    due += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
    http::request<http::empty_body> request{http::verb::get, path, 11};
    request.set(http::field::host, host);
    if (!secret.empty()) request.set(http::field::authorization, "Bearer " + secret);
    const auto sent = std::chrono::steady_clock::now();
    http::write(socket, request);
    http::response<http::string_body> reply;
    http::read(socket, buffer, reply);
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
    statuses[reply.result_int()]++;
    const std::string& body = reply.body();
    for (size_t at = body.find("\"order_id\":"); at != std::string::npos; at = body.find("\"order_id\":", at + 1)) items++;
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) { return latencies_ms[std::min(latencies_ms.size() - 1, size_t(q * latencies_ms.size()))]; };
  const size_t n = latencies_ms.size();
  std::printf("%zu requests to %s: p50 %.2f ms, p99 %.2f ms, max %.2f ms; %.1f orders a page;", n, path.c_str(),
              at(0.5), at(0.99), latencies_ms.back(), double(items) / double(n));
  for (const auto& [status, count] : statuses) std::printf(" %u x%llu", status, (unsigned long long)count);
  std::printf("\n{\"requests\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"orders_per_page\":%.1f,\"ok\":%llu}\n", n,
              at(0.5), at(0.99), latencies_ms.back(), double(items) / double(n),
              (unsigned long long)statuses[200]);
  return statuses[200] == n ? 0 : 1;
}
