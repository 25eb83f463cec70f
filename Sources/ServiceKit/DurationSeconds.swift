extension Duration {
    /// The duration in seconds, with its fraction: for rates, timestamps and figures that
    /// take a `Double`.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, the fraction dropped: for `retry_after_ms` and the like.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
