"""A loopback OpenAI chat-completions server for bench/enrich_bench.sh.

Answers POST /v1/chat/completions after DELAY seconds (default 0.2) with a sentiment JSON object
derived from the prompt, and usage figures; GET /stats gives the request count, GET /reset zeroes it.
asyncio, HTTP/1.1 keep-alive: one thread, so that the fake's own CPU stays small and steady and
the 200 ms wait is a timer, not a sleeping thread.

    python3 fake_openai.py PORT_FILE [DELAY]
"""
import asyncio
import hashlib
import json
import sys
import time

DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
count = 0


def completion(body):
    prompt = "".join(m.get("content", "") for m in body.get("messages", []))
    digest = hashlib.sha256(prompt.encode()).digest()
    score = round((digest[0] - 128) / 128, 2)
    label = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
    content = json.dumps({"label": label, "score": score, "confidence": round(digest[1] / 255, 2)})
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "gpt-4o-mini"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 20, "total_tokens": len(prompt) // 4 + 20},
    })


async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            data = await reader.readexactly(int(headers.get("content-length", "0")))
            status, text = 200, "{}"
            if method == "GET" and path == "/stats":
                text = json.dumps({"requests": count})
            elif method == "GET" and path == "/reset":
                count = 0
            elif method == "POST" and path.endswith("/chat/completions"):
                if not headers.get("authorization", "").startswith("Bearer "):
                    status, text = 401, json.dumps({"error": {"message": "no key"}})
                else:
                    count += 1
                    text = completion(json.loads(data or b"{}"))
                    await asyncio.sleep(DELAY)
            else:
                status = 404
            out = text.encode()
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(out)}\r\n\r\n".encode() + out)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
