"""Local stand-ins for Firecrawl's v1 API, Jina Reader and a website with a sitemap, answering with
the documented response shapes (and their errors and rate limits)."""

import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.http_servers import read_json, send_json

GOOD_KEY = "fc-good-key"
SLICE = 10


def page_markdown(url: str) -> str:
    number = url.rstrip("/").rsplit("-", 1)[-1]
    return f"# Page {number}\n\nThe axolotl fact number {number} is about limb regeneration {number}."


class FirecrawlState:
    """One crawl job: `pages` are read, `failed` are reported by /errors; the first status call is
    still scraping (and answered 429 once) so that progress and Retry-After are exercised."""

    def __init__(self, site: str, pages: int, failed: int):
        self.urls = [f"{site}/page-{n}" for n in range(1, pages + 1)]
        self.failed = self.urls[pages - failed :]
        self.content = {url: page_markdown(url) for url in self.urls}
        self.status_calls = 0
        self.rate_limited_once = False
        self.crawl_bodies: list[dict] = []
        self.lock = threading.Lock()

    def data(self, finished: bool) -> list[dict]:
        readable = [url for url in self.urls if url not in self.failed]
        shown = readable if finished else readable[: len(readable) // 2]
        return [{"markdown": self.content[url], "metadata": {"title": f"Title of {url.rsplit('/', 1)[-1]}",
                 "description": "", "sourceURL": url, "statusCode": 200}} for url in shown]  # fmt: skip


def firecrawl_handler(state: FirecrawlState, key: str = GOOD_KEY) -> type[BaseHTTPRequestHandler]:
    class Firecrawl(BaseHTTPRequestHandler):
        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {key}":
                return True
            send_json(self, 401, {"success": False, "error": "Unauthorized: Invalid token"})
            return False

        def do_POST(self):  # noqa: N802 - the http.server API
            body = read_json(self)
            if not self._authorized():
                return
            if self.path == "/v1/crawl":
                state.crawl_bodies.append(body)
                send_json(self, 200, {"success": True, "id": "job-1", "url": "http://x/v1/crawl/job-1"})
            elif self.path == "/v1/scrape":
                url = body["url"]
                item = {
                    "markdown": state.content[url],
                    "metadata": {"title": f"Title of {url}", "sourceURL": url},
                }
                send_json(self, 200, {"success": True, "data": item})

        def do_GET(self):  # noqa: N802
            if not self._authorized():
                return
            parts = urlsplit(self.path)
            if parts.path.endswith("/errors"):
                errors = [{"id": str(i), "timestamp": "2026-11-21T00:00:00Z", "url": url,
                           "error": "Timeout after 30s"} for i, url in enumerate(state.failed)]  # fmt: skip
                send_json(self, 200, {"errors": errors, "robotsBlocked": []})
                return
            skip = int(parse_qs(parts.query).get("skip", ["0"])[0])
            with state.lock:
                if not state.rate_limited_once:
                    state.rate_limited_once = True
                    send_json(
                        self, 429, {"success": False, "error": "Rate limit exceeded"}, {"Retry-After": "0"}
                    )
                    return
                state.status_calls += skip == 0  # the `next` slices belong to the same status call
                finished = state.status_calls > 1
            data = state.data(finished)
            answer = {"status": "completed" if finished else "scraping", "total": len(state.urls),
                      "completed": len(data), "creditsUsed": len(data), "expiresAt": "2026-11-22T00:00:00Z",
                      "data": data[skip : skip + SLICE]}  # fmt: skip
            if skip + SLICE < len(data):
                host = self.headers["Host"]
                answer["next"] = f"http://{host}/v1/crawl/job-1?skip={skip + SLICE}"
            send_json(self, 200, answer)

        def log_message(self, *_args):
            pass

    return Firecrawl


def jina_handler(key: str, broken: set[str], delay: float = 0.0) -> type[BaseHTTPRequestHandler]:
    class JinaReader(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.headers.get("Authorization") != f"Bearer {key}":
                send_json(self, 401, {"code": 401, "name": "AuthenticationRequiredError",
                                      "message": "Invalid API key"})  # fmt: skip
                return
            url = self.path[1:]
            time.sleep(delay)
            if url in broken:
                message = f"Failed to goto {url}: net::ERR_NAME_NOT_RESOLVED"
                send_json(self, 422, {"code": 422, "name": "AssertionFailureError", "message": message})
                return
            data = {"title": f"Title of {url.rsplit('/', 1)[-1]}", "description": "", "url": url,
                    "content": page_markdown(url), "usage": {"tokens": 42}}  # fmt: skip
            send_json(self, 200, {"code": 200, "status": 20000, "data": data})

        def log_message(self, *_args):
            pass

    return JinaReader


def sitemap_site_handler(pages: int) -> type[BaseHTTPRequestHandler]:
    """A site whose /sitemap.xml is an index of two sitemaps listing `pages` pages between them."""

    class Site(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            base = f"http://{self.headers['Host']}"
            namespace = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            if self.path == "/sitemap.xml":
                body = (f'<?xml version="1.0"?><sitemapindex {namespace}>'
                        f"<sitemap><loc>{base}/sitemap-1.xml</loc></sitemap>"
                        f"<sitemap><loc>{base}/sitemap-2.xml</loc></sitemap></sitemapindex>")  # fmt: skip
            elif self.path in ("/sitemap-1.xml", "/sitemap-2.xml"):
                half = (
                    range(1, pages // 2 + 1)
                    if self.path == "/sitemap-1.xml"
                    else range(pages // 2 + 1, pages + 1)
                )
                urls = "".join(f"<url><loc>{base}/page-{n}</loc></url>" for n in half)
                body = f'<?xml version="1.0"?><urlset {namespace}>{urls}</urlset>'
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args):
            pass

    return Site
