// Starts GraphiQL from the embedded files. A key the console holds in this
// tab (sessionStorage) is put in the headers, so a signed-in user can query.
(function () {
  "use strict";
  var el = document.getElementById("graphiql");
  var key = null;
  try { key = sessionStorage.getItem("cdp.console.key"); } catch (e) { key = null; }
  var props = {
    fetcher: GraphiQL.createFetcher({ url: el.getAttribute("data-endpoint") }),
    defaultEditorToolsVisibility: true
  };
  if (key) {
    props.defaultHeaders = JSON.stringify({ Authorization: "Bearer " + key }, null, 2);
    props.shouldPersistHeaders = false;
  }
  ReactDOM.createRoot(el).render(React.createElement(GraphiQL, props));
})();
