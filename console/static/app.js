// The identity graph console: a client of the service's public GraphQL API
// (and of its REST export endpoints), written by hand with no build step.
// Every value shown comes from the API as it answered: without pii:read the
// API masks personal values and the console shows them masked.
(function () {
  "use strict";

  var KEY = "cdp.console.key";
  var SCOPES = ["profiles:read", "pii:read", "events:write", "identity:write", "consent:write", "privacy:read",
    "privacy:write", "audiences:read", "audiences:write", "audit:read", "keys:admin", "metrics:read"];
  var ID_TYPES = ["email", "phone", "user_id", "anonymous_id", "device_id"];
  var OPS = ["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN", "CONTAINS", "STARTS_WITH", "EXISTS", "NOT_EXISTS"];
  var COUNT_OPS = ["GTE", "GT", "EQ", "NEQ", "LT", "LTE"];
  var STATES = ["GRANTED", "DENIED", "WITHDRAWN", "EXPIRED", "UNKNOWN"];
  var PURPOSES = ["analytics", "personalization", "advertising", "email", "sms", "push"];
  var EVENT_TYPES = ["track", "identify", "page", "screen", "group", "alias"];

  // Session: the key, whether the server is open, and what is known of
  // the key's scopes (true held, false refused), from Query.viewer at
  // sign-in; a FORBIDDEN answer naming a scope also marks it refused.
  var S = { key: null, open: false, scopes: {}, lastProfile: "", search: null, privacy: null, exportOpts: null };
  // Counters the browser tests and the figures in docs/BENCHMARKS.md read.
  var stats = { graphql: 0, views: [] };
  window.cdpConsoleStats = stats;

  // ---- DOM helpers -------------------------------------------------------

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === "text") el.textContent = v;
        else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
        else if (k === "value") el.value = v;
        else if (k === "checked" || k === "disabled") el[k] = !!v;
        else el.setAttribute(k, v === true ? "" : v);
      });
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); continue; }
      el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function $(id) { return document.getElementById(id); }
  var uid = 0;
  function nid(p) { uid++; return (p || "f") + uid; }
  function field(labelText, input, cls) {
    if (!input.id) input.id = nid("in");
    return h("label", { "for": input.id, "class": cls }, h("span", { text: labelText }), input);
  }
  function select(options, value, attrs) {
    var s = h("select", attrs || {});
    options.forEach(function (o) {
      var v = typeof o === "string" ? o : o[0], t = typeof o === "string" ? o : o[1];
      var opt = h("option", { value: v, text: t });
      if (v === value) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }
  function table(caption, heads, rows) {
    var t = h("table", null, caption ? h("caption", { "class": "sr-only", text: caption }) : null,
      h("thead", null, h("tr", null, heads.map(function (x) { return h("th", { scope: "col", text: x }); }))),
      h("tbody", null, rows));
    return h("div", { "class": "scroll", tabindex: "0", role: "region", "aria-label": caption || heads.join(", ") }, t);
  }
  function td(v, cls) { return h("td", { "class": cls }, v === null || v === undefined ? "" : v); }
  function tdTime(v) { return h("td", { "class": "time" }, fmt(v)); }
  function fmt(t) { return t ? String(t).replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : ""; }
  function json(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  function say(msg) {
    var s = $("status");
    s.textContent = msg;
    clearTimeout(say.t);
    say.t = setTimeout(function () { s.textContent = ""; }, 5000);
  }
  function errBox(msg) { return h("div", { "class": "error", role: "alert" }, msg); }

  // ---- scopes ------------------------------------------------------------

  function can(scope) { return S.open || S.scopes[scope] !== false; }
  function lacks(scope) { return "Needs the " + scope + " scope, which this key lacks."; }
  // gate disables a control the key's scopes forbid and says why beside it.
  function gate(el, scope) {
    if (can(scope)) return el;
    el.disabled = true;
    var why = h("span", { "class": "why", id: nid("why"), text: lacks(scope) });
    el.setAttribute("aria-describedby", why.id);
    return h("span", { "class": "row" }, el, why);
  }
  function learn(errors) {
    (errors || []).forEach(function (e) {
      var x = e.extensions || {};
      if (x.code === "FORBIDDEN" && x.scope) S.scopes[x.scope] = false;
    });
  }

  // ---- the API -------------------------------------------------------------

  function authHeaders() {
    var hd = {};
    if (S.key) hd.Authorization = "Bearer " + S.key;
    return hd;
  }
  // The session a request is sent for: one per sign-in (or open mode),
  // none while signed out. Nothing is asked while signed out, and an
  // answer that comes back after its session ended (the user signed out,
  // or in again, meanwhile) goes nowhere: its promise never settles, so
  // what would follow from it (a redraw, the list asked again, the next
  // page, a download) does not happen, and asks nothing either.
  var session = null;
  function never() { return new Promise(function () { }); }
  function ApiError(msg, code, status) { this.message = msg; this.code = code; this.status = status; }
  ApiError.prototype = Object.create(Error.prototype);

  // gql posts one operation. It resolves to {data, errors}; a transport
  // failure or a refused request (401, 429...) rejects with an ApiError.
  function gql(query, variables) {
    var sess = session;
    if (!sess) return never();
    stats.graphql++;
    var hd = authHeaders();
    hd["Content-Type"] = "application/json";
    return fetch("/graphql", { method: "POST", headers: hd, body: JSON.stringify({ query: query, variables: variables || {} }) })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (sess !== session) return never();
          if (res.status === 401) {
            S.open = false; // a server that refuses a request is not open
            signOut("The key was refused: " + firstMessage(body) + ". Sign in again.");
            throw new ApiError("The key was refused.", "UNAUTHENTICATED", 401);
          }
          if (!res.ok && !body.data) throw new ApiError(firstMessage(body) || ("HTTP " + res.status), code(body), res.status);
          learn(body.errors);
          return { data: body.data || {}, errors: body.errors || [] };
        });
      }, function (e) { if (sess !== session) return never(); throw e; });
  }
  function firstMessage(body) {
    if (body && body.errors && body.errors.length) return body.errors[0].message;
    return body && body.error ? body.error : "";
  }
  function code(body) {
    var e = body && body.errors && body.errors[0];
    return e && e.extensions ? e.extensions.code : (body && body.code);
  }
  // must returns data, or throws the first error's message.
  function must(r) {
    if (r.errors.length) {
      var e = r.errors[0], x = e.extensions || {};
      throw new ApiError(x.code === "FORBIDDEN" && x.scope ? lacks(x.scope) : e.message, x.code);
    }
    return r.data;
  }
  // rest GETs a download; it resolves to its body and headers, once read.
  function rest(path, accept) {
    var sess = session;
    if (!sess) return never();
    var hd = authHeaders();
    if (accept) hd.Accept = accept;
    return fetch(path, { headers: hd }).then(function (res) {
      if (!res.ok) {
        // The key's refusals (401, 403, 429, 503) come as GraphQL errors,
        // the export's own as {error, code}: either is shown as it is.
        return res.json().catch(function () { return {}; }).then(function (b) {
          if (sess !== session) return never();
          var msg = firstMessage(b);
          if (res.status === 401) { S.open = false; signOut("The key was refused: " + msg + ". Sign in again."); }
          throw new ApiError(msg || ("HTTP " + res.status), code(b), res.status);
        });
      }
      return res.blob().then(function (b) {
        if (sess !== session) return never();
        return { blob: b, headers: res.headers };
      }, dropped);
    }, dropped);
    function dropped(e) { if (sess !== session) return never(); throw e; }
  }
  function download(name, blob) {
    var url = URL.createObjectURL(blob);
    var a = h("a", { href: url, download: name, "class": "sr-only", text: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 30000);
  }

  // ---- session -----------------------------------------------------------

  // probe learns the key's scopes from Query.viewer, which needs none.
  function probe() {
    return gql("query ConsoleViewer { viewer { open scopes } }").then(function (r) {
      var v = must(r).viewer, held = {};
      // The server says whether it is open now: mode.json was read when
      // the console loaded, and a first key ends open mode.
      S.open = !!v.open;
      v.scopes.forEach(function (sc) { held[sc] = true; });
      SCOPES.forEach(function (sc) { S.scopes[sc] = !!held[sc]; });
    });
  }
  // signOut ends the session, with msg on the sign-in page. A sign-out
  // asked for (afresh) drops the address's page: the next sign-in in the
  // tab starts at Search. One for a refused key keeps it, so that signed in
  // again the user is back where they were.
  function signOut(msg, afresh) {
    session = null;
    // The live updates of a profile page hold the key's subscription.
    stopLive();
    closeDialogs();
    if (afresh) history.replaceState(history.state, "", location.pathname);
    S.key = null;
    S.scopes = {};
    // The next person to sign in in this tab starts afresh: the privacy
    // page is not filled in with the profile this session last opened.
    S.lastProfile = "";
    S.search = null;
    S.privacy = null;
    S.exportOpts = null;
    try {
      sessionStorage.removeItem(KEY);
      // GraphiQL's tabs and history in this tab hold the key in headers.
      Object.keys(sessionStorage).forEach(function (k) {
        if (k.indexOf("graphiql:") === 0) { sessionStorage.removeItem(k); }
      });
    } catch (e) { /* storage off */ }
    renderSession();
    signInPage(msg);
  }
  function renderSession() {
    var el = clear($("session"));
    if (S.open) {
      add(el, h("span", { "class": "badge", text: "Open mode: no key needed" }));
      return;
    }
    if (!S.key) return;
    var held = Object.keys(S.scopes).filter(function (s) { return S.scopes[s]; }).sort();
    add(el, h("span", { "class": "muted", text: "Signed in · scopes: " + (held.join(", ") || "none") }));
    add(el, h("button", { type: "button", "class": "link", text: "Sign out", onclick: function () {
      function out() { signOut("Signed out.", true); }
      // Signing out leaves the page: edits not saved ask first, as
      // going to another page does.
      if (unsaved && unsaved()) {
        if (!asking || !asking.open) asking = askToLeave(out);
        return;
      }
      out();
    } }));
  }

  function signInPage(msg) {
    var main = view("Sign in");
    var input = h("input", { type: "password", name: "key", autocomplete: "off", required: true, spellcheck: "false", placeholder: "cdp_…" });
    var out = h("div", { "aria-live": "polite" });
    if (msg) add(out, h("div", { "class": "note", text: msg }));
    add(main, h("div", { "class": "card" },
      h("p", null, "Paste an API key. It is kept in this tab only (sessionStorage) and sent with every request as ",
        h("code", { text: "Authorization: Bearer" }), ". What the key's scopes forbid is disabled, with the reason."),
      h("form", {
        "class": "inline", id: "signin",
        onsubmit: function (ev) {
          ev.preventDefault();
          S.key = input.value.trim();
          S.scopes = {};
          session = {};
          clear(out);
          probe().then(function () {
            try { sessionStorage.setItem(KEY, S.key); } catch (e) { /* storage off */ }
            renderSession();
            // The page the address names (a link opened signed out, or the
            // page a refused key was signed out of), else Search.
            if (!parseHash().parts[0]) history.replaceState(history.state, "", "#/search");
            route();
          }).catch(function (e) {
            if (S.key) signOut(e.message);
          });
        }
      }, field("API key", input), h("button", { type: "submit", "class": "primary", text: "Sign in" })),
      out));
    input.focus();
  }

  // ---- routing -------------------------------------------------------------

  // Each page drawn, and each profile asked for, takes the next number:
  // an answer for an earlier one (the user went on to another page, or
  // signed out, meanwhile) is dropped rather than drawn over what is shown.
  var shown = 0;
  function view(title) {
    shown++;
    unsaved = null;
    var main = clear($("main"));
    main.removeAttribute("data-rendered");
    main.place = null;
    document.title = title + " · Identity graph console";
    add(main, h("h1", { text: title }));
    return main;
  }
  // decode undoes a link's escapes; one that does not decode (a link cut
  // short at a "%") is taken as it is rather than throwing.
  function decode(s) {
    try { return decodeURIComponent(s); } catch (e) { return s; }
  }
  function parseHash() {
    var raw = location.hash.replace(/^#\/?/, "");
    var q = raw.indexOf("?"), query = {};
    if (q >= 0) {
      raw.slice(q + 1).split("&").forEach(function (kv) {
        var i = kv.indexOf("=");
        if (i > 0) query[decode(kv.slice(0, i))] = decode(kv.slice(i + 1));
      });
      raw = raw.slice(0, q);
    }
    return { parts: raw.split("/").map(decode), query: query };
  }
  function route() {
    if (!S.open && !S.key) { signInPage(); return; }
    var r = parseHash(), page = r.parts[0] || "search";
    document.querySelectorAll("[data-nav]").forEach(function (a) {
      if (a.getAttribute("data-nav") === page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    stopLive();
    closeDialogs();
    if (page === "profile" && r.parts[1]) profilePage(r.parts[1], null, placeOf(r.query));
    else if (page === "audiences") audiencesPage(r.parts[1]);
    else if (page === "privacy") privacyPage(r.query.profile || "", r.query);
    else searchPage();
    $("main").focus({ preventScroll: true });
  }
  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // A page holding edits not saved (the audience editor) sets unsaved to
  // a function that says whether it still does; each page drawn clears
  // it. Leaving such a page asks first: going to another page of the
  // console (a link, Back, Forward) opens a dialog, and closing or
  // reloading the tab asks the browser's own question.
  var unsaved = null;
  // Each entry of the tab's history the console is shown at is numbered
  // (history.state.at): an entry a link adds, one past the entry it was
  // added from. When the address changes, the console knows how far the
  // user moved, so that it can move back to the page shown, edits and
  // all, while it asks, and on again if the user chooses to leave.
  var here = 0, asking = null;
  function entry() {
    var st = history.state;
    return st && typeof st.at === "number" ? st.at : null;
  }
  function number() {
    var at = entry();
    if (at === null) { at = here + 1; history.replaceState({ at: at }, ""); }
    here = at;
  }
  window.addEventListener("hashchange", function () {
    var at = entry(), to = at === null ? here + 1 : at;
    // Back at the page shown, moved back to below: nothing to draw.
    if (to === here) return;
    if (unsaved && unsaved()) {
      if (at === null) history.replaceState({ at: to }, "");
      var by = to - here;
      history.go(-by);
      // Asked once: a move while the question is open only moves back.
      if (!asking || !asking.open) asking = askToLeave(function () { history.go(by); });
      return;
    }
    number();
    route();
  });
  // askToLeave asks whether to leave the page shown, edits unsaved and
  // all, and calls leave if the user chooses to. Its buttons act as they are
  // pressed (no answer waits for the dialog's close event), so that a
  // move right after Cancel asks again.
  function askToLeave(leave) {
    var title = nid("leave");
    var dlg = h("dialog", { "aria-labelledby": title });
    function close() { dlg.close("cancel"); dlg.remove(); }
    var stay = h("button", { type: "button", value: "cancel", text: "Cancel", onclick: close });
    add(dlg, h("h2", { id: title, text: "Leave without saving?" }),
      h("p", { text: "The changes on this page are not saved. Leave it and lose them, or cancel to stay and save them." }),
      h("div", { "class": "row" },
        h("button", { type: "button", "class": "danger", value: "ok", text: "Leave without saving", onclick: function () {
          close();
          unsaved = null;
          leave();
        } }), stay));
    dlg.addEventListener("close", function () { dlg.remove(); });
    document.body.appendChild(dlg);
    dlg.showModal();
    // On Cancel, as confirmDialog without a field: Enter pressed at once
    // loses nothing. Escape cancels too (the dialog's cancel, then close).
    stay.focus();
    return dlg;
  }
  window.addEventListener("beforeunload", function (ev) {
    if (unsaved && unsaved()) { ev.preventDefault(); ev.returnValue = ""; }
  });
  // A page the browser kept for back and forward comes back as it was,
  // the key in memory and data on screen: after the console signed out
  // (or in with another key) in a later page of the tab, load it again,
  // with what the tab holds now (as graphiql.js does).
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted || S.open) return;
    var now = null;
    try { now = sessionStorage.getItem(KEY); } catch (e) { now = null; }
    if (now !== S.key) {
      stopLive();
      clear($("main"));
      clear($("session"));
      window.location.reload();
    }
  });

  // ---- search --------------------------------------------------------------

  function searchPage() {
    var main = view("Find a profile");
    if (!can("profiles:read")) { add(main, h("p", { "class": "note", text: lacks("profiles:read") })); return; }
    // The search as the user left it (what was typed, the filter, the
    // page of results shown) is there again when they come back to this
    // page, Back from a profile found included, until they sign out.
    var mem = S.search || (S.search = { type: "email", value: "", root: { kind: "group", op: "and", not: false, children: [blankCond("trait")] }, searched: null, cursors: [null], at: 0 });
    var type = h("input", { list: "id-types", value: mem.type, required: true, name: "type", oninput: function () { mem.type = type.value; } });
    var value = h("input", { required: true, name: "value", autocomplete: "off", spellcheck: "false", value: mem.value, oninput: function () { mem.value = value.value; } });
    var out = h("div", { "aria-live": "polite" });
    // Only the last Find is answered: an earlier one's answer that comes
    // after it is dropped, rather than taking the user to the profile it
    // found, away from the later answer.
    var finds = 0;
    add(main, h("datalist", { id: "id-types" }, ID_TYPES.map(function (t) { return h("option", { value: t }); })));
    add(main, h("div", { "class": "grid" },
      h("section", { "class": "card", "aria-labelledby": "by-id" },
        h("h2", { id: "by-id", text: "By identifier" }),
        h("form", {
          "class": "inline", id: "find-identifier",
          onsubmit: function (ev) {
            ev.preventDefault();
            clear(out);
            var at = shown, my = ++finds; // an answer once the user has left this page takes them nowhere
            gql("query Find($t: String!, $v: String!) { profileByIdentifier(type: $t, value: $v) { id } }", { t: type.value.trim(), v: value.value })
              .then(must).then(function (d) {
                if (at !== shown || my !== finds) return;
                if (d.profileByIdentifier) go("#/profile/" + encodeURIComponent(d.profileByIdentifier.id));
                else add(out, h("p", { "class": "note", text: "No profile holds this identifier." }));
              }).catch(function (e) { if (at === shown && my === finds) add(out, errBox(e.message)); });
          }
        }, field("Type", type), field("Value", value), h("button", { type: "submit", "class": "primary", text: "Find" })),
        out)));
    // The builder edits mem.root in place.
    var builder = filterBuilder(mem.root, function () { });
    var results = h("div", { "aria-live": "polite" });
    // The filter searched (mem.searched), kept for its pages: a cursor is
    // a position in that search's results, so an edit takes effect on
    // Search only. Only the page asked for last is drawn: the answer for
    // an earlier one (Search pressed again before it came) is dropped.
    var asked = 0;
    function page(i) {
      var f = mem.searched, cursors = mem.cursors, my = ++asked;
      mem.at = i;
      clear(results);
      if (f.error) { add(results, errBox(f.error)); return; }
      gql("query Filtered($f: AudienceFilter, $after: String) { profiles(filter: $f, first: 20, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id size updatedAt identifiers(first: 3) { type value } } } }",
        { f: f.filter, after: cursors[i] }).then(must).then(function (d) {
          if (my !== asked) return;
          var c = d.profiles;
          cursors[i + 1] = c.pageInfo.endCursor;
          add(results, h("p", { text: c.totalCount + " profiles match; page " + (i + 1) + "." }));
          add(results, profileTable("Matching profiles", c.nodes));
          add(results, h("div", { "class": "row" },
            h("button", { type: "button", text: "Previous page", disabled: i === 0, onclick: function () { page(i - 1); } }),
            h("button", { type: "button", text: "Next page", disabled: !c.pageInfo.hasNextPage, onclick: function () { page(i + 1); } })));
        }).catch(function (e) { if (my === asked) add(results, errBox(e.message)); });
    }
    add(main, h("section", { "class": "card", style: "margin-top:1rem", "aria-labelledby": "by-filter" },
      h("h2", { id: "by-filter", text: "By filter" }),
      h("p", { "class": "muted", text: "Compose conditions as the audience builder does; results are live profiles in id order." }),
      builder.el,
      h("button", { type: "button", "class": "primary", text: "Search", onclick: function () { mem.cursors = [null]; mem.searched = builder.filter(); page(0); } }),
      results));
    if (mem.searched) page(mem.at);
  }
  function profileTable(caption, nodes) {
    return table(caption, ["Profile", "Identifiers", "Size", "Updated"], nodes.map(function (p) {
      return h("tr", null,
        h("td", null, h("a", { href: "#/profile/" + encodeURIComponent(p.id), "class": "mono", text: p.id })),
        td((p.identifiers || []).map(function (i) { return i.type + ": " + i.value; }).join(", "), "val"),
        td(p.size), td(fmt(p.updatedAt)));
    }));
  }

  // ---- profile 360 ---------------------------------------------------------

  var JOURNEY_FIELDS = "edges { cursor node { id type name channel source campaign timestamp properties shared } } pageInfo { hasNextPage endCursor }";
  var JOURNEY_Q = "query Journey($id: ID!, $first: Int, $after: String, $types: [String!], $channels: [String!]) { profile(id: $id) { " +
    "journey(first: $first, after: $after, types: $types, channels: $channels) { " + JOURNEY_FIELDS + " } } }";
  var CONSENT_FIELDS = "id purpose status at source legalBasis expiresAt receivedAt identifier { key } proof { text version channel collector eventId } cursor";
  var Q360 = "query Profile360($id: ID!, $aud: Boolean!) { profile(id: $id) { id size createdAt updatedAt " +
    "identifiers(first: 100) { type value key firstSeen lastSeen sources } " +
    "traitValues(first: 500) { name value source at identifier { key } } computed " +
    "consent { purpose status at source record { legalBasis expiresAt } } " +
    "consentHistory(first: 100) { " + CONSENT_FIELDS + " } " +
    "audiences @include(if: $aud) { since audience { id name } } " +
    "history(first: 100) { kind from into at reason cursor } " +
    "journey(first: 20) { " + JOURNEY_FIELDS + " } " +
    "identityGraph { nodes(first: 200) { id type value profileId inProfile firstSeen lastSeen } " +
    "edges(first: 200) { from to rejected source evidence reason count firstSeen lastSeen at } } } " +
    // The feed's newest change when the server began the query, before
    // it read the profile: following from it (startLive) misses no change
    // the answer lacks.
    "changeCursor }";

  // The 360 view lists the first 100 identifiers. Where the rules'
  // maxIdentifiers is lower, the API refuses first: 100 (no profile holds
  // more than maxIdentifiers, nor does the API list more): the view then
  // asks without first, for all of them, from then on.
  var idsFirst = true;
  function ask360(id) {
    var q = idsFirst ? Q360 : Q360.replace("identifiers(first: 100)", "identifiers");
    return gql(q, { id: id, aud: can("audiences:read") }).catch(function (e) {
      if (idsFirst && e.code === "INVALID_ARGUMENT" && e.message.indexOf("Profile.identifiers") >= 0) {
        idsFirst = false;
        return ask360(id);
      }
      throw e;
    });
  }

  // newPlace is where a user is on a profile page as first drawn: what
  // they change on it (the journey's filter and events loaded, the
  // histories opened, the link explained) is kept in it as they go, so
  // that a redraw after a change puts them back there.
  function newPlace() {
    return { journey: { types: "", channels: "", applied: { types: null, channels: null }, shown: 0 }, open: {}, edge: null, link: null, focus: null };
  }
  // The place is kept in the page's address too, so that Back (or a
  // reload, or a link copied) shows the profile where the user left it:
  // #/profile/{id}?types=track&channels=web,mobile&events=40&open=email,sms&link=1f2e3d4c
  // holds the journey's filter applied, the events loaded past the first
  // 20, the consent histories opened, and the link of the identity graph
  // explained. Identifiers' values name a link: the address holds a tag
  // of it (linkTag) instead, which names no value.
  function placeOf(q) {
    var place = newPlace(), j = place.journey;
    if (EVENT_TYPES.indexOf(q.types) >= 0) { j.types = q.types; j.applied.types = [q.types]; }
    var chans = (q.channels || "").split(",").map(function (c) { return c.trim(); }).filter(Boolean);
    if (chans.length) { j.channels = chans.join(", "); j.applied.channels = chans; }
    var n = /^\d+$/.test(q.events || "") ? Number(q.events) : 0;
    j.shown = Math.min(500, n);
    (q.open || "").split(",").forEach(function (p) { if (p) place.open[p] = true; });
    if (/^[0-9a-f]{8}$/.test(q.link || "")) place.link = q.link;
    return place;
  }
  // linkTag is a link's tag in an address: 32 bits of a hash (FNV-1a) of
  // its ends and state, which tells a profile's links apart but cannot
  // be read back into the identifiers' values.
  function linkTag(e) {
    var s = e.from + "\n" + e.to + "\n" + (e.rejected ? "1" : "0"), x = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) { x ^= s.charCodeAt(i); x = Math.imul(x, 16777619) >>> 0; }
    return ("0000000" + x.toString(16)).slice(-8);
  }
  // markPlace writes the place of the profile page shown into its
  // address, in place (no new history entry, no redraw).
  function markPlace(place) {
    if ($("main").place !== place) return;
    var j = place.journey, q = [];
    if (j.applied.types) q.push("types=" + encodeURIComponent(j.applied.types.join(",")));
    if (j.applied.channels) q.push("channels=" + encodeURIComponent(j.applied.channels.join(",")));
    if (j.shown > 20) q.push("events=" + j.shown);
    var open = Object.keys(place.open).filter(function (p) { return place.open[p]; }).sort();
    if (open.length) q.push("open=" + open.map(encodeURIComponent).join(","));
    if (place.edge && place.edge.named) q.push("link=" + linkTag(place.edge));
    var hash = location.hash.split("?")[0] + (q.length ? "?" + q.join("&") : "");
    if (hash !== location.hash) history.replaceState(history.state, "", hash);
  }
  // keptPlace is the place of the profile page shown, for a redraw of it,
  // with the form field the user is in (named in its section).
  function keptPlace() {
    var main = $("main"), place = main.place;
    if (!place) return null;
    var a = document.activeElement, sec = a && a.name && main.contains(a) ? a.closest("section") : null;
    place.focus = sec ? { section: sec.getAttribute("aria-labelledby"), name: a.name } : null;
    return place;
  }
  // ownJourney asks again for the journey a redraw keeps, when it is not
  // the 360 view's first page: the filter applied, and as many events as
  // were shown (up to the API's 500). An answer that fails leaves the
  // journey as the 360 view has it, unfiltered.
  function ownJourney(id, j) {
    if (!j.applied.types && !j.applied.channels && j.shown <= 20) return null;
    return gql(JOURNEY_Q, { id: id, first: Math.min(500, Math.max(20, j.shown)), after: null, types: j.applied.types, channels: j.applied.channels })
      .then(must).then(function (d) { return d.profile ? d.profile.journey : null; })
      .catch(function () { j.applied = { types: null, channels: null }; return null; });
  }

  function profilePage(id, notice, place) {
    // Redrawing the profile on view (after a change) keeps it on screen
    // until the new answer is in.
    var main = $("main");
    if (main.getAttribute("data-rendered") !== id) {
      main = view("Profile");
      add(main, h("p", { "class": "muted", text: "Loading…" }));
    }
    S.lastProfile = id;
    var my = ++shown;
    if (!can("profiles:read")) { clear(main); add(main, h("h1", { text: "Profile" }), h("p", { "class": "note", text: lacks("profiles:read") })); return; }
    var start = performance.now(), before = stats.graphql;
    performance.mark("cdp-profile-start");
    place = place || newPlace();
    // The journey, when the view asks its own, is read after the 360
    // view: no older than the cursor the page follows from.
    ask360(id).then(must).then(restOfHistory).then(restOfConsent).then(function (d) {
      return Promise.resolve(ownJourney(id, place.journey)).then(function (j) { return [d, j]; });
    }).then(function (r) {
      if (my !== shown) return;
      var d = r[0], p = d.profile;
      clear(main);
      if (!p) {
        add(main, h("h1", { text: "Profile" }), h("p", { "class": "note", text: "No profile has the id " + id + " (it may have been forgotten)." }));
        return;
      }
      if (r[1]) p.journey = r[1];
      if (p.id !== id) notice = (notice ? notice + " " : "") + "The id " + id + " was merged into " + p.id + ".";
      render360(main, p, notice, place);
      performance.mark("cdp-profile-rendered");
      stats.views.push({ id: p.id, requests: stats.graphql - before, ms: performance.now() - start });
      main.setAttribute("data-rendered", p.id);
      liveAfter = { id: p.id, cursor: d.changeCursor };
      startLive(p.id);
    }).catch(function (e) {
      if (e.status === 401 || my !== shown) return; // signOut has drawn the sign-in page
      // The API does not repeat the id it refuses (a malformed one may be
      // an email pasted by mistake); the page names what the address asks.
      clear(main); add(main, h("h1", { text: "Profile" }), errBox("Profile " + id + ": " + e.message));
    });
  }

  // restOfHistory reads the merges and splits past the 360 view's first
  // page (oldest first: the newest are the ones past it), so that the view
  // lists them all. A profile with a short history costs no request.
  function restOfHistory(d) {
    var p = d.profile;
    if (!p || p.history.length < 100) return d;
    function more(after) {
      return gql("query History($id: ID!, $after: String) { profile(id: $id) { history(first: 500, after: $after) { kind from into at reason cursor } } }", { id: p.id, after: after })
        .then(must).then(function (r) {
          var page = r.profile ? r.profile.history : [];
          p.history = p.history.concat(page);
          return page.length < 500 ? d : more(page[page.length - 1].cursor);
        });
    }
    return more(p.history[p.history.length - 1].cursor);
  }

  // restOfConsent reads the consent records past the first page (newest
  // first: the oldest, the proof of early decisions, are past it).
  function restOfConsent(d) {
    var p = d.profile;
    if (!p || p.consentHistory.length < 100) return d;
    function more(after) {
      return gql("query Consent($id: ID!, $after: String) { profile(id: $id) { consentHistory(first: 500, after: $after) { " + CONSENT_FIELDS + " } } }", { id: p.id, after: after })
        .then(must).then(function (r) {
          var page = r.profile ? r.profile.consentHistory : [];
          p.consentHistory = p.consentHistory.concat(page);
          return page.length < 500 ? d : more(page[page.length - 1].cursor);
        });
    }
    return more(p.consentHistory[p.consentHistory.length - 1].cursor);
  }

  function refOf(node) {
    // Without pii:read a node carrying a personal value has an opaque id
    // (n1, n2...), so the console cannot name it back to the API.
    var pre = node.type + ":";
    return node.id.indexOf(pre) === 0 ? { type: node.type, value: node.id.slice(pre.length) } : null;
  }

  function render360(main, p, notice, place) {
    main.place = place;
    document.title = "Profile " + p.id + " · Identity graph console";
    add(main, h("h1", null, "Profile ", h("span", { "class": "mono", text: p.id })));
    if (notice) add(main, h("div", { "class": "ok", role: "status", id: "notice", text: notice }));
    // Values are masked only for a key without pii:read; a raw value may
    // hold "***" too.
    var masked = !can("pii:read") && p.identifiers.some(function (i) { return i.value.indexOf("***") >= 0 || /\*{3}/.test(i.key); });
    if (masked) add(main, h("p", { "class": "note", id: "masked-note", text: "Personal values are masked: this key lacks pii:read." }));
    var actions = h("div", { "class": "row" },
      gate(h("button", { type: "button", text: "Merge with another profile…", onclick: function () { mergeDialog(p); } }), "identity:write"),
      gate(h("button", { type: "button", text: "Download data export", onclick: function () {
        // A refusal stays on the page, under the actions, until the next
        // try: the status line clears itself.
        var old = $("export-error");
        if (old) old.remove();
        exportProfile(p.id).catch(function (e) {
          if (e.status === 401 || !actions.isConnected) return; // signed out, or another page
          var box = errBox("Data export of profile " + p.id + " failed: " + e.message);
          box.id = "export-error";
          actions.after(box);
        });
      } }), "privacy:read"),
      h("a", { href: "#/privacy?profile=" + encodeURIComponent(p.id), text: "Privacy requests for this profile" }),
      h("span", { id: "live", "class": "muted" }));
    add(main, h("dl", { "class": "kv" },
      h("dt", { text: "Identifiers" }), h("dd", { text: String(p.size) }),
      h("dt", { text: "Created" }), h("dd", { text: fmt(p.createdAt) }),
      h("dt", { text: "Updated" }), h("dd", { text: fmt(p.updatedAt) })), actions);

    var grid = h("div", { "class": "grid", style: "margin-top:1rem" });
    add(main, grid);

    add(grid, h("section", { "class": "card wide", "aria-labelledby": "h-ids" }, h("h2", { id: "h-ids", text: "Identifiers" }),
      p.size > p.identifiers.length ? h("p", { "class": "note", text: "The first " + p.identifiers.length + " of " + p.size + " identifiers are listed." }) : null,
      table("Identifiers", ["Type", "Value", "Sources", "First seen", "Last seen", ""], p.identifiers.map(function (i) {
        // A masked value (without pii:read) cannot name the identifier.
        var ref = !can("pii:read") && /\*\*\*/.test(i.value) ? null : { type: i.type, value: i.value };
        var rm = h("button", { type: "button", "class": "danger", text: "Remove…", "aria-label": "Remove identifier " + i.key,
          disabled: !ref, title: ref ? null : "Needs pii:read to name this identifier", onclick: function () { removeDialog(p, ref); } });
        return h("tr", { "data-key": i.key }, td(i.type), td(i.value, "val"), td(i.sources.join(", ")), tdTime(i.firstSeen), tdTime(i.lastSeen),
          h("td", null, gate(rm, "identity:write")));
      }))));

    add(grid, h("section", { "class": "card wide2", "aria-labelledby": "h-traits" }, h("h2", { id: "h-traits", text: "Traits" }),
      // 500 is the most the API lists; the data export holds the rest.
      p.traitValues.length >= 500 ? h("p", { "class": "note", text: "The first " + p.traitValues.length + " traits, by name, are listed." }) : null,
      p.traitValues.length ? table("Traits", ["Name", "Value", "Source", "At", "Via"], p.traitValues.map(function (t) {
        return h("tr", null, td(t.name), td(json(t.value), "val"), td(t.source), tdTime(t.at), td(t.identifier.key, "val"));
      })) : h("p", { "class": "muted", text: "No traits." })));

    var comp = Object.keys(p.computed || {});
    add(grid, h("section", { "class": "card", "aria-labelledby": "h-comp" }, h("h2", { id: "h-comp", text: "Computed traits" }),
      comp.length ? table("Computed traits", ["Name", "Value"], comp.sort().map(function (k) {
        return h("tr", null, td(k), td(json(p.computed[k]), "val"));
      })) : h("p", { "class": "muted", text: "No computed trait is defined." })));

    add(grid, h("section", { "class": "card wide2", "aria-labelledby": "h-consent" }, h("h2", { id: "h-consent", text: "Consent" }),
      table("Consent per purpose", ["Purpose", "State", "At", "Source", "Basis"], p.consent.map(function (c) {
        return h("tr", null, td(c.purpose), h("td", null, h("span", { "class": "badge " + c.status, text: c.status })),
          tdTime(c.at), td(c.source), td(c.record ? c.record.legalBasis : ""));
      })),
      p.consent.map(function (c) {
        var recs = p.consentHistory.filter(function (r) { return r.purpose === c.purpose; });
        if (!recs.length) return null;
        return h("details", { open: !!place.open[c.purpose], ontoggle: function (ev) { place.open[c.purpose] = ev.target.open; markPlace(place); } },
          h("summary", { text: "History of " + c.purpose + " (" + recs.length + ")" }),
          h("ul", null, recs.map(function (r) {
            var pr = r.proof, proof = [pr.text && "text: " + pr.text, pr.version && "version " + pr.version, pr.channel && "channel " + pr.channel,
              pr.collector && "collector " + pr.collector, pr.eventId && "event " + pr.eventId].filter(Boolean).join("; ");
            return h("li", null, h("span", { "class": "badge " + r.status, text: r.status }), " " + fmt(r.at) + " from " + r.source +
              " (" + r.legalBasis + ") with " + r.identifier.key + (r.expiresAt ? ", expires " + fmt(r.expiresAt) : "") +
              (proof ? ". Proof: " + proof : ""));
          })));
      })));

    add(grid, h("section", { "class": "card", "aria-labelledby": "h-aud" }, h("h2", { id: "h-aud", text: "Audiences" }),
      !can("audiences:read") ? h("p", { "class": "why", text: lacks("audiences:read") }) :
        (p.audiences && p.audiences.length ? h("ul", null, p.audiences.map(function (m) {
          return h("li", null, h("a", { href: "#/audiences/" + encodeURIComponent(m.audience.id), text: m.audience.name }), " since " + fmt(m.since));
        })) : h("p", { "class": "muted", text: "Member of no audience." }))));

    add(grid, h("section", { "class": "card", "aria-labelledby": "h-hist" }, h("h2", { id: "h-hist", text: "History" }),
      p.history.length ? h("ul", { id: "history" }, p.history.map(function (c) {
        var from = h("a", { href: "#/profile/" + encodeURIComponent(c.from), "class": "mono", text: c.from });
        var into = h("a", { href: "#/profile/" + encodeURIComponent(c.into), "class": "mono", text: c.into });
        return h("li", null, h("strong", { text: c.kind }), " ",
          c.kind === "MERGE" ? [from, " merged into ", into] : [into, " split off ", from],
          " · " + fmt(c.at) + (c.reason ? " · " + c.reason : ""));
      })) : h("p", { "class": "muted", text: "No merge or split." })));

    add(grid, graphSection(p, place));
    add(grid, journeySection(p, place.journey, function () { markPlace(place); }));
    var f = place.focus;
    place.focus = null;
    var back = f && main.querySelector("[aria-labelledby=\"" + f.section + "\"] [name=\"" + f.name + "\"]");
    if (back) back.focus({ preventScroll: true });
  }

  // ---- identity graph ----------------------------------------------------

  function cssVar(n) { return getComputedStyle(document.documentElement).getPropertyValue(n).trim() || "#888"; }

  function graphSection(p, place) {
    var g = p.identityGraph, panel = h("div", { id: "edge-panel", "aria-live": "polite" },
      h("p", { "class": "muted", text: "Select a link, in the drawing or in the list below, to see why it exists or was refused." }));
    var box = h("div", { id: "graph", role: "img", "aria-label": "Drawing of the profile's " + g.nodes.length + " identifiers and " + g.edges.length + " links; the list below holds the same links." });
    var byId = {};
    g.nodes.forEach(function (n) { byId[n.id] = n; });
    function label(id) { var n = byId[id]; return n ? n.type + ": " + n.value : id; }
    // A node past the first 200 is named by its id, which is its key
    // (type:value) unless masked (an opaque n1, n2...).
    function nodeOf(id) {
      if (byId[id]) return byId[id];
      var c = id.indexOf(":");
      return c > 0 ? { id: id, type: id.slice(0, c), value: id.slice(c + 1) } : { id: id, type: "" };
    }
    // Links to identifiers past the first 200 are listed, not drawn.
    var undrawn = g.edges.filter(function (e) { return !byId[e.from] || !byId[e.to]; }).length;
    var list = table("Links", ["From", "To", "State", "Source", "Events", ""], g.edges.map(function (e, i) {
      return h("tr", { "data-edge": String(i) }, td(label(e.from), "val"), td(label(e.to), "val"),
        h("td", null, e.rejected ? h("span", { "class": "badge refused", text: "refused" }) : "linked"), td(e.source), td(e.count),
        h("td", null, h("button", { type: "button", text: "Explain", "aria-label": "Explain the link " + label(e.from) + " to " + label(e.to), onclick: function () { showEdge(i); } })));
    }));
    var sec = h("section", { "class": "card wide", "aria-labelledby": "h-graph" }, h("h2", { id: "h-graph", text: "Identity graph" }),
      undrawn ? h("p", { "class": "note", id: "graph-undrawn", text: undrawn + " of the links listed below join an identifier past the first " + g.nodes.length + " and are not drawn." }) : null,
      h("div", { "class": "graphwrap" }, box, panel), h("h3", { text: "Links" }), list);

    function showEdge(i) {
      var e = g.edges[i], a = refOf(nodeOf(e.from)), b = refOf(nodeOf(e.to));
      // Only a link whose ends are named is kept for a redraw or in the
      // address: a masked identifier's id (n1, n2...) may name another
      // one in the next answer.
      place.edge = { from: e.from, to: e.to, rejected: e.rejected, named: !!(a && b) };
      markPlace(place);
      if (box.cy) { box.cy.elements(":selected").unselect(); box.cy.getElementById("e" + i).select(); }
      clear(panel);
      add(panel, h("h3", { text: (e.rejected ? "Refused link" : "Link") + ": " + label(e.from) + " – " + label(e.to) }),
        h("dl", { "class": "kv" },
          h("dt", { text: "Source" }), h("dd", { text: e.source }),
          h("dt", { text: "Evidence" }), h("dd", { "class": "mono", text: e.evidence }),
          e.rejected ? [h("dt", { text: "Reason" }), h("dd", { text: e.reason || "" }), h("dt", { text: "Refused at" }), h("dd", { text: fmt(e.at) })]
            : [h("dt", { text: "Events" }), h("dd", { text: String(e.count) }), h("dt", { text: "First seen" }), h("dd", { text: fmt(e.firstSeen) }),
              h("dt", { text: "Last seen" }), h("dd", { text: fmt(e.lastSeen) })]));
      if (!a || !b) {
        add(panel, h("p", { "class": "why", text: "Explaining or correcting this link needs pii:read: the identifiers' values are masked." }));
        return;
      }
      var ex = h("div", { id: "explanation" }, h("p", { "class": "muted", text: "Loading the explanation…" }));
      add(panel, ex);
      gql("query Explain($a: IdentifierInput!, $b: IdentifierInput!) { explainLink(a: $a, b: $b) { linked profileA profileB " +
        "path { from { key } to { key } source evidence count firstSeen lastSeen evidenceEvent { id type name channel timestamp } } " +
        "refusals { a { key } b { key } source reason evidence at evidenceEvent { id type name timestamp } } } }", { a: a, b: b })
        .then(must).then(function (d) {
          var x = d.explainLink;
          clear(ex);
          add(ex, h("p", null, h("strong", { text: x.linked ? "Linked" : "Not linked" }),
            x.linked ? ": the chain of accepted links between them:" : ": they are in different profiles" + (x.refusals.length ? ", because of these refusals:" : ".")));
          if (x.linked) {
            add(ex, h("ol", null, x.path.map(function (s) {
              var ev = s.evidenceEvent;
              return h("li", null, s.from.key + " → " + s.to.key + " (" + s.source + ", " + s.count + " event" + (s.count === 1 ? "" : "s") +
                "), evidence " + s.evidence + (ev ? ": " + ev.type + (ev.name ? " " + ev.name : "") + " at " + fmt(ev.timestamp) + (ev.channel ? " on " + ev.channel : "") : ""));
            })));
          } else {
            add(ex, h("ul", null, x.refusals.map(function (r) {
              var ev = r.evidenceEvent;
              return h("li", null, r.a.key + " ✕ " + r.b.key + ": " + r.reason + " (" + r.source + ", " + fmt(r.at) + "), evidence " + r.evidence +
                (ev ? ": " + ev.type + (ev.name ? " " + ev.name : "") + " at " + fmt(ev.timestamp) : ""));
            })));
          }
          if (!e.rejected) {
            add(ex, gate(h("button", { type: "button", "class": "danger", text: "Unlink…", onclick: function () { unlinkDialog(p, a, b); } }), "identity:write"));
          }
        }).catch(function (err) { clear(ex); add(ex, errBox(err.message)); });
    }

    // The link explained before a redraw, or the one the address names
    // (Back to the page, a reload), is explained again, where it is still
    // there. Only a link whose ends are named (showEdge).
    var was = place.edge && place.edge.named ? place.edge : null, tag = place.link, again = -1;
    if (was || tag) {
      g.edges.forEach(function (e, i) {
        if (again >= 0 || !refOf(nodeOf(e.from)) || !refOf(nodeOf(e.to))) return;
        if (was ? e.from === was.from && e.to === was.to && e.rejected === was.rejected : linkTag(e) === tag) again = i;
      });
    }
    place.edge = null;
    place.link = null;
    if (again >= 0) showEdge(again);

    // Drawn once the section is in the document, so it has a size.
    setTimeout(function () {
      if (!window.cytoscape || !box.isConnected) return;
      var els = g.nodes.map(function (n) {
        return { data: { id: n.id, label: n.type + "\n" + n.value, out: n.inProfile ? 0 : 1 } };
      }).concat(g.edges.map(function (e, i) {
        return { data: { id: "e" + i, source: e.from, target: e.to, idx: i, refused: e.rejected ? 1 : 0, label: e.rejected ? "refused" : "" } };
      }).filter(function (x) { return byId[x.data.source] && byId[x.data.target]; }));
      function hub() {
        var deg = {}, best = null;
        g.edges.forEach(function (e) { deg[e.from] = (deg[e.from] || 0) + 1; deg[e.to] = (deg[e.to] || 0) + 1; });
        g.nodes.forEach(function (n) { if (n.inProfile && (best === null || (deg[n.id] || 0) > (deg[best] || 0))) best = n.id; });
        return best ? [best] : undefined;
      }
      var fg = cssVar("--fg"), bg = cssVar("--bg");
      var plate = { "text-background-color": bg, "text-background-opacity": 0.85, "text-background-padding": 2 };
      var cy = window.cytoscape({
        container: box, elements: els, wheelSensitivity: 0.3,
        // Deterministic: a tree from the identifier with the most links.
        layout: { name: "breadthfirst", roots: hub(), directed: false, animate: false, padding: 30, spacingFactor: 1.1 },
        style: [
          { selector: "node", style: Object.assign({ "background-color": cssVar("--node"), label: "data(label)", color: fg, "font-size": 10, "text-wrap": "wrap", "text-valign": "bottom", "text-margin-y": 4, width: 18, height: 18 }, plate) },
          { selector: "node[out = 1]", style: { "background-color": cssVar("--node-out"), shape: "diamond" } },
          { selector: "edge", style: Object.assign({ width: 2, "line-color": cssVar("--muted"), "curve-style": "bezier", color: cssVar("--refused"), "font-size": 9, label: "data(label)", "text-rotation": "autorotate" }, plate) },
          { selector: "edge[refused = 1]", style: { "line-color": cssVar("--refused"), "line-style": "dashed", "target-arrow-shape": "tee", "target-arrow-color": cssVar("--refused") } },
          { selector: "edge:selected", style: { width: 4, "underlay-color": cssVar("--focus"), "underlay-opacity": 0.6, "underlay-padding": 4 } },
          { selector: "node:selected", style: { "underlay-color": cssVar("--focus"), "underlay-opacity": 0.6, "underlay-padding": 5 } }
        ]
      });
      cy.on("tap", "edge", function (ev) { showEdge(ev.target.data("idx")); });
      box.cy = cy;
      if (again >= 0 && place.edge) cy.getElementById("e" + again).select();
    }, 0);
    return sec;
  }

  // ---- journey -------------------------------------------------------------

  // journeySection lists p.journey, the first events of the filter that
  // j (the page's place) says is applied, and keeps in j what the user
  // does: the filter typed and applied, and how many events are shown.
  function journeySection(p, j, moved) {
    var list = h("ol", { "class": "timeline", id: "journey", "aria-label": "Events, newest first" });
    var more = h("button", { type: "button", text: "Load more events" });
    var state = { after: null, busy: false, done: false };
    var typeSel = select([["", "All types"]].concat(EVENT_TYPES), j.types, { name: "types", onchange: function () { j.types = typeSel.value; } });
    var chan = h("input", { name: "channels", placeholder: "web, mobile…", list: "channels", value: j.channels, oninput: function () { j.channels = chan.value; } });
    var info = h("p", { "class": "muted", "aria-live": "polite" });
    function addEvents(conn) {
      conn.edges.forEach(function (edge) {
        var e = edge.node;
        add(list, h("li", null, h("span", { "class": "when", text: fmt(e.timestamp) }), " ",
          h("strong", { text: e.type + (e.name ? " · " + e.name : "") }),
          h("span", { "class": "muted", text: [e.channel, e.source, e.campaign].filter(Boolean).map(function (x) { return " · " + x; }).join("") }),
          e.shared ? h("div", { "class": "why", text: "Shared with another person: its payload is shown in theirs." }) :
            (Object.keys(e.properties || {}).length ? h("div", { "class": "mono", text: JSON.stringify(e.properties) }) : null)));
      });
      state.after = conn.pageInfo.endCursor;
      state.done = !conn.pageInfo.hasNextPage;
      j.shown = list.children.length;
      more.hidden = state.done;
      info.textContent = list.children.length + " events shown" + (state.done ? ", all of them." : "; scroll for more.");
      moved();
    }
    // A filter applied (reset) starts over even while a page is loading:
    // the answer of the page it replaces is dropped (gen). The pages after
    // it keep the filter applied, not what the fields hold meanwhile.
    var gen = 0;
    function next(reset) {
      if (!reset && (state.busy || state.done)) return;
      var my = ++gen;
      state.busy = true;
      if (reset) {
        clear(list); state.after = null; state.done = false; j.shown = 0;
        j.types = typeSel.value; j.channels = chan.value;
        j.applied = { types: typeSel.value ? [typeSel.value] : null, channels: chan.value.trim() ? chan.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean) : null };
      }
      var v = { id: p.id, first: 20, after: state.after, types: j.applied.types, channels: j.applied.channels };
      gql(JOURNEY_Q, v)
        .then(must).then(function (d) { if (my !== gen) return; state.busy = false; if (d.profile) addEvents(d.profile.journey); })
        .catch(function (e) { if (my !== gen) return; state.busy = false; add(info, errBox(e.message)); });
    }
    more.addEventListener("click", function () { next(false); });
    addEvents(p.journey);
    var sentinel = h("div", { "aria-hidden": "true", style: "height:1px" });
    if (window.IntersectionObserver) {
      new IntersectionObserver(function (es) { if (es[0].isIntersecting && list.children.length) next(false); }, { rootMargin: "200px" }).observe(sentinel);
    }
    var filters = h("form", { "class": "inline", onsubmit: function (ev) { ev.preventDefault(); next(true); } },
      field("Type", typeSel), field("Channels", chan), h("button", { type: "submit", text: "Filter" }),
      h("datalist", { id: "channels" }, ["web", "mobile", "server"].map(function (c) { return h("option", { value: c }); })));
    return h("section", { "class": "card wide", "aria-labelledby": "h-journey" }, h("h2", { id: "h-journey", text: "Journey" }), filters, info, list, sentinel, more);
  }

  // ---- corrections (dialogs) ---------------------------------------------

  // closeDialogs closes (cancels) the dialogs open: each belongs to the
  // page it was opened on, and would act on it, and draw it again, from
  // over the next page or the sign-in page.
  function closeDialogs() {
    document.querySelectorAll("dialog[open]").forEach(function (d) { d.close("cancel"); });
  }

  // confirmDialog asks for a reason (required) and, when typed is set, for
  // that text to be typed back. It resolves to the reason, or null.
  function confirmDialog(title, body, okText, typed, extra, noReason) {
    return new Promise(function (resolve) {
      // Checked here rather than by the browser, so the message is read out.
      var reason = h("textarea", { "aria-required": "true", name: "reason" });
      if (noReason) reason.value = "-";
      var typedIn = typed ? h("input", { name: "confirm", autocomplete: "off", spellcheck: "false" }) : null;
      var err = h("div", { "aria-live": "assertive" });
      var dlg = h("dialog", { "aria-labelledby": "dlg-title" });
      var cancel = h("button", { type: "button", value: "cancel", text: "Cancel", onclick: function () { dlg.close("cancel"); } });
      var form = h("form", { method: "dialog" },
        h("h2", { id: "dlg-title", text: title }), body, extra || null,
        noReason ? null : field("Reason (recorded in the audit log)", reason),
        typed ? field("Type " + typed + " to confirm", typedIn) : null, err,
        h("div", { "class": "row" },
          h("button", { type: "submit", "class": "danger", value: "ok", text: okText }), cancel));
      form.addEventListener("submit", function (ev) {
        clear(err);
        if (!reason.value.trim()) { ev.preventDefault(); add(err, errBox("A reason is required.")); reason.focus(); return; }
        if (typed && typedIn.value.trim() !== typed) { ev.preventDefault(); add(err, errBox("Type " + typed + " exactly to confirm.")); typedIn.focus(); return; }
        if (extra && extra.check && !extra.check()) { ev.preventDefault(); return; }
      });
      add(dlg, form);
      dlg.addEventListener("close", function () {
        var ok = dlg.returnValue === "ok";
        dlg.remove();
        resolve(ok ? reason.value.trim() : null);
      });
      document.body.appendChild(dlg);
      dlg.showModal();
      // Its first field, in the order shown (the merge's identifier before
      // the reason); a dialog with none starts on Cancel, as askToLeave
      // does, so that Enter pressed at once destroys nothing. Escape
      // cancels, and the browser gives focus back to what opened it.
      (form.querySelector("input, select, textarea") || cancel).focus();
    });
  }

  // stillOn says whether the page a correction was asked from (at, the
  // page number then) is still the one shown: its answer, once the user
  // has gone on to another page (or signed out), only says how it went
  // (say), rather than drawing the profile over that page or taking the
  // user away from it.
  function stillOn(at) { return at === shown; }
  // refused says on the profile page shown (under its heading) why a
  // correction was refused, naming what it was for, until the page is
  // drawn again, and follows the profile again (nothing changed).
  function refused(id, msg) {
    var main = $("main"), old = $("refused");
    if (main.getAttribute("data-rendered") !== id) return;
    if (old) old.remove();
    var el = errBox(msg);
    el.id = "refused";
    main.querySelector("h1").after(el);
    resumeLive(id);
  }

  function unlinkDialog(p, a, b) {
    confirmDialog("Unlink two identifiers",
      h("p", null, "Cut the link between ", h("code", { text: a.type + ":" + a.value }), " and ", h("code", { text: b.type + ":" + b.value }),
        ". Later events carrying both will not link them again until a manual merge. If nothing else joins them the profile splits."), "Unlink")
      .then(function (reason) {
        if (!reason) return;
        stopLive(); // this page redraws itself after the answer
        var at = shown;
        gql("mutation Unlink($a: IdentifierInput!, $b: IdentifierInput!, $r: String!) { unlinkIdentifiers(a: $a, b: $b, reason: $r) { id size } }", { a: a, b: b, r: reason })
          .then(must).then(function (d) {
            var parts = d.unlinkIdentifiers || [];
            var msg = parts.length > 1 ? "Unlinked: the profile split into " + parts.map(function (x) { return x.id + " (" + x.size + " identifiers)"; }).join(" and ") + "."
              : "Unlinked: the identifiers are still joined through other links.";
            say(msg);
            // The page redraws only if it is still the one shown (stillOn).
            if (stillOn(at)) profilePage(p.id, msg);
          }).catch(function (e) {
            // A refused key has signed out, with the reason: nothing to redraw.
            if (e.status === 401) return;
            say(e.message);
            if (stillOn(at)) profilePage(p.id, "Unlink failed: " + e.message);
          });
      });
  }

  function removeDialog(p, ref) {
    confirmDialog("Remove an identifier",
      h("p", null, "Erase ", h("code", { text: ref.type + ":" + ref.value }), " as an identity correction: its links, refusals, consent and the events only it carried. It is not suppressed."), "Remove")
      .then(function (reason) {
        if (!reason) return;
        stopLive(); // this page redraws itself after the answer
        var at = shown;
        gql("mutation Remove($t: String!, $v: String!, $r: String!) { removeIdentifier(type: $t, value: $v, reason: $r) { id size } }", { t: ref.type, v: ref.value, r: reason })
          .then(must).then(function (d) {
            var parts = d.removeIdentifier || [];
            var msg = "Removed. What remains: " + (parts.length ? parts.map(function (x) { return x.id + " (" + x.size + ")"; }).join(", ") : "nothing") + ".";
            say(msg);
            if (!stillOn(at)) return;
            if (parts.length) profilePage(parts.some(function (x) { return x.id === p.id; }) ? p.id : parts[0].id, msg);
            else go("#/search");
          }).catch(function (e) {
            if (e.status === 401) return; // signOut has drawn the sign-in page
            say(e.message);
            if (stillOn(at)) refused(p.id, "Removing " + ref.type + ":" + ref.value + " failed: " + e.message);
          });
      });
  }

  function mergeDialog(p) {
    var type = h("input", { list: "id-types-m", value: "email", name: "mtype" });
    var value = h("input", { name: "mvalue", autocomplete: "off", spellcheck: "false" });
    var found = h("div", { "aria-live": "polite" });
    // The profile to merge with is the one the last Find found, for the
    // identifier the fields still hold: an edit of them forgets it, and
    // the answer of an earlier Find (asked) is dropped.
    var other = null, asked = 0;
    function forget() { asked++; other = null; clear(found); }
    type.addEventListener("input", forget);
    value.addEventListener("input", forget);
    var find = h("button", {
      type: "button", text: "Find", onclick: function () {
        forget();
        var my = asked;
        gql("query Find($t: String!, $v: String!) { profileByIdentifier(type: $t, value: $v) { id size identifiers(first: 5) { type value } } }", { t: type.value.trim(), v: value.value })
          .then(must).then(function (d) {
            if (my !== asked) return;
            var q = d.profileByIdentifier;
            if (!q) { add(found, h("p", { "class": "note", text: "No profile holds this identifier." })); return; }
            if (q.id === p.id) { add(found, h("p", { "class": "note", text: "That is this profile." })); return; }
            other = q;
            add(found, h("p", { "class": "ok" }, "Found ", h("span", { "class": "mono", text: q.id }), " (" + q.size + " identifiers: " +
              q.identifiers.map(function (i) { return i.type + ": " + i.value; }).join(", ") + ")."));
          }).catch(function (e) { if (my === asked) add(found, errBox(e.message)); });
      }
    });
    var extra = h("div", null, h("datalist", { id: "id-types-m" }, ID_TYPES.map(function (t) { return h("option", { value: t }); })),
      h("div", { "class": "row" }, field("Identifier type", type), field("Value", value), find), found);
    extra.check = function () {
      if (other) return true;
      clear(found); add(found, errBox("Find the other profile first.")); return false;
    };
    confirmDialog("Merge profiles", h("p", { text: "Find the profile to merge with this one. The larger profile survives; the merge is recorded and can be undone by unlinking." }), "Merge", null, extra)
      .then(function (reason) {
        if (!reason || !other) return;
        stopLive();
        var at = shown;
        gql("mutation Merge($ids: [ID!]!, $r: String!) { mergeProfiles(ids: $ids, reason: $r) { id size } }", { ids: [p.id, other.id], r: reason })
          .then(must).then(function (d) {
            var msg = "Merged into " + d.mergeProfiles.id + " (" + d.mergeProfiles.size + " identifiers).";
            say(msg);
            if (stillOn(at)) go("#/profile/" + encodeURIComponent(d.mergeProfiles.id));
          }).catch(function (e) {
            if (e.status === 401) return; // signOut has drawn the sign-in page
            say(e.message);
            if (stillOn(at)) refused(p.id, "Merging with " + other.id + " failed: " + e.message);
          });
      });
  }

  // ---- live updates (profileChanged over graphql-transport-ws) -----------

  var live = null;
  // liveAfter is the cursor the profile on view was read at: the page
  // follows its changes from there, so that none committed since it was
  // read is missed, however late the subscription starts.
  var liveAfter = null;
  function stopLive() {
    if (live) { live.closed = true; try { live.ws.close(1000); } catch (e) { /* closed */ } live = null; }
    // The page says it is live only while it is.
    var badge = $("live");
    if (badge) badge.textContent = "";
  }
  // resumeLive follows the profile again after a correction the API
  // refused (nothing changed), while its page is shown and signed in.
  function resumeLive(id) {
    if ((S.key || S.open) && !live && $("main").getAttribute("data-rendered") === id) startLive(id);
  }
  function startLive(id) {
    stopLive();
    if (!window.WebSocket || !session) return;
    var me = { closed: false };
    var ws;
    try { ws = new WebSocket((location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/graphql", "graphql-transport-ws"); } catch (e) { return; }
    me.ws = ws;
    live = me;
    var badge = $("live");
    ws.onopen = function () { ws.send(JSON.stringify({ type: "connection_init", payload: S.key ? { Authorization: "Bearer " + S.key } : {} })); };
    ws.onmessage = function (m) {
      var msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      if (msg.type === "connection_ack") {
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: {
          query: "subscription Live($id: ID!, $after: String) { profileChanged(id: $id, after: $after, kinds: [MERGED, SPLIT, FORGOTTEN, EVENT_ADDED, TRAITS_CHANGED, CONSENT_CHANGED]) { kind profileId } }",
          variables: { id: id, after: liveAfter && liveAfter.id === id ? liveAfter.cursor : null } } }));
        if (badge) badge.textContent = "Live: changes appear here.";
      } else if (msg.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if ((msg.type === "error" || msg.type === "complete") && !me.closed) {
        // The server ended the subscription: the page is no longer live.
        var errs = msg.type === "error" && Array.isArray(msg.payload) ? msg.payload : [];
        stopLive();
        if (errs.some(function (e) { return e && e.extensions && e.extensions.code === "UNAUTHENTICATED"; })) {
          // The key was refused (revoked, expired, or open mode ended):
          // asking again signs out with the server's reason (gql, 401).
          probe().catch(function () { /* said */ });
          return;
        }
        if (errs.some(function (e) { return e && e.extensions && e.extensions.code === "CURSOR_EXPIRED"; }) && $("main").getAttribute("data-rendered") === id) {
          // The page was read before what the feed still holds (a dialog
          // open longer than its retention): read it again, and follow
          // from then.
          profilePage(id, "Read again: the page was older than the changes the server keeps.", keptPlace());
          return;
        }
        if (badge && badge.isConnected) badge.textContent = "Live updates stopped: reload the page to follow changes again.";
      } else if (msg.type === "next" && !me.closed) {
        clearTimeout(me.t);
        me.t = setTimeout(function redraw() {
          if (me.closed || me.waiting) return;
          // Not under an open dialog: once it closes, unless what it
          // does redraws the page itself (stopLive closes this).
          var dlg = document.querySelector("dialog[open]");
          if (dlg) {
            me.waiting = true;
            // Marks the dialog a redraw waits for (tests wait on it).
            dlg.setAttribute("data-redraw-waiting", "");
            dlg.addEventListener("close", function () { dlg.removeAttribute("data-redraw-waiting"); me.waiting = false; setTimeout(redraw, 0); }, { once: true });
            return;
          }
          var ev = msg.payload && msg.payload.data && msg.payload.data.profileChanged;
          // Where the user is on the page (events loaded, filters, what is
          // opened) stays: a change redraws the data, not the place.
          profilePage(id, ev ? "Updated after a change (" + ev.kind + ")." : null, keptPlace());
        }, 400);
      }
    };
    ws.onclose = function () { if (!me.closed && badge) badge.textContent = ""; };
  }

  // ---- downloads -----------------------------------------------------------

  function exportProfile(id) {
    say("Preparing the data export…");
    return rest("/v1/privacy/profiles/" + encodeURIComponent(id) + "/export", "application/x-ndjson")
      .then(function (res) { var b = res.blob; download("profile-" + id + ".ndjson", b); say("Data export downloaded (" + b.size + " bytes)."); return b; })
      .catch(function (e) { say("Export failed: " + e.message); throw e; });
  }

  // ---- filter builder ----------------------------------------------------

  // A value of a condition keeps its JSON type: the text typed and the
  // type it is sent as (string, number or boolean). A new value's type
  // follows what is typed (auto: "10" a number, "true" a boolean) until
  // one is chosen; a saved value keeps the type it was saved with. An IN
  // list is a list of such values, each edited apart: a comma is only a
  // comma.
  var VALUE_TYPES = [["string", "text"], ["number", "number"], ["boolean", "true/false"]];
  function blankVal() { return { text: "", type: "string", auto: true }; }
  function copyVal(x) { return { text: x.text, type: x.type, auto: x.auto }; }
  function guessType(s) {
    s = String(s).trim();
    if (/^-?\d+(\.\d+)?$/.test(s)) return "number";
    if (s === "true" || s === "false") return "boolean";
    return "string";
  }
  function typeOf(x) { return x.auto ? guessType(x.text) : x.type; }
  function valOf(v) {
    if (typeof v === "number" || typeof v === "boolean") return { text: String(v), type: typeof v, auto: false };
    if (typeof v === "string") return { text: v, type: "string", auto: false };
    return blankVal();
  }
  function jsonValue(x, what) {
    var t = typeOf(x), s = x.text.trim();
    if (t === "number") {
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) || !isFinite(Number(s))) throw new Error(what + ": " + JSON.stringify(x.text) + " is not a number.");
      return Number(s);
    }
    if (t === "boolean") {
      if (s !== "true" && s !== "false") throw new Error(what + ": a true/false value is true or false, not " + JSON.stringify(x.text) + ".");
      return s === "true";
    }
    return x.text;
  }
  function blankCond(kind) {
    return { kind: kind || "trait", not: false, name: "", op: "EQ", val: blankVal(), items: [], type: "", exists: true, purpose: "advertising", status: "GRANTED",
      countOp: "GTE", count: "", within: "", audience: "", where: [] };
  }
  function blankWhere() { return { path: "", op: "EQ", val: blankVal(), items: [] }; }
  // setValue puts a saved value into a condition or property filter.
  function setValue(n, v) {
    if (Array.isArray(v)) { n.items = v.map(valOf); if (v.length) n.val = copyVal(n.items[0]); }
    else if (v !== undefined) { n.val = valOf(v); n.items = [copyVal(n.val)]; }
  }
  // setOp changes the op, carrying the value over between one value and
  // an IN list.
  function setOp(n, op) {
    if (op === "IN" && n.op !== "IN" && !n.items.length) n.items = [n.val.text !== "" ? copyVal(n.val) : blankVal()];
    if (op !== "IN" && n.op === "IN" && n.val.text === "" && n.items.length) n.val = copyVal(n.items[0]);
    n.op = op;
  }
  function condValue(n, what) {
    if (n.op === "EXISTS" || n.op === "NOT_EXISTS") return undefined;
    if (n.op === "IN") {
      if (!n.items.length) throw new Error(what + ": IN needs at least one value.");
      return n.items.map(function (x, i) { return jsonValue(x, what + " value " + (i + 1)); });
    }
    return jsonValue(n.val, what);
  }
  function toFilter(n) {
    var f;
    if (n.kind === "group") {
      // A saved filter whose top is one condition is edited inside an
      // "and" group (wrap), and saved alone again while it stays so.
      if (n.wrap && n.op === "and" && !n.not && n.children.length === 1) return toFilter(n.children[0]);
      var kids = n.children.map(toFilter);
      if (!kids.length) throw new Error("A group needs at least one condition.");
      f = {};
      f[n.op] = kids;
    } else if (n.kind === "trait" || n.kind === "computed") {
      if (!n.name.trim()) throw new Error("Give the " + n.kind + " condition a name.");
      var c = { name: n.name.trim(), op: n.op };
      var v = condValue(n, "The value of " + n.name.trim());
      if (v !== undefined) c.value = v;
      f = {};
      f[n.kind] = c;
    } else if (n.kind === "identifier") {
      if (!n.type.trim()) throw new Error("Give the identifier condition a type.");
      f = { identifier: { type: n.type.trim(), exists: !!n.exists } };
    } else if (n.kind === "consent") {
      f = { consent: { purpose: n.purpose, status: n.status } };
    } else if (n.kind === "event") {
      var e = {};
      if (n.name.trim()) e.name = n.name.trim();
      if (n.type) e.type = n.type;
      // A count is a whole number as typed: "ten" or "2.5" is refused
      // rather than sent as 0 or 2 (parseInt), which selects other people.
      var count = String(n.count).trim();
      if (count !== "") {
        if (!/^\d+$/.test(count)) throw new Error("The count of the event condition" + (n.name.trim() ? " " + n.name.trim() : "") + ": " + JSON.stringify(count) + " is not a whole number (0 or more).");
        e.count = { op: n.countOp, value: Number(count) };
      }
      if (n.within.trim()) e.within = n.within.trim();
      // Every property filter must hold (the API ANDs them); a row left
      // wholly empty is ignored.
      var where = [];
      n.where.forEach(function (x) {
        if (!x.path.trim()) {
          if (x.val.text.trim() !== "" || x.items.some(function (y) { return y.text.trim() !== ""; })) throw new Error("Give each property filter a property.");
          return;
        }
        var w = { path: x.path.trim(), op: x.op };
        var wv = condValue(x, "The value of property " + x.path.trim());
        if (wv !== undefined) w.value = wv;
        where.push(w);
      });
      if (where.length) e.where = where;
      f = { event: e };
    } else if (n.kind === "audience") {
      if (!n.audience.trim()) throw new Error("Give the audience condition an audience id.");
      f = { inAudience: n.audience.trim() };
    }
    return n.not ? { not: f } : f;
  }
  function fromFilter(f) {
    if (!f) return { kind: "group", op: "and", not: false, children: [] };
    if (f.not) { var inner = fromFilter(f.not); inner.not = !inner.not; return inner; }
    if (f.and || f.or) return { kind: "group", op: f.and ? "and" : "or", not: false, children: (f.and || f.or).map(fromFilter) };
    var c = blankCond();
    if (f.trait || f.computed) {
      var t = f.trait || f.computed;
      c.kind = f.trait ? "trait" : "computed"; c.name = t.name; c.op = t.op; setValue(c, t.value);
    } else if (f.identifier) {
      c.kind = "identifier"; c.type = f.identifier.type; c.exists = f.identifier.exists !== false;
    } else if (f.consent) {
      c.kind = "consent"; c.purpose = f.consent.purpose; c.status = f.consent.status;
    } else if (f.event) {
      c.kind = "event"; c.name = f.event.name || ""; c.type = f.event.type || ""; c.within = f.event.within || "";
      if (f.event.count) { c.countOp = f.event.count.op; c.count = String(f.event.count.value); }
      c.where = (f.event.where || []).map(function (w) { var x = blankWhere(); x.path = w.path; x.op = w.op; setValue(x, w.value); return x; });
    } else if (f.inAudience) {
      c.kind = "audience"; c.audience = f.inAudience;
    }
    return c;
  }
  // rootOf is the tree the builder edits for a saved filter: its top is
  // always a group, so that conditions can be added and removed.
  function rootOf(f) {
    var r = fromFilter(f);
    return r.kind === "group" ? r : { kind: "group", op: "and", not: false, wrap: true, children: [r] };
  }
  // filterBuilder edits a tree of and/or/not groups and conditions. It
  // calls changed after every edit; filter() returns {filter} or {error}.
  // Until the first edit, filter() is saved, when given: the filter as the
  // API sent it, sent back unchanged.
  function filterBuilder(root, changed, saved) {
    var el = h("div", { "class": "builder" });
    var edited = false;
    function edit(structural) { edited = true; if (structural) draw(); changed(); }
    function draw() { clear(el); add(el, drawNode(root, null, 0)); }
    function drawNode(n, parent, depth) {
      if (n.kind === "group") return drawGroup(n, parent, depth);
      return drawCond(n, parent);
    }
    function drawGroup(g, parent, depth) {
      var op = select([["and", "all of (and)"], ["or", "any of (or)"]], g.op, { onchange: function () { g.op = op.value; edit(false); } });
      var not = h("input", { type: "checkbox", checked: g.not, onchange: function () { g.not = not.checked; edit(false); } });
      var legend = depth === 0 ? "Profiles matching" : "Group";
      return h("fieldset", { "class": "group" }, h("legend", { text: legend }),
        h("div", { "class": "row" }, field("Match", op), field("not (negate this group)", not, "check")),
        g.children.map(function (c) { return drawNode(c, g, depth + 1); }),
        h("div", { "class": "row" },
          h("button", { type: "button", text: "Add condition", onclick: function () { g.children.push(blankCond("trait")); edit(true); } }),
          depth < 6 ? h("button", { type: "button", text: "Add group", onclick: function () { g.children.push({ kind: "group", op: "or", not: false, children: [blankCond("trait")] }); edit(true); } }) : null,
          parent ? h("button", { type: "button", "class": "danger", text: "Remove group", onclick: function () { parent.children.splice(parent.children.indexOf(g), 1); edit(true); } }) : null));
    }
    function input(n, key, label, attrs) {
      var a = attrs || {};
      a.value = n[key];
      a.oninput = function () { n[key] = i.value; edit(false); };
      var i = h("input", a);
      return field(label, i);
    }
    function pick(n, key, label, options, structural) {
      var s = select(options, n[key], { onchange: function () { n[key] = s.value; edit(!!structural); } });
      return field(label, s);
    }
    // valueFields edits one value: its text and the type it is sent as.
    // While the type is not chosen (auto), it follows the text.
    function valueFields(x, label, name) {
      var s = select(VALUE_TYPES, typeOf(x), { name: "vtype", onchange: function () { x.type = s.value; x.auto = false; edit(false); } });
      var i = h("input", { name: name, value: x.text, size: "10", oninput: function () {
        x.text = i.value;
        if (x.auto) s.value = guessType(x.text);
        edit(false);
      } });
      return [field(label, i), field(label + " type", s)];
    }
    // valueEditor edits the value an op takes: none, one, or an IN list of
    // values each in its own row.
    function valueEditor(n, label, name) {
      if (n.op === "EXISTS" || n.op === "NOT_EXISTS") return null;
      if (n.op !== "IN") return valueFields(n.val, label, name);
      return h("div", { "class": "values", role: "group", "aria-label": label + "s (any of)" },
        n.items.map(function (x, i) {
          return h("div", { "class": "item" }, valueFields(x, label + " " + (i + 1), name),
            h("button", { type: "button", "class": "danger", text: "Remove", "aria-label": "Remove " + label.toLowerCase() + " " + (i + 1),
              onclick: function () { n.items.splice(n.items.indexOf(x), 1); edit(true); } }));
        }),
        h("button", { type: "button", text: "Add value", onclick: function () { n.items.push(blankVal()); edit(true); } }));
    }
    function opPick(n, label) {
      var s = select(OPS, n.op, { onchange: function () { setOp(n, s.value); edit(true); } });
      return field(label, s);
    }
    function drawCond(n, parent) {
      var kind = pick(n, "kind", "Condition", [["trait", "Trait"], ["event", "Event"], ["consent", "Consent"], ["identifier", "Identifier"], ["computed", "Computed trait"], ["audience", "In audience"]], true);
      var parts;
      if (n.kind === "trait" || n.kind === "computed") {
        parts = [input(n, "name", "Name", { spellcheck: "false" }), opPick(n, "Operator"), valueEditor(n, "Value", "value")];
      } else if (n.kind === "identifier") {
        parts = [input(n, "type", "Type", { list: "id-types-b" }),
          (function () {
            var s = select([["true", "has one"], ["false", "has none"]], String(n.exists), { onchange: function () { n.exists = s.value === "true"; edit(false); } });
            return field("Presence", s);
          })()];
      } else if (n.kind === "consent") {
        parts = [input(n, "purpose", "Purpose", { list: "purposes-b" }), pick(n, "status", "State", STATES, false)];
      } else if (n.kind === "event") {
        parts = [input(n, "name", "Event name", { spellcheck: "false" }), pick(n, "type", "Type", [["", "any"]].concat(EVENT_TYPES), false),
          pick(n, "countOp", "Count", COUNT_OPS, false), input(n, "count", "Times (empty: at least once)", { inputmode: "numeric", size: "6" }),
          input(n, "within", "Within (e.g. P30D)", { size: "8" }),
          n.where.map(function (w, i) {
            return h("div", { "class": "where", role: "group", "aria-label": "Property filter " + (i + 1) },
              input(w, "path", "Property (e.g. total)", { spellcheck: "false", size: "10", name: "path" }),
              opPick(w, "Property test"),
              valueEditor(w, "Property value", "pvalue"),
              h("button", { type: "button", "class": "danger", text: "Remove", "aria-label": "Remove property filter " + (i + 1),
                onclick: function () { n.where.splice(n.where.indexOf(w), 1); edit(true); } }));
          }),
          h("button", { type: "button", text: "Add property filter", onclick: function () { n.where.push(blankWhere()); edit(true); } })];
      } else {
        parts = [input(n, "audience", "Audience id", { spellcheck: "false" })];
      }
      var not = h("input", { type: "checkbox", checked: n.not, onchange: function () { n.not = not.checked; edit(false); } });
      return h("div", { "class": "cond", role: "group", "aria-label": "Condition" }, kind, parts, field("not", not, "check"),
        h("button", { type: "button", "class": "danger", text: "Remove", "aria-label": "Remove condition", onclick: function () { parent.children.splice(parent.children.indexOf(n), 1); edit(true); } }));
    }
    draw();
    var lists = h("div", null, h("datalist", { id: "id-types-b" }, ID_TYPES.map(function (t) { return h("option", { value: t }); })),
      h("datalist", { id: "purposes-b" }, PURPOSES.map(function (t) { return h("option", { value: t }); })));
    return {
      el: h("div", null, lists, el),
      filter: function () {
        if (!edited && saved) return { filter: saved };
        try { return { filter: toFilter(root) }; } catch (e) { return { error: e.message }; }
      },
      root: root
    };
  }

  // ---- audiences -----------------------------------------------------------

  function audiencesPage(which) {
    var main = view("Audiences"), mine = shown;
    if (!can("audiences:read")) { add(main, h("p", { "class": "note", text: lacks("audiences:read") })); return; }
    var editor = h("section", { "class": "card wide", "aria-labelledby": "h-builder" });
    var listBox = h("section", { "class": "card wide", "aria-labelledby": "h-list" }, h("h2", { id: "h-list", text: "Saved audiences" }));
    add(main, h("div", { "class": "grid" }, editor, listBox));
    loadList();
    if (which && which !== "new") {
      // Said while the audience is read, rather than a blank card.
      editor.setAttribute("aria-busy", "true");
      add(editor, h("h2", { id: "h-builder", text: "Loading audience…" }),
        h("p", { "class": "muted", text: "Reading audience " + which + "…" }));
      gql("query Aud($id: ID!) { audience(id: $id) { id name description purpose filter static updatedAt } }", { id: which }).then(must)
        .then(function (d) {
          if (d.audience) { drawEditor(d.audience); return; }
          // A deleted or mistyped audience is said so, not shown as a
          // blank "New audience" form.
          clear(editor); editor.removeAttribute("aria-busy");
          add(editor, h("h2", { id: "h-builder", text: "No such audience" }),
            h("p", { "class": "note", text: "No audience has the id " + which + " (it may have been deleted)." }),
            h("a", { href: "#/audiences/new", text: "New audience" }));
        })
        .catch(function (e) {
          if (e.status === 401) return; // signOut has drawn the sign-in page
          // The API does not repeat the id it refuses: the card names what
          // the address asks, as for an audience that is not there.
          clear(editor); editor.removeAttribute("aria-busy");
          add(editor, h("h2", { id: "h-builder", text: "No such audience" }),
            errBox("Audience " + which + ": " + e.message),
            h("a", { href: "#/audiences/new", text: "New audience" }));
        });
    } else drawEditor(null);

    function loadList() {
      var out = h("div", { "aria-live": "polite" }, h("p", { "class": "muted", text: "Loading…" }));
      while (listBox.children.length > 1) listBox.removeChild(listBox.lastChild);
      add(listBox, out);
      // Every audience (a store holds at most 1,000), a page of 100 at a
      // time, so that none past the first page is missing from the list.
      var all = [];
      function more(after) {
        return gql("query Audiences($after: String) { audiences(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { id name purpose size refreshedAt updatedAt filter changes(first: 50) { nodes { kind } } } } }", { after: after })
          .then(must).then(function (d) {
            all = all.concat(d.audiences.nodes);
            var pi = d.audiences.pageInfo;
            return pi.hasNextPage && pi.endCursor ? more(pi.endCursor) : all;
          });
      }
      more(null).then(function (ns) {
          clear(out);
          if (!ns.length) { add(out, h("p", { "class": "muted", text: "No audience is saved yet." })); return; }
          // The export options as the user set them, through the list's
          // redraws (a save, a deletion) and their visits to the page,
          // until they sign out: a redraw must not turn a hashed export
          // of emails into a raw one of every type.
          var opts = S.exportOpts || (S.exportOpts = { types: "email,phone,user_id", hashed: false });
          var types = h("input", { value: opts.types, name: "exportTypes", spellcheck: "false", oninput: function () { opts.types = types.value; } });
          var hashed = h("input", { type: "checkbox", name: "hashed", checked: opts.hashed, onchange: function () { opts.hashed = hashed.checked; } });
          add(out, h("div", { "class": "row" }, field("Export identifiers", types), field("Hashed (SHA-256)", hashed, "check")));
          add(out, table("Saved audiences", ["Name", "Size", "Purpose", "Recent changes", "Refreshed", ""], ns.map(function (a) {
            var ent = a.changes.nodes.filter(function (c) { return c.kind === "ENTERED"; }).length, ex = a.changes.nodes.length - ent;
            return h("tr", { "data-audience": a.id },
              h("td", null, h("a", { href: "#/audiences/" + encodeURIComponent(a.id), text: a.name })),
              td(a.size), td(a.purpose || ""), td("+" + ent + " entered, −" + ex + " exited (last " + a.changes.nodes.length + ")"), td(fmt(a.refreshedAt)),
              h("td", null, h("div", { "class": "row" },
                h("button", { type: "button", text: "Export CSV", "aria-label": "Export CSV: " + a.name, onclick: function () { exportAudience(a, types.value, hashed.checked, out); } }),
                gate(h("button", { type: "button", "class": "danger", text: "Delete", "aria-label": "Delete " + a.name, onclick: function () { deleteAudience(a, out); } }), "audiences:write"))));
          })));
        }).catch(function (e) { clear(out); add(out, errBox(e.message)); });
    }
    function exportAudience(a, types, hashed, out) {
      var q = "format=csv&identifiers=" + encodeURIComponent(types.replace(/\s+/g, "")) + (hashed ? "&hash=sha256" : "");
      rest("/v1/audiences/" + encodeURIComponent(a.id) + "/export?" + q, "text/csv").then(function (res) {
        var members = res.headers.get("X-CDP-Members");
        var name = "audience-" + a.id + (hashed ? "-sha256" : "") + ".csv";
        download(name, res.blob);
        var msg = "Exported " + name + ": " + (members === null ? "?" : members) + " members" + (hashed ? ", hashed" : "") + ".";
        say(msg);
        var old = $("export-result");
        if (old) old.remove();
        add(out, h("p", { "class": "ok", id: "export-result", "data-members": members || "", text: msg }));
      }).catch(function (e) {
        if (e.status === 401) return; // signOut has drawn the sign-in page
        var msg = e.message;
        if (e.status === 403 && !hashed && msg.indexOf("pii:read") < 0) msg = msg.replace(/\.?$/, ".") + " Raw values need pii:read; a hashed export does not.";
        var old = $("export-result");
        if (old) old.remove();
        add(out, h("div", { "class": "error", id: "export-result", role: "alert", text: "Export of " + a.name + " failed: " + msg }));
      });
    }
    // deleteAudience deletes a listed audience; a refusal is said in the
    // list (out), naming the audience, until the list is drawn again.
    function deleteAudience(a, out) {
      confirmDialog("Delete audience " + a.name, h("p", { text: "Its members and its log are removed. This cannot be undone." }), "Delete", null, null, true)
        .then(function (reason) {
          if (!reason) return;
          var at = shown;
          gql("mutation Del($id: ID!) { deleteAudience(id: $id) }", { id: a.id }).then(must)
            .then(function () {
              say("Deleted " + a.name + ".");
              if (at !== shown) return; // the user has gone on to another page
              // The editor stays as it is, an edit under way included,
              // unless it edits the audience deleted.
              if (a.id === which) { unsaved = null; go("#/audiences"); }
              else loadList();
            })
            .catch(function (e) {
              if (e.status === 401) return; // signOut has drawn the sign-in page
              say("Deleting " + a.name + " failed.");
              var old = $("delete-result");
              if (old) old.remove();
              add(out, h("div", { "class": "error", id: "delete-result", role: "alert", text: "Deleting " + a.name + " failed: " + e.message }));
            });
        });
    }
    function drawEditor(a) {
      clear(editor);
      editor.removeAttribute("aria-busy");
      var heading = h("h2", { id: "h-builder", text: a ? "Edit " + a.name : "New audience" });
      add(editor, heading);
      var name = h("input", { name: "name", required: true, value: a ? a.name : "" });
      // A description may hold line breaks (the API keeps tab and newline):
      // a one-line field would drop them on any save.
      var desc = h("textarea", { name: "description", rows: "2", value: a && a.description ? a.description : "" });
      var purpose = h("input", { name: "purpose", list: "purposes-a", value: a && a.purpose ? a.purpose : "" });
      var preview = h("div", { id: "preview", "aria-live": "polite", "aria-atomic": "true" });
      var seq = 0, timer = null;
      // A static audience (saved members, from createLookalikeAudience)
      // has no filter: only its name, description and purpose change.
      var isStatic = !!(a && (a.static || !a.filter));
      var builder = isStatic ? null : filterBuilder(a ? rootOf(a.filter) : { kind: "group", op: "and", not: false, children: [blankCond("trait")] }, schedule, a ? a.filter : null);
      function schedule() { clearTimeout(timer); timer = setTimeout(runPreview, 350); }
      // What the editor holds, against the audience as opened or last
      // saved: an edit not saved makes leaving the page ask first.
      function held() { return JSON.stringify([name.value, desc.value, purpose.value, builder ? builder.root : null]); }
      var clean = held();
      if (mine === shown) unsaved = function () { return held() !== clean; };
      function runPreview() {
        if (isStatic) return;
        var f = builder.filter(), my = ++seq;
        clear(preview);
        if (f.error) { add(preview, h("p", { "class": "note", text: "Preview waits for a complete filter: " + f.error })); return; }
        add(preview, h("p", { "class": "muted", text: "Counting…" }));
        gql("query Preview($f: AudienceFilter!, $p: String, $s: Boolean!) { previewAudience(filter: $f, purpose: $p) { count sample(first: 5) @include(if: $s) { id size updatedAt identifiers(first: 3) { type value } } } }",
          { f: f.filter, p: purpose.value.trim() || null, s: can("profiles:read") }).then(must).then(function (d) {
            if (my !== seq) return;
            clear(preview);
            var pv = d.previewAudience;
            add(preview, h("p", null, h("strong", { id: "preview-count", "data-count": String(pv.count), text: String(pv.count) }), pv.count === 1 ? " profile matches now." : " profiles match now."));
            if (pv.sample && pv.sample.length) add(preview, profileTable("Sample of matching profiles", pv.sample));
            else if (!can("profiles:read")) add(preview, h("p", { "class": "why", text: "The sample " + lacks("profiles:read").toLowerCase() }));
          }).catch(function (e) { if (my === seq) { clear(preview); add(preview, h("p", { "class": "note", text: "Preview: " + e.message })); } });
      }
      purpose.addEventListener("input", schedule);
      var out = h("div", { "aria-live": "polite" });
      var save = h("button", { type: "submit", "class": "primary", text: a ? "Save changes" : "Save audience" });
      // One save at a time: a second press before the answer would create
      // a second audience (or race the first update).
      var saving = false;
      add(editor, h("form", {
        id: "audience-form",
        onsubmit: function (ev) {
          ev.preventDefault();
          if (saving) return;
          clear(out);
          var input = { name: name.value.trim(), description: desc.value.trim() ? desc.value : null, purpose: purpose.value.trim() || null };
          if (!isStatic) {
            var f = builder.filter();
            if (f.error) { add(out, errBox(f.error)); return; }
            input.filter = f.filter;
          }
          // An update names the version the editor read (or last saved):
          // one saved by someone else since is not overwritten.
          var m = a ? "mutation Save($id: ID!, $in: AudienceInput!, $v: DateTime) { saved: updateAudience(id: $id, input: $in, ifUpdatedAt: $v) { id name updatedAt } }"
            : "mutation Save($in: AudienceInput!) { saved: createAudience(input: $in) { id name updatedAt } }";
          var at = shown, sent = held();
          saving = true;
          save.setAttribute("aria-busy", "true");
          var done = function () { saving = false; save.removeAttribute("aria-busy"); };
          gql(m, a ? { id: a.id, in: input, v: a.updatedAt || null } : { in: input }).then(must).then(function (d) {
            done();
            clean = sent;
            if (a) a.updatedAt = d.saved.updatedAt;
            say("Saved " + d.saved.name + ".");
            if (at !== shown) return; // the user has gone on to another page
            if (!a) {
              // Saved, a new audience is the one this editor edits, at its
              // own address: saving again updates it, a reload shows it.
              a = { id: d.saved.id, name: d.saved.name, updatedAt: d.saved.updatedAt };
              which = d.saved.id;
              history.replaceState(history.state, "", "#/audiences/" + encodeURIComponent(d.saved.id));
              save.textContent = "Save changes";
            }
            heading.textContent = "Edit " + d.saved.name;
            add(out, h("p", { "class": "ok", id: "saved", "data-id": d.saved.id, text: "Saved " + d.saved.name + " (" + d.saved.id + ")." + (isStatic ? " Its members are unchanged." : " Its membership is kept from now on.") }));
            loadList();
          }).catch(function (e) {
            done();
            add(out, errBox(e.code === "CONFLICT" && a && e.message.indexOf("ifUpdatedAt") >= 0
              ? "Not saved: this audience was changed since you opened it (by someone else, or in another tab). Reload the page to see what is stored now, then make your change again."
              : e.message));
          });
        }
      }, h("div", { "class": "row" }, field("Name", name), field("Description", desc), field("Consent purpose (optional)", purpose)),
        h("datalist", { id: "purposes-a" }, PURPOSES.map(function (t) { return h("option", { value: t }); })),
        isStatic ? h("p", { "class": "note", id: "static-note", text: "A static audience: its members were saved (by a lookalike), not selected by a filter. Its name, description and purpose can be changed; its members stay as they are." })
          : [builder.el, h("h3", { text: "Live preview" }), preview],
        h("div", { "class": "row" }, gate(save, "audiences:write"), a ? h("a", { href: "#/audiences/new", text: "New audience instead" }) : null), out));
      runPreview();
    }
  }

  // ---- privacy -----------------------------------------------------------

  // privacyPage is the page at #/privacy?profile={address}. The page as the
  // user left it (what was typed, the audit log's filter applied and its
  // page, the receipts' page) is there again when they come back to the
  // same address, Back from a profile opened from the log included, until
  // they sign out. A page not kept starts with the profile the address
  // names, else the profile last opened.
  //
  // The audit log's filter applied is in the address too, as its fields
  // (#/privacy?profile=p_1&keyId=k_1&profileId=&action=forgetProfile&from=2026-11-01T00:00&to=),
  // so that a reload or a link copied shows the log filtered as it was
  // (its first page); an address naming another filter than the page
  // kept applies that one.
  var AUDIT_FIELDS = ["keyId", "profileId", "action", "from", "to"];
  // iso is the UTC time a datetime-local value names, or null.
  function iso(v) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v || "")) return null;
    var d = new Date(v + "Z");
    return isNaN(d.getTime()) ? null : d.toISOString();
  }
  function auditFilter(a) {
    return { keyId: a.keyId.trim() || null, profileId: a.profileId.trim() || null, action: a.action.trim() || null, from: iso(a.from), to: iso(a.to) };
  }
  function privacyPage(address, q) {
    var main = view("Privacy");
    var named = null;
    if (AUDIT_FIELDS.some(function (k) { return q && q[k] !== undefined; })) {
      named = {};
      AUDIT_FIELDS.forEach(function (k) { named[k] = q[k] || ""; });
      // A time that is not one (a link cut short, edited) is left out,
      // as the field itself would.
      ["from", "to"].forEach(function (k) { if (!iso(named[k])) named[k] = ""; });
    }
    var mem = S.privacy && S.privacy.address === address ? S.privacy : null;
    if (!mem) {
      var profileId = address || S.lastProfile;
      mem = S.privacy = { address: address, pid: profileId, fields: { profileId: profileId }, applied: null, filter: null, cursors: [null], at: 0, rec: { cursors: [null], at: 0 } };
    }
    if (named && JSON.stringify(named) !== JSON.stringify(mem.applied)) {
      mem.fields = Object.assign({}, named);
      mem.applied = named;
      mem.filter = auditFilter(named);
      mem.cursors = [null];
      mem.at = 0;
    }
    var pid = h("input", { name: "profile", value: mem.pid || "", spellcheck: "false", "class": "mono", size: "30", oninput: function () { mem.pid = pid.value; } });
    var out = h("div", { "aria-live": "polite" });
    // Each answer names the profile id it is for, as asked: the field may
    // hold another by the time it comes, and the API does not repeat an
    // id it refuses (it may be an email pasted by mistake).
    var exp = gate(h("button", { type: "button", text: "Download data export", onclick: function () {
      clear(out);
      var id = pid.value.trim();
      if (!id) { add(out, errBox("Enter a profile id.")); return; }
      exportProfile(id).then(function (b) {
        add(out, h("p", { "class": "ok", id: "export-done", text: "Downloaded profile-" + id + ".ndjson (" + b.size + " bytes)." }));
      }).catch(function (e) { if (e.status !== 401) add(out, errBox("Profile " + id + ": " + e.message)); });
    } }), "privacy:read");
    var forget = gate(h("button", { type: "button", "class": "danger", text: "Forget this profile…", onclick: function () {
      clear(out);
      var id = pid.value.trim();
      if (!id) { add(out, errBox("Enter a profile id.")); return; }
      confirmDialog("Forget profile", h("p", { text: "Erase every identifier, trait, consent record and event of this person, and suppress the identifiers so re-sent messages are dropped. This cannot be undone." }),
        "Forget", id).then(function (reason) {
          if (!reason) return;
          gql("mutation Forget($id: ID!, $r: String!) { forgetProfile(id: $id, reason: $r) { id at kind reason keyId keyName identifiers events scrubbedEvents traits consentRecords suppressedHashes } }", { id: id, r: reason })
            .then(must).then(function (d) {
              var r = d.forgetProfile;
              add(out, h("div", { "class": "ok", id: "receipt" }, h("h3", { text: "Erasure receipt " + r.id }), h("dl", { "class": "kv" },
                [["At", fmt(r.at)], ["Kind", r.kind], ["Reason", r.reason], ["Key", r.keyName ? r.keyName + " (" + r.keyId + ")" : "open mode"],
                  ["Identifiers erased", r.identifiers], ["Events deleted", r.events], ["Events scrubbed", r.scrubbedEvents], ["Trait values removed", r.traits],
                  ["Consent records deleted", r.consentRecords], ["Hashes suppressed", r.suppressedHashes]].map(function (kv) {
                  return [h("dt", { text: kv[0] }), h("dd", { text: String(kv[1]) })];
                }))));
              say("Forgotten. Receipt " + r.id + ".");
              loadReceipts();
            }).catch(function (e) { if (e.status !== 401) add(out, errBox("Profile " + id + ": " + e.message)); });
        });
    } }), "privacy:write");
    add(main, h("div", { "class": "grid" },
      h("section", { "class": "card wide", "aria-labelledby": "h-req" }, h("h2", { id: "h-req", text: "Requests for a profile" }),
        h("div", { "class": "row" }, field("Profile id", pid), exp, forget), out)));
    var receipts = h("section", { "class": "card wide", "aria-labelledby": "h-rec" }, h("h2", { id: "h-rec", text: "Erasure receipts" }));
    var audit = h("section", { "class": "card wide", "aria-labelledby": "h-audit" }, h("h2", { id: "h-audit", text: "Audit log" }));
    add(main.lastChild, receipts, audit);
    var recBox = h("div");
    add(receipts, recBox);
    // Receipts, newest first, 20 a page: the older ones through Older.
    // Only the page asked for last is drawn (recAsked), as in the log.
    var recAsked = 0;
    function loadReceipts(i) {
      i = i || 0;
      if (!i) mem.rec.cursors = [null];
      var recCursors = mem.rec.cursors, my = ++recAsked;
      mem.rec.at = i;
      if (!can("privacy:read")) { clear(recBox); add(recBox, h("p", { "class": "why", text: lacks("privacy:read") })); return; }
      gql("query Receipts($after: String) { erasureReceipts(first: 20, after: $after) { pageInfo { hasNextPage endCursor } nodes { id at kind reason keyName identifiers events } } }", { after: recCursors[i] }).then(must).then(function (d) {
        if (my !== recAsked) return;
        var c = d.erasureReceipts, ns = c.nodes;
        recCursors[i + 1] = c.pageInfo.endCursor;
        clear(recBox);
        add(recBox, ns.length ? table("Erasure receipts", ["Receipt", "At", "Kind", "Reason", "Key", "Identifiers", "Events"], ns.map(function (r) {
          return h("tr", null, td(r.id, "val"), td(fmt(r.at)), td(r.kind), td(r.reason), td(r.keyName || "open mode"), td(r.identifiers), td(r.events));
        })) : h("p", { "class": "muted", text: "No erasure yet." }));
        if (i > 0 || c.pageInfo.hasNextPage) {
          add(recBox, h("div", { "class": "row" },
            h("button", { type: "button", text: "Newer", disabled: i === 0, onclick: function () { loadReceipts(i - 1); } }),
            h("button", { type: "button", text: "Older", disabled: !c.pageInfo.hasNextPage, onclick: function () { loadReceipts(i + 1); } })));
        }
      }).catch(function (e) { if (my === recAsked) { clear(recBox); add(recBox, errBox(e.message)); } });
    }
    loadReceipts(mem.rec.at);
    if (!can("audit:read")) { add(audit, h("p", { "class": "why", text: lacks("audit:read") })); return; }
    var f = { keyId: h("input", { name: "keyId" }), profileId: h("input", { name: "profileId" }), action: h("input", { name: "action", list: "actions" }),
      from: h("input", { name: "from", type: "datetime-local" }), to: h("input", { name: "to", type: "datetime-local" }) };
    Object.keys(f).forEach(function (k) {
      f[k].value = mem.fields[k] || "";
      f[k].addEventListener("input", function () { mem.fields[k] = f[k].value; });
    });
    var logBox = h("div", { "aria-live": "polite" });
    // The filter applied, kept for its pages: a cursor is a position in
    // that filter's entries, so an edit takes effect on Filter only. Only
    // the page asked for last is drawn: the answer for an earlier one
    // (Older, then Filter or Newer before it came) is dropped.
    var asked = 0;
    function apply() {
      mem.cursors = [null];
      mem.applied = {};
      AUDIT_FIELDS.forEach(function (k) { mem.applied[k] = f[k].value; });
      mem.filter = auditFilter(mem.applied);
      page(0);
    }
    // marked writes the filter applied into the address, in place.
    function marked() {
      var qs = address ? ["profile=" + encodeURIComponent(address)] : [];
      AUDIT_FIELDS.forEach(function (k) {
        // An empty profile id is written: it is not the page's profile.
        if (mem.applied[k] || k === "profileId") qs.push(k + "=" + encodeURIComponent(mem.applied[k]));
      });
      var hash = "#/privacy?" + qs.join("&");
      if (hash !== location.hash) history.replaceState(history.state, "", hash);
    }
    function page(i) {
      var cursors = mem.cursors, my = ++asked;
      mem.at = i;
      if (mem.applied) marked();
      gql("query Audit($after: String, $f: AuditFilter) { auditLog(first: 25, after: $after, filter: $f) { pageInfo { hasNextPage endCursor } nodes { id at keyId keyName action operationName profileIds profileCount reason outcome } } }",
        { after: cursors[i], f: mem.filter }).then(must).then(function (d) {
          if (my !== asked) return;
          clear(logBox);
          var c = d.auditLog;
          cursors[i + 1] = c.pageInfo.endCursor;
          add(logBox, c.nodes.length ? table("Audit entries", ["At", "Action", "Key", "Profiles", "Reason", "Outcome"], c.nodes.map(function (e) {
            return h("tr", null, td(fmt(e.at)), td(e.action + (e.operationName ? " (" + e.operationName + ")" : "")), td(e.keyName || e.keyId || "open mode"),
              h("td", { "class": "val" }, e.profileIds.slice(0, 3).map(function (id) { return h("a", { href: "#/profile/" + encodeURIComponent(id), text: id + " " }); }),
                e.profileCount > 3 ? "+" + (e.profileCount - 3) : ""), td(e.reason || ""), td(e.outcome));
          })) : h("p", { "class": "muted", text: "No entry matches." }));
          add(logBox, h("div", { "class": "row" },
            h("button", { type: "button", text: "Newer", disabled: i === 0, onclick: function () { page(i - 1); } }),
            h("button", { type: "button", text: "Older", disabled: !c.pageInfo.hasNextPage, onclick: function () { page(i + 1); } })));
        }).catch(function (e) { if (my === asked) { clear(logBox); add(logBox, errBox(e.message)); } });
    }
    add(audit, h("form", { "class": "inline", onsubmit: function (ev) { ev.preventDefault(); apply(); } },
      field("Key id", f.keyId), field("Profile id", f.profileId), field("Action", f.action), field("From (UTC)", f.from), field("To (UTC)", f.to),
      h("button", { type: "submit", text: "Filter" }),
      h("datalist", { id: "actions" }, ["mergeProfiles", "unlinkIdentifiers", "removeIdentifier", "forgetProfile", "privacy.export", "createAudience", "profileByIdentifier"].map(function (x) { return h("option", { value: x }); }))),
      logBox);
    if (mem.filter) page(mem.at);
    else apply();
  }

  // ---- start -----------------------------------------------------------------

  function start() {
    // A path-style link to a profile, /console/profile/{id}, or to an
    // audience, /console/audiences/{id} (the server answers this page for
    // any path under /console/), stands for its address in the console,
    // which it becomes, in place (unless its hash names a page: that
    // page). Another path shows the page its hash names, as before.
    var path = /^\/console\/(profile|audiences)\/([^\/]+)\/?$/.exec(location.pathname);
    if (path) history.replaceState(history.state, "", "/console/" + (parseHash().parts[0] ? location.hash : "#/" + path[1] + "/" + path[2]));
    if (entry() === null) history.replaceState({ at: 0 }, "");
    here = entry();
    fetch("/console/mode.json").then(function (r) { return r.json(); }).catch(function () { return { open: false }; }).then(function (m) {
      S.open = !!m.open;
      $("nav-graphiql").hidden = !m.graphiql;
      try { S.key = sessionStorage.getItem(KEY); } catch (e) { S.key = null; }
      if (S.open || S.key) session = {};
      if (S.open) { S.key = null; renderSession(); route(); return; }
      if (!S.key) { renderSession(); route(); return; }
      resume();
    });
  }
  // resume checks the tab's key again (a reload). Only a refusal of the
  // key (401, which signs out in gql) drops it: a server that is busy
  // (429) or unavailable (503) says so, and the key stays for a retry,
  // since it may not be at hand to paste again.
  function resume() {
    probe().then(function () { renderSession(); route(); }).catch(function (e) {
      if (!S.key) return;
      var main = view("Waiting for the server");
      add(main, errBox("The key could not be checked: " + e.message),
        h("div", { "class": "row" },
          h("button", { type: "button", "class": "primary", text: "Try again", onclick: function () { clear(main); add(main, h("p", { "class": "muted", text: "Checking the key…" })); resume(); } }),
          h("button", { type: "button", text: "Sign out", onclick: function () { signOut("Signed out.", true); } })));
    });
  }
  start();
})();
