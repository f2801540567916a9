// Dependent choices: when a parameter changes, reload the choices of those whose NetBox
// filter names it ("{site}"), from /api/v1/job-templates/<template>/choices/<param>.
(function () {
  const form = document.getElementById("launch");
  const template = form.dataset.template;
  const selects = [...form.querySelectorAll("select[data-depends]")].filter((s) => s.dataset.depends.trim());
  async function reload(select) {
    const params = new URLSearchParams();
    for (const ref of select.dataset.depends.match(/\{(\w+)\}/g) || []) {
      const name = ref.slice(1, -1);
      const field = form.elements[name];
      if (field && field.value) params.set(name, field.value);
    }
    const resp = await fetch(`/api/v1/job-templates/${template}/choices/${select.name}?${params}`);
    if (!resp.ok) return;
    const values = await resp.json();
    const chosen = new Set([...select.selectedOptions].map((o) => o.value));
    select.replaceChildren(...values.map((v) => {
      const o = document.createElement("option");
      o.value = o.textContent = v;
      o.selected = chosen.has(String(v));
      return o;
    }));
  }
  for (const select of selects) {
    for (const ref of select.dataset.depends.match(/\{(\w+)\}/g) || []) {
      const field = form.elements[ref.slice(1, -1)];
      if (field) field.addEventListener("change", () => reload(select));
    }
  }
})();
