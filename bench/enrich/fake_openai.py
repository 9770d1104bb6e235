"""A loopback OpenAI chat-completions server for bench/enrich_bench.sh.

Answers POST /v1/chat/completions after DELAY seconds (default 0.2) with a sentiment JSON object
derived from the prompt, and usage figures; GET /stats gives the request count, GET /reset zeroes it.
HTTP/1.1 keep-alive, one thread per connection, a listen backlog of 256.

    python3 fake_openai.py PORT_FILE [DELAY]
"""
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        global count
        if self.path == "/stats":
            with lock:
                self.reply(200, json.dumps({"requests": count}))
        elif self.path == "/reset":
            with lock:
                count = 0
            self.reply(200, "{}")
        else:
            self.reply(404, "{}")

    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions") or not self.headers.get("Authorization", "").startswith("Bearer "):
            self.reply(401, json.dumps({"error": {"message": "no key"}}))
            return
        with lock:
            count += 1
        prompt = "".join(m.get("content", "") for m in body.get("messages", []))
        digest = hashlib.sha256(prompt.encode()).digest()
        score = round((digest[0] - 128) / 128, 2)
        label = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
        content = json.dumps({"label": label, "score": score, "confidence": round(digest[1] / 255, 2)})
        time.sleep(DELAY)
        self.reply(200, json.dumps({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 20, "total_tokens": len(prompt) // 4 + 20},
        }))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()
