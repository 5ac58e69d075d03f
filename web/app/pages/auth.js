// #/login and #/register: the token is kept in localStorage; the header shows who is signed in.
import {api, session} from "../api.js";
import {errorBox, field, h, replace, showFieldErrors} from "../dom.js";

export async function loginPage(ctx) {
  authForm(ctx, {
    id: "login-form", title: "Sign in", button: "Sign in",
    fields: [
      field({label: "Email", name: "email", type: "email", autocomplete: "username", required: true}),
      field({label: "Password", name: "password", type: "password", autocomplete: "current-password", required: true}),
    ],
    footer: h("p", {}, "New here? ", h("a", {href: "#/register"}, "Create an account"),
      " · Gave as a guest? ", h("a", {href: "#/find"}, "Find your donations")),
    submit: (body) => api.post("/auth/login", body, {auth: false}),
  });
}

export async function registerPage(ctx) {
  authForm(ctx, {
    id: "register-form", title: "Create an account", button: "Register",
    fields: [
      field({label: "Name", name: "name", autocomplete: "name", required: true}),
      field({label: "Email", name: "email", type: "email", autocomplete: "email", required: true}),
      field({label: "Password", name: "password", type: "password", autocomplete: "new-password", required: true,
             hint: "At least 8 characters."}),
    ],
    footer: h("p", {}, "Already registered? ", h("a", {href: "#/login"}, "Sign in")),
    submit: (body) => api.post("/auth/register", body, {auth: false}),
  });
}

function authForm(ctx, {id, title, button, fields, footer, submit}) {
  const errorSlot = h("div", {class: "form-error", "aria-live": "assertive"});
  const submitButton = h("button", {type: "submit"}, button);
  const form = h("form", {id, class: "card narrow", novalidate: true}, fields, errorSlot,
    h("div", {class: "actions"}, submitButton));
  const next = ctx.query.get("next");
  replace(ctx.main, h("h1", {}, title), form, footer);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submitButton.disabled) return;
    const body = Object.fromEntries(new FormData(form));
    submitButton.disabled = true;
    replace(errorSlot);
    showFieldErrors(form, {});
    try {
      const answer = await submit(body);
      session.signIn(answer.token, answer.user);
      ctx.notify(`Signed in as ${answer.user.name || answer.user.email}.`);
      const target = next && next.startsWith("/") ? `#${next}` : answer.user.role === "ADMIN" ? "#/admin" : "#/";
      ctx.navigate(target);
    } catch (error) {
      if (!ctx.alive) return;
      showFieldErrors(form, error.fieldErrors);
      replace(errorSlot, errorBox(error));
    } finally {
      submitButton.disabled = false;
    }
  });
}
