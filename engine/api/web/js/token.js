// The bearer token of this tab: kept in sessionStorage (gone when the tab closes), asked for in
// the accessible <dialog id="token-dialog"> of index.html, forgotten with "forget token".

const KEY = 'lockgate.token';
const changeListeners = new Set();

export function getToken() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage disabled: the token lives for this request only */
  }
  for (const fn of changeListeners) fn(Boolean(token));
}

export const forgetToken = () => setToken('');

/** Calls `fn(hasToken)` whenever the token is set or forgotten. */
export function onTokenChange(fn) {
  changeListeners.add(fn);
}

let pending = null;

/**
 * Opens the token dialog with `reason` (and an optional error from a previous attempt);
 * resolves to the token entered (stored for the tab), or `null` when cancelled.
 */
export function askToken(reason, error = '') {
  const dialog = document.getElementById('token-dialog');
  const form = dialog.querySelector('form');
  const input = dialog.querySelector('#token-input');
  dialog.querySelector('#token-reason').textContent = reason;
  const errorEl = dialog.querySelector('#token-error');
  errorEl.textContent = error;
  errorEl.hidden = !error;
  input.value = '';
  // A newer question replaces an open one: the dialog stays open (closing it would queue a
  // `close` event that cancels the new question too).
  if (pending) pending(null, true);
  return new Promise((resolve) => {
    const finish = (value, keepOpen = false) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('close', onClose);
      pending = null;
      if (!keepOpen && dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const value = input.value.trim();
      if (!value) {
        errorEl.textContent = 'Enter a token.';
        errorEl.hidden = false;
        input.focus();
        return;
      }
      setToken(value);
      finish(value);
    };
    const onClose = () => finish(null);
    pending = finish;
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('close', onClose);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

/** Wires the dialog's Cancel button (once, at start). */
export function initTokenDialog() {
  const dialog = document.getElementById('token-dialog');
  dialog.querySelector('#token-cancel').addEventListener('click', () => dialog.close());
}
