// Following a build's log: Server-Sent Events from /builds/{id}/logs/stream (events `log`, `end`,
// `shutdown`), or — when reads need a token, which EventSource cannot send — polling
// /builds/{id}/logs?after=SEQ. Lines are handed over in batches, at most once per frame.

import { API, access, get } from './api.js';

/**
 * Follows the log of build `id`: `onLines(lines)` with new lines (oldest first), `onEnd(info)`
 * once (`{status}` at the end of the build, `{shutdown: true}` when the server stops).
 * Returns a function that stops following.
 */
export function followLogs(id, { onLines, onEnd }) {
  let stopped = false;
  let queue = [];
  let frame = 0;
  let lastSeq = 0;
  const flush = () => {
    frame = 0;
    if (stopped || !queue.length) return;
    const lines = queue;
    queue = [];
    onLines(lines);
  };
  const push = (line) => {
    if (line.seq <= lastSeq) return;
    lastSeq = line.seq;
    queue.push(line);
    if (!frame) frame = requestAnimationFrame(flush);
  };
  const end = (info) => {
    flush();
    if (!stopped) onEnd(info);
    stop();
  };

  let source = null;
  let timer = 0;
  const poll = async () => {
    if (stopped) return;
    try {
      for (;;) {
        const page = await get(`/builds/${id}/logs?after=${lastSeq}&limit=500`);
        page.lines.forEach(push);
        if (!page.more) {
          if (page.finished) return end({ status: page.status });
          break;
        }
      }
    } catch {
      /* retried below */
    }
    if (!stopped) timer = setTimeout(poll, 1000);
  };

  if (access.readsNeedToken || typeof EventSource === 'undefined') {
    poll();
  } else {
    source = new EventSource(`${API}/builds/${id}/logs/stream`);
    source.addEventListener('log', (e) => push(JSON.parse(e.data)));
    source.addEventListener('end', (e) => end(JSON.parse(e.data)));
    source.addEventListener('shutdown', () => end({ shutdown: true }));
    source.addEventListener('error', () => {
      // Closed for good (e.g. 401 when reads need a token): fall back to polling.
      if (source && source.readyState === EventSource.CLOSED && !stopped) {
        source = null;
        poll();
      }
    });
  }

  function stop() {
    stopped = true;
    if (source) source.close();
    source = null;
    clearTimeout(timer);
    if (frame) cancelAnimationFrame(frame);
  }
  return stop;
}
