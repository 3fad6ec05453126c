// Polls a remote-signing transaction (stored in the database: any API process answers)
// and reloads the server-rendered page when its state or a document's state changes,
// until every document is settled (archived, refused or not signed).
(function () {
  var box = document.getElementById("remote");
  if (!box) return;
  var url = box.dataset.statusUrl;
  function seen() {
    var out = {};
    document.querySelectorAll("#remote tr[data-state]").forEach(function (r) {
      out[r.id.slice(4)] = r.dataset.state;
    });
    return out;
  }
  function tick() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { window.location = "/web/login?expired=1"; return null; }
      return r.json();
    }).then(function (tx) {
      if (!tx || tx.missing) return;
      var now = seen();
      var changed = tx.status !== box.dataset.status || tx.finished;
      tx.states.forEach(function (s) { if (now[s.document_id] !== s.state) changed = true; });
      if (changed) { window.location.reload(); } else { setTimeout(tick, 1000); }
    }).catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 500);
})();
