// Keeps the device list live over server-sent events: states and last-seen
// times change, newly paired devices appear and removed ones go, without
// reloading. Rows are updated cell by cell, so a click on a link is never
// lost to a refresh. Plain browser JavaScript, no build step.
(function () {
  const table = document.getElementById("devices");
  if (!table || !window.EventSource) return;
  const tbody = table.querySelector("tbody");
  const empty = document.getElementById("no-devices");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // row builds a device's row as the server renders it.
  function row(d) {
    const tr = el("tr");
    tr.dataset.id = d.id;
    const name = el("td");
    const a = el("a", "", d.name);
    a.href = "/devices/" + encodeURIComponent(d.id);
    name.append(a);
    if (d.simulated) name.append(" ", el("span", "tag", "simulated"));
    const state = el("td");
    state.append(el("span", "state state-" + d.state, d.state));
    if (d.supply === "paused") {
      const p = el("span", "tag", "paused");
      p.title = d.pause_reason || "";
      state.append(" ", p);
    }
    const gpus = el("td");
    if (d.gpus.length) {
      for (const g of d.gpus) gpus.append(el("div", "", g));
    } else {
      gpus.append(el("span", "muted", d.gpu_status || "none"));
    }
    tr.append(name, state, gpus, el("td", "seen", d.seen), el("td", "", d.agent_version));
    return tr;
  }

  function update(list) {
    const keep = new Set(list.map((d) => d.id));
    for (const tr of [...tbody.rows]) {
      if (!keep.has(tr.dataset.id)) tr.remove();
    }
    list.forEach((d, i) => {
      const fresh = row(d);
      let tr = [...tbody.rows].find((r) => r.dataset.id === d.id);
      if (!tr) {
        tr = fresh;
      } else {
        [...fresh.cells].forEach((td, j) => {
          const old = tr.cells[j];
          if (!old) tr.append(td);
          else if (old.innerHTML !== td.innerHTML) old.replaceWith(td);
        });
      }
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
    });
    table.hidden = list.length === 0;
    if (empty) empty.hidden = list.length !== 0;
  }

  const es = new EventSource("/devices/live");
  es.addEventListener("update", (ev) => update(JSON.parse(ev.data).devices));
})();
