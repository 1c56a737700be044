// Keeps the explorer's figures live over server-sent events: each element
// with data-live="name" shows the figure of that name, and the table of
// GPU models is redrawn. Plain browser JavaScript, no build step.
(function () {
  const root = document.getElementById("network");
  const status = document.getElementById("live-status");
  if (!root || !window.EventSource) {
    if (status) status.hidden = true;
    return;
  }
  function live(on) {
    status.textContent = on ? "live" : "reconnecting…";
    status.className = on ? "live on" : "live off";
  }
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function models(list) {
    const tbody = document.querySelector("#models tbody");
    tbody.replaceChildren();
    for (const m of list) {
      const tr = document.createElement("tr");
      cell(tr, m.model);
      cell(tr, m.online, "n");
      cell(tr, m.free, "n");
      if (m.price) cell(tr, m.price, "n");
      else cell(tr, "", "n").appendChild(Object.assign(document.createElement("span"), { className: "muted", textContent: "none free" }));
      tbody.appendChild(tr);
    }
    document.getElementById("models").hidden = list.length === 0;
    document.getElementById("no-models").hidden = list.length !== 0;
  }
  const es = new EventSource("/explorer/live");
  es.addEventListener("open", () => live(true));
  es.addEventListener("error", () => live(false)); // the browser retries by itself
  es.addEventListener("update", (ev) => {
    const v = JSON.parse(ev.data);
    for (const el of root.querySelectorAll("[data-live]")) {
      const x = v[el.dataset.live];
      if (x !== undefined) el.textContent = String(x);
    }
    models(v.models || []);
    live(true);
  });
})();
