// The transition form shows the amount only for 属实 (confirmed) and the target region
// only for 转办 (transferred); a confirmed verdict without an amount is not sent.
(function () {
  var form = document.getElementById("transition");
  if (!form) return;
  var to = document.getElementById("to");
  function sync() {
    var v = to.value;
    form.querySelectorAll(".for-confirmed").forEach(function (el) { el.hidden = v !== "confirmed"; });
    form.querySelectorAll(".for-transferred").forEach(function (el) { el.hidden = v !== "transferred"; });
    document.getElementById("amount").required = v === "confirmed";
    document.getElementById("to-region").required = v === "transferred";
    document.getElementById("reason").required = v === "dismissed";
  }
  to.addEventListener("change", sync);
  sync();
})();
