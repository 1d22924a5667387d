import Testing
@testable import dmstack

/// The table renderer (`TextTable`): lsblk's layout (widths from the widest cell, narrowable
/// columns cut to fit, raw cells escaped), and its streaming form, which reads its rows twice
/// and holds none of them (`damage` at a million entries).
@Suite("Text tables")
struct TextTableTests {
    static let columns = [Column(header: "NAME"), Column(header: "PATH", narrows: true), Column(header: "SIZE", alignment: .right)]
    static let rows = [["a", "/srv/data/one", "1"], ["bb", "/srv/data/a much longer path", "12345"], ["c d", "-", "0"]]

    /// The streamed lines and how many times `feed` was called.
    static func streamed(_ rows: [[String]], _ layout: TextLayout) -> (lines: [String], feeds: Int, any: Bool) {
        var lines: [String] = [], feeds = 0
        let any = TextTable.stream(columns: columns, layout: layout, feed: { each in feeds += 1; rows.forEach(each) }) { lines.append($0) }
        return (lines, feeds, any)
    }

    @Test func aTableIsAsWideAsItsWidestCells() {
        let out = Self.streamed(Self.rows, TextLayout(width: nil))
        #expect(out.lines == [
            "NAME  PATH                           SIZE",
            "a     /srv/data/one                     1",
            "bb    /srv/data/a much longer path  12345",
            "c d   -                                 0",
        ])
        #expect(out.feeds == 2 && out.any)
        #expect(TextTable(columns: Self.columns, rows: Self.rows).render(TextLayout(width: nil)) == out.lines.joined(separator: "\n"))
    }

    @Test func aNarrowableColumnIsCutToFit() {
        let out = Self.streamed(Self.rows, TextLayout(width: 30))
        #expect(out.lines == [
            "NAME  PATH                SIZE",
            "a     /srv/data/one          1",
            "bb    /srv/data/a much…  12345",
            "c d   -                      0",
        ])
        #expect(out.lines.allSatisfy { $0.count <= 30 })
    }

    @Test func rawCellsAreEscapedAndReadOnce() {
        let out = Self.streamed(Self.rows, TextLayout(raw: true, width: nil))
        #expect(out.lines == ["NAME PATH SIZE", "a /srv/data/one 1", "bb /srv/data/a\\x20much\\x20longer\\x20path 12345", "c\\x20d - 0"])
        #expect(out.feeds == 1)
        let bare = Self.streamed(Self.rows, TextLayout(headings: false, raw: true, width: nil))
        #expect(bare.lines.count == 3)
    }

    /// No row: the stream prints nothing (the command says so its own way); `render` keeps
    /// its heading line.
    @Test func noRowPrintsNothing() {
        for layout in [TextLayout(width: nil), TextLayout(raw: true, width: nil)] {
            let out = Self.streamed([], layout)
            #expect(out.lines.isEmpty && !out.any)
        }
        #expect(TextTable(columns: Self.columns).render(TextLayout(width: nil)) == "NAME  PATH  SIZE")
        #expect(TextTable(columns: Self.columns).render(TextLayout(raw: true, width: nil)) == "NAME PATH SIZE")
    }
}
