#!/usr/bin/env python3
"""Checks that an AgentShop HTML report is well formed and self-contained.

    scripts/check_report.py REPORT.html

Well formed: every element that is not void is closed, in order, and nothing is closed that was
not open. Self-contained: no script, no external element (img, link, iframe, object, embed,
source, video, audio), no src/href/srcset/action/poster/xlink:href other than a #fragment, and
no @import or url( in CSS. Exits 1 listing every problem, 0 when there is none.
"""
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FORBIDDEN = {"script", "img", "link", "iframe", "object", "embed", "source", "video", "audio", "frame", "base"}
URL_ATTRIBUTES = {"src", "href", "srcset", "action", "poster", "xlink:href", "data", "formaction", "background"}


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.problems = []
        self.in_style = False
        self.doctype = False

    def where(self):
        line, col = self.getpos()
        return f"line {line}, column {col + 1}"

    def handle_decl(self, decl):
        if decl.lower() == "doctype html":
            self.doctype = True

    def check_attributes(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if name in URL_ATTRIBUTES and not value.startswith("#"):
                self.problems.append(f"{self.where()}: <{tag} {name}=\"{value}\"> refers outside the page")
            if name == "style" and ("url(" in value.lower() or "@import" in value.lower()):
                self.problems.append(f"{self.where()}: <{tag} style> loads a resource")
            if name.startswith("on"):
                self.problems.append(f"{self.where()}: <{tag} {name}> is a script")

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN:
            self.problems.append(f"{self.where()}: <{tag}> is not allowed in a self-contained report")
        self.check_attributes(tag, attrs)
        if tag == "style":
            self.in_style = True
        if tag not in VOID:
            self.stack.append((tag, self.where()))

    def handle_startendtag(self, tag, attrs):
        if tag in FORBIDDEN:
            self.problems.append(f"{self.where()}: <{tag}> is not allowed in a self-contained report")
        self.check_attributes(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if tag in VOID:
            return
        if not self.stack:
            self.problems.append(f"{self.where()}: </{tag}> closes nothing")
            return
        open_tag, opened = self.stack.pop()
        if open_tag != tag:
            self.problems.append(f"{self.where()}: </{tag}> closes <{open_tag}> opened at {opened}")

    def handle_data(self, data):
        if self.in_style and ("url(" in data.lower() or "@import" in data.lower()):
            self.problems.append(f"{self.where()}: the stylesheet loads a resource")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    checker = Checker()
    checker.feed(text)
    checker.close()
    if not checker.doctype:
        checker.problems.append("no <!DOCTYPE html>")
    for tag, opened in checker.stack:
        checker.problems.append(f"<{tag}> opened at {opened} is never closed")
    for problem in checker.problems:
        print(f"{sys.argv[1]}: {problem}")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
