"""The Scrapy side of bench/crawl_bench.sh: the same crawl and the same fields as bench/crawl/pipeline.yaml.

    scrapy runspider bench/crawl/shop_spider.py -a start=http://127.0.0.1:PORT/list/page-1.html \
        -a stats=STATS.json -O products.jsonl:jsonlines

Starts at the first listing page, follows pagination (a.next) and product links (a.product), and
yields one item per product page with the fields the parse stage extracts. Settings are Scrapy's
defaults except what the benchmark fixes: 16 concurrent requests (per domain too), robots.txt not
fetched, no download delay, no AutoThrottle, INFO logging. Items go through the default feed export.
"""
import json

import scrapy


def clean(text):
    """Whitespace collapsed and trimmed, as AgentShop's ::text does (NBSP included)."""
    return " ".join(text.split()) if text is not None else None


class ShopSpider(scrapy.Spider):
    name = "shop"
    custom_settings = {
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        "ROBOTSTXT_OBEY": False,
        "DOWNLOAD_DELAY": 0,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
    }

    def __init__(self, start=None, stats=None, **kwargs):
        super().__init__(**kwargs)
        if not start:
            raise ValueError("pass -a start=URL of the first listing page")
        self.start_urls = [start]
        self.stats_path = stats

    def parse(self, response):
        """A listing page: its products, then the next listing page."""
        for href in response.css("a.product::attr(href)").getall():
            yield response.follow(href, callback=self.parse_product)
        for href in response.css("a.next::attr(href)").getall():
            yield response.follow(href, callback=self.parse)

    def parse_product(self, response):
        yield {
            "url": response.url,
            "name": clean(response.css("h1.product-title::text").get()),
            "price": clean(response.css(".price::text").get()),
            "sku": response.css(".sku::text").re_first(r"SKU:\s*(\S+)"),
            "brand": clean(response.css("a.brand::text").get()),
            "rating": clean(response.css(".rating::attr(data-rating)").get()),
            "stock": clean(response.css(".stock::text").get()),
        }

    def closed(self, reason):
        if self.stats_path:
            stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                     for k, v in self.crawler.stats.get_stats().items()}
            with open(self.stats_path, "w") as f:
                json.dump(stats, f, indent=1, sort_keys=True)
