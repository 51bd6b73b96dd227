#!/usr/bin/python3
"""The crawler of "A Web Crawler With asyncio Coroutines" (A. Jesse Jiryu Davis and Guido
van Rossum, 500 Lines or Less), on aiohttp: a queue of URLs, N worker tasks, a set of the
URLs seen, redirects followed by the crawler itself (allow_redirects=False), links found
with a regular expression in text/html pages, and the crawl done when the queue is joined.
Kept as the chapter wrote it, with today's aiohttp; corio-crawl is compared against it in
docs/crawler.md (bench/crawl_docs runs both on the same site).

    crawl.py ROOT [--workers N] [--max-redirect N] [--output FILE]

Prints "<pages> pages, <requests> requests, <errors> errors, <seconds> s" at the end;
--output writes one line per URL done ("<status> <url>"), for comparing what was crawled.
"""

import argparse
import asyncio
import re
import sys
import time
import urllib.parse

import aiohttp


def lenient_host(host):
    parts = host.split(".")[-2:]
    return "".join(parts)


def is_redirect(response):
    return response.status in (300, 301, 302, 303, 307, 308)


class Crawler:
    def __init__(self, roots, max_redirect=10, max_tries=4, max_tasks=10):
        self.roots = roots
        self.max_redirect = max_redirect
        self.max_tries = max_tries
        self.max_tasks = max_tasks
        self.q = asyncio.Queue()
        self.seen_urls = set()
        self.done = []
        self.root_domains = set()
        for root in roots:
            parts = urllib.parse.urlparse(root)
            host, _, port = parts.netloc.partition(":")
            self.root_domains.add(parts.netloc)
        for root in roots:
            self.add_url(root)
        self.t0 = time.time()
        self.t1 = None

    async def run(self):
        connector = aiohttp.TCPConnector(limit=self.max_tasks)
        async with aiohttp.ClientSession(connector=connector) as session:
            self.session = session
            workers = [asyncio.create_task(self.work()) for _ in range(self.max_tasks)]
            self.t0 = time.time()
            await self.q.join()
            self.t1 = time.time()
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def host_okay(self, host):
        return host.lower() in self.root_domains

    async def parse_links(self, response):
        links = set()
        content_type = None
        if response.status == 200:
            content_type = response.headers.get("content-type")
            if content_type and content_type.startswith("text/html"):
                # The page's charset, else UTF-8: aiohttp's own guess (charset-normalizer,
                # for a page whose Content-Type names none, as nginx sends HTML) made the
                # crawl some 40 times slower, which would measure the guessing.
                text = await response.text(encoding=response.charset or "utf-8",
                                           errors="replace")
                urls = set(re.findall(r"""(?i)href=["']([^\s"'<>]+)""", text))
                for url in urls:
                    normalized = urllib.parse.urljoin(str(response.url), url)
                    defragmented, frag = urllib.parse.urldefrag(normalized)
                    if self.url_allowed(defragmented):
                        links.add(defragmented)
            else:
                await response.read()
        return links

    async def fetch(self, url, max_redirect):
        tries = 0
        exception = None
        while tries < self.max_tries:
            try:
                response = await self.session.get(url, allow_redirects=False)
                break
            except aiohttp.ClientError as client_error:
                exception = client_error
            tries += 1
        else:
            self.done.append((url, 0, str(exception)))
            return
        try:
            if is_redirect(response):
                location = response.headers["location"]
                next_url = urllib.parse.urljoin(url, location)
                self.done.append((url, response.status, ""))
                await response.read()
                if next_url in self.seen_urls:
                    return
                if max_redirect > 0:
                    self.add_url(next_url, max_redirect - 1)
            else:
                links = await self.parse_links(response)
                self.done.append((url, response.status, ""))
                for link in links.difference(self.seen_urls):
                    self.q.put_nowait((link, self.max_redirect))
                self.seen_urls.update(links)
        finally:
            response.release()

    async def work(self):
        try:
            while True:
                url, max_redirect = await self.q.get()
                assert url in self.seen_urls
                await self.fetch(url, max_redirect)
                self.q.task_done()
        except asyncio.CancelledError:
            pass

    def url_allowed(self, url):
        parts = urllib.parse.urlparse(url)
        if parts.scheme not in ("http", "https"):
            return False
        return self.host_okay(parts.netloc)

    def add_url(self, url, max_redirect=None):
        if max_redirect is None:
            max_redirect = self.max_redirect
        self.seen_urls.add(url)
        self.q.put_nowait((url, max_redirect))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--max-redirect", type=int, default=10)
    parser.add_argument("--output")
    args = parser.parse_args()
    crawler = Crawler([args.root], max_redirect=args.max_redirect, max_tasks=args.workers)
    asyncio.run(crawler.run())
    pages = sum(1 for _, status, _ in crawler.done if status == 200)
    errors = sum(1 for _, status, _ in crawler.done if status == 0 or status >= 400)
    print(f"{pages} pages, {len(crawler.done)} requests, {errors} errors, "
          f"{crawler.t1 - crawler.t0:.3f} s")
    if args.output:
        with open(args.output, "w") as out:
            for url, status, _ in crawler.done:
                out.write(f"{status} {url}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
