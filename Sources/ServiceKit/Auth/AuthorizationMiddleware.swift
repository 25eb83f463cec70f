public import Hummingbird
import HTTPTypes

import Foundation

/// Requires a valid bearer token on every route of a group, with one of `roles`, and — when
/// `campaignParameter` names a path parameter — a `campaign` claim that covers that campaign.
///
/// ```swift
/// let gm = router.group("v1/campaigns/{campaign_id}")
///     .add(middleware: AuthorizationMiddleware(authority: tokens, roles: [.gm], campaignParameter: "campaign_id"))
/// ```
public struct AuthorizationMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    let authority: TokenAuthority
    let roles: Set<Role>
    let campaignParameter: String?

    public init(authority: TokenAuthority, roles: Set<Role> = Set(Role.allCases), campaignParameter: String? = nil) {
        self.authority = authority
        self.roles = roles
        self.campaignParameter = campaignParameter
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let claims = try await Self.authenticate(request.headers[.authorization], authority: authority)
        guard roles.contains(claims.role) else {
            throw APIError(
                .forbidden,
                code: "forbidden_role",
                detail: "This endpoint needs the role \(roles.map(\.rawValue).sorted().joined(separator: " or ")); the token has \(claims.role.rawValue)."
            )
        }
        if let campaignParameter {
            let campaignID = try context.parameters.requireID(campaignParameter)
            guard claims.allows(campaign: campaignID) else {
                throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is not valid for campaign \(campaignID).")
            }
        }
        var context = context
        context.identity = claims
        return try await next(request, context)
    }

    /// Verifies an `Authorization` header value and maps every failure to a 401 problem.
    public static func authenticate(_ header: String?, authority: TokenAuthority) async throws -> TokenClaims {
        let challenge: HTTPFields = [.wwwAuthenticate: #"Bearer realm="rpgbot""#]
        guard let header, !header.isEmpty else {
            throw APIError(.unauthorized, code: "unauthenticated", detail: "Send a token as Authorization: Bearer <token>.", headers: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, code: "unauthenticated", detail: "The Authorization header must use the Bearer scheme.", headers: challenge)
        }
        let invalid: HTTPFields = [.wwwAuthenticate: #"Bearer realm="rpgbot", error="invalid_token""#]
        do {
            return try await authority.verify(String(parts[1]).trimmingCharacters(in: .whitespaces))
        } catch {
            switch error {
            case .expired:
                throw APIError(.unauthorized, code: "token_expired", detail: "The token has expired; ask for a new one.", headers: invalid)
            case .badSignature:
                throw APIError(.unauthorized, code: "token_invalid", detail: "The token signature does not verify.", headers: invalid)
            case .missing, .malformed:
                throw APIError(.unauthorized, code: "token_invalid", detail: "The token is not a well-formed RPGBot JWT.", headers: invalid)
            case .invalidClaims(let reason):
                throw APIError(.unauthorized, code: "token_invalid", detail: "The token claims are invalid: \(reason).", headers: invalid)
            }
        }
    }
}
