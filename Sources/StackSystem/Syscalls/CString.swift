extension String {
    /// The text of a C buffer filled by a libc or library call (gethostname, getcwd,
    /// strftime, curl's error buffer): up to its first NUL, as UTF-8.
    public init(filledBuffer buffer: [CChar]) {
        self.init(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
