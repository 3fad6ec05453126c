// Polls the batch job (stored in the database: any API process answers) and shows
// its progress; reloads the page (server-rendered per-document results, or the
// "interrupted" notice with its resume button) when the job finishes or its
// runner stops or comes back.
(function () {
  var box = document.getElementById("batch");
  if (!box) return;
  var url = box.dataset.statusUrl;
  var bar = document.getElementById("progress");
  var label = document.getElementById("progress-label");
  var state = document.getElementById("batch-state");
  var wasInterrupted = box.dataset.interrupted === "1";
  function fill(tpl, v) { return tpl.replace(/\{(\w+)\}/g, function (_, k) { return v[k]; }); }
  function tick() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.status === 401) { window.location = "/web/login?expired=1"; return null; }
      return r.json();
    }).then(function (job) {
      if (!job || job.missing) return;
      bar.max = job.total; bar.value = job.done; bar.textContent = job.done + "/" + job.total;
      label.textContent = fill(box.dataset.progress, job);
      if (job.state === "running" && box.dataset.state !== "running" && !job.interrupted) {
        box.dataset.state = "running"; state.textContent = box.dataset.running;
      }
      job.items.forEach(function (i) {
        var row = document.getElementById("row-" + i.document_id);
        if (!row || i.state === "waiting") return;
        row.className = "r-" + i.state;
        var cell = row.querySelector(".result");
        var msg = i.state === "ok" ? "✓ " + box.dataset.ok
          : "✗ " + box.dataset.failed + ": " + (box.dataset.lang === "en" ? i.error_en : i.error_vi);
        if (cell.textContent.trim() !== msg) cell.textContent = msg;
      });
      if (job.finished || job.interrupted !== wasInterrupted) { window.location.reload(); }
      else { setTimeout(tick, job.interrupted ? 3000 : 600); }
    }).catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 300);
})();
