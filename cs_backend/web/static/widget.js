/*
 * Support chat widget for the website channel (docs/WIDGET.md: how to embed it, its options, what it keeps).
 *
 * Speaks Rasa's socket.io channel (`socketio`, served by bot/channels/socketio.py, credentials.yml): it asks for a
 * session with `session_request`, sends `user_uttered` and renders `bot_uttered`. The session is a token the server
 * issues and signs (bot/channels/widget_sessions.py): the widget never makes one up, it presents the token the server
 * last confirmed (localStorage, so a reload or a second tab continues the same conversation) and keeps whatever
 * the server confirms, a new token when the old one is no longer valid.
 *
 * Nothing typed is lost: each message gets an id and waits in an outbox (sessionStorage, so a reload keeps it)
 * until the server acknowledges it, which it does once Rasa has handled it. Messages go one at a time, in order,
 * and only over a confirmed session; while the connection or Rasa is down the widget says it is reconnecting, and
 * a message whose acknowledgement was lost is sent again with the same id, which the server drops if it had it.
 *
 * Bot text is rendered by building DOM nodes (bold, italics, http(s) links, line breaks), never as HTML.
 *
 * A signed-in user of the website: the page passes `userId` and `userHash` (hex HMAC-SHA256 of the user id under
 * the site's WEBSITE_IDENTITY_SECRET, made by the site's server) in the config; they go with `session_request`,
 * and the server verifies them (bot/channels/website_identity.py). A conversation belongs to the user it was
 * kept for: another user (or a visitor after a user) starts a new one. A pair the server refuses
 * (`identity_refused`) is dropped, and the widget continues as a visitor.
 *
 * A message written by a person of the support team (the live handoff) arrives with `sender.kind` "agent" and is
 * shown labelled with their name (as text).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var ownUrl = script && script.src ? script.src : window.location.href;
  var config = readConfig();
  var SESSION_KEY = "cs-widget-session-token";
  var TRANSCRIPT_KEY = "cs-widget-transcript";
  var OUTBOX_KEY = "cs-widget-outbox";
  // Whose conversation the stored session token is: the website user id, "" for a visitor.
  var SESSION_USER_KEY = "cs-widget-session-user";
  var MAX_TRANSCRIPT = 100;
  // No acknowledgement within this time (Rasa stuck, a lost packet): send again, the server drops a duplicate.
  var ACK_TIMEOUT_MS = 60000;
  var SCALES = {
    5: { name: "Rating", low: "poor", high: "excellent" },
    7: { name: "Ease", low: "very difficult", high: "very easy" },
  };

  function readConfig() {
    // A config object set before the script (window.csWidgetConfig) wins over the tag's data-* attributes.
    var data = (script && script.dataset) || {};
    var given = window.csWidgetConfig || {};
    function pick(name, fallback) {
      return given[name] !== undefined ? given[name] : data[name] !== undefined ? data[name] : fallback;
    }
    return {
      rasaUrl: pick("rasaUrl", "http://127.0.0.1:5005"),
      title: pick("title", "Support"),
      assetsUrl: pick("assetsUrl", new URL(".", ownUrl).href),
      open: String(pick("open", "false")) === "true",
      userId: pick("userId", null),
      userHash: pick("userHash", null),
    };
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function storedList(storage, key, fallback) {
    try {
      var value = JSON.parse(storage.getItem(key));
      return Array.isArray(value) ? value : fallback;
    } catch (e) {
      return fallback; // storage disabled or a value this version cannot read
    }
  }

  function store(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(value));
    } catch (e) {
      // Storage full or disabled: the conversation goes on, it just does not survive a reload.
    }
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  // ---- safe rich text: **bold**, *italics* or _italics_, [label](https://…), bare http(s) links, line breaks
  var INLINE = /\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|\*\*([^*\n]+)\*\*|\*([^*\n]+)\*|\b_([^_\n]+)_\b|(https?:\/\/[^\s<>"]*[^\s<>".,;:!?)'])/g;

  function safeHref(candidate) {
    try {
      var url = new URL(candidate);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(label, href) {
    var safe = safeHref(href);
    if (!safe) return document.createTextNode(label);
    var a = el("a", "csw-link", label);
    a.href = safe;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    return a;
  }

  function richText(text) {
    var fragment = document.createDocumentFragment();
    text.split("\n").forEach(function (line, index) {
      if (index > 0) fragment.appendChild(el("br"));
      var last = 0;
      line.replace(INLINE, function (match, label, href, bold, star, underscore, bare, offset) {
        if (offset > last) fragment.appendChild(document.createTextNode(line.slice(last, offset)));
        if (label !== undefined) fragment.appendChild(link(label, href));
        else if (bold !== undefined) fragment.appendChild(el("strong", "", bold));
        else if (star !== undefined || underscore !== undefined) fragment.appendChild(el("em", "", star || underscore));
        else fragment.appendChild(link(bare, bare));
        last = offset + match.length;
        return match;
      });
      if (last < line.length) fragment.appendChild(document.createTextNode(line.slice(last)));
    });
    return fragment;
  }

  // ---- DOM ---------------------------------------------------------------------------------------
  var root = el("div", "csw");
  var launcher = el("button", "csw-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "csw-panel");
  var icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  var iconPath = document.createElementNS("http://www.w3.org/2000/svg", "path");
  iconPath.setAttribute("fill", "currentColor");
  iconPath.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
  icon.appendChild(iconPath);
  var badge = el("span", "csw-badge");
  badge.setAttribute("aria-hidden", "true");
  badge.setAttribute("data-testid", "widget-unread");
  badge.hidden = true;
  launcher.appendChild(icon);
  launcher.appendChild(badge);

  var panel = el("section", "csw-panel");
  panel.id = "csw-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", config.title + " chat");
  panel.hidden = true;

  var header = el("header", "csw-header");
  var heading = el("h2", "csw-title", config.title);
  var status = el("span", "csw-status", "connecting…");
  status.setAttribute("data-testid", "widget-status");
  var close = el("button", "csw-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(heading);
  header.appendChild(status);
  header.appendChild(close);

  // Announced when the connection state changes; hidden while online.
  var banner = el("p", "csw-banner");
  banner.setAttribute("role", "status");
  banner.setAttribute("data-testid", "widget-banner");

  var log = el("ol", "csw-log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.setAttribute("tabindex", "0");
  log.setAttribute("data-testid", "widget-log");

  var typing = el("div", "csw-typing");
  typing.setAttribute("data-testid", "widget-typing");
  typing.appendChild(el("span", "csw-dots"));
  typing.appendChild(document.createTextNode("Assistant is typing…"));
  typing.hidden = true;

  var form = el("form", "csw-form");
  var input = el("input", "csw-input");
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = 2000;
  input.placeholder = "Type your message…";
  input.setAttribute("aria-label", "Message");
  var send = el("button", "csw-send", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);

  panel.appendChild(header);
  panel.appendChild(banner);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  // ---- transcript (sessionStorage: this tab's copy of the conversation, the latest messages only) ------
  forgetAnotherUsersConversation();
  var transcript = storedList(window.sessionStorage, TRANSCRIPT_KEY, []);
  var unread = 0;

  function saveTranscript() {
    transcript = transcript.slice(-MAX_TRANSCRIPT);
    store(window.sessionStorage, TRANSCRIPT_KEY, transcript);
  }

  function clearButtons() {
    var groups = log.querySelectorAll(".csw-buttons");
    for (var i = 0; i < groups.length; i++) groups[i].remove();
  }

  function ratingScale(buttons) {
    // The bot's CSAT (1-5) and CES (1-7) questions offer exactly the numbers of their scale (domain.yml).
    var scale = SCALES[buttons.length];
    var numbered = buttons.every(function (b, i) {
      return b.payload === String(i + 1);
    });
    return scale && numbered ? scale : null;
  }

  function renderButtons(buttons) {
    var scale = ratingScale(buttons);
    var group = el("div", scale ? "csw-buttons csw-rating" : "csw-buttons");
    group.setAttribute("role", "group");
    var size = buttons.length;
    group.setAttribute(
      "aria-label",
      scale ? scale.name + " from 1 (" + scale.low + ") to " + size + " (" + scale.high + ")" : "Suggested replies"
    );
    buttons.forEach(function (button, index) {
      var b = el("button", "csw-button", scale ? String(index + 1) : button.title);
      b.type = "button";
      if (scale) b.setAttribute("aria-label", index + 1 + " of " + size + (index === 0 ? ", " + scale.low : index === size - 1 ? ", " + scale.high : ""));
      b.addEventListener("click", function () {
        sendMessage(button.payload, button.title);
      });
      group.appendChild(b);
    });
    if (scale) {
      var ends = el("div", "csw-scale-ends");
      ends.setAttribute("aria-hidden", "true");
      ends.appendChild(el("span", "", scale.low));
      ends.appendChild(el("span", "", scale.high));
      group.appendChild(ends);
    }
    return group;
  }

  function render(entry, withButtons) {
    var item = el("li", "csw-msg csw-" + entry.from);
    if (entry.id) item.setAttribute("data-id", entry.id);
    if (entry.from === "agent") {
      // A person of the support team, not the assistant: labelled with their name (text, never HTML).
      item.appendChild(el("span", "csw-sender", entry.agentName ? "Agent " + entry.agentName : "Support agent"));
    }
    if (entry.text) {
      var bubble = el("p", "csw-text");
      // The customer's own words stay exactly as typed; the bot's get their simple formatting.
      if (entry.from === "user") bubble.textContent = entry.text;
      else bubble.appendChild(richText(entry.text));
      item.appendChild(bubble);
    }
    if (entry.image && safeHref(entry.image)) {
      var img = el("img", "csw-image");
      img.src = safeHref(entry.image);
      img.alt = "Image from the assistant";
      item.appendChild(img);
    }
    if (entry.from === "user") {
      var note = el("span", "csw-pending", "Not sent yet");
      note.hidden = !entry.pending;
      item.appendChild(note);
    }
    if (withButtons && entry.buttons && entry.buttons.length) item.appendChild(renderButtons(entry.buttons));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function add(entry) {
    if (entry.from === "user") clearButtons();
    transcript.push(entry);
    saveTranscript();
    render(entry, true);
  }

  function markSent(id) {
    transcript.forEach(function (entry) {
      if (entry.id === id) delete entry.pending;
    });
    saveTranscript();
    var item = log.querySelector('[data-id="' + id + '"] .csw-pending');
    if (item) item.hidden = true;
  }

  transcript.forEach(function (entry, index) {
    // Restored buttons stay clickable only on the last message, as in a live conversation.
    render(entry, index === transcript.length - 1);
  });

  // ---- connection state -------------------------------------------------------------------------
  function setConnection(state) {
    root.setAttribute("data-connection", state);
    status.textContent = { online: "online", connecting: "connecting…", reconnecting: "reconnecting…" }[state];
    var text =
      state === "reconnecting"
        ? "Reconnecting… Messages you send now will be delivered when the assistant is back."
        : "";
    if (banner.textContent !== text) banner.textContent = text;
    banner.hidden = !text;
  }

  // ---- outbox: typed messages, kept until the server acknowledges them -------------------------------
  var outbox = storedList(window.sessionStorage, OUTBOX_KEY, []);
  var sessionToken = readToken();
  var confirmed = false;
  var inFlight = null; // the id of the message sent and not yet acknowledged
  var socket = null;

  function currentUser() {
    return typeof config.userId === "string" && config.userId ? config.userId : "";
  }

  function forgetAnotherUsersConversation() {
    // The stored conversation is another user's (or a visitor's, or this user's after a sign-out): not shown,
    // not resumed.
    try {
      var owner = window.localStorage.getItem(SESSION_USER_KEY);
      if (owner === null || owner === currentUser()) return;
      window.localStorage.removeItem(SESSION_KEY);
      window.sessionStorage.removeItem(TRANSCRIPT_KEY);
      window.sessionStorage.removeItem(OUTBOX_KEY);
    } catch (e) {
      // Storage unavailable: nothing was kept.
    }
  }

  function readToken() {
    try {
      return window.localStorage.getItem(SESSION_KEY);
    } catch (e) {
      return null;
    }
  }

  function saveToken(token) {
    try {
      window.localStorage.setItem(SESSION_KEY, token);
      window.localStorage.setItem(SESSION_USER_KEY, currentUser());
    } catch (e) {
      // Not kept: a reload starts a new conversation.
    }
  }

  function saveOutbox() {
    store(window.sessionStorage, OUTBOX_KEY, outbox);
  }

  function showTyping(shown) {
    typing.hidden = !shown;
  }

  function flush() {
    // Only over a confirmed session: socket.io would buffer an emit made while disconnected and send it on
    // reconnection before the session is confirmed, and the server drops a message without a session.
    if (!confirmed || !socket.connected || inFlight || !outbox.length) return;
    var message = outbox[0];
    inFlight = message.id;
    showTyping(true);
    socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", { message: message.payload, message_id: message.id }, function (error) {
      if (inFlight !== message.id) return; // a reconnection sent it again already
      inFlight = null;
      if (!error) {
        outbox = outbox.filter(function (m) {
          return m.id !== message.id;
        });
        saveOutbox();
        markSent(message.id);
      }
      showTyping(false);
      flush();
    });
  }

  function sendMessage(payload, shownText) {
    var text = (shownText || payload || "").trim();
    if (!text || !payload) return;
    var id = newId();
    add({ id: id, from: "user", text: text, pending: true });
    outbox.push({ id: id, payload: payload });
    saveOutbox();
    flush();
  }

  function sessionRequest() {
    var request = { session_id: sessionToken };
    if (currentUser()) {
      request.user_id = config.userId;
      request.user_hash = String(config.userHash || "");
    }
    return request;
  }

  function connect() {
    socket = window.io(config.rasaUrl, { path: "/socket.io", transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      confirmed = false;
      socket.emit("session_request", sessionRequest());
    });
    socket.on("identity_refused", function () {
      // The page's userHash does not verify (a wrong secret on the site's server): continue as a visitor.
      if (window.console) window.console.warn("cs-widget: the website user could not be verified; chatting as a visitor");
      config.userId = null;
      config.userHash = null;
      forgetAnotherUsersConversation();
      sessionToken = readToken();
      if (!sessionToken) {
        transcript = [];
        log.textContent = "";
      }
      socket.emit("session_request", sessionRequest());
    });
    socket.on("session_confirm", function (token) {
      if (typeof token !== "string" || !token) return;
      if (token !== sessionToken) {
        // A new conversation: the transcript of the one that ended is not its history.
        if (sessionToken) {
          transcript = transcript.filter(function (entry) {
            return entry.pending;
          });
          saveTranscript();
          log.textContent = "";
          transcript.forEach(function (entry) {
            render(entry, false);
          });
        }
        sessionToken = token;
        saveToken(sessionToken);
      }
      confirmed = true;
      inFlight = null;
      setConnection("online");
      flush();
    });
    socket.on("disconnect", function (reason) {
      confirmed = false;
      inFlight = null;
      showTyping(false);
      setConnection("reconnecting");
      // The server closed this socket on purpose: socket.io does not reconnect by itself then.
      if (reason === "io server disconnect") socket.connect();
    });
    socket.on("connect_error", function () {
      setConnection(sessionToken ? "reconnecting" : "connecting");
    });
    socket.on("bot_uttered", function (message) {
      if (!message || typeof message !== "object") return;
      var buttons = (message.quick_replies || message.buttons || []).map(function (b) {
        return { title: String(b.title), payload: String(b.payload) };
      });
      var image = message.attachment && message.attachment.payload && message.attachment.payload.src;
      // Buttons answer the latest question: once the customer has typed past it, they are stale.
      if (outbox.length > 1) buttons = [];
      var entry = { from: "bot", text: typeof message.text === "string" ? message.text : "", image: image, buttons: buttons };
      if (message.sender && message.sender.kind === "agent") {
        entry.from = "agent";
        entry.agentName = typeof message.sender.name === "string" ? message.sender.name : "";
      }
      add(entry);
      if (panel.hidden) setUnread(unread + 1);
    });
  }

  // The browser knows first when the network is gone; socket.io would notice only at its next ping.
  window.addEventListener("offline", function () {
    if (socket && socket.connected) socket.disconnect();
    setConnection("reconnecting");
  });
  window.addEventListener("online", function () {
    if (socket && !socket.connected) socket.connect();
  });

  // ---- open, close, unread ------------------------------------------------------------------------
  function setUnread(count) {
    unread = count;
    badge.textContent = count > 9 ? "9+" : String(count);
    badge.hidden = count === 0;
    launcher.setAttribute(
      "aria-label",
      "Open support chat" + (count ? " (" + count + " unread message" + (count === 1 ? "" : "s") + ")" : "")
    );
  }

  function toggle(open) {
    panel.hidden = !open;
    root.classList.toggle("csw-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      setUnread(0);
      input.focus();
      log.scrollTop = log.scrollHeight;
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendMessage(text);
  });
  launcher.addEventListener("click", function () {
    toggle(panel.hidden);
  });
  close.addEventListener("click", function () {
    toggle(false);
    launcher.focus();
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      toggle(false);
      launcher.focus();
    }
  });

  function loadSocketIo(then) {
    if (window.io) return then();
    var tag = document.createElement("script");
    tag.src = new URL("vendor/socket.io-4.8.1.min.js", config.assetsUrl).href;
    tag.onload = then;
    tag.onerror = function () {
      setConnection("reconnecting");
    };
    document.head.appendChild(tag);
  }

  function loadStyles() {
    var href = new URL("widget.css", config.assetsUrl).href;
    var present = Array.prototype.some.call(document.querySelectorAll('link[rel="stylesheet"]'), function (l) {
      return l.href.split("?")[0] === href;
    });
    if (present) return;
    var tag = document.createElement("link");
    tag.rel = "stylesheet";
    tag.href = href;
    document.head.appendChild(tag);
  }

  function start() {
    loadStyles();
    setUnread(0);
    setConnection("connecting");
    document.body.appendChild(root);
    if (config.open) toggle(true);
    loadSocketIo(connect);
  }

  window.csWidget = {
    open: function () {
      toggle(true);
    },
    close: function () {
      toggle(false);
    },
    send: sendMessage,
    socket: function () {
      return socket;
    },
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
