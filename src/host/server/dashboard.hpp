// SPDX-License-Identifier: Apache-2.0
// The dashboard page of switchyard-server (GET /dashboard): one HTML document with its style,
// Chart.js and its own script inlined, served under a Content-Security-Policy that allows exactly
// those inline blocks (by SHA-256) and requests to the server itself. Internal to the server.
// Thread-safe: every function here is pure (the embedded bytes are constants).
#pragma once

#include <string>
#include <string_view>

#include "rest_api.hpp"

namespace switchyard::server {

/// Chart.js as embedded at build time (Debian's libjs-chart.js); empty when the file was absent
/// when the build was configured.
std::string_view embedded_chartjs() noexcept;
/// The page's parts, embedded at build time from src/host/server/dashboard/.
std::string_view dashboard_html() noexcept;
std::string_view dashboard_css() noexcept;
std::string_view dashboard_js() noexcept;

/// The dashboard's answer: the page with `chartjs` inlined (empty: tables only, and the page says
/// the charts are unavailable), content type text/html, and the security headers
/// (Content-Security-Policy with the hashes of the inline style and scripts, nosniff,
/// no-referrer, no-store, frame-ancestors 'none'). Throws std::runtime_error when hashing fails.
HttpResponse render_dashboard(std::string_view chartjs);

/// "'sha256-<base64>'" of `text`, as a CSP source expression.
std::string csp_hash(std::string_view text);

}  // namespace switchyard::server
