// The order form: an interface select reloads the free interfaces of its device once the
// device is chosen (/api/v1/service-catalog/<service>/choices/<characteristic>), and choosing
// the service to modify reloads the page with its current values.
(() => {
  const form = document.getElementById("order");
  if (!form) return;
  const service = form.dataset.service;
  async function reload(select, device) {
    const params = new URLSearchParams({ [device.name]: device.value });
    const url = `/api/v1/service-catalog/${encodeURIComponent(service)}/choices/${encodeURIComponent(select.name)}?${params}`;
    const resp = await fetch(url);
    if (!resp.ok) return;
    const values = await resp.json();
    const first = document.createElement("option");
    first.value = "";
    first.textContent = values.length ? "(choose)" : `(no free interface on ${device.value})`;
    select.replaceChildren(first, ...values.map((v) => {
      const o = document.createElement("option");
      o.value = o.textContent = v;
      return o;
    }));
  }
  for (const select of form.querySelectorAll("select[data-device]")) {
    const device = form.elements[select.dataset.device];
    if (device) device.addEventListener("change", () => { if (device.value) reload(select, device); });
  }
  const existing = form.querySelector("select[data-reload]");
  if (existing) {
    existing.addEventListener("change", () => {
      const params = new URLSearchParams({ service, action: form.elements.action.value, [existing.name]: existing.value });
      window.location.search = params.toString();
    });
  }
})();
