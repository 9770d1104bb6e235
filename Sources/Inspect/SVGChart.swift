import Foundation

/// Text made safe for HTML and SVG, in element content and in quoted attribute values alike.
public enum HTMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline are not allowed in HTML text.
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" { out += "\u{FFFD}" }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}

/// Inline SVG charts: plain markup, no scripts, every label escaped. Numbers are formatted with
/// a dot decimal separator whatever the locale.
public enum SVGChart {
    /// Colours that stay apart for the usual colour-vision deficiencies (Okabe-Ito, darker yellow).
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#B8A100", "#6B6B6B"]

    static let font = "font-family=\"system-ui, sans-serif\" font-size=\"12\""

    /// `1234567.8` → `1,234,568`; small values keep two decimals.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if abs(value) >= 1000 || value == value.rounded() {
            let rounded = Int64(value.rounded())
            var digits = String(abs(rounded))
            var groups: [String] = []
            while digits.count > 3 { groups.insert(String(digits.suffix(3)), at: 0); digits.removeLast(3) }
            groups.insert(digits, at: 0)
            return (rounded < 0 ? "-" : "") + groups.joined(separator: ",")
        }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.4f", value).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A value's bar length on an axis from 0 to `max`.
    static func scale(_ value: Double, _ max: Double, _ length: Double) -> Double {
        max > 0 ? Swift.max(0, value / max * length) : 0
    }

    /// A tick label with as many decimals as the step needs: steps of 0.0002 read `0.0002, 0.0004`,
    /// steps of 5 read `5, 10`, never `0.` or two equal labels.
    public static func tick(_ value: Double, step: Double) -> String {
        guard value.isFinite, step > 0, step.isFinite else { return number(value) }
        if step.rounded() == step { return number(value.rounded()) }
        let decimals = max(0, min(12, Int((-log10(step) - 1e-9).rounded(.up))))
        var text = String(format: "%.\(decimals)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    /// A clean axis maximum and tick step (1, 2, 5 × 10^n) covering `value`.
    static func niceAxis(_ value: Double, ticks: Int = 5) -> (max: Double, step: Double) {
        guard value > 0, value.isFinite else { return (1, 0.2) }
        let raw = value / Double(ticks)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        return (ceil(value / step) * step, step)
    }

    /// Like `niceAxis`, with steps people count time in (seconds, minutes, hours) above a second.
    static func timeAxis(_ seconds: Double, ticks: Int = 5) -> (max: Double, step: Double) {
        guard seconds > 10 else { return niceAxis(seconds, ticks: ticks) }
        let steps: [Double] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
        let step = steps.first { seconds / $0 <= Double(ticks) } ?? (seconds / Double(ticks) / 86400).rounded(.up) * 86400
        return ((seconds / step).rounded(.up) * step, step)
    }

    static func svg(width: Double, height: Double, label: String, _ body: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(HTMLText.escape(label))\">"
            + body + "</svg>"
    }

    static func text(_ x: Double, _ y: Double, _ content: String, anchor: String = "start", fill: String = "#222",
                      extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" fill=\"\(fill)\" \(font)\(extra.isEmpty ? "" : " " + extra)>"
            + HTMLText.escape(content) + "</text>"
    }

    /// Cuts a label to `max` characters.
    static func clip(_ label: String, _ max: Int) -> String { label.count > max ? String(label.prefix(max - 1)) + "…" : label }

    /// One horizontal bar per item, labelled, with its value at the end.
    public static func horizontalBars(_ items: [(label: String, value: Double)], title: String, unit: String = "",
                                      color: String = palette[0], width: Double = 720) -> String {
        let labelWidth = min(220.0, Double(items.map { min($0.label.count, 34) }.max() ?? 4) * 7 + 12)
        let barArea = width - labelWidth - 90
        let row = 22.0
        let height = Double(items.count) * row + 16
        let maxValue = items.map(\.value).max() ?? 0
        var body = ""
        for (i, item) in items.enumerated() {
            let y = 8 + Double(i) * row
            let length = scale(item.value, maxValue, barArea)
            body += "<g>" + "<title>\(HTMLText.escape(item.label)): \(number(item.value))\(HTMLText.escape(unit))</title>"
            body += text(labelWidth - 8, y + 14, clip(item.label, 34), anchor: "end")
            body += "<rect x=\"\(f(labelWidth))\" y=\"\(f(y + 3))\" width=\"\(f(max(length, item.value > 0 ? 1 : 0)))\" height=\"\(f(row - 6))\" fill=\"\(color)\" rx=\"2\"/>"
            body += text(labelWidth + length + 6, y + 14, number(item.value) + unit, fill: "#444") + "</g>"
        }
        return svg(width: width, height: height, label: title, body)
    }

    /// Vertical columns over labelled buckets, each column split into series (stacked), with a
    /// legend; for one series, plain columns.
    public static func stackedColumns(buckets: [String], series: [(name: String, values: [Double])], title: String,
                                      unit: String = "", width: Double = 720, height: Double = 260) -> String {
        let left = 64.0, right = 16.0, top = 12.0
        let legendRows = series.count > 1 ? Double((series.count + 2) / 3) : 0
        let bottom = 48.0 + legendRows * 18
        let plotW = width - left - right, plotH = height - top - bottom
        let totals = buckets.indices.map { i in series.reduce(0) { $0 + ($1.values.indices.contains(i) ? $1.values[i] : 0) } }
        let axis = niceAxis(totals.max() ?? 0)
        var body = axisLines(left: left, top: top, plotW: plotW, plotH: plotH, axis: axis, unit: unit)
        let slot = plotW / Double(max(buckets.count, 1))
        let barW = max(2, min(48, slot * 0.7))
        // A label is about 7 px per character at 12 px; every label gets its own room, or
        // only every n-th label is drawn, so that none overlaps its neighbour.
        let labelChars = min(14, buckets.map(\.count).max() ?? 1)
        let labelEvery = max(1, Int(((Double(labelChars) * 7.2 + 10) / slot).rounded(.up)))
        for (i, bucket) in buckets.enumerated() {
            let x = left + slot * Double(i) + (slot - barW) / 2
            var y = top + plotH
            for (s, serie) in series.enumerated() where serie.values.indices.contains(i) && serie.values[i] > 0 {
                let h = scale(serie.values[i], axis.max, plotH)
                y -= h
                body += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(barW))\" height=\"\(f(h))\" fill=\"\(palette[s % palette.count])\">"
                    + "<title>\(HTMLText.escape(bucket)) · \(HTMLText.escape(serie.name)): \(number(serie.values[i]))\(HTMLText.escape(unit))</title></rect>"
            }
            if i % labelEvery == 0 {
                body += text(x + barW / 2, top + plotH + 16, clip(bucket, 14), anchor: "middle", fill: "#444")
            }
        }
        if series.count > 1 { body += legend(series.map(\.name), x: left, y: height - legendRows * 18 - 4, width: plotW) }
        return svg(width: width, height: height, label: title, body)
    }

    static func axisLines(left: Double, top: Double, plotW: Double, plotH: Double, axis: (max: Double, step: Double),
                          unit: String) -> String {
        var body = ""
        var tick = 0.0
        while tick <= axis.max + axis.step / 2 {
            let y = top + plotH - scale(tick, axis.max, plotH)
            body += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\" stroke=\"#e3e3e3\"/>"
            body += text(left - 6, y + 4, self.tick(tick, step: axis.step) + unit, anchor: "end", fill: "#666")
            tick += axis.step
        }
        body += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"#999\"/>"
        return body
    }

    static func legend(_ names: [String], x: Double, y: Double, width: Double) -> String {
        var body = ""
        let column = width / 3
        for (i, name) in names.enumerated() {
            let cx = x + Double(i % 3) * column, cy = y + Double(i / 3) * 18
            body += "<rect x=\"\(f(cx))\" y=\"\(f(cy - 9))\" width=\"10\" height=\"10\" fill=\"\(palette[i % palette.count])\"/>"
            body += text(cx + 15, cy, clip(name, 36), fill: "#333")
        }
        return body
    }

    /// A Gantt chart: one row per stage, a bar from its start for its duration, coloured by status.
    public struct TimelineRow: Sendable {
        public let label: String
        /// Seconds from the run's start; nil for a stage that did not run (drawn as a note).
        public let start: Double?
        public let duration: Double
        public let status: String
        public init(label: String, start: Double?, duration: Double, status: String) {
            self.label = label
            self.start = start
            self.duration = duration
            self.status = status
        }
    }

    public static func timeline(_ rows: [TimelineRow], title: String, width: Double = 720) -> String {
        let labelWidth = min(200.0, Double(rows.map { min($0.label.count, 28) }.max() ?? 4) * 7 + 12)
        let plotW = width - labelWidth - 70
        let row = 22.0, top = 6.0
        let end = rows.compactMap { r in r.start.map { $0 + r.duration } }.max() ?? 0
        let axis = timeAxis(max(end, 0.001))
        let plotH = Double(rows.count) * row
        let height = top + plotH + 30
        var body = ""
        var tick = 0.0
        while tick <= axis.max + axis.step / 2 {
            let x = labelWidth + scale(tick, axis.max, plotW)
            body += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"#e3e3e3\"/>"
            body += text(x, top + plotH + 16, duration(tick), anchor: "middle", fill: "#666")
            tick += axis.step
        }
        let colors = ["ran": palette[0], "failed": "#C0392B", "skipped": "#9A9A9A", "blocked": "#C8A2A2", "planned": palette[4]]
        for (i, r) in rows.enumerated() {
            let y = top + Double(i) * row
            body += text(labelWidth - 8, y + 15, clip(r.label, 28), anchor: "end")
            if let start = r.start {
                let x = labelWidth + scale(start, axis.max, plotW)
                let w = max(2, scale(r.duration, axis.max, plotW))
                body += "<rect x=\"\(f(x))\" y=\"\(f(y + 4))\" width=\"\(f(w))\" height=\"\(f(row - 8))\" rx=\"2\" fill=\"\(colors[r.status] ?? palette[7])\">"
                    + "<title>\(HTMLText.escape(r.label)): \(HTMLText.escape(r.status)), \(duration(r.duration)) from +\(duration(start))</title></rect>"
                body += text(x + w + 5, y + 15, duration(r.duration), fill: "#444")
            } else {
                body += text(labelWidth + 4, y + 15, r.status, fill: colors[r.status] ?? "#888", extra: "font-style=\"italic\"")
            }
        }
        return svg(width: width, height: height, label: title, body)
    }

    /// `850ms`, `2.4s`, `3m05s`.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        return String(format: "%dm%02ds", s / 60, s % 60)
    }

    /// Box plots, one per group: whiskers at min and max, box from the first to the third
    /// quartile, a line at the median; n beside each.
    public static func boxes(_ groups: [(label: String, values: [Double])], title: String, unit: String = "",
                             width: Double = 720) -> String {
        let labelWidth = min(200.0, Double(groups.map { min($0.label.count, 28) }.max() ?? 4) * 7 + 12)
        let plotW = width - labelWidth - 70
        let row = 26.0, top = 6.0
        let all = groups.flatMap(\.values)
        let low = min(0, all.min() ?? 0)
        let axis = niceAxis((all.max() ?? 1) - low)
        let plotH = Double(groups.count) * row
        let height = top + plotH + 30
        func x(_ v: Double) -> Double { labelWidth + scale(v - low, axis.max, plotW) }
        var body = ""
        var tick = 0.0
        while tick <= axis.max + axis.step / 2 {
            let px = x(low + tick)
            body += "<line x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(top + plotH))\" stroke=\"#e3e3e3\"/>"
            body += text(px, top + plotH + 16, self.tick(low + tick, step: axis.step) + unit, anchor: "middle", fill: "#666")
            tick += axis.step
        }
        for (i, group) in groups.enumerated() {
            let y = top + Double(i) * row, mid = y + row / 2
            body += text(labelWidth - 8, mid + 4, clip(group.label, 28), anchor: "end")
            let sorted = group.values.sorted()
            guard !sorted.isEmpty else { continue }
            let q = { (p: Double) in quantile(sorted, p) }
            let (lo, q1, med, q3, hi) = (sorted.first!, q(0.25), q(0.5), q(0.75), sorted.last!)
            let summary = "\(group.label): n=\(sorted.count), min \(number(lo)), q1 \(number(q1)), median \(number(med)), q3 \(number(q3)), max \(number(hi))"
            body += "<g><title>\(HTMLText.escape(summary))</title>"
            body += "<line x1=\"\(f(x(lo)))\" y1=\"\(f(mid))\" x2=\"\(f(x(hi)))\" y2=\"\(f(mid))\" stroke=\"#555\"/>"
            body += "<line x1=\"\(f(x(lo)))\" y1=\"\(f(mid - 5))\" x2=\"\(f(x(lo)))\" y2=\"\(f(mid + 5))\" stroke=\"#555\"/>"
            body += "<line x1=\"\(f(x(hi)))\" y1=\"\(f(mid - 5))\" x2=\"\(f(x(hi)))\" y2=\"\(f(mid + 5))\" stroke=\"#555\"/>"
            body += "<rect x=\"\(f(x(q1)))\" y=\"\(f(y + 5))\" width=\"\(f(max(1, x(q3) - x(q1))))\" height=\"\(f(row - 10))\" fill=\"\(palette[0])\" fill-opacity=\"0.35\" stroke=\"\(palette[0])\"/>"
            body += "<line x1=\"\(f(x(med)))\" y1=\"\(f(y + 5))\" x2=\"\(f(x(med)))\" y2=\"\(f(y + row - 5))\" stroke=\"#111\" stroke-width=\"2\"/>"
            body += text(x(hi) + 6, mid + 4, "n=\(sorted.count)", fill: "#666") + "</g>"
        }
        return svg(width: width, height: height, label: title, body)
    }

    /// A stage in a pipeline graph.
    public struct GraphNode: Sendable {
        public let name: String
        public let detail: String
        public let status: String
        public init(name: String, detail: String, status: String) {
            self.name = name
            self.detail = detail
            self.status = status
        }
    }

    /// A left-to-right graph: each node in the column of its longest path from a source, edges
    /// drawn as arrows, nodes coloured by status.
    public static func graph(nodes: [GraphNode], edges: [(from: String, to: String)], title: String) -> String {
        var depth: [String: Int] = [:]
        for node in nodes { depth[node.name] = 0 }
        // Longest-path layering; the cap stops a cycle (never in a valid pipeline) from looping.
        for _ in 0..<nodes.count {
            var changed = false
            for (from, to) in edges where depth[from] != nil && depth[to] != nil && depth[to]! < depth[from]! + 1 {
                depth[to] = depth[from]! + 1
                changed = true
            }
            if !changed { break }
        }
        let columns = (depth.values.max() ?? 0) + 1
        var rowOf: [String: Int] = [:], rowsIn = [Int](repeating: 0, count: columns)
        for node in nodes {
            let d = depth[node.name] ?? 0
            rowOf[node.name] = rowsIn[d]
            rowsIn[d] += 1
        }
        let boxW = 132.0, boxH = 38.0, gapX = 44.0, gapY = 14.0, pad = 8.0
        let width = max(720, pad * 2 + Double(columns) * (boxW + gapX) - gapX)
        let height = pad * 2 + Double(rowsIn.max() ?? 1) * (boxH + gapY) - gapY
        func origin(_ name: String) -> (x: Double, y: Double) {
            (pad + Double(depth[name] ?? 0) * (boxW + gapX), pad + Double(rowOf[name] ?? 0) * (boxH + gapY))
        }
        var body = ""
        for (from, to) in edges where depth[from] != nil && depth[to] != nil {
            let a = origin(from), b = origin(to)
            let x1 = a.x + boxW, y1 = a.y + boxH / 2, x2 = b.x, y2 = b.y + boxH / 2
            body += "<path d=\"M\(f(x1)) \(f(y1)) C\(f(x1 + gapX / 2)) \(f(y1)) \(f(x2 - gapX / 2)) \(f(y2)) \(f(x2 - 5)) \(f(y2))\" fill=\"none\" stroke=\"#888\"/>"
            body += "<path d=\"M\(f(x2)) \(f(y2)) L\(f(x2 - 7)) \(f(y2 - 4)) L\(f(x2 - 7)) \(f(y2 + 4)) Z\" fill=\"#888\"/>"
        }
        let fills = ["ran": "#D6E9F8", "failed": "#F6D5D1", "skipped": "#EEEEEE", "blocked": "#F3E3E3", "planned": "#E8F4FB"]
        let strokes = ["ran": palette[0], "failed": "#C0392B", "skipped": "#9A9A9A", "blocked": "#C8A2A2", "planned": palette[4]]
        for node in nodes {
            let o = origin(node.name)
            body += "<g><title>\(HTMLText.escape(node.name)) (\(HTMLText.escape(node.detail))): \(HTMLText.escape(node.status))</title>"
            body += "<rect x=\"\(f(o.x))\" y=\"\(f(o.y))\" width=\"\(f(boxW))\" height=\"\(f(boxH))\" rx=\"5\" "
                + "fill=\"\(fills[node.status] ?? "#fff")\" stroke=\"\(strokes[node.status] ?? "#888")\"/>"
            body += text(o.x + boxW / 2, o.y + 16, clip(node.name, 19), anchor: "middle")
            body += text(o.x + boxW / 2, o.y + 31, clip("\(node.detail) · \(node.status)", 22), anchor: "middle", fill: "#555",
                         extra: "style=\"font-size:10px\"")
            body += "</g>"
        }
        return svg(width: width, height: height, label: title, body)
    }

    /// Linear interpolation between the nearest ranks (pandas' default).
    static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}
