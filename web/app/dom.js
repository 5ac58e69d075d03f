// Building the page from data without ever parsing it as HTML: every string becomes a text node,
// every handler is a listener. Campaign titles and descriptions are user input.

/** h("a", {href: "#/", class: "x", onClick: fn}, "text", child, [more]) -> an Element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces everything inside `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form field: {label, name, type, value, required, hint, ...input attributes}. */
export function field({label, name, type = "text", hint, options, value, ...attrs}) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const errorId = `${id}-error`;
  let control;
  if (type === "select") {
    control = h("select", {id, name, ...attrs},
      options.map(([optionValue, text]) => h("option", {value: optionValue, selected: optionValue === value}, text)));
  } else if (type === "textarea") {
    control = h("textarea", {id, name, ...attrs});
    control.value = value ?? "";
  } else {
    control = h("input", {id, name, type, ...attrs});
    if (value !== undefined && value !== null) control.value = value;
  }
  control.setAttribute("aria-describedby", hint ? `${errorId} ${id}-hint` : errorId);
  return h("div", {class: "field", dataset: {field: name}},
    h("label", {for: id}, label),
    control,
    hint ? h("small", {class: "hint", id: `${id}-hint`}, hint) : null,
    h("p", {class: "field-error", id: errorId}));
}

/** Shows an ApiError's field messages next to the fields of `form`; clears the old ones. */
export function showFieldErrors(form, fieldErrors = {}) {
  for (const box of form.querySelectorAll(".field")) {
    const message = fieldErrors[box.dataset.field];
    box.classList.toggle("invalid", Boolean(message));
    box.querySelector(".field-error").textContent = message || "";
    const control = box.querySelector("input, select, textarea");
    if (control) control.setAttribute("aria-invalid", message ? "true" : "false");
  }
}

/** An error box for an ApiError (or any Error): the human message and the support reference. */
export function errorBox(error) {
  return h("div", {class: "error-box", role: "alert"},
    h("p", {class: "error-message"}, error.message || "Something went wrong."),
    error.correlationId
      ? h("p", {class: "reference"}, "Reference for support: ", h("code", {class: "correlation-id"}, error.correlationId))
      : null);
}
