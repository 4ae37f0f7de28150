// Starts GraphiQL from the embedded files. A key the console holds in this
// tab (sessionStorage) is put in the headers, so a signed-in user can query.
(function () {
  "use strict";
  var el = document.getElementById("graphiql");
  var key = null;
  try { key = sessionStorage.getItem("cdp.console.key"); } catch (e) { key = null; }
  // GraphiQL keeps its tabs and its query history, with each query's
  // headers (the key among them), in this tab's sessionStorage like the
  // console's key, never in localStorage, which outlives the tab and the
  // console's sign-out.
  var tab = null;
  try { tab = window.sessionStorage; } catch (e) { tab = null; }
  var mine = function (k) { return k.indexOf("graphiql:") === 0; };
  var storage = tab ? {
    getItem: function (k) { return tab.getItem(k); },
    setItem: function (k, v) { tab.setItem(k, v); },
    removeItem: function (k) { tab.removeItem(k); },
    get length() { return Object.keys(tab).filter(mine).length; },
    clear: function () { Object.keys(tab).filter(mine).forEach(function (k) { tab.removeItem(k); }); }
  } : null;
  var props = {
    fetcher: GraphiQL.createFetcher({ url: el.getAttribute("data-endpoint") }),
    defaultEditorToolsVisibility: true,
    storage: storage
  };
  if (key) {
    props.defaultHeaders = JSON.stringify({ Authorization: "Bearer " + key }, null, 2);
    props.shouldPersistHeaders = false;
  }
  ReactDOM.createRoot(el).render(React.createElement(GraphiQL, props));
  // A page the browser kept for back and forward comes back as it was, the
  // key in its headers editor: after the console signed out (or in with
  // another key) meanwhile, load it again, with what the tab holds now.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) { return; }
    var now = null;
    try { now = sessionStorage.getItem("cdp.console.key"); } catch (e) { now = null; }
    if (now !== key) { window.location.reload(); }
  });
})();
