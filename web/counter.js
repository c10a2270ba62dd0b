// The card centre's counter: find a cardholder, replace a card (fee, or a recorded defect).
"use strict";
(async () => {
  if (!await YKT.start(["operator", "superuser"])) return;
  let found = null;

  function render() {
    if (!found) return;
    document.getElementById("found").hidden = false;
    const p = found.person, body = document.getElementById("person");
    body.replaceChildren();
    [["person_no", p.person_no], ["name", p.name], ["kind", p.kind], ["department", p.department],
     ["id_number", p.id_number], ["phone", p.phone], ["valid_until", p.valid_until],
     ["status", p.status]].forEach(([k, v]) => {
      const tr = YKT.el("tr");
      tr.appendChild(YKT.el("th", YKT.t(k)));
      tr.appendChild(YKT.el("td", v));
      body.appendChild(tr);
    });
    document.getElementById("balance").textContent = found.balance;
    YKT.table(document.getElementById("cards"), found.cards, [
      { key: "card_no", label: "card_no" }, { key: "medium", label: "medium" },
      { key: "type", label: "type" }, { key: "status", label: "status", badge: true },
      { key: "valid_until", label: "valid_until" }]);
    const live = (found.cards || []).find(c => c.medium === "card" && c.status !== "cancelled");
    const rc = document.getElementById("r-card");
    if (live && !rc.value) rc.value = live.card_no;
  }

  async function find(no) {
    const r = await YKT.api("GET", "/api/counter/person?no=" + encodeURIComponent(no));
    const msg = document.getElementById("find-msg");
    if (r.status === 200) { found = r.data; msg.textContent = ""; render(); }
    else { found = null; document.getElementById("found").hidden = true;
           YKT.message(msg, YKT.errorText(r), false); }
  }
  document.addEventListener("ykt-lang", render);

  document.getElementById("find-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    document.getElementById("r-card").value = "";
    document.getElementById("replace-msg").textContent = "";
    await find(document.getElementById("find-no").value.trim());
  });

  document.getElementById("replace-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = id => document.getElementById(id);
    const body = { card: f("r-card").value.trim(), id_number: f("r-id").value.trim(),
                   pay: f("r-pay").value };
    if (f("r-defect").value.trim()) body.defect = f("r-defect").value.trim();
    const r = await YKT.api("POST", "/api/counter/replace", body);
    f("r-id").value = "";
    const msg = f("replace-msg");
    if (r.status === 200) {
      YKT.message(msg, YKT.t("new_card") + " " + r.data.card_no + " · " + YKT.t("fee") + " " +
                  r.data.fee + " · " + YKT.t("balance") + " " + r.data.balance, true);
      f("r-card").value = "";
      const keep = msg.textContent;
      await find(found.person.person_no);
      YKT.message(msg, keep, true);
    } else {
      YKT.message(msg, YKT.errorText(r), false);
    }
  });
})();
