/*
 * The staff pages' session with cs_backend (the agent console and the dashboard share it): sign in with
 * POST /api/auth/cookie-login (the session token goes in an httpOnly cookie; the CSRF token, also in the
 * readable `cs_csrf` cookie, is sent in the X-CSRF-Token header of every POST, PUT, PATCH and DELETE), read
 * who is signed in with GET /api/auth/me, sign out with POST /api/auth/logout.
 *
 * window.CsSession.create({ isSignedIn: function () {...}, onSessionEnded: function () {...} }) gives
 * { api(method, path, body), signIn(email, password), signOut(), whoAmI() }; a 401 on any call but the
 * sign-in, while the page thinks it is signed in, calls onSessionEnded. CsSession.ApiFailure is what a
 * refused call rejects with; CsSession.describe(failure) and CsSession.signInMessage(failure) are its words.
 */
(function (global) {
  "use strict";

  var LOGIN_PATH = "/api/auth/cookie-login";

  function ApiFailure(status, message, fields) {
    this.status = status;
    this.message = message;
    this.fields = fields || {};
  }

  function describe(failure) {
    if (!(failure instanceof ApiFailure)) return "The server cannot be reached. Try again in a moment.";
    var fields = Object.keys(failure.fields || {}).map(function (name) {
      return name + ": " + failure.fields[name];
    });
    return failure.message + (fields.length ? " (" + fields.join("; ") + ")" : "");
  }

  function signInMessage(failure) {
    if (failure instanceof ApiFailure && failure.status === 401) return "Wrong email or password.";
    if (failure instanceof ApiFailure && failure.status === 429) return "Too many attempts: wait a minute and try again.";
    return describe(failure);
  }

  function create(options) {
    var csrf = null;

    function csrfToken() {
      var match = document.cookie.match(/(?:^|;\s*)cs_csrf=([^;]+)/);
      return match ? decodeURIComponent(match[1]) : csrf;
    }

    function api(method, path, body) {
      var headers = { "Accept": "application/json" };
      var request = { method: method, headers: headers, credentials: "same-origin" };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        request.body = JSON.stringify(body);
      }
      if (method !== "GET") headers["X-CSRF-Token"] = csrfToken() || "";
      return fetch(path, request).then(function (response) {
        if (response.status === 204) return null;
        return response.json().catch(function () { return null; }).then(function (data) {
          if (response.ok) return data;
          var error = (data && data.error) || {};
          var failure = new ApiFailure(response.status, error.message || response.statusText, error.fields);
          if (response.status === 401 && path !== LOGIN_PATH && options.isSignedIn()) options.onSessionEnded();
          throw failure;
        });
      });
    }

    function signIn(email, password) {
      return api("POST", LOGIN_PATH, { email: email, password: password }).then(function (session) {
        csrf = session.csrf_token;
        return api("GET", "/api/auth/me");
      });
    }

    function signOut() {
      return api("POST", "/api/auth/logout").catch(function () { return null; });
    }

    function whoAmI() { return api("GET", "/api/auth/me"); }

    return { api: api, signIn: signIn, signOut: signOut, whoAmI: whoAmI };
  }

  global.CsSession = { create: create, ApiFailure: ApiFailure, describe: describe, signInMessage: signInMessage };
})(window);
