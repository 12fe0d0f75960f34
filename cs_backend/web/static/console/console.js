/*
 * The agent console (GET /console): sign in, the live queue, offers, your conversations, and the selected
 * conversation with its handoff packet, transcript and reply box. No framework: the DOM API only.
 *
 * Data comes only from cs_backend's API with the cookie session of POST /api/auth/cookie-login (the session
 * token is in an httpOnly cookie; the CSRF token, also in the readable `cs_csrf` cookie, goes in the
 * X-CSRF-Token header of every POST, PUT, PATCH and DELETE: static/shared/session.js), and from the websocket GET /api/console/ws, which
 * pushes the live events (handoff.*, agent.status, handoff.message) and carries the replies ("send" frames).
 * The websocket reconnects with exponential backoff (1 s doubling to 30 s, with jitter), and the page then
 * re-reads the queue and the open transcript, since events sent while it was away are not replayed.
 *
 * Every text of a customer, an agent, a canned response or the packet is put in the page with textContent,
 * never innerHTML.
 *
 * Stable hooks for tests (data-testid unless said otherwise):
 *   signin-view, login-form, login-email, login-password, login-submit, login-error
 *   console-view, connection-state (data-state: offline | connecting | live | reconnecting), agent-name
 *   status-toggle, status-online, status-away, status-offline (radio inputs, checked = current status)
 *   sign-out, notice (errors and confirmations, role=alert)
 *   offers-list, mine-list, queue-list and their counts offers-count, mine-count, queue-count
 *   handoff-item: an <li> in those lists, with data-handoff-id, data-state, data-priority and, in the
 *     conversation lists, data-unread="true" when messages arrived while another one was open
 *   open-handoff (the item's button selecting it), accept-button, decline-button (in offers-list items)
 *   conversation-view, conversation-title, conversation-meta, packet (a <details>), packet-section
 *     (data-section: reason | customer | conversation | onboarding | tickets | ratings | churn)
 *   transcript: an <ol> of transcript-entry items, each with data-kind (customer | agent | note | system),
 *     data-message-id once stored, data-client-id while sending, data-delivery (sending | delivered |
 *     failed); retry-button on a failed one
 *   reply-form, reply-box (textarea), note-toggle (checkbox), send-button, canned-suggestions (listbox of
 *     canned-option items with data-shortcut)
 *   transfer-button, transfer-dialog, transfer-to-queue, transfer-to-agent, transfer-agent-select (admins),
 *     transfer-agent-id, transfer-team-id, transfer-submit, transfer-cancel
 *   resolve-button
 *   shortcuts (the list of keyboard shortcuts)
 *
 * Keyboard: Enter sends, Shift+Enter is a new line, "/" + shortcut offers canned responses (arrows choose,
 * Enter or Tab inserts, Escape closes), Alt+R reply box, Alt+N note on/off, Alt+A accept the oldest offer,
 * Alt+Q queue, Alt+C your conversations, Alt+1..9 your conversation 1..9.
 */
(function () {
  "use strict";

  var HEARTBEAT_SECONDS = 15;
  // No frame (not even a heartbeat) for this long: the connection is dead even if the browser has not noticed.
  var SILENCE_LIMIT_MS = HEARTBEAT_SECONDS * 2.5 * 1000;
  var RECONNECT_MIN_MS = 1000;
  var RECONNECT_MAX_MS = 30000;
  var SESSION_ENDED_CLOSE_CODE = 4401;
  var QUEUE_REFRESH_DELAY_MS = 150;
  var REASONS = {
    customer_request: "Asked for a person",
    misunderstood: "The bot misunderstood twice",
    low_csat: "Low satisfaction rating",
    human_only_category: "A topic only people handle",
    health_red: "Account health is red"
  };
  var KIND_LABELS = { customer: "Customer", agent: "Agent", note: "Internal note", system: "System" };

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

  function formatTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function formatDate(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
  }

  function waitingFor(iso) {
    var minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
    if (minutes < 1) return "waiting < 1 min";
    if (minutes < 60) return "waiting " + minutes + " min";
    return "waiting " + Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // ---- state --------------------------------------------------------------------------------------

  var state = {
    me: null,            // {id, display_name, role}
    queue: { items: [], held: [], total: 0 },
    selectedId: null,
    selected: null,      // the HandoffOut of the selected handoff
    entries: {},         // message id -> entry of the selected transcript
    pending: {},         // client_id -> {handoffId, text, node}
    unread: {},          // handoff id -> true
    canned: [],
    agents: [],
    socket: null,
    reconnectAttempts: 0,
    reconnectTimer: null,
    silenceTimer: null,
    queueTimer: null,
    signedIn: false
  };

  // ---- the API ------------------------------------------------------------------------------------

  // The cookie session and its CSRF token (static/shared/session.js, shared with the dashboard).
  var session = CsSession.create({
    isSignedIn: function () { return state.signedIn; },
    onSessionEnded: function () { signedOut("Your session ended: sign in again."); }
  });
  var api = session.api;
  var ApiFailure = CsSession.ApiFailure;
  var describe = CsSession.describe;

  // ---- notices ------------------------------------------------------------------------------------

  var noticeTimer = null;

  function notify(text, kind) {
    var notice = $("notice");
    notice.textContent = text;
    notice.dataset.kind = kind || "error";
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.hidden = true; }, 8000);
  }

  function setConnection(stateName, text) {
    var indicator = $("connection-state");
    indicator.dataset.state = stateName;
    indicator.textContent = text;
  }

  // ---- signing in and out -------------------------------------------------------------------------

  function showSignIn(message) {
    $("console-view").hidden = true;
    $("who").hidden = true;
    $("signin-view").hidden = false;
    setConnection("offline", "Signed out");
    var error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("login-email").focus();
  }

  function signedIn(account) {
    state.me = { id: account.id, display_name: account.display_name, role: account.role };
    state.signedIn = true;
    $("agent-name").textContent = account.display_name + (account.role === "admin" ? " (admin)" : "");
    $("signin-view").hidden = true;
    $("console-view").hidden = false;
    $("who").hidden = false;
    $("login-password").value = "";
    connect();
    refreshQueue();
    loadCanned();
    if (account.role === "admin") loadAgents();
  }

  function signedOut(message) {
    state.signedIn = false;
    state.me = null;
    state.selectedId = null;
    state.selected = null;
    state.pending = {};
    state.unread = {};
    disconnect();
    selectHandoff(null);
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
    session.signIn(email, password)
      .then(signedIn)
      .catch(function (failure) { showSignIn(CsSession.signInMessage(failure)); });
  });

  $("sign-out").addEventListener("click", function () {
    session.signOut().then(function () { signedOut(""); });
  });

  // ---- the agent's status -------------------------------------------------------------------------

  function showStatus(status) {
    var toggle = $("status-toggle");
    var radios = toggle.querySelectorAll("input[name=agent-status]");
    toggle.disabled = status === null;
    toggle.title = status === null ? "You have no routing profile yet: ask an admin to create it." : "";
    Array.prototype.forEach.call(radios, function (radio) { radio.checked = radio.value === status; });
    toggle.dataset.status = status || "none";
  }

  $("status-toggle").addEventListener("change", function (event) {
    var wanted = event.target.value;
    var previous = $("status-toggle").dataset.status;
    api("PUT", "/api/routing/agents/me/status", { status: wanted })
      .then(function (profile) { showStatus(profile.status); refreshQueue(); })
      .catch(function (failure) {
        showStatus(previous === "none" ? null : previous);
        notify(failure.status === 404 ? "You have no routing profile yet: ask an admin." : describe(failure));
      });
  });

  // ---- the live connection ------------------------------------------------------------------------

  function connect() {
    if (!state.signedIn || state.socket) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/api/console/ws");
    state.socket = socket;
    setConnection(state.reconnectAttempts ? "reconnecting" : "connecting", "Connecting…");
    socket.addEventListener("message", function (message) {
      watchSilence();
      var frame;
      try { frame = JSON.parse(message.data); } catch (error) { return; }
      onFrame(frame);
    });
    socket.addEventListener("close", function (event) {
      if (state.socket !== socket) return;
      state.socket = null;
      clearTimeout(state.silenceTimer);
      failPending("The connection was lost before the server confirmed it.");
      if (event.code === SESSION_ENDED_CLOSE_CODE) {
        signedOut("Your session ended: sign in again.");
        return;
      }
      if (state.signedIn) scheduleReconnect();
    });
    watchSilence();
  }

  function disconnect() {
    clearTimeout(state.reconnectTimer);
    clearTimeout(state.silenceTimer);
    var socket = state.socket;
    state.socket = null;
    state.reconnectAttempts = 0;
    if (socket) socket.close(1000, "signed out");
  }

  function watchSilence() {
    clearTimeout(state.silenceTimer);
    state.silenceTimer = setTimeout(function () {
      if (state.socket) state.socket.close(4000, "no heartbeat");
    }, SILENCE_LIMIT_MS);
  }

  function scheduleReconnect() {
    var delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * Math.pow(2, state.reconnectAttempts));
    delay = Math.round(delay * (0.75 + Math.random() * 0.5));
    state.reconnectAttempts += 1;
    setConnection("reconnecting", "Reconnecting in " + Math.ceil(delay / 1000) + " s…");
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function onFrame(frame) {
    var payload = frame.payload || {};
    if (frame.type === "ready") {
      state.reconnectAttempts = 0;
      setConnection("live", "Live");
      showStatus(payload.status);
      // Events sent while the page was away are not replayed: read what they changed.
      refreshQueue();
      if (state.selectedId !== null) loadTranscript(state.selectedId);
    } else if (frame.type === "agent.status") {
      if (state.me && payload.account_id === state.me.id) showStatus(payload.status);
    } else if (frame.type === "handoff.message") {
      onMessageEvent(payload);
    } else if (frame.type.indexOf("handoff.") === 0) {
      var handoff = payload.handoff || payload;
      if (state.selectedId !== null && handoff.id === state.selectedId) {
        state.selected = handoff;
        renderConversationHeader();
      }
      scheduleQueueRefresh();
    } else if (frame.type === "sent") {
      onSent(frame);
    } else if (frame.type === "error") {
      onSendError(frame);
    }
  }

  // ---- the queue, offers and the agent's conversations -------------------------------------------

  function scheduleQueueRefresh() {
    clearTimeout(state.queueTimer);
    state.queueTimer = setTimeout(refreshQueue, QUEUE_REFRESH_DELAY_MS);
  }

  function refreshQueue() {
    if (!state.signedIn) return;
    api("GET", "/api/routing/queue?limit=100").then(function (page) {
      state.queue = page;
      renderLists();
    }).catch(function (failure) { if (failure.status !== 401) notify(describe(failure)); });
  }

  function mine(handoff, wantedState) {
    return state.me && handoff.agent_id === state.me.id && handoff.state === wantedState;
  }

  function renderLists() {
    var held = state.queue.held || [];
    var offers = held.filter(function (h) { return mine(h, "assigned"); });
    var conversations = held.filter(function (h) { return mine(h, "accepted"); });
    renderList("offers", offers, true);
    renderList("mine", conversations, false);
    renderList("queue", state.queue.items || [], false);
    $("queue-count").textContent = String(state.queue.total || 0);
    var selected = held.concat(state.queue.items || []).filter(function (h) { return h.id === state.selectedId; })[0];
    // A queue read before the latest change (an accept answered first) must not take the view back.
    if (selected && (!state.selected || selected.updated_at >= state.selected.updated_at)) {
      state.selected = selected;
      renderConversationHeader();
    }
  }

  function renderList(name, handoffs, withOfferButtons) {
    var list = $(name + "-list");
    clear(list);
    $(name + "-count").textContent = String(handoffs.length);
    $(name + "-empty").hidden = handoffs.length > 0;
    handoffs.forEach(function (handoff, index) {
      var item = el("li", {
        className: "handoff-item priority-" + handoff.priority,
        "data-testid": "handoff-item",
        "data-handoff-id": String(handoff.id),
        "data-state": handoff.state,
        "data-priority": handoff.priority
      });
      if (state.unread[handoff.id]) item.dataset.unread = "true";
      var open = el("button", { type: "button", className: "handoff-open", "data-testid": "open-handoff" });
      if (handoff.id === state.selectedId) open.setAttribute("aria-current", "true");
      var title = el("span", { className: "handoff-title" });
      if (name === "mine" && index < 9) title.appendChild(el("kbd", { className: "position-key" }, index + 1));
      title.appendChild(document.createTextNode("Handoff #" + handoff.id));
      if (handoff.queue_position) title.appendChild(el("span", { className: "position" }, "#" + handoff.queue_position + " in line"));
      open.appendChild(title);
      open.appendChild(el("span", { className: "handoff-reason" }, REASONS[handoff.reason] || handoff.reason));
      var tags = el("span", { className: "tags" });
      tags.appendChild(el("span", { className: "tag priority" }, handoff.priority));
      tags.appendChild(el("span", { className: "tag" }, handoff.language + (handoff.skill ? " · " + handoff.skill : "")));
      if (handoff.at_risk) tags.appendChild(el("span", { className: "tag risk" }, "at risk"));
      if (handoff.high_value) tags.appendChild(el("span", { className: "tag value" }, "high value"));
      if (state.unread[handoff.id]) tags.appendChild(el("span", { className: "tag unread" }, "new messages"));
      open.appendChild(tags);
      open.appendChild(el("span", { className: "handoff-waiting" }, handoff.state === "queued" ? waitingFor(handoff.queued_at) : handoff.channel));
      open.addEventListener("click", function () { selectHandoff(handoff.id, handoff); });
      item.appendChild(open);
      if (withOfferButtons) {
        var actions = el("span", { className: "offer-actions" });
        var accept = el("button", { type: "button", className: "button primary", "data-testid": "accept-button" }, "Accept");
        var decline = el("button", { type: "button", className: "button quiet", "data-testid": "decline-button" }, "Decline");
        accept.addEventListener("click", function () { acceptHandoff(handoff.id); });
        decline.addEventListener("click", function () { act(handoff.id, "decline", undefined, "Declined: it goes to someone else."); });
        actions.appendChild(accept);
        actions.appendChild(decline);
        item.appendChild(actions);
      }
      list.appendChild(item);
    });
  }

  function act(handoffId, action, body, confirmation) {
    return api("POST", "/api/routing/handoffs/" + handoffId + "/" + action, body).then(function (handoff) {
      if (confirmation) notify(confirmation, "info");
      if (handoff && handoff.id === state.selectedId) {
        state.selected = handoff;
        renderConversationHeader();
      }
      refreshQueue();
      return handoff;
    }).catch(function (failure) {
      notify(describe(failure));
      refreshQueue();
      throw failure;
    });
  }

  function acceptHandoff(handoffId) {
    act(handoffId, "accept").then(function (handoff) {
      selectHandoff(handoff.id, handoff);
      $("reply-box").focus();
    }).catch(function () { return null; });
  }

  // ---- the selected conversation ------------------------------------------------------------------

  function selectHandoff(handoffId, handoff) {
    state.selectedId = handoffId;
    state.selected = handoff || null;
    state.entries = {};
    clear($("transcript"));
    clear($("packet-grid"));
    closeSuggestions();
    $("conversation-placeholder").hidden = handoffId !== null;
    $("conversation-body").hidden = handoffId === null;
    if (handoffId === null) return;
    delete state.unread[handoffId];
    renderLists();
    renderConversationHeader();
    loadPacket(handoffId);
    loadTranscript(handoffId);
  }

  function canReply(handoff) {
    return Boolean(handoff && state.me && handoff.state === "accepted" &&
      (handoff.agent_id === state.me.id || state.me.role === "admin"));
  }

  function renderConversationHeader() {
    var handoff = state.selected;
    if (!handoff) return;
    $("conversation-title").textContent = "Handoff #" + handoff.id + " · " + (REASONS[handoff.reason] || handoff.reason);
    $("conversation-meta").textContent = [
      "state: " + handoff.state,
      "priority: " + handoff.priority,
      "language: " + handoff.language,
      "channel: " + handoff.channel,
      handoff.accepted_at ? "accepted " + formatTime(handoff.accepted_at) : "queued " + formatTime(handoff.queued_at)
    ].join(" · ");
    $("conversation").dataset.state = handoff.state;
    var holder = state.me && (handoff.agent_id === state.me.id || state.me.role === "admin");
    var open = handoff.state === "assigned" || handoff.state === "accepted";
    $("transfer-button").disabled = !(holder && open);
    $("resolve-button").disabled = !(holder && handoff.state === "accepted");
    var finished = handoff.state === "resolved" || handoff.state === "cancelled";
    var replying = canReply(handoff);
    var noteToggle = $("note-toggle");
    noteToggle.disabled = !replying;
    if (!replying) {
      noteToggle.checked = true;
      noteToggle.dataset.forced = "true";
    } else if (noteToggle.dataset.forced) {
      // Notes were the only choice; now that the conversation is live with you, replies are the default.
      noteToggle.checked = false;
      delete noteToggle.dataset.forced;
    }
    $("reply-box").disabled = finished;
    $("send-button").disabled = finished;
    updateComposerMode();
    if (finished) $("reply-box").placeholder = "This conversation is " + handoff.state + ": it is back with the bot.";
  }

  function updateComposerMode() {
    var note = $("note-toggle").checked;
    $("reply-form").dataset.mode = note ? "note" : "reply";
    $("send-button").textContent = note ? "Add note" : "Send";
    $("reply-box").placeholder = note
      ? "Internal note for agents (never sent to the customer). Enter adds it."
      : "Reply to the customer (Enter sends, Shift+Enter new line, / for canned responses)";
  }

  $("note-toggle").addEventListener("change", updateComposerMode);

  // ---- the packet ---------------------------------------------------------------------------------

  function section(name, title) {
    var card = el("section", { className: "packet-section", "data-testid": "packet-section", "data-section": name });
    card.appendChild(el("h3", {}, title));
    $("packet-grid").appendChild(card);
    return card;
  }

  function line(parent, label, value) {
    var row = el("p", { className: "packet-line" });
    row.appendChild(el("span", { className: "label" }, label));
    row.appendChild(el("span", { className: "value" }, value));
    parent.appendChild(row);
    return row;
  }

  function bulletList(parent, items, render, emptyText) {
    if (!items || !items.length) {
      parent.appendChild(el("p", { className: "muted" }, emptyText));
      return;
    }
    var list = el("ul", { className: "packet-list" });
    items.forEach(function (item) { list.appendChild(el("li", {}, render(item))); });
    parent.appendChild(list);
  }

  function loadPacket(handoffId) {
    api("GET", "/api/routing/handoffs/" + handoffId + "/packet").then(function (packet) {
      if (state.selectedId !== handoffId) return;
      renderPacket(packet);
    }).catch(function (failure) {
      if (state.selectedId !== handoffId) return;
      clear($("packet-grid"));
      $("packet-grid").appendChild(el("p", { className: "muted" }, "The packet could not be read: " + describe(failure)));
    });
  }

  function renderPacket(packet) {
    var grid = $("packet-grid");
    clear(grid);
    var handoff = packet.handoff;

    var reason = section("reason", "Why a person");
    line(reason, "Reason", REASONS[handoff.reason] || handoff.reason);
    if (handoff.detail) line(reason, "Detail", handoff.detail);
    line(reason, "Priority", handoff.priority + (packet.suggested_priority.priority !== handoff.priority
      ? " (suggested: " + packet.suggested_priority.priority + ")" : ""));
    bulletList(reason, packet.suggested_priority.reasons, function (text) { return text; }, "");

    var customer = section("customer", "Customer");
    if (packet.customer) {
      line(customer, "Email", packet.customer.email || "not known");
      line(customer, "Name", packet.customer.name || "not known");
      line(customer, "Since", formatDate(packet.customer.created_at));
    } else {
      customer.appendChild(el("p", { className: "muted" }, "Anonymous: no customer record yet."));
    }
    var flags = [handoff.at_risk ? "at risk" : null, handoff.high_value ? "high value" : null].filter(Boolean);
    if (flags.length) line(customer, "Flags", flags.join(", "));

    var conversation = section("conversation", "Conversation so far");
    if (!packet.conversation_available || !packet.conversation) {
      conversation.appendChild(el("p", { className: "muted" }, "The bot's conversation could not be read right now."));
    } else {
      var summary = packet.conversation;
      line(conversation, "Intents", summary.intents.map(function (i) { return i.intent + " ×" + i.count; }).join(", ") || "none");
      var slots = Object.keys(summary.slots).map(function (name) {
        var value = summary.slots[name];
        return name + " = " + (typeof value === "string" ? value : JSON.stringify(value));
      });
      if (slots.length) line(conversation, "Slots", slots.join(", "));
      if (summary.not_understood.length) {
        conversation.appendChild(el("h4", {}, "Not understood"));
        bulletList(conversation, summary.not_understood, function (m) { return m.text; }, "");
      }
      conversation.appendChild(el("h4", {}, "Last messages"));
      bulletList(conversation, summary.last_messages, function (m) {
        return (m.speaker === "customer" ? "Customer: " : "Bot: ") + m.text;
      }, "No messages.");
    }

    var onboarding = section("onboarding", "Onboarding");
    var progress = packet.onboarding;
    line(onboarding, "Done", progress.done_count + " of " + progress.total + " steps");
    line(onboarding, "Next", progress.completed ? "complete" : (progress.next_step ? progress.next_step.title : "—"));

    var tickets = section("tickets", "Open tickets");
    bulletList(tickets, packet.open_tickets, function (t) {
      return "#" + t.id + " " + t.subject + " (" + t.status + ", " + t.priority + ")";
    }, "None open.");

    var ratings = section("ratings", "Last ratings");
    line(ratings, "CSAT", packet.last_csat ? packet.last_csat.score + " of 5 · " + formatDate(packet.last_csat.created_at) : "none");
    line(ratings, "CES", packet.last_ces ? packet.last_ces.score + " of 7 · " + formatDate(packet.last_ces.created_at) : "none");

    var churn = section("churn", "Churn signals");
    bulletList(churn, packet.churn_signals, function (s) {
      return s.kind.replace(/_/g, " ") + (s.reason ? " (" + s.reason + ")" : "") + " → " + s.outcome + ", " + formatDate(s.created_at);
    }, "None.");
  }

  // ---- the transcript -----------------------------------------------------------------------------

  function loadTranscript(handoffId) {
    api("GET", "/api/routing/handoffs/" + handoffId + "/messages").then(function (body) {
      if (state.selectedId !== handoffId) return;
      var entries = Array.isArray(body) ? body : (body && body.items) || [];
      entries.forEach(addEntry);
    }).catch(function (failure) {
      if (state.selectedId !== handoffId) return;
      notify("The transcript could not be read: " + describe(failure));
    });
  }

  function entryNode(kind, author, when, text) {
    var item = el("li", { className: "entry entry-" + kind, "data-testid": "transcript-entry", "data-kind": kind });
    var header = el("p", { className: "entry-header" });
    header.appendChild(el("span", { className: "entry-author" }, author));
    header.appendChild(el("time", { className: "entry-time" }, when));
    item.appendChild(header);
    item.appendChild(el("p", { className: "entry-text" }, text));
    return item;
  }

  function scrollTranscript() {
    var transcript = $("transcript");
    transcript.scrollTop = transcript.scrollHeight;
  }

  function showDelivery(item, delivery) {
    item.dataset.delivery = delivery || "delivered";
    var status = item.querySelector(".entry-status");
    if (status) status.remove();
    if (delivery === "failed") item.appendChild(el("p", { className: "entry-status" }, "Not delivered to the customer"));
  }

  function addEntry(entry) {
    if (state.entries[entry.id]) {
      // Seen before: only its delivery can have changed (a retry delivered it).
      var known = $("transcript").querySelector("[data-message-id='" + Number(entry.id) + "']");
      if (known) showDelivery(known, entry.delivery);
      return;
    }
    state.entries[entry.id] = entry;
    var author = entry.kind === "customer" ? "Customer"
      : entry.author_name || KIND_LABELS[entry.kind] || entry.kind;
    if (entry.kind === "note") author = "Note · " + (entry.author_name || "agent");
    var item = entryNode(entry.kind, author, formatTime(entry.created_at), entry.text);
    item.dataset.messageId = String(entry.id);
    showDelivery(item, entry.delivery);
    // In order of creation: an entry read late (a reconnect) goes where it belongs.
    var transcript = $("transcript");
    var after = Array.prototype.filter.call(transcript.children, function (node) {
      return node.dataset.messageId && Number(node.dataset.messageId) > entry.id;
    })[0];
    var pendingFirst = transcript.querySelector("[data-delivery=sending], [data-delivery=failed]:not([data-message-id])");
    transcript.insertBefore(item, after || pendingFirst || null);
    scrollTranscript();
  }

  function onMessageEvent(payload) {
    var handoffId = payload.handoff_id;
    if (handoffId === state.selectedId) {
      addEntry(payload);
      return;
    }
    if (payload.kind === "customer") {
      state.unread[handoffId] = true;
      renderLists();
    }
  }

  // ---- sending ------------------------------------------------------------------------------------

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function sendReply(text) {
    var clientId = newClientId();
    var node = entryNode("agent", state.me.display_name, "sending…", text);
    node.dataset.clientId = clientId;
    node.dataset.delivery = "sending";
    $("transcript").appendChild(node);
    scrollTranscript();
    state.pending[clientId] = { handoffId: state.selectedId, text: text, node: node };
    transmit(clientId);
  }

  function transmit(clientId) {
    var pending = state.pending[clientId];
    var socket = state.socket;
    pending.node.dataset.delivery = "sending";
    pending.node.querySelector(".entry-time").textContent = "sending…";
    var status = pending.node.querySelector(".entry-status");
    if (status) status.remove();
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      markFailed(clientId, "Not connected: retry once the console is live again.");
      return;
    }
    socket.send(JSON.stringify({ type: "send", handoff_id: pending.handoffId, text: pending.text, client_id: clientId }));
  }

  function onSent(frame) {
    var pending = state.pending[frame.client_id];
    delete state.pending[frame.client_id];
    if (pending) pending.node.remove();
    if (pending && pending.handoffId === state.selectedId) addEntry(frame.message);
  }

  function markFailed(clientId, reason) {
    var pending = state.pending[clientId];
    if (!pending) return;
    pending.node.dataset.delivery = "failed";
    pending.node.querySelector(".entry-time").textContent = "not sent";
    var status = el("p", { className: "entry-status" }, reason + " ");
    var retry = el("button", { type: "button", className: "button quiet small", "data-testid": "retry-button" }, "Retry");
    retry.addEventListener("click", function () { transmit(clientId); });
    status.appendChild(retry);
    pending.node.appendChild(status);
  }

  function onSendError(frame) {
    var error = frame.error || {};
    if (frame.client_id && state.pending[frame.client_id]) {
      markFailed(frame.client_id, error.message || "Not sent.");
    } else {
      notify(error.message || "The server refused a message.");
    }
  }

  function failPending(reason) {
    Object.keys(state.pending).forEach(function (clientId) {
      if (state.pending[clientId].node.dataset.delivery === "sending") markFailed(clientId, reason);
    });
  }

  function addNote(text) {
    var handoffId = state.selectedId;
    return api("POST", "/api/routing/handoffs/" + handoffId + "/notes", { text: text }).then(function (entry) {
      if (state.selectedId === handoffId && entry) addEntry(entry);
    });
  }

  function submitReply() {
    var box = $("reply-box");
    var text = box.value.trim();
    if (!text || state.selectedId === null || box.disabled) return;
    if ($("note-toggle").checked) {
      addNote(text).then(function () { box.value = ""; }).catch(function (failure) { notify(describe(failure)); });
      return;
    }
    if (!canReply(state.selected)) {
      notify("Accept the handoff before replying.");
      return;
    }
    box.value = "";
    sendReply(text);
  }

  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    submitReply();
  });

  // ---- canned responses ---------------------------------------------------------------------------

  var suggestion = { items: [], index: 0, start: 0 };

  function loadCanned() {
    api("GET", "/api/canned-responses").then(function (body) { state.canned = body.items; })
      .catch(function () { state.canned = []; });
  }

  function cannedQuery() {
    var box = $("reply-box");
    var before = box.value.slice(0, box.selectionStart);
    var match = before.match(/(^|\s)\/([A-Za-z0-9_-]*)$/);
    if (!match) return null;
    return { prefix: match[2].toLowerCase(), start: before.length - match[2].length - 1 };
  }

  function updateSuggestions() {
    var query = cannedQuery();
    if (!query) { closeSuggestions(); return; }
    var language = state.selected && state.selected.language;
    var items = state.canned.filter(function (c) { return c.shortcut.indexOf(query.prefix) === 0; });
    // The conversation's language first.
    items.sort(function (a, b) { return (b.language === language) - (a.language === language); });
    if (!items.length) { closeSuggestions(); return; }
    suggestion = { items: items.slice(0, 8), index: 0, start: query.start };
    renderSuggestions();
  }

  function renderSuggestions() {
    var list = $("canned-suggestions");
    clear(list);
    suggestion.items.forEach(function (canned, index) {
      var option = el("li", {
        role: "option",
        id: "canned-option-" + index,
        className: "canned-option",
        "data-testid": "canned-option",
        "data-shortcut": canned.shortcut,
        "aria-selected": index === suggestion.index ? "true" : "false"
      });
      option.appendChild(el("span", { className: "canned-shortcut" }, "/" + canned.shortcut));
      option.appendChild(el("span", { className: "canned-title" }, canned.title + " · " + canned.language));
      option.appendChild(el("span", { className: "canned-text" }, canned.text));
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        suggestion.index = index;
        insertCanned();
      });
      list.appendChild(option);
    });
    list.hidden = false;
    $("reply-box").setAttribute("aria-expanded", "true");
    $("reply-box").setAttribute("aria-activedescendant", "canned-option-" + suggestion.index);
  }

  function closeSuggestions() {
    suggestion.items = [];
    $("canned-suggestions").hidden = true;
    $("reply-box").setAttribute("aria-expanded", "false");
    $("reply-box").removeAttribute("aria-activedescendant");
  }

  function insertCanned() {
    var canned = suggestion.items[suggestion.index];
    var box = $("reply-box");
    var end = box.selectionStart;
    box.value = box.value.slice(0, suggestion.start) + canned.text + box.value.slice(end);
    var caret = suggestion.start + canned.text.length;
    box.setSelectionRange(caret, caret);
    closeSuggestions();
    box.focus();
  }

  $("reply-box").addEventListener("input", updateSuggestions);
  $("reply-box").addEventListener("blur", function () { setTimeout(closeSuggestions, 100); });
  $("reply-box").addEventListener("keydown", function (event) {
    if (suggestion.items.length) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        suggestion.index = (suggestion.index + step + suggestion.items.length) % suggestion.items.length;
        renderSuggestions();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        insertCanned();
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        closeSuggestions();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitReply();
    }
  });

  // ---- transfer and resolve -----------------------------------------------------------------------

  function loadAgents() {
    api("GET", "/api/routing/agents").then(function (body) {
      state.agents = body.items;
      var select = $("transfer-agent");
      clear(select);
      body.items.forEach(function (agent) {
        var label = agent.display_name + " (" + agent.status + ", " + agent.load + "/" + agent.capacity + ")";
        select.appendChild(el("option", { value: String(agent.account_id) }, label));
      });
      select.hidden = false;
      $("transfer-agent-id").hidden = true;
    }).catch(function () { return null; });
  }

  $("transfer-button").addEventListener("click", function () {
    $("transfer-error").hidden = true;
    $("transfer-dialog").showModal();
  });

  $("transfer-cancel").addEventListener("click", function () { $("transfer-dialog").close(); });

  $("transfer-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var toAgent = document.querySelector("input[name=transfer-to]:checked").value === "agent";
    var body = {};
    if (toAgent) {
      var agentId = Number(state.agents.length ? $("transfer-agent").value : $("transfer-agent-id").value);
      if (!agentId) {
        $("transfer-error").textContent = "Give the agent's account id.";
        $("transfer-error").hidden = false;
        return;
      }
      body.agent_id = agentId;
    } else if ($("transfer-team").value) {
      body.team_id = Number($("transfer-team").value);
    }
    var handoffId = state.selectedId;
    api("POST", "/api/routing/handoffs/" + handoffId + "/transfer", body).then(function () {
      $("transfer-dialog").close();
      notify(toAgent ? "Transferred: offered to the agent." : "Transferred back to the queue.", "info");
      selectHandoff(null);
      refreshQueue();
    }).catch(function (failure) {
      $("transfer-error").textContent = describe(failure);
      $("transfer-error").hidden = false;
    });
  });

  $("resolve-button").addEventListener("click", function () {
    var handoffId = state.selectedId;
    act(handoffId, "resolve", undefined, "Resolved: the bot takes the conversation back and asks for a rating.")
      .catch(function () { return null; });
  });

  // ---- keyboard shortcuts -------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (!state.signedIn || !event.altKey || event.ctrlKey || event.metaKey) return;
    var focusFirst = function (listId) {
      var button = $(listId).querySelector(".handoff-open");
      if (button) button.focus();
    };
    var handled = true;
    if (event.code === "KeyR") $("reply-box").focus();
    else if (event.code === "KeyN") {
      var toggle = $("note-toggle");
      if (!toggle.disabled) { toggle.checked = !toggle.checked; updateComposerMode(); }
    } else if (event.code === "KeyA") {
      var offer = $("offers-list").querySelector("[data-handoff-id]");
      if (offer) acceptHandoff(Number(offer.dataset.handoffId));
    } else if (event.code === "KeyQ") focusFirst("queue-list");
    else if (event.code === "KeyC") focusFirst("mine-list");
    else if (/^Digit[1-9]$/.test(event.code)) {
      var items = $("mine-list").querySelectorAll("[data-handoff-id]");
      var item = items[Number(event.code.slice(5)) - 1];
      if (item) item.querySelector(".handoff-open").click();
    } else handled = false;
    if (handled) event.preventDefault();
  });

  // Waiting times move on without events.
  setInterval(function () { if (state.signedIn) renderLists(); }, 30000);

  // ---- start --------------------------------------------------------------------------------------

  session.whoAmI().then(signedIn).catch(function () { showSignIn(""); });
})();
