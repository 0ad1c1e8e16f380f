"""A model card as a list of blocks, written out twice: Markdown (card.md, images beside it in card/)
and one self-contained HTML page (card.html, the same images inline), so that the server can show
it with one request whatever the API key, and a reader of the repository can read the Markdown."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#1d2433}"
         "table{border-collapse:collapse}td,th{border:1px solid #dde1e8;padding:.2rem .5rem;text-align:left}"
         "figure{margin:1rem 0}svg{max-width:100%;height:auto}")


@dataclass
class Card:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, lines: list[str]) -> None:
        self.blocks.append(("ul", lines))

    def table(self, header: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", header, rows))

    def image(self, file: str, caption: str) -> None:
        """An image already written into the card's image directory (card/<file>)."""
        self.blocks.append(("img", file, caption))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, *parts in self.blocks:
            if kind == "h2":
                out += [f"## {parts[0]}", ""]
            elif kind == "p":
                out += [parts[0], ""]
            elif kind == "ul":
                out += [*(f"- {line}" for line in parts[0]), ""]
            elif kind == "table":
                header, rows = parts
                out += [_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows), ""]
            elif kind == "img":
                out += [f"![{parts[1]}](card/{parts[0]})", ""]
        return "\n".join(out)

    def html(self, images: Path) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for kind, *parts in self.blocks:
            if kind in ("h2", "p"):
                body.append(f"<{kind}>{html.escape(parts[0])}</{kind}>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in parts[0]) + "</ul>")
            elif kind == "table":
                header, rows = parts
                cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
                lines = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
                body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>{lines}</tbody></table>")
            elif kind == "img":
                svg = (images / parts[0]).read_text()
                svg = svg[svg.index("<svg"):]  # the drawing itself, without its XML prolog
                body.append(f'<figure role="img" aria-label="{html.escape(parts[1])}">{svg}'
                            f"<figcaption>{html.escape(parts[1])}</figcaption></figure>")
        return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
                f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _row(cells: list) -> str:
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"
