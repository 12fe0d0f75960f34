/*
 * Support chat widget for the website channel.
 *
 * Speaks Rasa's socket.io channel (`socketio`, served by bot/channels/socketio.py, credentials.yml): it asks for a
 * session with `session_request`, sends `user_uttered` and renders `bot_uttered`. The session is a token the server
 * issues and signs (bot/channels/widget_sessions.py): the widget never makes one up, it presents the token the server
 * last confirmed (kept in localStorage, so a reload or a second tab continues the same conversation) and keeps
 * whatever the server confirms, a new token when the old one is no longer valid. The transcript lives in
 * sessionStorage so a reload does not blank it; a new session starts with an empty one.
 *
 * Usage: <script src="/static/vendor/socket.io-4.8.1.min.js"></script>
 *        <script src="/static/widget.js" data-rasa-url="http://127.0.0.1:5005" defer></script>
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var rasaUrl = (script && script.dataset.rasaUrl) || "http://127.0.0.1:5005";
  var title = (script && script.dataset.title) || "Support";
  var SESSION_KEY = "cs-widget-session-token";
  var TRANSCRIPT_KEY = "cs-widget-transcript";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- DOM ---------------------------------------------------------------------------------------
  var root = el("div", "csw");
  var launcher = el("button", "csw-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open support chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.innerHTML = '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

  var panel = el("section", "csw-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title + " chat");
  panel.hidden = true;

  var header = el("header", "csw-header");
  var heading = el("span", "csw-title", title);
  var status = el("span", "csw-status", "connecting…");
  status.setAttribute("data-testid", "widget-status");
  var close = el("button", "csw-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(heading);
  header.appendChild(status);
  header.appendChild(close);

  var log = el("ol", "csw-log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("data-testid", "widget-log");

  var typing = el("div", "csw-typing", "Assistant is typing…");
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
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  // ---- transcript --------------------------------------------------------------------------------
  var transcript = [];
  try {
    transcript = JSON.parse(window.sessionStorage.getItem(TRANSCRIPT_KEY) || "[]");
  } catch (e) {
    transcript = [];
  }

  function saveTranscript() {
    // Buttons are only useful on the latest bot message; keep the stored copy small.
    window.sessionStorage.setItem(TRANSCRIPT_KEY, JSON.stringify(transcript.slice(-100)));
  }

  function clearButtons() {
    var groups = log.querySelectorAll(".csw-buttons");
    for (var i = 0; i < groups.length; i++) groups[i].remove();
  }

  function render(entry) {
    var item = el("li", "csw-msg csw-" + entry.from);
    if (entry.text) item.appendChild(el("p", "csw-text", entry.text));
    if (entry.image) {
      var img = el("img", "csw-image");
      img.src = entry.image;
      img.alt = "";
      item.appendChild(img);
    }
    if (entry.buttons && entry.buttons.length) {
      var group = el("div", "csw-buttons");
      entry.buttons.forEach(function (button) {
        var b = el("button", "csw-button", button.title);
        b.type = "button";
        b.addEventListener("click", function () {
          sendMessage(button.payload, button.title);
        });
        group.appendChild(b);
      });
      item.appendChild(group);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function add(entry) {
    if (entry.from === "user") clearButtons();
    transcript.push(entry);
    saveTranscript();
    render(entry);
  }

  transcript.forEach(function (entry, index) {
    // Restored buttons stay clickable only on the last message, as in a live conversation.
    render(index === transcript.length - 1 ? entry : { from: entry.from, text: entry.text, image: entry.image });
  });

  // ---- socket.io -------------------------------------------------------------------------------
  // null until the server confirms a session: the first request then asks for a new one.
  var sessionToken = window.localStorage.getItem(SESSION_KEY);
  // The server drops messages of a socket without a confirmed session: hold them until it confirms one.
  var confirmed = false;
  var unsent = [];
  var socket = window.io(rasaUrl, { path: "/socket.io", transports: ["websocket", "polling"] });
  var typingTimer = null;

  function setStatus(text) {
    status.textContent = text;
  }

  socket.on("connect", function () {
    confirmed = false;
    socket.emit("session_request", { session_id: sessionToken });
  });
  socket.on("session_confirm", function (token) {
    if (typeof token !== "string" || !token) return;
    if (token !== sessionToken) {
      // A new conversation: the transcript of the one that ended is not its history.
      if (sessionToken) {
        transcript = [];
        saveTranscript();
        log.textContent = "";
      }
      sessionToken = token;
      window.localStorage.setItem(SESSION_KEY, sessionToken);
    }
    confirmed = true;
    setStatus("online");
    unsent.splice(0).forEach(emitMessage);
  });
  socket.on("disconnect", function () {
    confirmed = false;
    setStatus("reconnecting…");
  });
  socket.on("connect_error", function () {
    setStatus("offline — retrying");
  });

  socket.on("bot_uttered", function (message) {
    typing.hidden = true;
    window.clearTimeout(typingTimer);
    var buttons = (message.quick_replies || message.buttons || []).map(function (b) {
      return { title: b.title, payload: b.payload };
    });
    add({
      from: "bot",
      text: message.text || "",
      image: message.attachment && message.attachment.payload && message.attachment.payload.src,
      buttons: buttons,
    });
  });

  function emitMessage(payload) {
    // The server attributes the message to this socket's confirmed session.
    socket.emit("user_uttered", { message: payload });
  }

  function sendMessage(payload, shownText) {
    var text = (shownText || payload || "").trim();
    if (!text) return;
    add({ from: "user", text: text });
    if (confirmed) emitMessage(payload);
    else unsent.push(payload);
    typing.hidden = false;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () {
      typing.hidden = true;
    }, 15000);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendMessage(text);
  });

  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      input.focus();
      log.scrollTop = log.scrollHeight;
    }
  }
  launcher.addEventListener("click", function () {
    toggle(panel.hidden);
  });
  close.addEventListener("click", function () {
    toggle(false);
  });

  document.body.appendChild(root);
  window.csWidget = { open: function () { toggle(true); }, send: sendMessage, socket: socket };
})();
