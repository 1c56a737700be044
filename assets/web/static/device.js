// Keeps a device page's live part (state, charts of the last hour,
// connections, traffic) fresh over server-sent events: the server sends it
// rendered, every 10 s while something changed. Plain browser JavaScript.
(function () {
  const box = document.getElementById("device-live");
  if (!box || !window.EventSource) return;
  const es = new EventSource("/devices/" + encodeURIComponent(box.dataset.device) + "/live");
  es.addEventListener("update", (ev) => {
    const v = JSON.parse(ev.data);
    if (v.gone) {
      es.close();
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = "This device has been removed.";
      box.replaceChildren(p);
      return;
    }
    box.innerHTML = v.html; // rendered and escaped by the server's templates
  });
})();
