// Select all, count the selection, and refuse an empty batch before submitting.
(function () {
  var form = document.getElementById("batch-form");
  if (!form) return;
  var script = document.currentScript;
  var all = document.getElementById("select-all");
  var boxes = form.querySelectorAll('input[name="doc"]');
  var out = document.getElementById("selected-count");
  function count() {
    var n = form.querySelectorAll('input[name="doc"]:checked').length;
    out.textContent = n ? script.dataset.many.replace("{n}", n) : "";
    return n;
  }
  if (all) all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; }); count();
  });
  boxes.forEach(function (b) { b.addEventListener("change", count); });
  form.addEventListener("submit", function (e) {
    if (!count()) { e.preventDefault(); out.textContent = script.dataset.none; }
  });
})();
