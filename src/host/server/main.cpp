// SPDX-License-Identifier: Apache-2.0
// switchyard-server: a thin HTTP/1.1 server on Boost.Beast over RestApi (the only Beast code).
// Asynchronous, a few threads, keep-alive, a body limit (413), and read and write deadlines so
// a slow or silent client cannot hold a connection.
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#if defined(SWITCHYARD_SERVER_WITH_POSTGRES)
#include <switchyard/registry/postgres_registry_store.hpp>
#endif

#include "rest_api.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using switchyard::server::HttpRequest;
using switchyard::server::HttpResponse;
using switchyard::server::RestApi;

constexpr const char* kUsage =
    "usage: switchyard-server --data DIR [--port N] [--bind ADDR] [--token T] [--threads N]\n"
    "                         [--max-body BYTES] [--read-timeout SECONDS]\n"
    "                         [--max-connections N] [--training FILE] [--drift-window S]\n"
    "                         [--prediction-log] [--log-connections]\n"
    "                         [--store postgresql[://...]] [--max-staleness S]\n"
    "  --data DIR          registry directory (registry.db, artifacts/, traffic.json, audit.log);\n"
    "                      created when missing, a fresh one starts empty\n"
    "  --port N            TCP port (default 8000; 0 picks a free one); the bound port is printed\n"
    "                      alone on the first line of stdout\n"
    "  --bind ADDR         address to listen on (default 127.0.0.1: this machine only)\n"
    "  --token T           bearer token the control-plane routes need (env SWITCHYARD_TOKEN)\n"
    "  --threads N         I/O threads (default: the number of cores)\n"
    "  --max-body BYTES    largest request body; larger ones get 413 (default 1048576)\n"
    "  --read-timeout S    seconds a client has to send a request (default 10)\n"
    "  --max-connections N open connections beyond which new ones are closed (default 4096)\n"
    "  --training FILE     labelled sentences to train on (default: the set built in)\n"
    "  --drift-window S    seconds per window of GET /models/{name}/drift (default 60)\n"
    "  --prediction-log    log every prediction to DIR/predictions.db (SQLite, in batches)\n"
    "  --store STORE       the registry's store: sqlite (default: DIR/registry.db), or a shared\n"
    "                      PostgreSQL database, postgresql://user@host/db, or just postgresql\n"
    "                      to read the URL from SWITCHYARD_PG_URL (builds with\n"
    "                      SWITCHYARD_WITH_POSTGRES); a follower then tracks the other\n"
    "                      replicas and GET /health reports its staleness\n"
    "  --max-staleness S   GET /health says \"degraded\" beyond S seconds behind (default 30)\n"
    "  --log-connections   print \"connections N\" to stdout whenever a connection opens or ends\n"
    "                      (N: those open then), for tests and debugging\n";

struct Config {
  std::string data;
  std::string bind = "127.0.0.1";
  unsigned short port = 8000;
  std::string token;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::size_t max_body = std::size_t{1} << 20;
  std::chrono::seconds read_timeout{10};
  std::size_t max_connections = 4096;
  std::string training_file;
  std::chrono::seconds drift_window{60};
  bool prediction_log = false;
  bool log_connections = false;
  std::string store = "sqlite";  // or a postgresql:// URL, or "postgresql" (SWITCHYARD_PG_URL)
  std::chrono::seconds max_staleness{30};
};

bool is_postgresql(const std::string& store) {
  return store == "postgresql" || store.starts_with("postgresql://") ||
         store.starts_with("postgres://");
}

// --log-connections: one line per change of the open connection count, whole lines from any
// I/O thread.
void log_connections(std::size_t open) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::cout << "connections " << open << std::endl;
}

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "switchyard-server: " << message << "\n" << kUsage;
  std::exit(1);
}

template <class T>
T parse_number(const std::string& text, const char* option, T min, T max) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    usage_error(std::string(option) + " '" + text + "': expected a whole number from " +
                std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

Config parse_args(int argc, char** argv) {
  Config c;
  if (const char* token = std::getenv("SWITCHYARD_TOKEN"); token != nullptr) c.token = token;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (arg == "--prediction-log") {
      c.prediction_log = true;
      continue;
    }
    if (arg == "--log-connections") {
      c.log_connections = true;
      continue;
    }
    if (i + 1 >= argc) usage_error(arg + " needs a value (or is unknown)");
    const std::string value = argv[++i];
    if (arg == "--data")
      c.data = value;
    else if (arg == "--bind")
      c.bind = value;
    else if (arg == "--port")
      c.port = parse_number<unsigned short>(value, "--port", 0, 65535);
    else if (arg == "--token")
      c.token = value;
    else if (arg == "--threads")
      c.threads = parse_number<unsigned>(value, "--threads", 1, 256);
    else if (arg == "--max-body")
      c.max_body = parse_number<std::size_t>(value, "--max-body", 1, std::size_t{1} << 30);
    else if (arg == "--read-timeout")
      c.read_timeout = std::chrono::seconds(parse_number<int>(value, "--read-timeout", 1, 3600));
    else if (arg == "--max-connections")
      c.max_connections = parse_number<std::size_t>(value, "--max-connections", 1, 1'000'000);
    else if (arg == "--training")
      c.training_file = value;
    else if (arg == "--store")
      c.store = value;
    else if (arg == "--max-staleness")
      c.max_staleness = std::chrono::seconds(parse_number<int>(value, "--max-staleness", 1, 86400));
    else if (arg == "--drift-window")
      c.drift_window = std::chrono::seconds(parse_number<int>(value, "--drift-window", 1, 86400));
    else
      usage_error("unknown option " + arg);
  }
  if (c.store != "sqlite" && !is_postgresql(c.store)) {
    usage_error("--store '" + c.store + "': expected sqlite, postgresql or a postgresql:// URL");
  }
#if !defined(SWITCHYARD_SERVER_WITH_POSTGRES)
  if (is_postgresql(c.store)) {
    usage_error("--store postgresql: this switchyard-server was built without "
                "SWITCHYARD_WITH_POSTGRES");
  }
#endif
  if (c.data.empty()) usage_error("--data DIR is required");
  return c;
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

// One connection: read a request (header first, to answer "Expect: 100-continue" and to refuse
// an oversized body before it arrives), answer it, and go on while the client keeps it alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, RestApi& api, const Config& config, std::atomic<std::size_t>& live)
      : stream_(std::move(socket)), api_(api), config_(config), live_(live) {
    const std::size_t open = live_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (config_.log_connections) log_connections(open);
  }
  ~Session() {
    const std::size_t open = live_.fetch_sub(1, std::memory_order_relaxed) - 1;
    if (config_.log_connections) log_connections(open);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::read_header, shared_from_this()));
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(config_.max_body);
    stream_.expires_after(config_.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    const auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code e, std::size_t) {
                         if (e) return self->close();
                         self->read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return send_error(http::status::payload_too_large,
                        "the body is larger than " + std::to_string(config_.max_body) + " bytes",
                        "body");
    }
    if (ec == http::error::header_limit) {
      return send_error(http::status::request_header_fields_too_large,
                        "the request header is larger than 16384 bytes", "");
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return send_error(http::status::bad_request, "malformed HTTP request: " + ec.message(), "");
    }
    close();  // end of stream, timeout, reset, a half-sent request: nothing to answer
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    auto& req = parser_->get();
    HttpRequest r;
    r.method = view(req.method_string());
    r.target = view(req.target());
    r.headers.reserve(8);
    for (const auto& field : req)
      r.headers.emplace_back(view(field.name_string()), view(field.value()));
    r.body = req.body();
    HttpResponse answer = api_.handle(r);
    res_ = {};
    res_.version(req.version());
    res_.result(static_cast<unsigned>(answer.status));
    res_.set(http::field::server, "switchyard-server");
    res_.set(http::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) res_.set(name, value);
    res_.body() = std::move(answer.body);
    res_.keep_alive(req.keep_alive());
    res_.prepare_payload();
    if (req.method() == http::verb::head) res_.body().clear();
    write(!req.keep_alive());
  }

  // Answers a request that could not be read whole, then closes the connection.
  void send_error(http::status status, const std::string& message, const std::string& field) {
    res_ = {};
    res_.version(11);
    res_.result(status);
    res_.set(http::field::server, "switchyard-server");
    res_.set(http::field::content_type, "application/json");
    std::string body = "{\"error\":\"";
    for (char c : message) {
      if (c == '"' || c == '\\') body += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) body += c;
    }
    body += "\",\"field\":" + (field.empty() ? std::string("null") : "\"" + field + "\"") + "}";
    res_.body() = std::move(body);
    res_.keep_alive(false);
    res_.prepare_payload();
    write(true);
  }

  void write(bool close_after) {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_write(stream_, res_,
                      [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        if (close_after) return self->drain();
                        self->read_header();
                      });
  }

  // After an answer that ends the connection: stop sending, then read and drop what the client
  // still sends (the rest of an oversized body) for a moment, so that it reads the answer
  // instead of a connection reset.
  void drain() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    drain_more();
  }
  void drain_more() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (std::size_t{8} << 20))
                                return self->close();
                              self->drain_more();
                            });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  RestApi& api_;
  const Config& config_;
  std::atomic<std::size_t>& live_;  // open sessions, for --max-connections
  std::array<char, 16384> discard_{};
  std::size_t drained_ = 0;
};

// Accepts connections and hands each to a Session on its own strand.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::endpoint endpoint, RestApi& api, const Config& config)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_(acceptor_.get_executor()),
        api_(api),
        config_(config) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

 private:
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of file descriptors, most likely: try again shortly instead of spinning.
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code) { self->accept(); });
      return;
    }
    beast::error_code ignored;
    if (live_.load(std::memory_order_relaxed) >= config_.max_connections) {
      socket.close(ignored);  // over the limit: the client may retry later
    } else {
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), api_, config_, live_)->start();
    }
    accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  RestApi& api_;
  const Config& config_;
  std::atomic<std::size_t> live_{0};
};

std::string read_training_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error("--training '" + path + "' cannot be read");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse_args(argc, argv);
  // A reader of stdout that goes away (the port line, --log-connections) must not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    RestApi::Options options;
    options.data_dir = config.data;
    options.token = config.token;
    options.max_body_bytes = config.max_body;
    options.drift_window = config.drift_window;
    options.prediction_log = config.prediction_log;
    if (!config.training_file.empty())
      options.training_set = read_training_file(config.training_file);
    options.max_staleness = config.max_staleness;
#if defined(SWITCHYARD_SERVER_WITH_POSTGRES)
    std::unique_ptr<switchyard::PostgresRegistryStore> shared_store;
    if (is_postgresql(config.store)) {
      // Empty conninfo: SWITCHYARD_PG_URL (the password stays off the command line).
      shared_store = std::make_unique<switchyard::PostgresRegistryStore>(
          switchyard::PostgresRegistryStore::Options{
              .conninfo = config.store == "postgresql" ? std::string() : config.store});
      options.store = shared_store.get();
      options.follow_store = [s = shared_store.get()](std::chrono::milliseconds t) {
        return s->wait_for_change(t);
      };
    }
#endif
    RestApi api(std::move(options));

    net::io_context ioc(static_cast<int>(config.threads));
    beast::error_code ec;
    const auto address = net::ip::make_address(config.bind, ec);
    if (ec) usage_error("--bind '" + config.bind + "': " + ec.message());
    auto listener =
        std::make_shared<Listener>(ioc, tcp::endpoint(address, config.port), api, config);
    listener->accept();

    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });

    // Canary rollouts are evaluated once a second (each at its plan's interval).
    net::steady_timer ticker(ioc);
    std::function<void(beast::error_code)> tick = [&](beast::error_code e) {
      if (e) return;
      api.tick();
      ticker.expires_after(std::chrono::seconds(1));
      ticker.async_wait(tick);
    };
    ticker.expires_after(std::chrono::seconds(1));
    ticker.async_wait(tick);

    const auto [small, full] = api.training_accuracy();
    std::cout << listener->port() << std::endl;
    std::cerr << "switchyard-server: listening on http://" << config.bind << ":" << listener->port()
              << " (data " << config.data << ", " << config.threads << " threads, token "
              << (config.token.empty() ? "off" : "on") << "; sentiment models trained, accuracy "
              << small << " / " << full << " on the training set)" << std::endl;

    std::vector<std::thread> workers;
    for (unsigned i = 1; i < config.threads; ++i) workers.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : workers) t.join();
    std::cerr << "switchyard-server: stopped" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "switchyard-server: " << e.what() << std::endl;
    return 2;
  }
}
