/// One column of a human report: its header and alignment (the shape of lsblk's `infos[]`).
struct Column {
    enum Alignment { case left, right }
    var header: String
    var alignment: Alignment = .left
}

/// Renders rows under column headers, each column as wide as its widest cell; lines carry
/// no trailing blanks.
struct TextTable {
    var columns: [Column]
    var rows: [[String]] = []

    func render() -> String {
        var widths = columns.map { $0.header.count }
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var text = cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return columns[i].alignment == .left ? cell + pad : pad + cell
            }.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        return ([line(columns.map(\.header))] + rows.map(line)).joined(separator: "\n")
    }
}
