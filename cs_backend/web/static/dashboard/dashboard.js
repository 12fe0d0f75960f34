/*
 * The dashboard (GET /dashboard): support metrics over a window (GET /api/analytics/summary and
 * /api/analytics/distribution, docs/METRICS.md) as key-figure tiles, trend and distribution charts (Chart.js,
 * static/vendor) and a breakdown table. Signed in as the console is (static/shared/session.js: cookie session
 * and CSRF), and the customers' health scores with their top factors (GET /api/health-scores, lowest first;
 * names from GET /api/customers/{id}), and the customer segments of the latest K-means run (GET /api/segments).
 * Live: the event stream GET /api/events; a new rating, ticket, churn signal
 * or alert re-reads the figures and, once more a moment later (a rescore runs after the event), the scores.
 *
 * Every text from the API goes into the page with textContent, never innerHTML.
 *
 * Stable hooks for tests (data-testid): signin-view, login-form, login-email, login-password, login-submit,
 *   login-error, dashboard-view, live-state (data-state: offline | connecting | live), agent-name, sign-out,
 *   notice, window-form, window-from, window-to, window-period, window-apply, quick-7/30/90, updated-at,
 *   kpi-<metric> tiles (data-value: the raw number, "" when null) with kpi-value and kpi-detail inside,
 *   chart-trend, chart-times, chart-csat, chart-ces (canvases; data-rendered="true" once drawn),
 *   breakdown-by, breakdown-table, health-band, health-table, health-count, health-row (data-customer-id,
 *   data-score, data-band) with health-factor items, segment-list of segment items (data-name).
 */
(function () {
  "use strict";

  var REFRESH_DELAY_MS = 300;
  // A customer is rescored asynchronously after the event that changes them: read the scores again then.
  var RESCORE_DELAY_MS = 2500;
  var HEALTH_PAGE = 20;
  // Events after which the figures or the scores may have changed.
  var LIVE_EVENTS = ["feedback.created", "ticket.created", "ticket.updated", "alert.raised", "churn_signal.created"];
  var RECONNECT_MS = 5000;
  var DAY_MS = 86400000;
  var COLOURS = { csat: "#3b5bdb", containment: "#2f9e44", fcr: "#e8590c", first: "#7048e8", resolution: "#c92a2a", retention: "#0c8599" };
  // [metric, title, format, detail]: the tiles, in order.
  var TILES = [
    ["csat_percent", "CSAT", percent, function (m) { return m.csat_responses + " ratings (share of 4-5)"; }],
    ["ces_mean", "Customer effort", decimal, function (m) { return m.ces_responses + " ratings (mean of 1-7)"; }],
    ["containment_rate", "Containment", share, function (m) { return sessionsText(m) + " resolved by the bot"; }],
    ["handoff_rate", "Handoff rate", share, function (m) { return sessionsText(m) + " handed to a person"; }],
    ["first_contact_resolution", "First-contact resolution", share, function () { return "no repeat within 7 days"; }],
    ["median_first_response_seconds", "First response", duration, function (m) { return "median of " + (m.handoffs || 0) + " handoffs"; }],
    ["median_resolution_seconds", "Resolution time", duration, function () { return "median, queue to resolved"; }],
    ["retention_rate", "Retention", share, function (m) { return "of " + (m.previously_active_customers || 0) + " customers active before"; }],
    ["customer_lifetime_value", "Lifetime value", money, function (m) { return "mean paid by " + (m.paying_customers || 0) + " paying customers"; }]
  ];
  var BREAKDOWN_COLUMNS = [
    ["csat_percent", "CSAT", percent], ["csat_responses", "Ratings", integer], ["ces_mean", "CES", decimal],
    ["sessions", "Sessions", integer], ["containment_rate", "Containment", share],
    ["handoff_rate", "Handoffs", share], ["first_contact_resolution", "FCR", share],
    ["median_first_response_seconds", "First response", duration],
    ["median_resolution_seconds", "Resolution", duration]
  ];

  function $(id) { return document.getElementById(id); }

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "className") node.className = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // ---- formats (null is "—": no data, never 0) -----------------------------------------------------

  function missing(value) { return value === null || value === undefined; }
  function percent(value) { return missing(value) ? "—" : value.toFixed(1) + " %"; }
  function share(value) { return missing(value) ? "—" : (100 * value).toFixed(1) + " %"; }
  function decimal(value) { return missing(value) ? "—" : value.toFixed(2); }
  function money(value, metrics) {
    if (missing(value)) return "—";
    var currency = metrics && metrics.currency;
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" }).format(value);
    } catch (error) {
      return value.toFixed(2) + " " + (currency || "");
    }
  }
  function integer(value) { return missing(value) ? "—" : String(value); }
  function duration(seconds) {
    if (missing(seconds)) return "—";
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }
  function sessionsText(metrics) { return missing(metrics.sessions) ? "sessions" : "of " + metrics.sessions + " sessions"; }
  function isoDay(date) { return date.toISOString().slice(0, 10); }

  // ---- state ---------------------------------------------------------------------------------------

  var state = {
    signedIn: false, events: null, reconnectTimer: null, refreshTimer: null, rescoreTimer: null, charts: {},
    loading: 0, names: {}
  };

  var session = CsSession.create({
    isSignedIn: function () { return state.signedIn; },
    onSessionEnded: function () { signedOut("Your session ended: sign in again."); }
  });

  var noticeTimer = null;

  function notify(text) {
    var notice = $("notice");
    notice.textContent = text;
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.hidden = true; }, 8000);
  }

  function setLive(name, text) {
    var indicator = $("live-state");
    indicator.dataset.state = name;
    indicator.textContent = text;
  }

  // ---- signing in and out --------------------------------------------------------------------------

  function showSignIn(message) {
    $("dashboard-view").hidden = true;
    $("who").hidden = true;
    $("signin-view").hidden = false;
    setLive("offline", "Signed out");
    var error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("login-email").focus();
  }

  function signedIn(account) {
    state.signedIn = true;
    $("agent-name").textContent = account.display_name + (account.role === "admin" ? " (admin)" : "");
    $("signin-view").hidden = true;
    $("dashboard-view").hidden = false;
    $("who").hidden = false;
    $("login-password").value = "";
    listen();
    refresh();
  }

  function signedOut(message) {
    state.signedIn = false;
    stopListening();
    showSignIn(message);
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var email = $("login-email").value.trim();
    var password = $("login-password").value;
    if (!email || !password) {
      showSignIn("Enter your email and password.");
      return;
    }
    session.signIn(email, password).then(signedIn).catch(function (failure) {
      showSignIn(CsSession.signInMessage(failure));
    });
  });

  $("sign-out").addEventListener("click", function () {
    session.signOut().then(function () { signedOut(""); });
  });

  // ---- the window ----------------------------------------------------------------------------------

  function setWindow(days) {
    var today = new Date();
    $("window-to").value = isoDay(today);
    $("window-from").value = isoDay(new Date(today.getTime() - (days - 1) * DAY_MS));
  }

  function windowQuery() {
    return "from=" + encodeURIComponent($("window-from").value) + "&to=" + encodeURIComponent($("window-to").value);
  }

  $("window-form").addEventListener("submit", function (event) {
    event.preventDefault();
    refresh();
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-days]"), function (button) {
    button.addEventListener("click", function () {
      var days = Number(button.dataset.days);
      setWindow(days);
      $("window-period").value = days > 31 ? "week" : "day";
      refresh();
    });
  });
  $("window-period").addEventListener("change", refresh);
  $("breakdown-by").addEventListener("change", refresh);
  $("health-band").addEventListener("change", refreshHealth);

  // ---- reading and drawing -------------------------------------------------------------------------

  function refresh() {
    if (!state.signedIn) return;
    var query = windowQuery();
    var trend = session.api("GET", "/api/analytics/summary?" + query + "&by=period&period=" + $("window-period").value);
    var breakdown = session.api("GET", "/api/analytics/summary?" + query + "&by=" + $("breakdown-by").value);
    var distribution = session.api("GET", "/api/analytics/distribution?" + query);
    state.loading += 1;
    Promise.all([trend, breakdown, distribution]).then(function (answers) {
      renderTiles(answers[0].overall);
      renderTrends(answers[0]);
      renderDistributions(answers[2]);
      renderBreakdown(answers[1]);
      $("updated-at").textContent = "Updated " + new Date().toLocaleTimeString();
    }).catch(function (failure) {
      if (failure.status !== 401) notify(CsSession.describe(failure));
    }).then(function () { state.loading -= 1; });
    refreshHealth();
    refreshSegments();
  }

  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    clearTimeout(state.rescoreTimer);
    state.refreshTimer = setTimeout(refresh, REFRESH_DELAY_MS);
    state.rescoreTimer = setTimeout(refreshHealth, RESCORE_DELAY_MS);
  }

  // ---- customer health -----------------------------------------------------------------------------

  function refreshHealth() {
    if (!state.signedIn) return;
    var band = $("health-band").value;
    var path = "/api/health-scores?limit=" + HEALTH_PAGE + (band ? "&band=" + encodeURIComponent(band) : "");
    session.api("GET", path).then(function (page) {
      renderHealth(page);
      return Promise.all(page.items.map(function (item) { return customerName(item.customer_id); }));
    }).catch(function (failure) {
      if (failure.status !== 401) notify(CsSession.describe(failure));
    });
  }

  function customerName(customerId) {
    if (state.names[customerId]) return Promise.resolve(showName(customerId));
    return session.api("GET", "/api/customers/" + customerId).then(function (customer) {
      state.names[customerId] = customer.name || customer.email || "Customer #" + customerId;
      showName(customerId);
    }).catch(function () { return null; });
  }

  function showName(customerId) {
    var cell = document.querySelector("[data-testid=health-row][data-customer-id='" + customerId + "'] .customer");
    if (cell) cell.textContent = state.names[customerId];
  }

  function renderHealth(page) {
    var body = $("health-body");
    clear(body);
    $("health-count").textContent = page.total ? String(page.total) : "";
    page.items.forEach(function (item) {
      var row = el("tr", { "data-testid": "health-row", "data-customer-id": String(item.customer_id) });
      row.dataset.score = String(item.score);
      row.dataset.band = item.band;
      row.appendChild(el("th", { scope: "row", className: "customer" }, state.names[item.customer_id] || "Customer #" + item.customer_id));
      row.appendChild(el("td", { className: "score" }, item.score));
      var band = el("td");
      band.appendChild(el("span", { className: "band", "data-band": item.band }, item.band));
      row.appendChild(band);
      var factors = el("td");
      var list = el("ul", { className: "factors" });
      item.factors.forEach(function (factor) {
        var points = (factor.points > 0 ? "+" : "") + factor.points.toFixed(1);
        list.appendChild(el("li", { "data-testid": "health-factor" }, factor.label + ": " + formatNumber(factor.value) + " (" + points + ")"));
      });
      factors.appendChild(list);
      row.appendChild(factors);
      row.appendChild(el("td", {}, missing(item.churn_probability) ? "—" : share(item.churn_probability)));
      row.appendChild(el("td", {}, new Date(item.computed_at).toLocaleString()));
      body.appendChild(row);
    });
    $("health-empty").hidden = page.items.length > 0;
  }

  // ---- segments -----------------------------------------------------------------------------------

  // The centroid's features shown on each segment, with their words.
  var SEGMENT_FEATURES = [
    ["monthly_revenue", "revenue / month", decimal], ["days_since_last_activity", "days since active", decimal],
    ["csat_mean_90d", "CSAT (90 d)", decimal], ["tickets_open", "open tickets", decimal],
    ["onboarding_progress", "onboarding", share]
  ];

  function refreshSegments() {
    if (!state.signedIn) return;
    session.api("GET", "/api/segments").then(renderSegments).catch(function (failure) {
      if (failure.status !== 401) notify(CsSession.describe(failure));
    });
  }

  function renderSegments(body) {
    var list = $("segment-list");
    clear(list);
    $("segments-computed").textContent = body.computed_at
      ? body.customers + " customers, computed " + new Date(body.computed_at).toLocaleString()
      : "";
    body.segments.forEach(function (segment) {
      var item = el("li", { className: "card segment", "data-testid": "segment", "data-name": segment.name });
      var title = el("h3", {}, segment.name);
      title.appendChild(el("span", { className: "count" }, segment.size + " customers"));
      item.appendChild(title);
      item.appendChild(el("p", { className: "detail" }, segment.description));
      var facts = el("dl");
      SEGMENT_FEATURES.forEach(function (feature) {
        if (!(feature[0] in segment.centroid)) return;
        facts.appendChild(el("dt", {}, feature[1]));
        facts.appendChild(el("dd", {}, feature[2](segment.centroid[feature[0]])));
      });
      item.appendChild(facts);
      list.appendChild(item);
    });
    $("segments-empty").hidden = body.segments.length > 0;
  }

  function formatNumber(value) {
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }

  function renderTiles(metrics) {
    var tiles = $("tiles");
    clear(tiles);
    TILES.forEach(function (tile) {
      var value = metrics[tile[0]];
      var node = el("article", { className: "card tile", "data-testid": "kpi-" + tile[0] });
      node.dataset.value = missing(value) ? "" : String(value);
      node.appendChild(el("h2", {}, tile[1]));
      node.appendChild(el("p", { className: "value", "data-testid": "kpi-value" }, tile[2](value, metrics)));
      node.appendChild(el("p", { className: "detail", "data-testid": "kpi-detail" }, tile[3](metrics)));
      tiles.appendChild(node);
    });
  }

  function draw(name, config) {
    var canvas = $(name);
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options || {});
    if (state.charts[name]) state.charts[name].destroy();
    state.charts[name] = new Chart(canvas, config);
    canvas.dataset.rendered = "true";
  }

  function series(summary, metric, scale) {
    return summary.groups.map(function (group) {
      var value = group.metrics[metric];
      return missing(value) ? null : value * scale;
    });
  }

  function line(label, data, colour) {
    return { label: label, data: data, borderColor: colour, backgroundColor: colour, spanGaps: true, cubicInterpolationMode: "monotone", pointRadius: 3 };
  }

  function renderTrends(summary) {
    var labels = summary.groups.map(function (group) { return group.label; });
    draw("chart-trend", {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          line("CSAT %", series(summary, "csat_percent", 1), COLOURS.csat),
          line("Containment %", series(summary, "containment_rate", 100), COLOURS.containment),
          line("First-contact resolution %", series(summary, "first_contact_resolution", 100), COLOURS.fcr),
          line("Retention %", series(summary, "retention_rate", 100), COLOURS.retention)
        ]
      },
      options: { scales: { y: { min: 0, max: 100 } } }
    });
    draw("chart-times", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: "First response", data: series(summary, "median_first_response_seconds", 1 / 60), backgroundColor: COLOURS.first },
          { label: "Resolution", data: series(summary, "median_resolution_seconds", 1 / 60), backgroundColor: COLOURS.resolution }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });
  }

  function renderDistributions(distribution) {
    [["chart-csat", distribution.csat, "CSAT ratings"], ["chart-ces", distribution.ces, "CES ratings"]].forEach(function (chart) {
      var scores = Object.keys(chart[1]).sort();
      draw(chart[0], {
        type: "bar",
        data: {
          labels: scores,
          datasets: [{ label: chart[2], data: scores.map(function (s) { return chart[1][s]; }), backgroundColor: COLOURS.csat }]
        },
        options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    });
  }

  function renderBreakdown(summary) {
    var head = $("breakdown-head");
    var body = $("breakdown-body");
    clear(head);
    clear(body);
    head.appendChild(el("th", { scope: "col" }, summary.by));
    BREAKDOWN_COLUMNS.forEach(function (column) { head.appendChild(el("th", { scope: "col" }, column[1])); });
    summary.groups.forEach(function (group) {
      var row = el("tr", { "data-testid": "breakdown-row" });
      row.appendChild(el("th", { scope: "row" }, group.label));
      BREAKDOWN_COLUMNS.forEach(function (column) { row.appendChild(el("td", {}, column[2](group.metrics[column[0]]))); });
      body.appendChild(row);
    });
    $("breakdown-empty").hidden = summary.groups.length > 0;
  }

  // ---- live ----------------------------------------------------------------------------------------

  function listen() {
    if (!state.signedIn || state.events) return;
    var events = new EventSource("/api/events");
    state.events = events;
    setLive("connecting", "Connecting…");
    events.addEventListener("open", function () {
      setLive("live", "Live");
      // Events sent while the page was away are not replayed: read the figures again.
      scheduleRefresh();
    });
    LIVE_EVENTS.forEach(function (type) { events.addEventListener(type, scheduleRefresh); });
    events.addEventListener("error", function () {
      if (state.events !== events) return;
      // A refused stream (the session ended) or a lost connection: close, and try again later.
      events.close();
      state.events = null;
      setLive("connecting", "Reconnecting…");
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(function () {
        session.whoAmI().then(listen).catch(function () { return null; });
      }, RECONNECT_MS);
    });
  }

  function stopListening() {
    clearTimeout(state.reconnectTimer);
    if (state.events) state.events.close();
    state.events = null;
  }

  setWindow(30);
  session.whoAmI().then(signedIn).catch(function () { showSignIn(""); });
})();
