// Kiosk confirmation: the handwritten pad (pointer events, undo/redo/clear),
// the method and representative switches, fingerprint capture and OTP sending.
(function () {
  var form = document.getElementById("confirm-form");
  if (!form) return;
  var canvas = document.getElementById("pad");
  var ctx = canvas.getContext("2d");
  var strokes = [], undone = [], current = null;

  function pos(e) {
    var r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }
  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#0a1e78";
    strokes.forEach(function (s) {
      ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]);
      for (var i = 1; i < s.length; i++) ctx.lineTo(s[i][0], s[i][1]);
      if (s.length === 1) ctx.lineTo(s[0][0] + 0.5, s[0][1] + 0.5);
      ctx.stroke();
    });
  }
  canvas.addEventListener("pointerdown", function (e) {
    e.preventDefault(); canvas.setPointerCapture(e.pointerId);
    current = [pos(e)]; strokes.push(current); undone = []; redraw();
    document.getElementById("form-error").hidden = true;
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!current) return; current.push(pos(e)); redraw();
  });
  ["pointerup", "pointercancel"].forEach(function (n) {
    canvas.addEventListener(n, function () { current = null; });
  });
  document.getElementById("pad-clear").addEventListener("click", function () {
    undone = strokes.slice().reverse().concat(undone); strokes = []; redraw();
  });
  document.getElementById("pad-undo").addEventListener("click", function () {
    if (strokes.length) { undone.unshift(strokes.pop()); redraw(); }
  });
  document.getElementById("pad-redo").addEventListener("click", function () {
    if (undone.length) { strokes.push(undone.shift()); redraw(); }
  });

  function method() { return form.querySelector('input[name="method"]:checked').value; }
  function showMethod() {
    ["patient_pad", "fingerprint", "otp"].forEach(function (m) {
      document.getElementById("m-" + m).hidden = (m !== method());
    });
  }
  form.querySelectorAll('input[name="method"]').forEach(function (r) { r.addEventListener("change", showMethod); });
  function showWho() {
    var rep = form.querySelector('input[name="who"]:checked').value === "representative";
    document.getElementById("rel-box").hidden = !rep;
    document.getElementById("relationship").required = rep;
  }
  form.querySelectorAll('input[name="who"]').forEach(function (r) { r.addEventListener("change", showWho); });
  showMethod(); showWho();

  function post(path) {
    return fetch("/web/kiosk/" + form.dataset.doc + "/" + path, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": form.dataset.csrf }
    }).then(function (r) { return r.json(); });
  }
  document.getElementById("fp-capture").addEventListener("click", function () {
    var out = document.getElementById("fp-status");
    post("fingerprint").then(function (j) {
      if (j.evidence_sha256) {
        document.getElementById("fingerprint_sha256").value = j.evidence_sha256;
        out.textContent = "✓ " + form.dataset.fpDone;
      } else { out.textContent = "✗ " + (j.error || ""); }
    });
  });
  document.getElementById("otp-send").addEventListener("click", function () {
    var out = document.getElementById("otp-status");
    post("otp").then(function (j) {
      out.textContent = j.development_code ? form.dataset.otpDev.replace("{code}", j.development_code) : (j.error || "");
    });
  });
  form.addEventListener("submit", function (e) {
    var err = document.getElementById("form-error");
    if (method() === "patient_pad") {
      if (!strokes.length) { e.preventDefault(); err.hidden = false; err.textContent = form.dataset.empty; canvas.focus(); return; }
      document.getElementById("pad_png").value = canvas.toDataURL("image/png");
    }
    err.hidden = true;
  });
})();
