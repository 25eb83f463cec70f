import JWTKit

public import Foundation

/// Why a bearer token was refused; each case maps to its own problem `code`.
public enum TokenRejection: Error, Sendable, Equatable {
    case missing
    case malformed
    case badSignature
    case expired
    case invalidClaims(String)
}

/// Issues and verifies HS256 access tokens with one shared secret.
public struct TokenAuthority: Sendable {
    private let keys: JWTKeyCollection
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - secret: the HMAC secret; at least 32 bytes.
    ///   - now: the clock used for `iat`, `exp` and expiry checks.
    public init(secret: [UInt8], now: @escaping @Sendable () -> Date = { Date() }) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.now = now
    }

    /// Signs a token for `subject` valid for `ttl` seconds.
    public func issue(subject: String, campaign: String, role: Role, ttl: TimeInterval) async throws -> String {
        let issued = now()
        let claims = TokenClaims(subject: subject, campaign: campaign, role: role, expiresAt: issued.addingTimeInterval(ttl), issuedAt: issued)
        return try await keys.sign(claims)
    }

    /// Verifies signature, structure and expiry; returns the claims or throws ``TokenRejection``.
    public func verify(_ token: String) async throws(TokenRejection) -> TokenClaims {
        let claims: TokenClaims
        do {
            claims = try await keys.verify(token, as: TokenClaims.self)
        } catch let error as JWTError {
            if error.errorType == .signatureVerificationFailed {
                throw .badSignature
            }
            throw .malformed
        } catch {
            throw .invalidClaims("\(error)")
        }
        guard !claims.subject.isEmpty else { throw .invalidClaims("sub is empty") }
        guard claims.campaign == TokenClaims.anyCampaign || PathIdentifier.isValid(claims.campaign) else {
            throw .invalidClaims("campaign is not a valid id")
        }
        guard claims.expiresAt > now() else { throw .expired }
        return claims
    }
}
