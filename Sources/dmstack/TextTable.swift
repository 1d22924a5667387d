import ArgumentParser

/// One column of a human report: its header and alignment (the shape of lsblk's `infos[]`).
struct Column: Sendable {
    enum Alignment: Sendable { case left, right }
    var header: String
    var alignment: Alignment = .left
    /// lsblk's TRUNC flag: the column may be narrowed to fit the width, its cells cut.
    var narrows = false
}

/// How a report is laid out, from the options lsblk and lvm users know: `-n` no heading
/// line, `-r` raw (cells separated by one space, no padding, no tree drawing, unsafe
/// characters escaped as `\xHH`), `-b` sizes in bytes, `-i` ASCII only, and the width the
/// table must fit (nil: any; raw output is never narrowed).
struct TextLayout: Sendable {
    var headings = true
    var raw = false
    var bytes = false
    var ascii = false
    var width: Int? = 80

    /// `text` in ASCII when the layout asks for it: the few symbols reports use, spelled out.
    func plain(_ text: String) -> String {
        guard ascii, !text.utf8.allSatisfy({ $0 < 0x80 }) else { return text }
        var out = ""
        for c in text { out += Self.asciiSymbol(c) ?? (c.isASCII ? String(c) : "?") }
        return out
    }

    /// The ASCII spelling of a symbol reports and messages use (`→` is `->`), nil for any
    /// other character: `-i` tables and, outside a UTF-8 locale, standard error.
    static func asciiSymbol(_ c: Character) -> String? {
        switch c {
        case "→": "->"
        case "×": "x"
        case "…": "..."
        case "└": "`"
        case "├", "│": "|"
        case "─": "-"
        default: nil
        }
    }

    /// The tree branches of a child (`├─`/`└─`) and of what is under it (`│ `/two blanks).
    func branch(last: Bool) -> (node: String, under: String) {
        ascii ? (last ? "`-" : "|-", last ? "  " : "| ") : (last ? "└─" : "├─", last ? "  " : "│ ")
    }
}

/// Renders rows under column headers, each column as wide as its widest cell; lines carry
/// no trailing blanks. Too wide for `layout.width`, the widest narrowable column is narrowed
/// first (as lsblk narrows its TRUNC columns), down to its header or 8 characters, its cut
/// cells ending in `…` (`...` in ASCII); columns that do not narrow are never cut.
struct TextTable {
    var columns: [Column]
    var rows: [[String]] = []

    /// The whole table; with no rows, the heading line alone.
    func render(_ layout: TextLayout = TextLayout(width: nil)) -> String {
        var lines: [String] = []
        let any = Self.stream(columns: columns, layout: layout, feed: { each in rows.forEach(each) }) { lines.append($0) }
        if !any && layout.headings {
            // Each header as wide as itself: no narrowing (its floor is the header), no padding.
            return layout.raw ? columns.map { Self.escaped($0.header) }.joined(separator: " ") : Self.trimmed(columns.map(\.header).joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// The table of the rows `feed` gives (to the function it is handed), each line passed to
    /// `line` as it is made: `feed` is called twice, once to size the columns and once to
    /// print them (once for raw output, which has no widths), so a listing of a million rows
    /// is never held. Nothing at all, not even the headings, when there is no row; whether
    /// there was one.
    @discardableResult
    static func stream(columns: [Column], layout: TextLayout, feed: (@escaping ([String]) -> Void) throws -> Void, line: @escaping (String) -> Void) rethrows -> Bool {
        var any = false
        if layout.raw {
            try feed { row in
                if !any && layout.headings { line(columns.map { escaped($0.header) }.joined(separator: " ")) }
                any = true
                line(row.map { escaped(layout.plain($0)) }.joined(separator: " "))
            }
            return any
        }
        var widths = columns.map { layout.headings ? $0.header.count : 0 }
        try feed { row in
            any = true
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], layout.plain(cell).count) }
        }
        guard any else { return false }
        if let limit = layout.width {
            var excess = widths.reduce(0, +) + 2 * max(0, widths.count - 1) - limit
            while excess > 0 {
                let floor = { (i: Int) in max(columns[i].header.count, 8) }
                guard let widest = widths.indices.filter({ columns[$0].narrows && widths[$0] > floor($0) }).max(by: { widths[$0] < widths[$1] }) else { break }
                let cut = min(excess, widths[widest] - floor(widest))
                widths[widest] -= cut
                excess -= cut
            }
        }
        let mark = layout.ascii ? "..." : "…"
        func format(_ cells: [String]) -> String {
            trimmed(cells.enumerated().map { i, cell in
                var cell = cell
                if cell.count > widths[i] { cell = String(cell.prefix(max(0, widths[i] - mark.count))) + mark }
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return columns[i].alignment == .left ? cell + pad : pad + cell
            }.joined(separator: "  "))
        }
        if layout.headings { line(format(columns.map(\.header))) }
        try feed { row in line(format(row.map(layout.plain))) }
        return true
    }

    /// `text` without its trailing blanks.
    static func trimmed(_ text: String) -> String {
        var text = text
        while text.last == " " { text.removeLast() }
        return text
    }

    /// A raw cell as lsblk -r writes it: blanks, backslashes, quotes and control characters
    /// as `\xHH`, so that every line splits on single spaces.
    static func escaped(_ cell: String) -> String {
        var out = ""
        for scalar in cell.unicodeScalars {
            let v = scalar.value
            if v <= 0x20 || v == 0x7f || scalar == "\\" || scalar == "\"" {
                let hex = Array("0123456789abcdef")
                out += "\\x" + String(hex[Int(v >> 4)]) + String(hex[Int(v & 15)])
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// One column of a report in its registry: the name `-o` takes, the header, the width rule
/// (alignment, whether it narrows to fit), a line of help, and how a row gives its cell.
struct ReportColumn<Row>: Sendable {
    var name: String
    var header: String
    var alignment: Column.Alignment = .left
    var narrows = false
    var help: String
    var value: @Sendable (Row, TextLayout) -> String
}

/// A report's columns: the one registry that `-o/--output`, the column list in `--help`
/// and the renderer read (lsblk's `infos[]`).
struct ReportColumns<Row>: Sendable {
    var all: [ReportColumn<Row>]
    /// The columns printed without `-o`, by name.
    var defaults: [String]

    /// The columns `-o SPEC` names: `A,B` (any case) those, `+A,B` the defaults and those;
    /// nil is the defaults. An unknown name is a usage error naming every column.
    func select(_ spec: String?) throws(ReportColumnError) -> [ReportColumn<Row>] {
        guard var text = spec else { return defaults.compactMap { d in all.first { $0.name == d } } }
        var names: [String] = []
        if text.hasPrefix("+") { names = defaults; text.removeFirst() }
        for word in text.split(separator: ",", omittingEmptySubsequences: false) {
            let wanted = word.uppercased()
            guard all.contains(where: { $0.name == wanted }) else {
                throw ReportColumnError(message: "unknown column '\(word)' (columns: \(all.map(\.name).joined(separator: ", ")))")
            }
            names.append(wanted)
        }
        return names.compactMap { n in all.first { $0.name == n } }
    }

    /// The column list for `--help`.
    var help: String {
        "Columns to print, comma-separated (+COLUMNS adds to the default): "
            + all.map { "\($0.name) \($0.help)" }.joined(separator: "; ")
            + ". Default: \(defaults.joined(separator: ","))."
    }

    /// `rows` as a table of `columns`, laid out as `layout` says.
    func render(_ rows: [Row], columns: [ReportColumn<Row>], layout: TextLayout) -> String {
        var table = TextTable(columns: Self.headers(columns))
        table.rows = rows.map { row in columns.map { $0.value(row, layout) } }
        return table.render(layout)
    }

    /// The rows `feed` gives as a table of `columns`, line by line (`TextTable.stream`: `feed`
    /// is called twice); whether there was a row.
    func stream(columns: [ReportColumn<Row>], layout: TextLayout, feed: (@escaping (Row) -> Void) throws -> Void, line: @escaping (String) -> Void) rethrows -> Bool {
        try TextTable.stream(columns: Self.headers(columns), layout: layout, feed: { each in try feed { row in each(columns.map { $0.value(row, layout) }) } }, line: line)
    }

    static func headers(_ columns: [ReportColumn<Row>]) -> [Column] {
        columns.map { Column(header: $0.header, alignment: $0.alignment, narrows: $0.narrows) }
    }
}

/// A column name `-o` does not know.
struct ReportColumnError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A command that prints a table: its column registry, for `TableOptions`.
protocol ColumnReport {
    associatedtype Row
    static var columns: ReportColumns<Row> { get }
}

/// `-o/--output`, `-n/--noheadings`, `-r/--raw`, `-b/--bytes`, `-i/--ascii`: the table
/// options of every command that prints one, as lsblk and lvm spell them.
struct TableOptions<Report: ColumnReport>: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(Report.columns.help, valueName: "COLUMNS"))
    var output: String?

    @Flag(name: [.customShort("n"), .customLong("noheadings")], help: "Print no heading line.")
    var noHeadings = false

    @Flag(name: [.customShort("r"), .customLong("raw")], help: "Raw output: cells separated by one space, blanks and other unsafe characters hex-escaped as lsblk -r does, no tree drawing, no width limit.")
    var raw = false

    @Flag(name: [.customShort("b"), .customLong("bytes")], help: "Print sizes (and translate's START and LENGTH) in bytes.")
    var bytes = false

    @Flag(name: [.customShort("i"), .customLong("ascii")], help: "Use ASCII characters only (the default when the locale is not UTF-8).")
    var ascii = false

    func validate() throws {
        do { _ = try Report.columns.select(output) } catch { throw ValidationError(error.message) }
    }

    /// The selected columns (checked by `validate`).
    var columns: [ReportColumn<Report.Row>] { (try? Report.columns.select(output)) ?? (try? Report.columns.select(nil)) ?? [] }

    /// Whether the result, when empty, prints nothing at all (`-n`, `-r`): scripts read no
    /// line as no result.
    var quietWhenEmpty: Bool { noHeadings || raw }

    /// The layout: ASCII when asked or when the locale is not UTF-8; the width $COLUMNS,
    /// else the terminal's, else 80.
    var layout: TextLayout {
        TextLayout(headings: !noHeadings, raw: raw, bytes: bytes, ascii: ascii || !Machine.localeIsUTF8,
                   width: raw ? nil : Machine.outputColumns)
    }

    /// `rows` as the selected columns.
    func render(_ rows: [Report.Row]) -> String { Report.columns.render(rows, columns: columns, layout: layout) }

    /// The rows `feed` gives, printed as the selected columns line by line and never held
    /// (`feed` is called twice: a listing of a million rows); whether there was a row.
    func printRows(_ feed: (@escaping (Report.Row) -> Void) throws -> Void) rethrows -> Bool {
        let layout = layout
        return try Report.columns.stream(columns: columns, layout: layout, feed: feed) { Swift.print($0) }
    }
}
