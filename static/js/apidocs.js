// Renders the OpenAPI 3.1 document of CareRoute's API as a reference page.
// Local and dependency-free on purpose: the app serves no resources from outside.
// Every text from the document is set with textContent, never parsed as HTML.
(function () {
  "use strict";

  const root = document.getElementById("apidocs");
  if (!root) return;
  const label = (name) => root.dataset["label" + name[0].toUpperCase() + name.slice(1)] || name;
  const MAX_DEPTH = 6;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // The few inline marks the API description uses: `code` and **bold**.
  function inline(text) {
    const parts = [];
    const pattern = /(`[^`]+`|\*\*[^*]+\*\*)/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      parts.push(text.slice(last, match.index));
      const token = match[0];
      parts.push(token.startsWith("`") ? el("code", {}, token.slice(1, -1)) : el("strong", {}, token.slice(2, -2)));
      last = match.index + token.length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  function paragraphs(text) {
    return (text || "").split(/\n\s*\n/).filter((p) => p.trim()).map((p) => el("p", {}, inline(p.replace(/\s*\n\s*/g, " "))));
  }

  function slug(op) {
    return "op-" + op.operationId;
  }

  function refName(ref) {
    return ref.split("/").pop();
  }

  function resolve(spec, schema) {
    let seen = 0;
    while (schema && schema.$ref && seen++ < 10) schema = spec.components.schemas[refName(schema.$ref)];
    return schema || {};
  }

  // A short type label: "integer", "string (date)", "Gender", "array of PlanItemIn", "X | null".
  function typeLabel(spec, schema) {
    if (!schema) return "any";
    if (schema.$ref) {
      const target = resolve(spec, schema);
      return target.enum ? refName(schema.$ref) + " (" + target.enum.join(" | ") + ")" : refName(schema.$ref);
    }
    if (schema.anyOf) return schema.anyOf.map((s) => typeLabel(spec, s)).join(" | ");
    if (schema.enum) return schema.enum.join(" | ");
    if (schema.type === "array") {
      if (schema.prefixItems) return "[" + schema.prefixItems.map((s) => typeLabel(spec, s)).join(", ") + "]";
      return "array of " + typeLabel(spec, schema.items);
    }
    if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") {
      return "object of " + typeLabel(spec, schema.additionalProperties);
    }
    return schema.format ? schema.type + " (" + schema.format + ")" : schema.type || "any";
  }

  function constraints(schema) {
    const notes = [];
    const flat = schema.anyOf ? schema.anyOf.find((s) => s.type !== "null") || schema : schema;
    const names = {
      minimum: "≥", maximum: "≤", exclusiveMinimum: ">", exclusiveMaximum: "<",
      minLength: "min length", maxLength: "max length", minItems: "min items", maxItems: "max items",
      pattern: "pattern",
    };
    for (const [key, name] of Object.entries(names)) {
      if (flat[key] !== undefined) notes.push(name + " " + flat[key]);
    }
    if (schema.default !== undefined && schema.default !== null) notes.push("default " + JSON.stringify(schema.default));
    return notes.join(", ");
  }

  // The object a schema describes, when it describes one (looking through refs, arrays, nulls).
  function innerObject(spec, schema, depth) {
    if (!schema || depth > MAX_DEPTH) return null;
    if (schema.$ref) return innerObject(spec, resolve(spec, schema), depth + 1);
    if (schema.anyOf) {
      for (const option of schema.anyOf) {
        const found = innerObject(spec, option, depth + 1);
        if (found) return found;
      }
      return null;
    }
    if (schema.type === "array" && schema.items) return innerObject(spec, schema.items, depth + 1);
    if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") {
      return innerObject(spec, schema.additionalProperties, depth + 1);
    }
    return schema.properties ? schema : null;
  }

  function fields(spec, schema, depth) {
    const object = innerObject(spec, schema, 0);
    if (!object || depth > MAX_DEPTH) return null;
    const required = new Set(object.required || []);
    const list = el("div", { class: "schema" });
    for (const [name, prop] of Object.entries(object.properties)) {
      const note = [prop.description, constraints(prop)].filter(Boolean).join(" · ");
      list.append(
        el("div", { class: "schema__field" },
          el("code", {}, name), " ",
          el("span", { class: "schema__type" }, typeLabel(spec, prop)), " ",
          required.has(name) ? el("span", { class: "schema__req" }, label("required")) : null,
          note ? el("span", { class: "schema__note" }, " — " + note) : null),
      );
      const nested = fields(spec, prop, depth + 1);
      if (nested) list.append(nested);
    }
    return list;
  }

  function parametersTable(spec, params) {
    const head = el("tr", {}, ["name", "in", "type", "description"].map((k) => el("th", {}, label(k))));
    const rows = params.map((p) => el("tr", {},
      el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "schema__req" }, " " + label("required")) : null),
      el("td", {}, p.in),
      el("td", {}, typeLabel(spec, p.schema)),
      el("td", {}, [p.description, constraints(p.schema || {})].filter(Boolean).join(" · "))));
    return el("table", {}, el("thead", {}, head), el("tbody", {}, rows));
  }

  function operation(spec, path, method, op) {
    const body = el("div", { class: "op__body" }, paragraphs(op.description.split("\n\nRoles:")[0]));
    body.append(el("p", { class: "op__roles" }, el("strong", {}, label("roles") + ": "), (op["x-roles"] || []).join(", ")));
    if (op.parameters && op.parameters.length) {
      body.append(el("h4", {}, label("parameters")), parametersTable(spec, op.parameters));
    }
    if (op.requestBody) {
      const schema = op.requestBody.content["application/json"].schema;
      body.append(el("h4", {}, label("body") + ": ", el("code", {}, typeLabel(spec, schema))), fields(spec, schema, 0) || "");
    }
    body.append(el("h4", {}, label("responses")));
    for (const [status, response] of Object.entries(op.responses)) {
      const content = response.content && response.content["application/json"];
      body.append(el("p", {}, el("strong", {}, status), " ", response.description, " ",
        content ? el("code", {}, typeLabel(spec, content.schema)) : null));
      if (content && /^2/.test(status)) {
        const list = fields(spec, content.schema, 0);
        if (list) body.append(list);
      }
    }
    return el("details", { class: "op", id: slug(op) },
      el("summary", {},
        el("span", { class: "op__method op__method--" + method }, method.toUpperCase()),
        el("span", { class: "op__path" }, path),
        el("span", { class: "op__summary" }, op.summary)),
      body);
  }

  function render(spec) {
    const byTag = new Map();
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const tag = (op.tags || ["other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push({ path, method, op });
      }
    }
    const toc = el("nav", { class: "apidocs__toc", "aria-label": label("overview") },
      el("a", { href: "#api-overview" }, label("overview")));
    const main = el("div", {},
      el("section", { class: "apidocs__intro", id: "api-overview" },
        el("h2", {}, spec.info.title + " v" + spec.info.version), paragraphs(spec.info.description)));
    for (const [tag, ops] of [...byTag.entries()].sort()) {
      toc.append(el("h3", {}, tag), el("ul", {}, ops.map(({ path, method, op }) =>
        el("li", {}, el("a", { href: "#" + slug(op) }, method.toUpperCase() + " " + path)))));
      main.append(el("h2", { id: "tag-" + tag }, tag), ...ops.map(({ path, method, op }) => operation(spec, path, method, op)));
    }
    root.replaceChildren(toc, main);
    if (location.hash) {
      const target = document.getElementById(location.hash.slice(1));
      if (target && target.tagName === "DETAILS") target.open = true;
    }
  }

  fetch(root.dataset.specUrl, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    })
    .then(render)
    .catch(() => root.replaceChildren(el("p", { class: "flash flash--error" }, label("error"))));
})();
