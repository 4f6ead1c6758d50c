// Two-factor sign-in in the browser: the code field of the sign-in form, and the enrolment
// a user whose role requires it goes through at their first sign-in (QR code drawn by the
// server as SVG, secret for typing by hand, first code, then the recovery codes once).

import { api } from "./api.js";
import { el } from "./dom.js";

const $ = (id) => document.getElementById(id);

/** Show the code field of the sign-in form (the server asked for the second factor). */
export function askForCode() {
  $("login-code-field").hidden = false;
  $("login-code").required = true;
  $("login-code").focus();
}

/** The code typed in the sign-in form, or undefined while the field is hidden. */
export function typedCode() {
  return $("login-code-field").hidden ? undefined : $("login-code").value.trim();
}

/** Enrol the signed-in user; resolves when they have seen their recovery codes and go on. */
export async function enrol() {
  $("login").hidden = true;
  $("boot").hidden = true;
  $("enrol").hidden = false;
  const enrolment = await api("/api/auth/two-factor/enrolment", { method: "POST" });
  $("enrol-qr").src = enrolment.qr_svg;
  $("enrol-secret").textContent = enrolment.secret;
  $("enrol-code").focus();
  const codes = await new Promise((resolve) => {
    $("enrol-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("enrol-error").textContent = "";
      try {
        const answer = await api("/api/auth/two-factor/confirm", { method: "POST", body: { code: $("enrol-code").value.trim() } });
        resolve(answer.recovery_codes);
      } catch (failure) {
        $("enrol-error").textContent = failure.message;
      }
    });
  });
  $("enrol-form").hidden = true;
  $("enrol-secret").textContent = "";
  $("enrol-codes").replaceChildren(...codes.map((code) => el("li", { text: code })));
  $("enrol-done").hidden = false;
  await new Promise((resolve) => $("enrol-continue").addEventListener("click", resolve, { once: true }));
  $("enrol-codes").replaceChildren();
  $("enrol").hidden = true;
}
