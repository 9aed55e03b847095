// SPDX-License-Identifier: Apache-2.0
// The dashboard page: assembled from the embedded parts, hashed for its Content-Security-Policy.
#include "dashboard.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace switchyard::server {
namespace {

// Replaces the one `marker` in `page` by `text`.
void fill(std::string& page, std::string_view marker, std::string_view text) {
  const auto at = page.find(marker);
  if (at == std::string::npos) {
    throw std::runtime_error("dashboard template lacks " + std::string(marker));
  }
  page.replace(at, marker.size(), text);
}

}  // namespace

std::string csp_hash(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  if (SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest) == nullptr) {
    throw std::runtime_error("SHA-256 failed");
  }
  unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return "'sha256-" + std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n)) +
         "'";
}

HttpResponse render_dashboard(std::string_view chartjs) {
  // A Chart.js that could close its <script> element early (the file has no "</script") is
  // refused rather than inlined.
  const bool charts = !chartjs.empty() && chartjs.find("</script") == std::string_view::npos;
  const std::string_view app = dashboard_js();
  std::string page(dashboard_html());
  fill(page, "@CHARTS@", charts ? "available" : "unavailable");
  fill(page, "@STYLE@", dashboard_css());
  std::string scripts;
  std::string script_hashes;
  if (charts) {
    scripts += "<script>" + std::string(chartjs) + "</script>\n";
    script_hashes += " " + csp_hash(chartjs);
  }
  scripts += "<script>" + std::string(app) + "</script>";
  script_hashes += " " + csp_hash(app);
  fill(page, "@SCRIPTS@", scripts);

  HttpResponse r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(page);
  // Nothing but the inline blocks above runs, the page talks to its own server only, and no
  // other site can frame it (a promote button in a hidden frame).
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src" + script_hashes + "; style-src " +
                             csp_hash(dashboard_css()) +
                             "; connect-src 'self'; img-src 'self'; base-uri 'none'; "
                             "form-action 'none'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  return r;
}

}  // namespace switchyard::server
