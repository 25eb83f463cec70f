public import HTTPTypes

extension HTTPField.Name {
    /// A client's key that makes a POST safe to repeat (draft-ietf-httpapi-idempotency-key-header).
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// RFC 7240 preferences, e.g. `Prefer: wait=10`.
    public static let prefer = HTTPField.Name("Prefer")!
    /// Set on an answer that repeats the one given to an earlier request with the same key.
    public static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
