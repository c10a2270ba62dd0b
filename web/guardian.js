// Parents (guardian accounts): their child's statement and payments, read-only. yktd
// checks the guardian link; another child's number gets 403.
"use strict";
(async () => {
  if (!await YKT.start(["guardian"])) return;
  let data = null, person = "";
  document.getElementById("g-month").value = YKT.thisMonth();

  function render() {
    if (!data) return;
    document.getElementById("g-found").hidden = false;
    YKT.table(document.getElementById("g-statement"), data.statement, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "kind", label: "what", fmt: v => YKT.tv("k_", v) },
      { key: "amount", label: "amount", num: true },
      { key: "balance", label: "balance_after", num: true }, { key: "memo", label: "memo" }]);
    YKT.table(document.getElementById("g-payments"), data.payments, [
      { key: "at", label: "at", fmt: v => (v || "").replace("T", " ").replace("Z", " UTC") },
      { key: "merchant", label: "merchant" }, { key: "charged", label: "amount", num: true },
      { key: "refunded", label: "refunded", num: true }]);
  }

  document.getElementById("g-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    person = YKT.v("g-person") || "";
    const month = YKT.v("g-month") || YKT.thisMonth();
    const r = await YKT.api("GET", "/api/guardian/records?person=" + encodeURIComponent(person) +
                            "&month=" + month);
    const msg = document.getElementById("g-msg");
    if (r.status === 200) {
      data = r.data; msg.textContent = "";
      document.getElementById("g-print").href = "/statement.html?person=" +
        encodeURIComponent(person) + "&month=" + month;
    } else {
      data = null; document.getElementById("g-found").hidden = true;
      YKT.message(msg, YKT.errorText(r), false);
    }
    render();
  });
  document.addEventListener("ykt-lang", render);
})();
