"""A Standard Webhooks receiver for the host's black-box tests.

Every POST is verified with the `standardwebhooks` package (Svix's reference
implementation), then handed to the handler at most once per `webhook-id`
(deduplication, as the spec asks receivers to do). Behaviour is chosen on the
command line so a test can make deliveries fail:

  --fail-first N   answer 500 to the first N verified attempts
  --lose-ack-once  after the first successful handling, answer 500 once more
                   (as if the acknowledgement were lost): the host must retry and
                   the retry must be recognised as a duplicate
  --gone           answer 410 Gone to every verified attempt

It prints `listening <port>` on stdout, then serves until killed. `GET /log`
returns every attempt and every handled message as JSON.
"""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secret", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--lose-ack-once", action="store_true")
    ap.add_argument("--gone", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    webhook = Webhook(args.secret)
    lock = threading.Lock()
    state = {"attempts": [], "handled": [], "seen": set(), "verified": 0, "ack_lost": False}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def reply(self, status, body=b""):
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with lock:
                body = json.dumps({"attempts": state["attempts"], "handled": state["handled"]}).encode()
            self.reply(200, body)

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length)
            headers = {k: v for k, v in self.headers.items()}
            attempt = {"id": headers.get("webhook-id"), "timestamp": headers.get("webhook-timestamp")}
            try:
                payload = webhook.verify(raw, headers)
            except WebhookVerificationError as e:
                attempt.update(verified=False, error=str(e), status=400)
                with lock:
                    state["attempts"].append(attempt)
                return self.reply(400)
            attempt["verified"] = True
            with lock:
                state["verified"] += 1
                if args.gone:
                    status = 410
                elif state["verified"] <= args.fail_first:
                    status = 500
                else:
                    msg_id = attempt["id"]
                    if msg_id in state["seen"]:
                        attempt["duplicate"] = True
                    else:
                        state["seen"].add(msg_id)
                        state["handled"].append({"id": msg_id, "payload": payload})
                    status = 200
                    if args.lose_ack_once and not state["ack_lost"]:
                        state["ack_lost"] = True
                        status = 500
                attempt["status"] = status
                state["attempts"].append(attempt)
            self.reply(status)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
