// Follows a Hermes event stream with the `eventsource` npm package, authenticating
// with a custom fetch (Authorization header). Relies on the package's own reconnect
// (with Last-Event-ID) when the connection drops. Prints one JSON line per event and
// a final {"done":true,...} line; exits once it sees run_status=completed for RUN_ID.
//
//   node node-client.mjs <events-url> <api-key> <run-id> [timeout-ms]
import { EventSource } from 'eventsource';

const [url, key, runId, timeoutMs = '60000'] = process.argv.slice(2);
const TYPES = ['token', 'tool_call', 'tool_result', 'steering_request', 'run_status', 'filesystem', 'message',
  'memory', 'skill', 'automation', 'dream', 'usage', 'deployment_status'];
let opens = 0;
let errors = 0;
const es = new EventSource(url, {
  fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${key}` } }),
});
es.onopen = () => { opens += 1; };
es.onerror = () => { errors += 1; };
const finish = (ok) => {
  es.close();
  console.log(JSON.stringify({ done: ok, opens, errors }));
  process.exit(ok ? 0 : 2);
};
for (const type of TYPES) {
  es.addEventListener(type, (ev) => {
    const data = JSON.parse(ev.data);
    console.log(JSON.stringify({ id: ev.lastEventId, event: type, sequence: data.sequence }));
    if (type === 'run_status' && data.run_id === runId && data.status === 'completed') finish(true);
  });
}
setTimeout(() => finish(false), Number(timeoutMs));
