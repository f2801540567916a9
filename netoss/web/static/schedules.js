// Schedules page: enable/disable, change the cron expression, delete (the API checks everything).
(function () {
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  async function call(method, id, body) {
    const resp = await fetch(`/api/v1/schedules/${id}`, {
      method,
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!resp.ok) { alert((await resp.json()).error); return; }
    window.location.reload();
  }
  for (const row of document.querySelectorAll("#schedules tr[data-id]")) {
    const id = row.dataset.id;
    const toggle = row.querySelector(".toggle");
    if (toggle) toggle.addEventListener("click", () => call("PATCH", id, { enabled: toggle.dataset.enabled !== "true" }));
    const save = row.querySelector(".save");
    if (save) save.addEventListener("click", () => call("PATCH", id, { cron: row.querySelector(".cron").value }));
    const del = row.querySelector(".delete");
    if (del) del.addEventListener("click", () => { if (confirm("Delete this schedule?")) call("DELETE", id); });
  }
})();
