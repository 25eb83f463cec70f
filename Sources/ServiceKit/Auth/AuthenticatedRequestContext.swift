public import Hummingbird

/// A request context that can carry the verified claims of the caller.
public protocol AuthenticatedRequestContext: RequestContext {
    var identity: TokenClaims? { get set }
}

extension AuthenticatedRequestContext {
    /// The caller's claims; a 401 problem when the route was reached without authentication.
    public func requireIdentity() throws -> TokenClaims {
        guard let identity else {
            throw APIError(.unauthorized, code: "unauthenticated", detail: "This endpoint needs a bearer token.")
        }
        return identity
    }
}
