#!/usr/bin/env python3
"""Generate a deterministic fixture shop: product pages plus the truth of every field.

Used by the parse stage's end-to-end test (a small site checked into Tests/StagesTests/Fixtures)
and by bench/parse_bench.sh (thousands of pages, padded to ~30 KB each).

The pages vary the way real shops do: five currencies printed five ways, day-first and
month-first dates, UTF-8 and Windows-1252 (declared by <meta charset> or http-equiv), JSON-LD
as an object, an array, an @graph, with offers as a list, plus a malformed JSON-LD block;
<base href> or not; unclosed <li>/<p>, stray end tags and a huge attribute on some pages.
Each product page also carries what a marketplace store needs: a canonical URL (its slug is the
file name), a breadcrumb Home > parent > category where the category has a parent, the vendor
(a.brand), a description, a gallery of images, and its reviews with an id, stars, text and date.

    scripts/make_fixture_site.py OUT_DIR [--count N] [--pad BYTES] [--seed S]

    scripts/make_fixture_site.py OUT_DIR [--per-page N] [--base-url URL]

The demo shop in datalake/raw_data/imports/demo is `--count 16 --per-page 6`.

writes OUT_DIR/site/products/pNNNN.html, OUT_DIR/truth.jsonl (one product per line, in page
order; with slug, parent_category, description, images and price_cents besides the parsed fields),
OUT_DIR/reviews_truth.jsonl (one review per line: url of its product, review_id, author, stars, body,
date) and OUT_DIR/headers.jsonl (the Content-Type an HTTP server would send for each page, some
carrying the charset).

For crawling it also writes, around the product pages (which do not change):
  site/index.html              links the first listing page (a.next)
  site/list/page-N.html        --per-page products each: a.product and a.reviews links, a.prev / a.next
  site/reviews/pNNNN.html      each product's reviews (the .review blocks of its page), a.product-link back
  site/robots.txt              User-agent: *, Disallow: /cart/, a Sitemap: line
  site/sitemap.xml             a sitemap index of sitemaps/list.xml and sitemaps/products.xml.gz
  OUT_DIR/crawl_truth.txt      every page a crawl from index.html with follow "a.next, a.product, a.reviews"
                               reaches, as a site-relative path, in breadth-first discovery order
Links between pages are relative (../products/p0001.html), so the site crawls the same over file://
and over any HTTP server rooted at site/; the sitemaps and robots.txt carry absolute URLs under
--base-url (default https://shop.example). Everything is deterministic: same options, same bytes.
"""
import argparse
import gzip
import html
import json
import os
import random

HOST = "https://shop.example"
ADJECTIVES = ["Deluxe", "Compact", "Café", "Crème", "Über", "Smart", "Rustic", "Nordic", "Classic", "Pro",
              "Señor", "Fiancée", "Jalapeño", "Naïve", "Ultra", "Eco"]
NOUNS = ["Kettle", "Toaster", "Lamp", "Backpack", "Headphones", "Blender", "Chair", "Mug", "Notebook", "Jacket",
         "Grinder", "Speaker"]
BRANDS = ["Acme", "Müller & Söhne", "Globex", "Initech", "O'Reilly Goods", "Umbrella", "Straße Works", "Zoë Home"]
CATEGORIES = ["Kitchen", "Home & Garden", "Audio", "Outdoor", "Office", "Fashion"]
# The breadcrumb's level above a category, where the shop has one (Home > Home & Garden > Kitchen).
PARENTS = {"Kitchen": "Home & Garden", "Audio": "Electronics", "Outdoor": "Sports & Outdoors", "Fashion": "Clothing"}
AUTHORS = ["Ana", "Björn", "Chloé", "Dmitri", "Eve", "François", "Grace", "Hiro"]
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua").split()
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"]


def group(n, sep):
    s = str(n)
    out = []
    while len(s) > 3:
        out.insert(0, s[-3:])
        s = s[:-3]
    out.insert(0, s)
    return sep.join(out)


def price_text(cents, currency):
    whole, frac = divmod(cents, 100)
    if currency == "USD":
        return f"${group(whole, ',')}.{frac:02d}"
    if currency == "EUR":
        return f"{group(whole, '.')},{frac:02d}\u00a0€"
    if currency == "GBP":
        return f"£{group(whole, ',')}.{frac:02d}"
    if currency == "JPY":
        return f"¥{group(whole, ',')}"
    return f"CHF {group(whole, chr(39))}.{frac:02d}"


def date_text(y, m, d, currency):
    if currency == "USD":
        return f"{MONTHS[m - 1]} {d}, {y}"
    if currency == "EUR":
        return f"{d:02d}.{m:02d}.{y}"
    if currency == "GBP":
        return f"{d} {MONTHS[m - 1]} {y}"
    if currency == "JPY":
        return f"{y}/{m:02d}/{d:02d}"
    return f"{y}-{m:02d}-{d:02d}"


def filler(rng, size):
    parts = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
        p = f"<p>{sentence} <a href=\"/info/{rng.randint(1, 999)}\">more</a></p>\n"
        parts.append(p)
        total += len(p)
    return "".join(parts)


def slugify(text):
    return "-".join(w for w in "".join(c.lower() if c.isascii() and c.isalnum() else " " for c in text).split())


def make_page(i, rng, pad):
    currency = CURRENCIES[i % 5]
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {i}"
    if i % 7 == 3:
        name += ' "Limited" <Edition>'
    brand = rng.choice(BRANDS)
    category = rng.choice(CATEGORIES)
    sku = f"SKU-{i:05d}-{rng.randint(100, 999)}"
    cents = rng.randint(199, 250000) if currency != "JPY" else rng.randint(100, 400000) * 100
    amount = cents / 100
    rating = round(rng.uniform(1, 5), 1)
    review_count = rng.randint(0, 2500)
    in_stock = rng.random() < 0.7
    y, m, d = rng.randint(2015, 2026), rng.randint(1, 12), rng.randint(1, 28)
    tags = rng.sample(["new", "sale", "gift", "eco", "bestseller", "bundle"], rng.randint(0, 3))
    windows1252 = i % 4 in (1, 3)
    base = i % 2 == 0
    broken = i % 3 == 2
    url = f"{HOST}/products/p{i:04d}.html"
    if base:
        image_ref, image = f"img/p{i:04d}.jpg", f"{HOST}/catalog/img/p{i:04d}.jpg"
    else:
        image_ref, image = f"../img/p{i:04d}.jpg", f"{HOST}/img/p{i:04d}.jpg"
    reviews = []
    for r in range(rng.randint(0, 3)):
        ry, rm, rd = rng.randint(2020, 2026), rng.randint(1, 12), rng.randint(1, 28)
        reviews.append({"review_id": f"p{i:04d}-r{r + 1}", "author": rng.choice(AUTHORS), "stars": rng.randint(1, 5),
                        "body": " ".join(rng.choice(WORDS) for _ in range(8)),
                        "date": f"{ry}-{rm:02d}-{rd:02d}"})
        # A verdict that follows the stars (no draw: the rest of the page stays as it was).
        stars = reviews[-1]["stars"]
        reviews[-1]["body"] += (" — excellent, love it" if stars >= 4 else " — broke quickly, disappointed" if stars <= 2
                                else " — ok")

    availability = "https://schema.org/InStock" if in_stock else "https://schema.org/OutOfStock"
    offer = {"@type": "Offer", "price": f"{amount:.2f}" if currency != "JPY" else str(int(amount)),
             "priceCurrency": currency, "availability": availability}
    product = {"@context": "https://schema.org", "@type": "Product", "name": name, "sku": sku,
               "brand": {"@type": "Brand", "name": brand},
               "offers": offer,
               "aggregateRating": {"@type": "AggregateRating",
                                   "ratingValue": str(rating) if i % 2 else rating,
                                   "reviewCount": review_count}}
    variant = i % 5
    blocks = []
    if variant == 0:
        product.pop("@context")
        blocks.append({"@context": "https://schema.org",
                       "@graph": [{"@type": "WebSite", "name": "Fixture Shop"}, product]})
    elif variant == 1:
        blocks.append([{"@context": "https://schema.org", "@type": "Organization", "name": "Fixture Shop"}, product])
    elif variant == 2:
        blocks.append(product)
    elif variant == 3:
        product["offers"] = [offer]
        blocks.append(product)
    else:
        product["@type"] = "http://schema.org/Product"
        product["offers"]["@type"] = "http://schema.org/Offer"
        product["aggregateRating"]["@type"] = "http://schema.org/AggregateRating"
        blocks.append(product)
    jsonld = "".join(
        f'<script type="application/ld+json">{json.dumps(b, ensure_ascii=(i % 2 == 0))}</script>\n' for b in blocks)
    if variant == 2:
        jsonld += '<script type="application/ld+json">{"@type": "BreadcrumbList", "itemListElement": [ </script>\n'

    if windows1252:
        head_charset = ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
                        if i % 4 == 1 else '<meta charset="ISO-8859-1">')
    else:
        head_charset = '<meta charset="utf-8">'
    esc = html.escape
    li_end = "" if broken else "</li>"
    p_end = "" if broken else "</p>"
    stray = "</div></span>" if broken else ""
    huge = f' data-blob="{"x" * 20000}"' if broken and pad == 0 else ""
    tags_html = "".join(f'<a href="/tags/{t}">{t}</a> ' for t in tags)
    reviews_html = "".join(
        f'<div class="review" data-review-id="{r["review_id"]}"><span class="author">{esc(r["author"])}</span>'
        f'<span class="stars">{r["stars"]} stars</span><p class="body">{esc(r["body"])}{p_end}'
        f'<time datetime="{r["date"]}">{r["date"]}</time></div>\n' for r in reviews)
    nav = "".join(f'<li><a href="/c/{c.lower().replace(" ", "-")}">{esc(c)}</a>{li_end}' for c in CATEGORIES)
    stock_text = "In stock" if in_stock else "Out of stock"
    description = None if pad else " ".join(rng.choice(WORDS) for _ in range(30))
    description_html = filler(rng, pad) if pad else f"<p>{description}</p>"
    parent = PARENTS.get(category)
    crumbs = [("/", "Home")] + ([(f"/c/{slugify(parent)}", parent)] if parent else []) + [(f"/c/{i % 6}", category)]
    breadcrumb = "".join(f'<li><a href="{href}">{esc(text)}</a>{li_end}' for href, text in crumbs)
    # A second picture in a gallery (drawn from nothing random: the pages stay as they were otherwise).
    if base:
        gallery_ref, gallery = f"img/p{i:04d}-2.jpg", f"{HOST}/catalog/img/p{i:04d}-2.jpg"
    else:
        gallery_ref, gallery = f"../img/p{i:04d}-2.jpg", f"{HOST}/img/p{i:04d}-2.jpg"
    page = f"""<!DOCTYPE html>
<html lang="en"><head>
{head_charset}
<title>{esc(name)} | Fixture Shop</title>
<link rel="canonical" href="{url}">
{'<base href="' + HOST + '/catalog/">' if base else ''}
<meta property="og:title" content="{esc(name)}">
<meta property="og:image" content="{image_ref}">
<meta name="description" content="Buy {esc(name)} from {esc(brand)}">
{jsonld}</head>
<body{huge}>
<header><nav><ul class="menu">{nav}</ul></nav></header>
{stray}
<main>
<div class="product" itemscope itemtype="https://schema.org/Product">
  <h1 class="product-title" itemprop="name">
    {esc(name)}
  </h1>
  <span class="sku">SKU: {sku}</span>
  <div class="price-box"><span class="price" itemprop="price">{price_text(cents, currency)}</span>
  <span class="old-price">{price_text(cents + 1000, currency)}</span></div>
  <span class="stock">{stock_text}</span>
  <a class="brand" href="/brands/{i % 8}">{esc(brand)}</a>
  <div class="rating" data-rating="{rating}">{rating} out of 5 (<span class="count">{group(review_count, ',')} reviews</span>)</div>
  <img class="main-image" src="{image_ref}" alt="{esc(name)}">
  <div class="gallery"><img src="{image_ref}" alt=""><img src="{gallery_ref}" alt=""></div>
  <ul class="breadcrumb">{breadcrumb}</ul>
  <p>Released: <time class="released">{date_text(y, m, d, currency)}</time>{p_end}
  <div class="tags">{tags_html}</div>
  <div class="description">{description_html}</div>
  <div class="reviews">
{reviews_html}  </div>
</div>
</main>
<footer><p>© Fixture Shop{p_end}</footer>
</body></html>
"""
    encoding = "cp1252" if windows1252 else "utf-8"
    content_type = "text/html"
    if i % 8 == 5:
        content_type = f"text/html; charset={'windows-1252' if windows1252 else 'utf-8'}"
    truth = {"url": url, "name": name, "price": amount, "price_currency": currency, "sku": sku, "brand": brand,
             "rating": rating, "review_count": review_count, "in_stock": in_stock, "image": image,
             "category": category, "released": f"{y}-{m:02d}-{d:02d}", "tags": tags,
             "slug": f"p{i:04d}", "parent_category": parent, "description": description, "images": [image, gallery],
             "price_cents": cents}
    review_truth = [dict(url=url, **r) for r in reviews]
    return page.encode(encoding), truth, review_truth, content_type


def page_shell(title, body):
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)} | Fixture Shop</title>\n</head>\n<body>\n{body}</body></html>\n")


def listing_page(n, pages, entries):
    """Listing page n (1-based) of pages: (index, name) entries, with prev/next pagination."""
    items = "".join(
        f'<li class="item"><a class="product" href="../products/p{i:04d}.html">{html.escape(name)}</a> '
        f'<a class="reviews" href="../reviews/p{i:04d}.html">reviews</a></li>\n' for i, name in entries)
    nav = ""
    if n > 1:
        nav += f'<a class="prev" href="page-{n - 1}.html">previous</a> '
    if n < pages:
        nav += f'<a class="next" href="page-{n + 1}.html">next</a>'
    body = (f'<h1>Products, page {n} of {pages}</h1>\n<ul class="listing">\n{items}</ul>\n'
            f'<nav class="pagination">{nav}</nav>\n<p><a class="cart" href="../cart/view.html">cart</a></p>\n')
    return page_shell(f"Products page {n}", body)


def reviews_page(i, name, reviews):
    esc = html.escape
    blocks = "".join(
        f'<div class="review" data-review-id="{r["review_id"]}"><span class="author">{esc(r["author"])}</span>'
        f'<span class="stars">{r["stars"]} stars</span><p class="body">{esc(r["body"])}</p>'
        f'<time datetime="{r["date"]}">{r["date"]}</time></div>\n' for r in reviews)
    if not reviews:
        blocks = '<p class="empty">No reviews yet.</p>\n'
    body = (f'<h1 class="reviews-title">Reviews of {esc(name)}</h1>\n'
            f'<p><a class="product-link" href="../products/p{i:04d}.html">{esc(name)}</a></p>\n'
            f'<div class="reviews">\n{blocks}</div>\n')
    return page_shell(f"Reviews of {name}", body)


def urlset(urls):
    entries = "".join(f"  <url><loc>{html.escape(u)}</loc></url>\n" for u in urls)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + entries + "</urlset>\n")


def write_crawl_pages(site, products, per_page, base_url):
    """Listing, review, index pages, robots.txt and sitemaps; returns the crawl's discovery order."""
    base = base_url.rstrip("/")
    pages = max(1, (len(products) + per_page - 1) // per_page)
    os.makedirs(os.path.join(site, "list"), exist_ok=True)
    os.makedirs(os.path.join(site, "reviews"), exist_ok=True)
    os.makedirs(os.path.join(site, "sitemaps"), exist_ok=True)
    order = ["index.html"]
    with open(os.path.join(site, "index.html"), "w", encoding="utf-8") as f:
        f.write(page_shell("Fixture Shop", '<h1>Fixture Shop</h1>\n<p><a class="next" href="list/page-1.html">'
                                           'all products</a></p>\n'))
    for n in range(1, pages + 1):
        entries = [(i, products[i][0]) for i in range((n - 1) * per_page, min(n * per_page, len(products)))]
        with open(os.path.join(site, "list", f"page-{n}.html"), "w", encoding="utf-8") as f:
            f.write(listing_page(n, pages, entries))
    # Breadth-first from index.html: each listing page is found on the one before it, its products
    # and review pages on it (document order: product, reviews, ..., then next).
    order.append("list/page-1.html")
    for n in range(1, pages + 1):
        for i in range((n - 1) * per_page, min(n * per_page, len(products))):
            order += [f"products/p{i:04d}.html", f"reviews/p{i:04d}.html"]
        if n < pages:
            order.append(f"list/page-{n + 1}.html")
    for i, (name, reviews) in enumerate(products):
        with open(os.path.join(site, "reviews", f"p{i:04d}.html"), "w", encoding="utf-8") as f:
            f.write(reviews_page(i, name, reviews))
    with open(os.path.join(site, "robots.txt"), "w", encoding="utf-8") as f:
        f.write(f"User-agent: *\nDisallow: /cart/\nAllow: /\n\nSitemap: {base}/sitemap.xml\n")
    with open(os.path.join(site, "sitemaps", "list.xml"), "w", encoding="utf-8") as f:
        f.write(urlset([f"{base}/index.html"] + [f"{base}/list/page-{n}.html" for n in range(1, pages + 1)]))
    product_urls = []
    for i in range(len(products)):
        product_urls += [f"{base}/products/p{i:04d}.html", f"{base}/reviews/p{i:04d}.html"]
    # mtime=0 and no file name in the header: the same bytes on every run.
    with open(os.path.join(site, "sitemaps", "products.xml.gz"), "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(urlset(product_urls).encode("utf-8"))
    with open(os.path.join(site, "sitemap.xml"), "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                f"  <sitemap><loc>{base}/sitemaps/list.xml</loc></sitemap>\n"
                f"  <sitemap><loc>{base}/sitemaps/products.xml.gz</loc></sitemap>\n"
                "</sitemapindex>\n")
    return order


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--pad", type=int, default=0, help="bytes of description filler per page")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--per-page", type=int, default=10, help="products per listing page")
    parser.add_argument("--base-url", default=HOST, help="absolute URL of site/ in sitemaps and robots.txt")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.per_page < 1:
        parser.error("--per-page must be at least 1")
    folder = os.path.join(args.out, "site", "products")
    products = []
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(args.out, "truth.jsonl"), "w", encoding="utf-8") as truth_file, \
            open(os.path.join(args.out, "reviews_truth.jsonl"), "w", encoding="utf-8") as reviews_file, \
            open(os.path.join(args.out, "headers.jsonl"), "w", encoding="utf-8") as headers_file:
        for i in range(args.count):
            page, truth, reviews, content_type = make_page(i, rng, args.pad)
            with open(os.path.join(folder, f"p{i:04d}.html"), "wb") as f:
                f.write(page)
            truth_file.write(json.dumps(truth, ensure_ascii=False, sort_keys=False) + "\n")
            products.append((truth["name"], reviews))
            for r in reviews:
                reviews_file.write(json.dumps(r, ensure_ascii=False) + "\n")
            headers_file.write(json.dumps({"url": truth["url"], "content_type": content_type}) + "\n")
    order = write_crawl_pages(os.path.join(args.out, "site"), products, args.per_page, args.base_url)
    with open(os.path.join(args.out, "crawl_truth.txt"), "w", encoding="utf-8") as f:
        f.write("".join(path + "\n" for path in order))


if __name__ == "__main__":
    main()
