/// Error codes carried by `error` frames. `temporary` errors may succeed if retried later.
public enum PartySyncErrorCode: Int, Sendable {
    case internalError = 100
    case unauthorized = 101
    case forbidden = 103
    case badRequest = 107
    case tokenExpired = 109
    case rateLimited = 111
    case tooLarge = 113
    case cmidConflict = 114

    public var isTemporary: Bool {
        self == .internalError || self == .rateLimited
    }
}

/// WebSocket close codes. 4000–4099: reconnect and resume. 4500–4599: do not reconnect with
/// the same credentials. 1009: the message was too large (standard code).
public enum PartySyncCloseCode: UInt16, Sendable {
    /// The server is shutting down; reconnect (another node or after restart) and resume.
    case shutdown = 4000
    /// The client did not read fast enough; reconnect and resume.
    case slowConsumer = 4002
    /// No `pong` in time; reconnect and resume.
    case noPong = 4003
    /// Sustained rate-limit violations; reconnect later and resume.
    case abuse = 4008
    /// The token is missing, invalid or expired; get a new token before reconnecting.
    case badToken = 4500
    /// The first frame was not `hello`, no `hello` came in time, or the protocol version is unknown.
    case protocolViolation = 4501
    /// The token is not for this campaign or has a role that may not join.
    case notMember = 4503
    /// A message exceeded the frame limit.
    case messageTooLarge = 1009

    public var reconnect: Bool { rawValue < 4500 }
}
