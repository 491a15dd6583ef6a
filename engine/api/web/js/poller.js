// Live updates without a reload: one timer calls every registered task about every 2 s, one
// tick at a time; it pauses while the tab is hidden and catches up at once when it shows again.

const tasks = new Set();
const stateListeners = new Set();
let timer = null;
let running = false;
let interval = 2000;
let lastOk = 0;
let lastError = null;
let paused = false;

/** Registers `fn` (async, called on every tick); returns a function that unregisters it. */
export function every(fn) {
  tasks.add(fn);
  return () => tasks.delete(fn);
}

/** Calls `fn({ lastOk, lastError, paused })` after every tick and on pause/resume. */
export function onPollState(fn) {
  stateListeners.add(fn);
}

function notify() {
  for (const fn of stateListeners) fn({ lastOk, lastError, paused });
}

/** Runs one tick now (tasks in parallel), then schedules the next. */
export async function tick() {
  if (running) return;
  running = true;
  clearTimeout(timer);
  try {
    const results = await Promise.allSettled([...tasks].map((fn) => fn()));
    const failed = results.find((r) => r.status === 'rejected');
    lastError = failed ? failed.reason : null;
    if (!failed) lastOk = Date.now();
  } finally {
    running = false;
    notify();
    schedule();
  }
}

function schedule() {
  clearTimeout(timer);
  if (!paused && !document.hidden) timer = setTimeout(tick, interval);
}

/** Starts polling every `ms`. */
export function startPolling(ms = 2000) {
  interval = ms;
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearTimeout(timer);
      notify();
    } else if (!paused) {
      tick();
    }
  });
  tick();
}

/** Stops (`true`) or resumes (`false`) polling, e.g. while the page waits for a token. */
export function setPaused(value) {
  paused = value;
  if (paused) clearTimeout(timer);
  else tick();
  notify();
}
