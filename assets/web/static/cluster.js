// Follows a cluster over server-sent events: state, nodes, events and cost
// change on the page as they happen. Plain browser JavaScript.
(function () {
  const box = document.getElementById("cluster");
  if (!box || !window.EventSource) return;
  const id = box.dataset.cluster;
  const usd = (m) => "$" + (m / 1e6).toFixed(m < 1e6 ? 6 : 2);
  const when = (t) => t ? new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";
  function badge(s) {
    const b = document.createElement("span");
    b.className = "state state-" + s;
    b.textContent = s;
    return b;
  }
  function cell(tr, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
  }
  const es = new EventSource("/clusters/" + id + "/live");
  es.addEventListener("update", (ev) => {
    const v = JSON.parse(ev.data);
    document.getElementById("cluster-state").replaceChildren(badge(v.state));
    const reason = document.getElementById("cluster-reason");
    reason.textContent = v.reason || "";
    reason.hidden = !v.reason;
    document.getElementById("cost").textContent = usd(v.cost.charged);
    document.getElementById("billed").textContent = v.cost.billed_seconds + " device-seconds billed";
    document.getElementById("accruing").textContent = v.cost.accruing ? "+ about " + usd(v.cost.accruing) + " running up, billed within a minute" : "";
    document.getElementById("ready").textContent = when(v.ready_at);
    document.getElementById("expires").textContent = v.ended_at ? "ended " + when(v.ended_at) : when(v.expires_at);
    const tbody = document.querySelector("#nodes tbody");
    tbody.replaceChildren();
    for (const n of v.nodes) {
      const tr = document.createElement("tr");
      const a = document.createElement("a");
      a.href = "/explorer/devices/" + n.device_id;
      a.textContent = n.device_id;
      cell(tr, a); cell(tr, n.role); cell(tr, n.gpus + "× " + n.gpu_model); cell(tr, n.region || "—");
      cell(tr, badge(n.state)); cell(tr, badge(n.health)); cell(tr, n.runtime_state || "—");
      tbody.appendChild(tr);
    }
    const ol = document.getElementById("events");
    const seen = new Set([...ol.children].map((li) => li.dataset.id));
    for (const e of v.events || []) {
      if (seen.has(String(e.id))) continue;
      const li = document.createElement("li");
      li.dataset.id = e.id;
      const t = document.createElement("time");
      t.textContent = when(e.at);
      const b = document.createElement("b");
      b.textContent = e.kind;
      li.append(t, " ", b, " " + e.message);
      ol.appendChild(li);
    }
    if (v.state === "terminated" || v.state === "failed") es.close();
  });
})();
