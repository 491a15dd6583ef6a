// Writes that need a bearer token (approve, rollback, trigger, pin, disable…): asks for the token
// when the tab has none, asks again when the server does not know it (401), and shows the
// API's error message next to the button that was pressed.

import { askToken, forgetToken, getToken } from './token.js';
import { setText } from './dom.js';

/**
 * Runs `call()` (a promise of the API's answer) with a token, asking for one with `reason`.
 * Resolves to `{ ok: answer }`, `{ error: ApiError }` or `{ cancelled: true }`.
 */
export async function withToken(reason, call) {
  if (!getToken() && !(await askToken(reason))) return { cancelled: true };
  for (;;) {
    try {
      return { ok: await call() };
    } catch (e) {
      if (e.status === 401) {
        forgetToken();
        if (await askToken(reason, e.explain())) continue;
        return { error: e };
      }
      return { error: e };
    }
  }
}

/**
 * Wires `button` to an action: disables it while it runs and writes the outcome into
 * `messageEl` (`success(answer)` on success, the API's error otherwise). `then(answer)` runs
 * after a success (e.g. refresh the view).
 */
export function action(button, messageEl, { reason, call, success, then }) {
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    messageEl.classList.remove('ok', 'error');
    setText(messageEl, '');
    try {
      const result = await withToken(reason, call);
      if (result.ok !== undefined) {
        messageEl.classList.add('ok');
        setText(messageEl, success(result.ok));
        if (then) then(result.ok);
      } else if (result.error) {
        messageEl.classList.add('error');
        setText(messageEl, result.error.explain ? result.error.explain() : String(result.error));
      }
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
}
