"""The official openai client (AsyncOpenAI, 16 requests in flight) over the same records and the
same fake as our enrich stage: one sentiment request per record, JSON answer parsed.

    python openai_client.py BASE_URL RECORDS.jsonl CONCURRENCY
Prints one JSON line: requests, seconds (first request to last answer), cpu_seconds of the loop.
"""
import asyncio
import json
import sys
import time

from openai import AsyncOpenAI

# The enrich stage's sentiment prompts, word for word (Sources/LLM/Tasks.swift).
SYSTEM = "You rate the sentiment of customer text. Answer with one JSON object only, no prose and no code fences."
PROMPT = ("Rate the sentiment of the text below. label is positive, negative or neutral; score runs from -1 "
          "(very negative) to 1 (very positive); confidence from 0 to 1.\n"
          'Return {"label": "...", "score": number, "confidence": number}.\n\nText:\n')


async def main(base, path, concurrency):
    client = AsyncOpenAI(base_url=base, api_key="sk-bench-not-a-key", max_retries=3)
    records = [json.loads(line) for line in open(path)]
    gate = asyncio.Semaphore(concurrency)
    answers = []

    async def one(record):
        async with gate:
            response = await client.chat.completions.create(
                model="gpt-4o-mini", temperature=0, max_tokens=300, response_format={"type": "json_object"},
                messages=[{"role": "system", "content": SYSTEM},
                          {"role": "user", "content": PROMPT + record["text"]}])
            answers.append(json.loads(response.choices[0].message.content))

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(r) for r in records))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    await client.close()
    print(json.dumps({"requests": len(answers), "seconds": seconds, "cpu_seconds": cpu}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
