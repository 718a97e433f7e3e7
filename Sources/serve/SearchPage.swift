import Foundation
import IO
import Inference

/// The search page at GET /: one server-rendered HTML document (a GET form and the hits as a
/// list), with its style inline and no scripts, fonts or images, so it works offline and without
/// JavaScript.
enum SearchPage {
    struct Hit {
        let rank: Int
        let index: Int
        let score: Float
        let text: String
    }

    static func render(query: String, k: Int, hits: [Hit], corpusSize: Int, corpusName: String, modelName: String,
                       error: String?, milliseconds: Double?) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(query.isEmpty ? "Search" : query + " – search")) · \(escape(modelName))</title>
            <style>
            body { font: 16px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #1d1d1f; background: #fff; }
            h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
            .about { color: #555; margin: 0 0 1.2rem; font-size: .9rem; }
            form { display: flex; gap: .5rem; margin-bottom: 1.2rem; }
            input[type=search] { flex: 1; font-size: 1rem; padding: .45rem .6rem; border: 1px solid #888; border-radius: 6px; }
            input[type=number] { width: 4.5rem; font-size: 1rem; padding: .45rem; border: 1px solid #888; border-radius: 6px; }
            button { font-size: 1rem; padding: .45rem 1rem; border: 0; border-radius: 6px; background: #0b57d0; color: #fff; }
            ol { padding-left: 0; list-style: none; }
            li { display: flex; gap: 1rem; padding: .6rem .2rem; border-bottom: 1px solid #e3e3e3; }
            .score { font-variant-numeric: tabular-nums; font-weight: 600; color: #0b57d0; min-width: 4.2rem; }
            .bar { display: block; height: 4px; margin-top: .3rem; background: #0b57d0; border-radius: 2px; }
            .row { color: #777; font-size: .8rem; }
            .error { padding: .6rem .8rem; background: #fde7e9; border: 1px solid #d93025; border-radius: 6px; }
            .summary { color: #555; font-size: .9rem; }
            </style>
            </head>
            <body>
            <h1>Semantic search</h1>
            <p class="about">\(corpusSize) texts from <code>\(escape(corpusName))</code>, embedded with <code>\(escape(modelName))</code>; ranked by cosine similarity.</p>
            <form method="get" action="/">
            <input type="search" name="q" value="\(escape(query))" placeholder="Type a question or a sentence" aria-label="Query" autofocus>
            <input type="number" name="k" value="\(k)" min="1" max="\(max(1, corpusSize))" aria-label="Number of hits">
            <button type="submit">Search</button>
            </form>

            """
        if let error {
            html += "<p class=\"error\">\(escape(error))</p>\n"
        } else if !query.isEmpty {
            let took = milliseconds.map { " in " + ProgressBar.decimal($0, 1) + " ms" } ?? ""
            html += "<p class=\"summary\">Top \(hits.count) of \(corpusSize)\(took).</p>\n<ol>\n"
            for h in hits {
                let width = Int((max(0, min(1, h.score)) * 100).rounded())
                html += """
                    <li><div class="score">\(ProgressBar.decimal(Double(h.score), 4))<span class="bar" style="width:\(width)%"></span></div>\
                    <div><div>\(escape(h.text))</div><div class="row">#\(h.rank) · row \(h.index + 1)</div></div></li>

                    """
            }
            html += "</ol>\n"
        }
        html += "</body>\n</html>\n"
        return html
    }

    /// Text for HTML content and attribute values (the report pages' escaping).
    static func escape(_ s: String) -> String { SVG.escape(s) }
}
