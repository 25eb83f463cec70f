extension StringProtocol {
    /// The text without leading and trailing whitespace or line breaks. Foundation's
    /// `trimmingCharacters(in:)` goes through NSString and cost more than the rest of
    /// chunking together; this walks Characters in place.
    var trimmed: SubSequence {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return self[endIndex...] }
        let last = lastIndex { !$0.isWhitespace }!
        return self[first...last]
    }
}
